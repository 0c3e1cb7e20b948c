"""Rules and playbooks from the manifest (checked with paths, read-only through the API) and
from the API (checked the same way), conditions on offer, and running rules on demand."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tests.core.domain.conftest import add_companies
from tether.core.cli import build_cli
from tether.core.errors import ManifestError
from tether.core.runtime import Runtime
from tether.core.settings import Settings

from .conftest import ctas

RED = {"name": "Red health", "condition": "health_red", "cta": {"priority": "high"}}


def test_bad_settings_are_refused_with_their_paths(make_cockpit):
    with pytest.raises(ManifestError) as refused:
        make_cockpit({"types": ["Bad Name"]})
    assert "lower-case letters" in refused.value.errors["plugins[0].config.types[0]"][0]
    with pytest.raises(ManifestError) as refused:
        make_cockpit({"types": ["risk"], "statuses": [{"name": "open"}],
                      "list_fields": ["company.nope", "relationship.attributes.tier", "deal.arr"]})
    errors = refused.value.errors
    assert errors["plugins[0].config.types"] == ["risk is built in"]
    assert errors["plugins[0].config.statuses"] == ["open is built in"]
    assert [m.split(":")[0] for m in errors["plugins[0].config.list_fields"]] == ["'company.nope'", "'deal.arr'"]


def test_manifest_paths_for_rules_and_playbooks(make_cockpit):
    with pytest.raises(ManifestError) as refused:
        make_cockpit({
            "playbooks": [{"name": "P", "type": "unknown_type", "tasks": [{"name": "t"}]}],
            "rules": [{"name": "No such", "condition": "moon_phase"},
                      {"name": "Bad params", "condition": "no_activity", "params": {"days": 0, "color": "red"},
                       "cta": {"type": "nope", "playbook": "missing", "name": "{oops}"}}]})
    errors = refused.value.errors
    prefix = "plugins[0].config."
    assert "not a CTA type" in errors[prefix + "playbooks[0].type"][0]
    assert "'moon_phase' is not a condition" in errors[prefix + "rules[0].condition"][0]
    assert errors[prefix + "rules[1].params.days"] == ["a whole number from 1 to 3650"]
    assert "not a parameter of no_activity" in errors[prefix + "rules[1].params.color"][0]
    assert "not a CTA type" in errors[prefix + "rules[1].cta.type"][0]
    assert "no playbook 'missing'" in errors[prefix + "rules[1].cta.playbook"][0]
    assert "unknown placeholder {oops}" in errors[prefix + "rules[1].cta.name"][0]


def test_manifest_rules_are_read_only_through_the_api_which_manages_its_own(make_cockpit, client):
    make_cockpit({"rules": [RED]})
    admin = client("boss")
    listed = admin.get("/cockpit/rules").get_json()
    assert [(r["name"], r["source"], r["effective_params"]) for r in listed] == [
        ("Red health", "manifest", {"entity": "company", "labels": ["Red"], "below": None})]
    refused = admin.put("/cockpit/rules/Red health", {"condition": "health_red"})
    assert refused.status_code == 422 and "defined in the tenant manifest" in refused.get_json()["error"]["message"]
    assert admin.post("/cockpit/rules", RED).status_code == 422  # the name is taken

    made = admin.post("/cockpit/rules", {"name": "Quiet", "condition": "no_activity", "params": {"days": 45}})
    assert made.status_code == 201 and made.get_json()["source"] == "api"
    bad = admin.post("/cockpit/rules", {"name": "Bad", "condition": "no_activity", "params": {"days": "many"}})
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"]["params.days"]
    replaced = admin.put("/cockpit/rules/Quiet", {"condition": "no_activity", "params": {"days": 60},
                                                  "enabled": False})
    assert replaced.get_json()["params"] == {"days": 60} and replaced.get_json()["enabled"] is False
    assert admin.delete("/cockpit/rules/Quiet").status_code == 204
    assert admin.delete("/cockpit/rules/Quiet").status_code == 404


def test_api_playbooks_and_a_rule_using_one(make_cockpit, client):
    make_cockpit()
    admin = client("boss")
    book = {"name": "Win back", "type": "risk", "tasks": [{"name": "Call", "due_in_days": 1}]}
    assert admin.post("/cockpit/playbooks", book).status_code == 201
    assert admin.post("/cockpit/playbooks", book).status_code == 422
    second_default = admin.post("/cockpit/playbooks", {**book, "name": "Other", "default": True})
    assert second_default.status_code == 201
    clash = admin.post("/cockpit/playbooks", {**book, "name": "Third", "default": True})
    assert clash.status_code == 422 and "already the default" in clash.get_json()["error"]["fields"]["default"][0]
    assert admin.post("/cockpit/rules", {**RED, "cta": {"playbook": "Win back"}}).status_code == 201
    in_use = admin.delete("/cockpit/playbooks/Win back")
    assert in_use.status_code == 422 and "used by rule Red health" in in_use.get_json()["error"]["message"]
    assert admin.put("/cockpit/playbooks/Win back", {**book, "tasks": [{"name": "Visit"}]}).get_json()["tasks"][0][
        "name"] == "Visit"
    assert [b["name"] for b in client("viewer").get("/cockpit/playbooks").get_json()] == ["Other", "Win back"]


def test_conditions_on_offer_include_other_plugins(make_cockpit, client):
    make_cockpit()
    offered = {c["key"]: c for c in client("viewer").get("/cockpit/conditions").get_json()}
    assert {"renewal_risk_flags", "renewal_low_likelihood", "renewal_due_without_call", "health_red", "health_drop",
            "no_activity", "churn_signal"} <= set(offered)
    assert offered["churn_signal"]["plugin"] == "kit" and offered["no_activity"]["defaults"] == {
        "entity": "company", "days": 30}


def test_run_the_rules_now_from_the_api_and_the_cli(make_cockpit, client, kit, tether_store, kit_host, tmp_path):
    tenant = make_cockpit({"rules": [RED]})
    ids = add_companies(tenant, [{"name": "Acme"}])
    kit.set_health("company", ids["Acme"], 10, "Red")
    report = client("boss").post("/cockpit/rules/run", {}).get_json()
    assert report["opened"] == 1 and report["rules"][0]["status"] == "success"
    unknown = client("boss").post("/cockpit/rules/run", {"rules": ["Nope"]})
    assert unknown.status_code == 404

    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path / "cli")}), host=kit_host, store=tether_store)
    cli = build_cli(runtime)
    result = CliRunner().invoke(cli, ["cockpit", "run-rules", "acme"], obj=runtime, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "0 CTAs opened" in result.output
    listed = CliRunner().invoke(cli, ["cockpit", "list", "acme"], obj=runtime, env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "Health turned red: Acme" in listed.output
    assert len(ctas(tenant)) == 1


def test_the_docs_example_applies_and_its_rule_validates(make_cockpit, client):
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[3] / "docs" / "cockpit.md").read_text()
    manifest_part, rule_part = (yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)[:2])
    plugins = {entry["name"]: entry.get("config") or {} for entry in manifest_part["plugins"]}
    make_cockpit(plugins=plugins)
    admin = client("boss")
    assert [r["name"] for r in admin.get("/cockpit/rules").get_json()] == ["Red health", "Quiet customers"]
    assert admin.post("/cockpit/rules", rule_part[0]).status_code == 201
