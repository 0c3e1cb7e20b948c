"""The tether command line, run as a user runs it (a real process, a fresh home)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tether(tmp_path):
    env = {**os.environ, "TETHER_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    env.pop("TETHER_DATABASE_URL", None)

    def run(*args, **extra_env):
        return subprocess.run([sys.executable, "-m", "tether", *args], capture_output=True, text=True,
                              env={**env, **extra_env}, cwd=tmp_path, timeout=120)
    return run


def test_init_apply_list_show_and_idempotent_apply(tether, tmp_path):
    assert tether("init").returncode == 0
    applied = tether("tenants", "apply", str(ROOT / "manifests" / "example.yaml"))
    assert applied.returncode == 0, applied.stderr
    assert "tenant 'acme' created" in applied.stdout
    again = tether("tenants", "apply", str(ROOT / "manifests" / "example.yaml"))
    assert "tenant 'acme' is already up to date" in again.stdout
    listed = tether("tenants", "list")
    assert "acme" in listed.stdout and "salesforce, scorecards, timeline" in listed.stdout
    shown = tether("plugins", "config", "acme", "salesforce")
    # References are shown (they say where a secret is), never a value.
    assert '"password": {"$env": "ACME_SF_PASSWORD"}' in shown.stdout


def test_user_mistakes_print_one_line_and_exit_non_zero(tether, tmp_path):
    tether("init")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenant: {id: acme, name: Acme}\nplugins:\n  - name: salesforce\n    config: {instance_url: nope}\n  - name: nosuch\n")

    for args, expected in [
        (("tenants", "show", "nope"), "error: unknown tenant 'nope'"),
        (("manifest", "validate", str(bad)), "manifest is invalid, nothing was changed"),
        (("tenants", "apply", str(tmp_path / "missing.yaml")), "cannot read"),
        (("plugins", "show", "nosuch"), "error: unknown plugin 'nosuch'"),
    ]:
        result = tether(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert expected in result.stderr
        assert "Traceback" not in result.stderr
    invalid = tether("manifest", "validate", str(bad)).stderr
    assert "plugins[0].config.instance_url: Not a valid URL." in invalid
    assert "plugins[1].name: unknown plugin 'nosuch'" in invalid


def test_commands_needing_the_database_say_to_upgrade_it(tether):
    result = tether("tenants", "list")
    assert result.returncode == 1
    # One line however many migrations a new database lacks, and however narrow the terminal.
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "has no tether tables yet" in result.stderr and "run `tether db upgrade`" in result.stderr


def test_a_bad_database_url_is_one_clear_line(tether):
    result = tether("tenants", "list", TETHER_DATABASE_URL="nosuchdb://x")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "database URL" in result.stderr


def test_user_tokens_are_printed_once(tether):
    tether("init")
    tether("tenants", "apply", str(ROOT / "manifests" / "example.yaml"))
    result = tether("users", "token", "acme", "csm@acme.example")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("tth_")
    assert "cannot show it again" in result.stderr
