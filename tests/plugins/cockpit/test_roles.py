"""Roles hold per endpoint, on a tenant that enabled the Cockpit: Viewer+Analytics reads CTAs
and their linked opportunities and changes nothing; admins alone manage rules and playbooks."""

from __future__ import annotations

import re

import pytest

from tether.plugins.cockpit.api import routes

from .conftest import ctas, tasks_of

ROLES = {"admin": "boss", "user": "ana", "viewer_analytics": "viewer"}
WRITE_BODIES = {
    "POST /cockpit/ctas": {"name": "Role check"},
    "PATCH /cockpit/ctas/<int:cta_id>": {"priority": "high"},
    "POST /cockpit/ctas/<int:cta_id>/close": {},
    "POST /cockpit/ctas/<int:cta_id>/reopen": {},
    "PUT /cockpit/ctas/<int:cta_id>/opportunities": {"opportunity_ids": []},
    "POST /cockpit/ctas/<int:cta_id>/playbook": {"playbook": "none-such"},
    "POST /cockpit/ctas/<int:cta_id>/tasks": {"name": "t"},
    "POST /cockpit/ctas/<int:cta_id>/comments": {"body": "c"},
    "PATCH /cockpit/tasks/<int:task_id>": {"status": "completed"},
}


@pytest.fixture
def seeded(world, client):
    tenant, ids = world
    api = client("ana")
    cta = api.post("/cockpit/ctas", {"name": "Seed", "company_id": ids["Acme"], "opportunity_ids": [ids["renewal"]],
                                     "tasks": [{"name": "t1"}]}).get_json()
    return tenant, ids, cta


def _url(rule: str, cta: dict) -> str:
    values = {"cta_id": cta["id"], "task_id": cta["task_list"][0]["id"], "name": "nothing-here"}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule)


def test_every_cockpit_endpoint_enforces_its_roles(seeded, client):
    tenant, ids, cta = seeded
    wrong = []
    for route in routes():
        for method in route.methods:
            key = f"{method} {route.rule}"
            for role, username in ROLES.items():
                api = client(username)
                body = WRITE_BODIES.get(key, {}) if method in ("POST", "PUT", "PATCH") else None
                if method == "DELETE":
                    response = api.delete(_url(route.rule, cta)) if role not in route.roles else None
                else:
                    response = api.call(method, _url(route.rule, cta), json=body)
                if response is None:
                    continue  # deleting would remove the seed; allowed deletes are tested elsewhere
                if role in route.roles and response.status_code in (401, 403):
                    wrong.append(f"{key} as {role}: {response.status_code}, expected access")
                if role not in route.roles and response.status_code != 403:
                    wrong.append(f"{key} as {role}: {response.status_code}, expected 403")
    assert not wrong, "\n".join(wrong)


def test_viewer_analytics_reads_a_cta_with_its_linked_opportunities_and_cannot_change_it(seeded, client):
    tenant, ids, cta = seeded
    viewer = client("viewer")
    detail = viewer.get(f"/cockpit/ctas/{cta['id']}")
    assert detail.status_code == 200
    assert [o["name"] for o in detail.get_json()["opportunities"]] == ["Acme renewal 2026"]
    assert viewer.get("/cockpit/ctas", owner="any").get_json()["items"][0]["id"] == cta["id"]
    for method, path, body in (("PATCH", f"/cockpit/ctas/{cta['id']}", {"name": "mine now"}),
                               ("POST", f"/cockpit/ctas/{cta['id']}/close", {}),
                               ("PUT", f"/cockpit/ctas/{cta['id']}/opportunities", {"opportunity_ids": []}),
                               ("POST", "/cockpit/rules/run", {})):
        response = viewer.call(method, path, json=body)
        assert response.status_code == 403 and "viewer_analytics" in response.get_json()["error"]["message"]
    [row] = ctas(tenant)
    assert (row.name, row.is_closed) == ("Seed", False)


def test_users_cannot_manage_rules_or_delete_ctas_admins_can(seeded, client):
    tenant, ids, cta = seeded
    rule = {"name": "Red", "condition": "health_red"}
    assert client("ana").post("/cockpit/rules", rule).status_code == 403
    assert client("ana").delete(f"/cockpit/ctas/{cta['id']}").status_code == 403
    assert client("boss").post("/cockpit/rules", rule).status_code == 201
    assert client("boss").delete(f"/cockpit/ctas/{cta['id']}").status_code == 204
    assert ctas(tenant) == [] and tasks_of(tenant, cta["id"]) == []
