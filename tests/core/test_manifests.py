"""Tenant manifest validation: every error at once, each with its path."""

import pytest

from tether.core.errors import ManifestError
from tether.core.manifests import load_tenant_manifest, parse_plugin_manifest, validate_tenant_manifest
from tether.core.plugins import PluginHost

from .sample_plugins import ConfigChecker, Greeter, NeedsChecker


@pytest.fixture
def host():
    host = PluginHost()
    host.register(Greeter("one"))
    host.register(ConfigChecker())
    host.register(NeedsChecker())
    return host


def errors_of(data, host):
    with pytest.raises(ManifestError) as caught:
        validate_tenant_manifest(data, host, source="t.yaml")
    return caught.value.errors


def test_every_error_is_reported_with_its_path(host):
    errors = errors_of({
        "tenant": {"id": "Bad Id", "name": ""},
        "settings": {"currency": "dollars", "fiscal_year_start_month": 13},
        "plugins": [
            {"name": "one"},
            {"name": "checker", "config": {"instance_url": "not a url", "batch_size": "ten", "colour": "red"}},
            {"name": "nosuch"},
        ],
        "schedules": [{"job": "sync", "every": "often"}, {"job": "sync"}],
        "surprise": True,
    }, host)

    assert errors["tenant.id"] == ["must be lower-case letters, digits and '-' (at most 63)"]
    assert "tenant.name" in errors
    assert errors["settings.currency"] == ["must be an ISO 4217 code such as USD"]
    assert "settings.fiscal_year_start_month" in errors
    assert errors["plugins[1].config.instance_url"] == ["Not a valid URL."]
    assert errors["plugins[1].config.batch_size"] == ["Not a valid integer."]
    assert errors["plugins[1].config.colour"] == ["Unknown field."]
    assert errors["plugins[2].name"] == ["unknown plugin 'nosuch' (installed: checker, needs-checker, one)"]
    assert errors["schedules[0].every"] == ["'often' is not a duration such as 30s, 5m, 2h or 1d"]
    assert errors["schedules[1]"] == ["give exactly one of 'every' or 'cron'"]
    assert errors["surprise"] == ["Unknown field."]


def test_the_error_message_lists_paths_in_one_line(host):
    with pytest.raises(ManifestError) as caught:
        validate_tenant_manifest({"tenant": {"id": "acme", "name": "A"},
                                  "plugins": [{"name": "checker", "config": {"instance_url": "x"}}]}, host, source="acme.yaml")
    assert "acme.yaml: 1 error: plugins[0].config.instance_url: Not a valid URL." in str(caught.value)


def test_required_plugin_missing_and_version_mismatch(host):
    errors = errors_of({
        "tenant": {"id": "acme", "name": "Acme"},
        "plugins": [{"name": "needs-checker"}, {"name": "one", "version": ">=2"}],
    }, host)
    assert errors["plugins[0]"] == ["plugin 'needs-checker' requires plugin 'checker', which this manifest does not enable"]
    assert errors["plugins[1].version"] == ["plugin 'one' is version 1.0.0, the manifest asks for >=2"]


def test_secrets_must_be_references_and_any_value_may_be_one(host):
    errors = errors_of({"tenant": {"id": "acme", "name": "A"},
                        "plugins": [{"name": "checker", "config": {"instance_url": "https://x.example", "api_key": "hunter2"}}]}, host)
    assert errors["plugins[0].config.api_key"] == [
        "secrets must be referenced, not written in the manifest: use {$env: NAME} or {$file: path}"]

    manifest = validate_tenant_manifest({"tenant": {"id": "acme", "name": "A"}, "plugins": [
        {"name": "checker", "config": {"instance_url": {"$env": "ACME_URL"}, "api_key": {"$file": "key.txt"}}}]},
        host, source="t.yaml", base_dir=None)
    config = manifest.plugin_configs()["checker"]
    assert config["instance_url"] == {"$env": "ACME_URL"}
    assert config["api_key"] == {"$file": "key.txt"}
    assert config["batch_size"] == 200 and config["mode"] == "safe"  # defaults filled in


def test_relative_secret_files_resolve_against_the_manifest_folder(tmp_path, host):
    path = tmp_path / "acme.yaml"
    path.write_text("tenant: {id: acme, name: Acme}\nplugins:\n  - name: checker\n    config:\n"
                    "      instance_url: https://acme.example\n      api_key: {$file: secrets/key.txt}\n")
    manifest = load_tenant_manifest(path, host)
    assert manifest.plugin_configs()["checker"]["api_key"] == {"$file": str(tmp_path / "secrets" / "key.txt")}


def test_yaml_syntax_errors_name_the_line(tmp_path, host):
    path = tmp_path / "bad.yaml"
    path.write_text("tenant:\n  id: acme\n  name: [unclosed\n")
    with pytest.raises(ManifestError) as caught:
        load_tenant_manifest(path, host)
    assert any(key.startswith("line ") for key in caught.value.errors)


def test_plugin_manifest_errors_have_paths():
    with pytest.raises(ManifestError) as caught:
        parse_plugin_manifest({"name": "Bad Name", "version": "one", "description": "",
                               "requires_tether": "~~1", "config": {"x": {"type": "colour"}}}, source="manifest.yaml")
    errors = caught.value.errors
    assert {"name", "version", "description", "requires_tether", "config.x.value.type"} <= set(errors)
