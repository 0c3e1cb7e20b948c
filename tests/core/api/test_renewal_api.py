"""The Renewal Center over HTTP: figures, opportunities with write-back, calls, views, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from tether.core.store.models import OutboxEntry

from ..renewals.book import build_book
from .conftest import USERS

SF = {"instance_url": "https://acme.my.salesforce.com"}
CALL_MAPPING = {"connector": "salesforce", "object": "Opportunity", "entity": "opportunity",
                "fields": [{"source": "Renewal_Call__c", "target": "forecast_call_category", "type": "picklist",
                            "direction": "outbound"},
                           {"source": "Renewal_Call_Amount__c", "target": "forecast_call_amount", "type": "money",
                            "direction": "outbound"}]}


@pytest.fixture
def api(make_tenant, make_client):
    tenant = make_tenant("acme", users=USERS)
    build_book(tenant)
    client = make_client("acme")
    client.tenant = tenant
    return client


def _outbox(store, tenant_id="acme"):
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def test_forecast_and_metrics_over_http(api):
    response = api.as_user("ana").get("/renewals/forecast", period="FY2025-Q1")
    assert response.status_code == 200, response.json
    [period] = response.json["periods"]
    assert period["figures"]["renewal_forecast"] == "237000.00"
    assert period["figures"]["due"] == {"count": 6, "amount": "320000.00"}
    response = api.get("/renewals/metrics", period="FY2025-Q1", dimension="segment")
    families = response.json["periods"][0]["families"]
    assert families["renewal_cohort"]["rates"]["grr"]["value"] == pytest.approx(0.4375)
    assert families["arr_cohort"]["rates"]["arr_nrr"]["label"] == "NRR (ARR cohort)"
    only = api.get("/renewals/metrics", period="FY2025-Q1", family="arr_cohort").json
    assert list(only["periods"][0]["families"]) == ["arr_cohort"]


def test_bad_queries_get_422_with_the_fields(api):
    response = api.as_user("ana").get("/renewals/forecast", period="all",
                                      filters=json.dumps([{"field": "nope", "op": "eq", "value": 1}]))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"grain", "filters[0].field"}
    response = api.get("/renewals/forecast", filters="not json")
    assert response.status_code == 422 and "filters" in response.json["error"]["fields"]
    response = api.get("/renewals/forecast", period="someday")
    assert response.status_code == 422 and "period" in response.json["error"]["message"]


def test_edit_and_create_go_to_the_outbox_in_the_same_transaction(make_tenant, make_client):
    tenant = make_tenant("acme", users=USERS, plugins={"salesforce": SF})
    ids = build_book(tenant).ids
    client = make_client("acme").as_user("ana")
    response = client.patch(f"/renewals/opportunities/{ids['R4']}",
                            {"forecast_amount": "85000.00", "close_date": "2025-03-20", "csm": "Dana"})
    assert response.status_code == 200, response.json
    assert response.json["forecast_amount"] == "85000.00"
    assert response.json["change_amount"] == "5000.00"          # forecast - target while open
    assert response.json["expected_forecast"] == "51000.00"     # 85k x 60 %
    [entry] = _outbox(client.store)
    # Only fields the Salesforce mapping pushes leave: csm and forecast_amount are not mapped by default.
    assert entry.changes == {"close_date": "2025-03-20"}
    assert (entry.connector, entry.object_name, entry.local_id) == ("salesforce", "Opportunity", ids["R4"])
    refused = client.patch(f"/renewals/opportunities/{ids['R4']}", {"probability": 140, "target_amount": "-1"})
    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) == {"probability", "target_amount"}
    # The API judges "update needed" against today's date.
    due, close = dt.date.today() + dt.timedelta(days=60), dt.date.today() + dt.timedelta(days=45)
    created = client.post("/renewals/opportunities", {"name": "New renewal", "booking_type": "renewal",
                                                      "target_amount": "1000", "due_date": due.isoformat(),
                                                      "close_date": close.isoformat()})
    assert created.status_code == 201, created.json
    assert created.json["status"] == "open"
    assert created.json["update_needed"] == ["forecast_amount", "forecast_call"]
    entries = _outbox(client.store)
    assert len(entries) == 2 and entries[1].local_id == created.json["id"]
    assert entries[1].changes == {"name": "New renewal", "close_date": close.isoformat()}


def test_forecast_calls_with_history_and_write_back(make_tenant, make_client):
    tenant = make_tenant("acme", users=USERS, plugins={"salesforce": SF}, mappings=[CALL_MAPPING])
    ids = build_book(tenant).ids
    client = make_client("acme").as_user("ana")
    first = client.post(f"/renewals/opportunities/{ids['R6']}/calls", {"category": "Best Case", "amount": "32000"})
    assert first.status_code == 201, first.json
    second = client.post(f"/renewals/opportunities/{ids['R6']}/calls",
                         {"category": "commit", "amount": "35000", "comment": "signed order form pending"})
    history = client.get(f"/renewals/opportunities/{ids['R6']}/calls").json
    assert [(c["category"], c["amount"], c["is_current"]) for c in history] == [
        ("commit", "35000.00", True), ("best_case", "32000.00", False)]
    assert history[0]["called_by"] == "ana" and history[0]["comment"] == "signed order form pending"
    opportunity = client.get(f"/renewals/opportunities/{ids['R6']}").json
    assert opportunity["forecast_call"]["id"] == second.json["id"]
    assert opportunity["effective_forecast_category"] == "commit" and opportunity["forecast_category"] == "best_case"
    # Only the mapped call fields are written back, one entry per call.
    changes = [e.changes for e in _outbox(client.store)]
    assert changes == [{"forecast_call_category": "best_case", "forecast_call_amount": "32000.00"},
                       {"forecast_call_category": "commit", "forecast_call_amount": "35000.00"}]
    closed = client.post(f"/renewals/opportunities/{ids['R1']}/calls", {"category": "commit"})
    assert closed.status_code == 422 and "closed" in closed.json["error"]["message"]
    bad = client.post(f"/renewals/opportunities/{ids['R6']}/calls", {"category": "maybe", "amount": "-3"})
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"category", "amount"}


def test_opportunity_list_pages_by_due_date(api):
    client = api.as_user("ana")
    first = client.get("/renewals/opportunities", period="FY2025-Q1", limit=4)
    assert first.status_code == 200, first.json
    names = [o["name"] for o in first.json["items"]]
    assert names == ["R1", "R2", "R3", "R4"]
    rest = client.get("/renewals/opportunities", period="FY2025-Q1", limit=4,
                      cursor=json.dumps(first.json["next_cursor"])).json
    assert [o["name"] for o in rest["items"]] == ["R5", "R6"] and rest["next_cursor"] is None
    open_smb = client.get("/renewals/opportunities", status="open",
                          filters=json.dumps([{"field": "segment", "op": "eq", "value": "SMB"}])).json
    assert [o["name"] for o in open_smb["items"]] == ["R4", "R6", "R8"]


def test_view_drill_down_and_streamed_export_agree(api):
    client = api.as_user("ana")
    created = client.post("/renewals/views", {
        "name": "Renewals by owner", "period": "FY2025-Q1", "shared": True,
        "widgets": [{"kind": "breakdown", "measure": "renewal_forecast", "dimension": "owner"}]})
    assert created.status_code == 201, created.json
    view_id, widget_id = created.json["id"], created.json["widgets"][0]["id"]
    data = api.as_user("analyst").get(f"/renewals/views/{view_id}/data").json
    groups = {g["group"]: g for g in data["widgets"][0]["groups"]}
    assert groups["bob"]["value"] == "97000.00"
    drill = api.get(f"/renewals/views/{view_id}/widgets/{widget_id}/drilldown", group="bob", limit=2)
    assert drill.status_code == 200, drill.json
    assert drill.json["figure"]["value"] == "97000.00"
    rows = drill.json["items"]
    while drill.json["next_cursor"]:
        drill = api.get(f"/renewals/views/{view_id}/widgets/{widget_id}/drilldown", group="bob", limit=2,
                        cursor=drill.json["next_cursor"])
        rows += drill.json["items"]
    assert sum(Decimal(r["contribution"]) for r in rows) == Decimal("97000.00")
    exported = api.get(f"/renewals/views/{view_id}/widgets/{widget_id}/drilldown.csv", group="bob")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    parsed = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [int(r["opportunity_id"]) for r in parsed] == [r["opportunity_id"] for r in rows]
    assert [r["contribution"] for r in parsed] == [r["contribution"] for r in rows]
    # the ad-hoc drill-down of the same figure lists the same rows
    adhoc = api.as_user("ana").get("/renewals/drilldown", measure="renewal_forecast", period="FY2025-Q1",
                                   dimension="owner", group="bob", limit=100).json
    assert [r["opportunity_id"] for r in adhoc["items"]] == [r["opportunity_id"] for r in rows]


def test_settings_are_admin_configured(api):
    response = api.as_user("boss").put("/renewals/settings", {"scenarios": {"high": ["closed", "commit", "best_case"],
                                                                            "medium": ["closed", "commit"],
                                                                            "low": ["closed"]},
                                                              "stale_forecast_days": 14})
    assert response.status_code == 200, response.json
    assert response.json["stale_forecast_days"] == 14 and response.json["amount_basis"] == "ARR"
    bad = api.put("/renewals/settings", {"scenarios": {"high": ["closed"], "medium": ["commit"], "low": []},
                                         "min_per_class": 0})
    assert bad.status_code == 422 and {"scenarios", "min_per_class"} <= set(bad.json["error"]["fields"])
    low = api.as_user("ana").get("/renewals/forecast", period="FY2025-Q1").json
    assert low["periods"][0]["figures"]["scenarios"]["low"] == "135000.00"


def test_risk_and_models_over_http(api):
    trained = api.as_user("boss").post("/renewals/models/train")
    assert trained.status_code == 201, trained.json
    assert trained.json["version"]["status"] == "insufficient_data"
    versions = api.as_user("ana").get("/renewals/models").json
    assert versions[0]["version"] == 1 and "too little renewal history" in versions[0]["message"]
    risk = api.get("/renewals/risk", period="FY2025-Q1", after=0).json
    assert risk["model"]["status"] == "insufficient_data"
    assert {i["name"] for i in risk["items"]} == {"R4", "R5", "R6"}
    r5 = next(i for i in risk["items"] if i["name"] == "R5")
    assert {f["code"] for f in r5["flags"]} >= {"missing_forecast"}
    assert api.get("/renewals/models/7").status_code == 404


def test_objects_of_another_tenant_are_not_found(api, make_tenant, make_client):
    other = make_tenant("other", users=[{"username": "olga", "role": "admin"}])
    theirs = build_book(other).ids
    them = make_client("other").as_user("olga")
    view = them.post("/renewals/views", {"name": "Theirs", "shared": True,
                                         "widgets": [{"kind": "kpi", "measure": "won"}]}).json
    us = api.as_user("boss")
    for path in (f"/renewals/opportunities/{theirs['R4']}", f"/renewals/opportunities/{theirs['R4']}/calls",
                 f"/renewals/opportunities/{theirs['R4']}/risk", f"/renewals/views/{view['id']}",
                 f"/renewals/views/{view['id']}/data",
                 f"/renewals/views/{view['id']}/widgets/{view['widgets'][0]['id']}/drilldown"):
        assert us.get(path).status_code == 404, path
    assert us.patch(f"/renewals/opportunities/{theirs['R4']}", {"csm": "x"}).status_code == 404
    assert us.post(f"/renewals/opportunities/{theirs['R4']}/calls", {"category": "commit"}).status_code == 404
    assert us.delete(f"/renewals/views/{view['id']}").status_code == 404
    # ...and their figures never leak into ours: our forecast is the same with or without them.
    assert us.get("/renewals/forecast", period="FY2025-Q1").json["periods"][0]["figures"]["due"]["amount"] == "320000.00"
