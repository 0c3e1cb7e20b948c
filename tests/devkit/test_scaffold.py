"""``tether plugin new``: the package it writes, its refusals, and (as CI does) the
generated packages installed with pip into a fresh environment, passing their own tests."""

from __future__ import annotations

import configparser
import fnmatch
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tether.core.cli import build_cli
from tether.core.errors import ScaffoldError
from tether.core.manifests import load_plugin_manifest
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.devkit import Names, create_plugin, render
from tether.devkit.scaffold import TEMPLATES, template_files

from tests.devkit.venvs import clean_env, make_venv, pip_install

ROOT = Path(__file__).resolve().parents[2]


def test_names_derive_from_what_the_user_typed():
    names = Names.from_name("Acme-CRM")
    assert (names.plugin, names.package, names.distribution, names.class_prefix, names.env_prefix) == (
        "acme_crm", "tether_acme_crm", "tether-acme-crm", "AcmeCrm", "ACME_CRM")
    assert Names.from_name("tether-acme_crm").plugin == "acme_crm"


@pytest.mark.parametrize("bad", ["1acme", "acme crm", "acme--crm", "Ünïcode", "a" * 41, ""])
def test_a_bad_name_is_refused_with_an_example(bad):
    with pytest.raises(ScaffoldError, match="is not a plugin name") as refused:
        Names.from_name(bad)
    assert refused.value.hint == "for example: acme-crm"


def test_the_folder_must_be_free_and_the_name_unused(tmp_path):
    create_plugin("acme", directory=tmp_path)
    with pytest.raises(ScaffoldError, match="already exists and is not empty"):
        create_plugin("acme", directory=tmp_path)
    with pytest.raises(ScaffoldError, match="a plugin named 'salesforce' is already installed"):
        create_plugin("salesforce", directory=tmp_path, installed=("salesforce", "timeline"))


def test_an_unknown_placeholder_in_a_template_is_an_error():
    with pytest.raises(ScaffoldError, match=r"x.tmpl: unknown placeholder \{\{pakage\}\}"):
        render("import {{pakage}}", {"package": "p"}, source="x.tmpl")


@pytest.mark.parametrize("kind", ["connector", "domain"])
def test_every_template_renders_with_known_placeholders(kind, tmp_path):
    target = create_plugin("acme", kind, tmp_path)
    written = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert len(written) == len(template_files(kind))
    assert not [p for p in written if "{{" in (target / p).read_text()]
    manifest = load_plugin_manifest(target / "tether_acme" / "manifest.yaml")
    assert manifest.name == "acme" and manifest.supports_tether("0.1.0")
    setup = configparser.ConfigParser()
    setup.read(target / "setup.cfg")
    assert setup["options.entry_points"]["tether.plugins"].strip() == "acme = tether_acme.plugin"
    compile_all = [compile((target / p).read_text(), p, "exec") for p in written if p.endswith(".py")]
    assert compile_all


def test_the_cli_creates_the_package_and_says_what_to_do_next(tmp_path, plugin_host):
    cli = build_cli(Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path / "home")}), host=plugin_host))
    result = CliRunner().invoke(cli, ["plugin", "new", "acme-crm", "--kind", "connector", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "pip install -e '.[test]'" in result.output
    assert (tmp_path / "tether-acme-crm" / "tether_acme_crm" / "connector.py").is_file()
    again = CliRunner().invoke(cli, ["plugin", "new", "acme-crm", "--directory", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output and "Traceback" not in again.output
    taken = CliRunner().invoke(cli, ["plugin", "new", "timeline", "--directory", str(tmp_path)])
    assert taken.exit_code == 1 and "already installed" in taken.output


def test_the_templates_ship_in_the_package_data():
    """setup.cfg's package_data patterns cover every template, so a wheel carries them."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in setup["options.package_data"]["tether.devkit"].split(",")]
    for template in TEMPLATES.rglob("*.tmpl"):
        relative = str(template.relative_to(TEMPLATES.parent))
        assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative


@pytest.mark.slow
def test_generated_packages_install_with_pip_and_pass_their_own_tests(tmp_path):
    """What CI checks: a new environment, pip install -e of each kind, their pytest."""
    connector = create_plugin("acme-crm", "connector", tmp_path)
    domain = create_plugin("acme-health", "domain", tmp_path)
    python = make_venv(tmp_path / "venv")
    installed = pip_install(python, connector, domain)
    assert installed.returncode == 0, installed.stderr
    for package, expected in ((connector, "18 passed"), (domain, "4 passed")):
        run = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:randomly"], cwd=package,
                             capture_output=True, text=True, timeout=300, env=clean_env())
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert expected in run.stdout
    loaded = subprocess.run([str(python), "-c", "from tether.core.plugins import PluginHost; "
                             "print(' '.join(sorted(PluginHost.from_entry_points().plugin_names())))"],
                            capture_output=True, text=True, env=clean_env(), timeout=120)
    assert {"acme_crm", "acme_health", "salesforce"} <= set(loaded.stdout.split()), loaded.stderr
