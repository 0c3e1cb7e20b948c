"""Scorecards through manifests and the API: validation with paths, roles, scores, overrides, and
no scores at all for a tenant without the plugin."""

import datetime as dt
from decimal import Decimal

import pytest

from tests.core.domain.conftest import USERS, add_companies, add_opportunity
from tests.plugins.timeline.conftest import client_for
from tether.core.errors import ManifestError
from tether.core.store.types import utcnow
from tether.plugins.timeline.models import ActivityRecord

from .conftest import card


def test_invalid_scorecards_in_a_manifest_are_refused_with_paths(tenant_with):
    bad = [
        {"name": "A", "entity": "company", "default": True, "groups": [{"name": "G", "weight": 1_000_000}],
         "measures": [{"key": "a", "group": "Nope"}, {"key": "a"}],
         "scheme": {"type": "grade", "ranges": [{"to": 100, "label": "A"}]}},
        {"name": "B", "entity": "company", "default": True, "measures": [{"key": "a"}],
         "scheme": {"ranges": [{"to": 60, "label": "Low"}, {"to": 50, "label": "High"}]}},
    ]
    with pytest.raises(ManifestError) as refused:
        tenant_with(bad)
    errors = refused.value.errors
    base = "plugins[0].config.scorecards"
    assert errors[f"{base}[0].groups[0].weight"] == ["must be 0 to 999,999"]
    assert errors[f"{base}[0].scheme.ranges"] == ["a scheme has 2 to 12 ranges"]
    assert errors[f"{base}[1].scheme.ranges"] == ["ranges must go up: each 'to' above the one before"]
    with pytest.raises(ManifestError) as second:
        tenant_with([card(), card("Other"), card("Rel", entity="relationship", default=False,
                                                  criteria=[{"field": "colour", "op": "eq", "value": 1}])])
    assert second.value.errors[f"{base}[2].criteria[0].field"][0].startswith("not a relationship field")
    with pytest.raises(ManifestError) as third:
        tenant_with([card(), card("Other")])
    assert third.value.errors[base] == ["company scorecards need exactly one default, found 2 (Health, Other)"]


@pytest.fixture
def api(tenant_with, tether_store, host, tmp_path):
    tenant = tenant_with()
    return tenant, client_for(tether_store, host, "acme", "ops@acme.example", tmp_path)


def test_admins_define_scorecards_through_the_api(api):
    tenant, admin = api
    bad = admin.post("/scorecards", {"name": "H", "entity": "company", "default": True,
                                     "measures": [{"key": "tier"}, {"key": "nope"}]})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {
        "measures[0].key": ["measure 'tier' is a picklist: score it with type 'choices'"],
        "measures[1].key": ["unknown measure 'nope' (see GET /health-measures)"]}
    good = admin.post("/scorecards", {"name": "H", "entity": "company", "default": True,
                                      "groups": [{"name": "G", "weight": 3}],
                                      "measures": [{"key": "a", "weight": 2, "group": "G"},
                                                   {"key": "b", "weight": 6, "group": "G"}, {"key": "c"}]})
    assert good.status_code == 201, good.get_json()
    assert good.get_json()["shares"] == {"a": 18.75, "b": 56.25, "c": 25.0}
    non_default = admin.post("/scorecards", {"name": "Other", "entity": "company", "measures": [{"key": "a"}]})
    assert non_default.get_json()["error"]["fields"]["criteria"] == [
        "a scorecard that is not the default needs criteria"]
    listed = admin.get("/scorecards").get_json()
    assert [(c["name"], c["source"]) for c in listed] == [("H", "api")]
    assert admin.delete("/scorecards/H").status_code == 204
    keys = {m["key"]: m for m in admin.get("/health-measures").get_json()}
    assert {"a", "tier", "field:arr", "renewal_at_risk", "relationship_health", "days_since_last_activity",
            "field:attributes.tier", "field:attributes.seats"} <= set(keys)
    assert keys["days_since_last_activity"]["plugin"] == "timeline"
    assert keys["field:arr"]["entity_kinds"] == ["company", "relationship"]


