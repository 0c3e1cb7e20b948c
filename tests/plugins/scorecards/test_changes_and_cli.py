"""Scores follow local edits right away, deletions everywhere; the CLI runs and shows them."""

import datetime as dt

import pytest
from click.testing import CliRunner

from tests.core.domain.conftest import add_opportunity
from tests.plugins.timeline.conftest import client_for
from tether.core.cli import build_cli
from tether.core.contracts import ChangeSet
from tether.core.errors import ManifestError
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.plugins.scorecards.health import entity_health
from tether.plugins.scorecards.runner import run_scoring

from .conftest import add_companies, add_relationship, card


def test_local_edits_are_scored_at_once_and_deleted_entities_lose_their_score(tenant_with, fixed, tether_store,
                                                                             host, tmp_path):
    tenant = tenant_with([card(measures=[{"key": "field:employees", "scoring": {
        "type": "linear", "worst": 0, "best": 1000}}]), card("Rel", entity="relationship")])
    api = client_for(tether_store, host, "acme", "csm@acme.example", tmp_path)
    created = api.post("/companies", {"name": "New Co", "employees": 250}).get_json()
    assert entity_health(tenant, "company", [created["id"]])[created["id"]]["score"] == 25.0
    api.patch(f"/companies/{created['id']}", {"employees": 900})
    health = entity_health(tenant, "company", [created["id"]])[created["id"]]
    assert (health["score"], health["previous_score"], health["trend"]) == (90.0, 25.0, "up")

    rel = add_relationship(tenant, created["id"], "Analytics")
    fixed.values["a"][rel] = 70
    run_scoring(tenant)
    assert entity_health(tenant, "relationship", [rel])[rel]["score"] == 70.0
    assert api.delete(f"/relationships/{rel}").status_code == 204
    assert entity_health(tenant, "relationship", [rel]) == {}

    # A sync's pages wait for the scheduled run, but deletions apply at once.
    synced = add_companies(tenant, [{"name": "Synced", "employees": 100}])["Synced"]
    tenant.hooks.tether_records_changed(changes=ChangeSet(entity="company", created=[synced], origin="sync"))
    assert entity_health(tenant, "company", [synced]) == {}
    tenant.hooks.tether_records_changed(changes=ChangeSet(entity="company", deleted=[created["id"]], origin="sync"))
    assert entity_health(tenant, "company", [created["id"]]) == {}


def test_field_measures_in_the_config_are_checked(tenant_with):
    with pytest.raises(ManifestError) as refused:
        tenant_with([card()], field_measures=[{"field": "nps!", "kind": "colour"}])
    assert refused.value.errors["plugins[0].config.field_measures[0].kind"] == ["Must be one of: numeric, picklist."]
    assert refused.value.errors["plugins[0].config.field_measures[0].field"] == [
        "must be an attribute name such as nps"]


def test_company_attributes_declared_as_measures_score(tenant_with):
    tenant = tenant_with([card(measures=[{"key": "field:attributes.nps", "scoring": {
        "type": "linear", "worst": -100, "best": 100}}])], field_measures=[{"field": "nps", "label": "NPS"}])
    ids = add_companies(tenant, [{"name": "Fan", "attributes": {"nps": 60}}, {"name": "Unknown",
                                                                               "attributes": {"nps": "n/a"}}])
    run_scoring(tenant)
    health = entity_health(tenant, "company", list(ids.values()))
    assert health[ids["Fan"]]["score"] == 80.0 and health[ids["Unknown"]]["score"] is None


def test_renewal_risk_gets_each_opportunity_s_health(tenant_with, fixed):
    tenant = tenant_with([card(), card("Rel", entity="relationship")])
    ids = add_companies(tenant, [{"name": "Acme"}, {"name": "Globex"}])
    rel = add_relationship(tenant, ids["Acme"], "Analytics")
    fixed.values["a"] = {ids["Acme"]: 90, ids["Globex"]: 30, rel: 55}
    run_scoring(tenant)
    on_rel = add_opportunity(tenant, ids["Acme"], "Renewal A", relationship_id=rel, close_date=dt.date(2026, 6, 1))
    on_company = add_opportunity(tenant, ids["Globex"], "Renewal G")
    features = [f for f in tenant.hooks.tether_renewal_features(opportunity_ids=[on_rel, on_company])
                if "health_score" in f.columns][0]
    assert features.columns["health_score"] == [55.0, 30.0]


def test_the_cli_runs_lists_and_shows_scores_and_the_timeline(tenant_with, fixed, tether_store, host, tmp_path):
    tenant = tenant_with([card(measures=[{"key": "a"}, {"key": "b", "weight": 3}])])
    ids = add_companies(tenant, [{"name": "Acme"}])
    fixed.values["a"][ids["Acme"]] = 20
    fixed.values["b"][ids["Acme"]] = 60
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=host, store=tether_store)
    cli = build_cli(runtime)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, list(args), obj=runtime, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    assert "scored {'company': 1}" in run("scores", "run", "acme")
    assert "50.0 Red" in run("scores", "show", "acme", "company", str(ids["Acme"]))  # (20 + 3·60) / 4
    assert "75.0" in run("scores", "scorecards", "acme")  # b's share of the overall score
    assert "Red" in run("scores", "list", "acme")
    client_for(tether_store, host, "acme", "csm@acme.example", tmp_path).post(
        "/activities", {"type": "Meeting", "subject": "QBR prep", "company_id": ids["Acme"]})
    assert "QBR prep" in run("timeline", "list", "acme", "--company", str(ids["Acme"]))
    assert "Milestone" in run("timeline", "types", "acme")
    other = runner.invoke(cli, ["scores", "run", "nobody"], obj=runtime)
    assert other.exit_code == 1 and "unknown tenant 'nobody'" in other.output
