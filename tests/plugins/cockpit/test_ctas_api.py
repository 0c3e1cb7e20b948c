"""CTAs through the API: open with playbooks and links, the Cockpit list, close with a timeline activity."""

from __future__ import annotations

import datetime as dt

from tests.core.domain.conftest import add_companies

from .conftest import ctas, today

PLAYBOOK = {"name": "Onboarding", "type": "lifecycle", "default": True, "tasks": [
    {"name": "Kick-off call", "due_in_days": 3}, {"name": "Admin training", "owner": "csm", "due_in_days": 14}]}


def day(offset: int) -> str:
    return (today() + dt.timedelta(days=offset)).isoformat()


def open_cta(api, **body):
    response = api.post("/cockpit/ctas", {"name": "Follow up", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_open_a_cta_with_its_type_playbook_tasks_and_linked_opportunities(world, make_cockpit, client):
    tenant, ids = world
    make_cockpit({"playbooks": [PLAYBOOK]})
    api = client("ana")
    cta = open_cta(api, type="lifecycle", relationship_id=ids["analytics"], due_date=day(30),
                   opportunity_ids=[ids["renewal"]], reason="New product line", priority="high",
                   tasks=[{"name": "Send the welcome pack", "owner": "bob"}])
    assert (cta["company"]["id"], cta["relationship"]["name"], cta["owner"], cta["status"], cta["source"]) == (
        ids["Acme"], "Analytics", "ana", "open", "manual")
    assert [(t["name"], t["owner"], t["due_date"]) for t in cta["task_list"]] == [
        ("Kick-off call", "ana", day(3)), ("Admin training", "carol", day(14)),
        ("Send the welcome pack", "bob", day(30))]
    assert cta["playbook"] == "Onboarding" and cta["tasks"] == {"total": 3, "open": 3}
    [opp] = cta["opportunities"]
    assert (opp["name"], opp["status"], opp["target_amount"], opp["forecast_amount"]) == (
        "Acme renewal 2026", "open", "80000.00", "60000.00")
    # 'none' opens it bare
    assert open_cta(api, type="lifecycle", company_id=ids["Acme"], playbook="none")["task_list"] == []


def test_bad_input_is_refused_with_every_field_named(world, client):
    tenant, ids = world
    api = client("ana")
    response = api.post("/cockpit/ctas", {"name": "x", "type": "nonsense", "company_id": ids["Acme"],
                                          "relationship_id": 999999, "opportunity_ids": [ids["globex_deal"]],
                                          "playbook": "nope"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "not a CTA type" in fields["type"][0] and fields["relationship_id"] == ["no relationship 999999"]
    assert "belongs to company" in fields["opportunity_ids"][0] and "no playbook 'nope'" in fields["playbook"][0]
    assert ctas(tenant) == []
    response = api.post("/cockpit/ctas", {"name": "x"})
    assert response.status_code == 422 and "company_id" in response.get_json()["error"]["fields"]


def test_the_cockpit_list_filters_sorts_pages_and_shows_relationship_fields(world, make_cockpit, client, kit):
    tenant, ids = world
    make_cockpit({"list_fields": ["company.arr", "company.segment", "company.attributes.tier", "company.health",
                                  "relationship.type", "relationship.stage", "relationship.attributes.seats"]})
    kit.set_health("company", ids["Acme"], 42, "Red")
    ana, bob = client("ana"), client("bob")
    first = open_cta(ana, relationship_id=ids["analytics"], due_date=day(10), priority="low", name="A")
    second = open_cta(ana, company_id=ids["Globex"], due_date=day(2), priority="high", type="opportunity", name="B")
    third = open_cta(ana, company_id=ids["Acme"], due_date=day(-3), priority="medium", name="C")
    open_cta(bob, company_id=ids["Acme"], due_date=day(1), name="Bob's")
    closed = open_cta(ana, company_id=ids["Acme"], due_date=day(5), name="Done")
    assert ana.post(f"/cockpit/ctas/{closed['id']}/close", {"status": "closed_lost"}).status_code == 200

    mine = ana.get("/cockpit/ctas").get_json()
    assert [i["name"] for i in mine["items"]] == ["C", "B", "A"]  # mine, open, soonest due first
    a = next(i for i in mine["items"] if i["name"] == "A")
    assert a["fields"] == {"company.arr": "120000.00", "company.segment": "Enterprise", "company.attributes.tier": "Gold",
                           "company.health": {"score": 42, "label": "Red", "color": None, "trend": None},
                           "relationship.type": "Product", "relationship.stage": "Adopting",
                           "relationship.attributes.seats": 40}
    assert a["relationship"] == {"id": ids["analytics"], "name": "Analytics", "type": "Product"}
    assert next(i for i in mine["items"] if i["name"] == "C")["overdue"] is True

    def names(**query):
        response = ana.get("/cockpit/ctas", **query)
        assert response.status_code == 200, response.get_json()
        return [i["name"] for i in response.get_json()["items"]]

    assert names(owner="any") == ["C", "Bob's", "B", "A"]
    assert names(owner="bob") == ["Bob's"]
    assert names(status="closed_lost") == ["Done"] and names(status="all") == ["C", "B", "Done", "A"]
    assert names(type="opportunity") == ["B"] and names(priority="high,low") == ["B", "A"]
    assert names(due_from=day(0), due_to=day(9)) == ["B"] and names(overdue="true") == ["C"]
    assert names(sort="priority") == ["B", "C", "A"] and names(sort="-due_date") == ["A", "B", "C"]
    assert names(relationship_id=ids["analytics"]) == ["A"] and names(q="b") == ["B"]

    page = ana.get("/cockpit/ctas", limit=2, sort="priority").get_json()
    assert [i["name"] for i in page["items"]] == ["B", "C"] and page["next_cursor"]
    rest = ana.get("/cockpit/ctas", limit=2, sort="priority", cursor=page["next_cursor"]).get_json()
    assert [i["name"] for i in rest["items"]] == ["A"] and rest["next_cursor"] is None

    bad = ana.get("/cockpit/ctas", status="sleeping")
    assert bad.status_code == 422 and "statuses from" in bad.get_json()["error"]["fields"]["status"][0]
    assert {first["id"], second["id"], third["id"]} <= {c.id for c in ctas(tenant)}


def test_closing_logs_a_timeline_activity_and_reopening_clears_it(world, client):
    tenant, ids = world
    api = client("ana")
    cta = open_cta(api, relationship_id=ids["analytics"], opportunity_ids=[ids["renewal"]], name="Save Analytics",
                   reason="usage fell", tasks=[{"name": "Call"}, {"name": "Email"}])
    assert api.patch(f"/cockpit/tasks/{cta['task_list'][0]['id']}", {"status": "completed"}).status_code == 200
    closed = api.post(f"/cockpit/ctas/{cta['id']}/close", {"status": "closed_success", "note": "Renewed early."})
    assert closed.status_code == 200
    body = closed.get_json()
    assert body["is_closed"] and body["closed_by"] == "ana" and body["comments"][0]["body"] == "Renewed early."
    [activity] = api.get("/activities", relationship_id=ids["analytics"]).get_json()["items"]
    assert activity["subject"] == "CTA closed (closed success): Save Analytics"
    assert (activity["type"], activity["author"], activity["company_id"], activity["opportunity_id"]) == (
        "Update", "ana", ids["Acme"], ids["renewal"])
    assert "Tasks: 1 of 2 completed." in activity["notes"] and "Note: Renewed early." in activity["notes"]

    again = api.post(f"/cockpit/ctas/{cta['id']}/close", {})
    assert again.status_code == 422 and "already closed" in again.get_json()["error"]["message"]
    reopened = api.post(f"/cockpit/ctas/{cta['id']}/reopen", {}).get_json()
    assert (reopened["status"], reopened["is_closed"], reopened["closed_at"]) == ("open", False, None)
    # A closed status through PATCH closes it too, with its activity.
    assert api.patch(f"/cockpit/ctas/{cta['id']}", {"status": "closed_lost"}).get_json()["is_closed"]
    assert len(api.get("/activities", company_id=ids["Acme"]).get_json()["items"]) == 2


def test_closing_without_the_timeline_plugin_still_closes(make_cockpit, client):
    tenant = make_cockpit(plugins={"cockpit": {}})
    ids = add_companies(tenant, [{"name": "Acme"}])
    api = client("ana")
    cta = open_cta(api, company_id=ids["Acme"])
    assert api.post(f"/cockpit/ctas/{cta['id']}/close", {}).get_json()["status"] == "closed_success"


def test_custom_types_and_statuses(make_cockpit, client):
    tenant = make_cockpit({"types": ["expansion"], "statuses": [{"name": "waiting", "label": "Waiting on customer"},
                                                                {"name": "no_action", "closed": True}]})
    ids = add_companies(tenant, [{"name": "Acme"}])
    api = client("ana")
    cta = open_cta(api, company_id=ids["Acme"], type="expansion")
    waiting = api.patch(f"/cockpit/ctas/{cta['id']}", {"status": "waiting"}).get_json()
    assert (waiting["status_label"], waiting["is_closed"]) == ("Waiting on customer", False)
    assert api.get("/cockpit/ctas", status="waiting").get_json()["items"][0]["id"] == cta["id"]
    assert api.post(f"/cockpit/ctas/{cta['id']}/close", {"status": "no_action"}).get_json()["is_closed"]
    settings = api.get("/cockpit/settings").get_json()
    assert "expansion" in settings["types"] and {"name": "no_action", "label": "No action", "closed": True} in \
        settings["statuses"]


def test_tasks_comments_links_and_playbooks_on_an_open_cta(world, make_cockpit, client):
    tenant, ids = world
    make_cockpit({"playbooks": [PLAYBOOK]})
    api = client("ana")
    cta = open_cta(api, company_id=ids["Acme"], playbook="none", due_date=day(9))
    task = api.post(f"/cockpit/ctas/{cta['id']}/tasks", {"name": "Check usage"}).get_json()
    assert (task["owner"], task["due_date"], task["status"]) == ("ana", day(9), "open")
    done = api.patch(f"/cockpit/tasks/{task['id']}", {"status": "completed", "owner": "bob"}).get_json()
    assert (done["status"], done["completed_by"], done["owner"]) == ("completed", "ana", "bob")
    assert api.post(f"/cockpit/ctas/{cta['id']}/playbook", {"playbook": "Onboarding"}).get_json()["tasks"] == {
        "total": 3, "open": 2}
    assert api.post(f"/cockpit/ctas/{cta['id']}/comments", {"body": "Spoke to IT."}).status_code == 201
    linked = api.put(f"/cockpit/ctas/{cta['id']}/opportunities", {"opportunity_ids": [ids["renewal"]]})
    assert [o["id"] for o in linked.get_json()["opportunities"]] == [ids["renewal"]]
    assert [o["name"] for o in api.get(f"/cockpit/ctas/{cta['id']}/opportunities").get_json()] == [
        "Acme renewal 2026"]
    refused = api.put(f"/cockpit/ctas/{cta['id']}/opportunities", {"opportunity_ids": [ids["globex_deal"]]})
    assert refused.status_code == 422
    assert api.delete(f"/cockpit/tasks/{task['id']}").status_code == 204
    detail = api.get(f"/cockpit/ctas/{cta['id']}").get_json()
    assert [t["name"] for t in detail["task_list"]] == ["Kick-off call", "Admin training"]
    assert detail["comments"][0]["author"] == "ana"


def test_another_tenants_cta_is_not_found(world, make_cockpit, client):
    tenant, ids = world
    cta = open_cta(client("ana"), company_id=ids["Acme"])
    other = make_cockpit(tenant_id="other")
    add_companies(other, [{"name": "Other Co"}])
    intruder = client("boss", tenant_id="other")
    assert intruder.get(f"/cockpit/ctas/{cta['id']}").status_code == 404
    assert intruder.post(f"/cockpit/ctas/{cta['id']}/close", {}).status_code == 404
    assert intruder.get("/cockpit/ctas", owner="any").get_json()["items"] == []


def test_other_plugins_open_ctas_owned_by_the_csm(world):
    from tether.plugins.cockpit.service import open_ctas

    tenant, ids = world
    [cta_id] = open_ctas(tenant, [{"name": "Usage fell", "relationship_id": ids["analytics"], "type": "risk"}],
                         plugin="usage")
    [cta] = ctas(tenant)
    assert (cta.id, cta.source, cta.created_by, cta.owner) == (cta_id, "plugin", "usage", "carol")


def test_the_list_answers_exactly_what_its_schema_documents(world, make_cockpit, client, kit):
    import json

    from tether.plugins.cockpit.config import settings_of
    from tether.plugins.cockpit.listing import list_ctas
    from tether.plugins.cockpit.schemas import CtaPageSchema

    tenant, ids = world
    tenant = make_cockpit({"list_fields": ["company.arr", "company.health", "relationship.attributes.seats"]})
    kit.set_health("company", ids["Acme"], 61.5, "Yellow")
    api = client("ana")
    open_cta(api, relationship_id=ids["analytics"], due_date=day(3))
    open_cta(api, company_id=ids["Globex"])
    query = {"owner": "me", "status": ["open"], "limit": 1, "sort": "due_date"}
    documented = json.loads(json.dumps(CtaPageSchema().dump(list_ctas(tenant, settings_of(tenant), query,
                                                                      username="ana")), default=str))
    assert api.get("/cockpit/ctas", limit=1).get_json() == documented