def test_scores_are_run_listed_detailed_and_overridden_by_role(api, fixed, tether_store, host, tmp_path):
    tenant, admin = api
    admin.post("/scorecards", {"name": "H", "entity": "company", "default": True,
                               "measures": [{"key": "a"}, {"key": "b"}]})
    ids = add_companies(tenant, [{"name": "Acme"}, {"name": "Globex"}])
    fixed.values["a"] = {ids["Acme"]: 20, ids["Globex"]: 90}
    fixed.values["b"] = {ids["Acme"]: 40, ids["Globex"]: 70}
    viewer = client_for(tether_store, host, "acme", "exec@acme.example", tmp_path)
    assert viewer.post("/scores/run").status_code == 403
    run = admin.post("/scores/run").get_json()
    assert run["scored"] == {"company": 2} and run["snapshot"] is True
    red = viewer.get("/scores", entity="company", label="Red").get_json()["items"]
    assert [(r["entity_id"], r["score"]) for r in red] == [(ids["Acme"], 30.0)]
    detail = viewer.get(f"/scores/company/{ids['Acme']}").get_json()
    assert [(m["key"], m["share"], m["score"], m["range"]) for m in detail["measures"]] == [
        ("a", 50.0, 20.0, "Red"), ("b", 50.0, 40.0, "Red")]
    assert len(detail["history"]) == 1
    assert viewer.post(f"/scores/company/{ids['Acme']}/overrides", {"score": 99}).status_code == 403
    csm = client_for(tether_store, host, "acme", "csm@acme.example", tmp_path)
    unknown = csm.post(f"/scores/company/{ids['Acme']}/overrides", {"measure": "c", "score": 99})
    assert unknown.status_code == 422 and "'c' is not a measure of scorecard 'H'" in unknown.get_json()["error"]["message"]
    overridden = csm.post(f"/scores/company/{ids['Acme']}/overrides", {"measure": "b", "score": 100,
                                                                     "note": "renewal signed"})
    assert overridden.status_code == 201
    assert (overridden.get_json()["score"], overridden.get_json()["trend"]) == (60.0, "up")
    view = viewer.get(f"/companies/{ids['Acme']}/360").get_json()
    assert view["health"]["score"] == 60.0 and view["health"]["overridden"] is True
    assert viewer.get("/scores/planet/1").status_code == 404
    assert viewer.get(f"/scores/company/{ids['Acme']}/history").get_json()[0]["score"] == 30.0


def test_manifest_managed_scorecards_are_read_only_through_the_api(tenant_with, tether_store, host, tmp_path):
    tenant_with([card()])
    admin = client_for(tether_store, host, "acme", "ops@acme.example", tmp_path)
    assert [(c["name"], c["source"]) for c in admin.get("/scorecards").get_json()] == [("Health", "config")]
    refused = admin.post("/scorecards", {"name": "X", "entity": "relationship", "default": True,
                                         "measures": [{"key": "a"}]})
    assert refused.status_code == 422 and "defined in its manifest" in refused.get_json()["error"]["message"]


def test_a_tenant_without_the_plugin_has_no_scores_and_no_score_endpoints(make_tenant, tether_store, plugin_host,
                                                                           tmp_path):
    tenant = make_tenant("plain", users=USERS)
    ids = add_companies(tenant, [{"name": "Plain"}])
    api = client_for(tether_store, plugin_host, "plain", "ops@acme.example", tmp_path)
    for method, path in (("GET", "/scores"), ("POST", "/scores/run"), ("GET", "/scorecards"),
                         ("GET", "/health-measures"), ("GET", f"/scores/company/{ids['Plain']}")):
        response = api.call(method, path)
        assert response.status_code == 404, path
        assert "plugin 'scorecards' is not enabled" in response.get_json()["error"]["message"]
    assert api.get(f"/companies/{ids['Plain']}/360").get_json()["health"] is None
    assert tenant.hooks.tether_entity_health(entity="company", ids=[ids["Plain"]]) is None


def test_built_in_measures_from_fields_renewals_and_the_timeline(tenant_with, fixed):
    from tether.plugins.scorecards.health import entity_health
    from tether.plugins.scorecards.runner import run_scoring

    tenant = tenant_with([card(measures=[
        {"key": "field:arr", "scoring": {"type": "linear", "worst": 0, "best": 1000}},
        {"key": "renewal_at_risk", "scoring": {"type": "choices", "scores": {"no": 100, "yes": 0}}},
        {"key": "days_since_last_activity", "scoring": {"type": "bands", "bands": [{"upto": 7, "score": 100},
                                                                                    {"upto": 30, "score": 50},
                                                                                    {"score": 0}]}},
    ])])
    ids = add_companies(tenant, [{"name": "Healthy", "arr": Decimal("1000.00")},
                                 {"name": "Risky", "arr": Decimal("250.00")}, {"name": "Quiet"}])
    soon = dt.date.today() + dt.timedelta(days=60)
    add_opportunity(tenant, ids["Healthy"], "R1", booking_type="renewal", due_date=soon, close_date=soon,
                    target_amount=Decimal("1000"), forecast_amount=Decimal("1100"))
    add_opportunity(tenant, ids["Risky"], "R2", booking_type="renewal", due_date=soon, close_date=soon,
                    target_amount=Decimal("1000"), forecast_amount=Decimal("800"))
    add_opportunity(tenant, ids["Risky"], "Old", booking_type="renewal", due_date=soon, is_closed=True)
    with tenant.transaction() as session:
        session.add(ActivityRecord(type="Call", subject="hi", author="csm", company_id=ids["Healthy"],
                                   occurred_at=utcnow() - dt.timedelta(days=2)))
        session.add(ActivityRecord(type="Call", subject="hi", author="csm", company_id=ids["Risky"],
                                   occurred_at=utcnow() - dt.timedelta(days=20)))
    run_scoring(tenant)
    health = entity_health(tenant, "company", list(ids.values()))
    assert health[ids["Healthy"]]["score"] == 100.0          # (100 + 100 + 100) / 3
    assert health[ids["Risky"]]["score"] == 25.0             # (25 + 0 + 50) / 3
    assert health[ids["Quiet"]]["score"] is None             # no ARR, no renewal, no activity: N/A
