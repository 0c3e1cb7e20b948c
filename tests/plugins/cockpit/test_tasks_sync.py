"""CTA tasks round-trip with the fake Salesforce org: pushed as Tasks through the outbox,
completed there and brought back by the status poll, without echo."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.core.domain.conftest import add_companies
from tether.core.store import OutboxEntry
from tether.core.sync.push import PushOptions, push_outbox
from tether.core.sync.retry import Backoff
from tether.plugins.cockpit.tasks_sync import CONNECTOR, poll_task_status
from tether.testing.fake_salesforce.fixtures import fake_clock, fake_org  # noqa: F401 (fixtures)
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

from .conftest import tasks_of

PLAYBOOK = {"name": "Renewal prep", "type": "risk", "default": True,
            "tasks": [{"name": "Confirm the budget", "due_in_days": 3, "description": "Ask finance."},
                      {"name": "Send the quote", "due_in_days": 10}]}


@pytest.fixture
def synced(fake_org, make_cockpit, monkeypatch):
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)
    salesforce = {"instance_url": fake_org.instance_url, "username": INTEGRATION_USERNAME,
                  "password": {"$env": "FAKE_SF_PASSWORD"}, "security_token": {"$env": "FAKE_SF_TOKEN"}}
    tenant = make_cockpit(plugins={"salesforce": salesforce, "cockpit": {"task_sync": True, "playbooks": [PLAYBOOK]},
                                   "timeline": {"writeback": False}})
    account = fake_org.insert("Account", {"Name": "Acme"})
    ids = add_companies(tenant, [{"name": "Acme", "csm": "ana", "external_source": "salesforce",
                                  "external_id": account}])
    return tenant, ids, account


def push(tenant):
    result = push_outbox(tenant, options=PushOptions(call_backoff=Backoff(max_attempts=2, sleep=lambda s: None)))
    assert result.failed == 0 and result.status == "success", result
    return result


def waiting(tenant):
    with tenant.session() as session:
        return list(session.scalars(select(OutboxEntry).where(OutboxEntry.connector == CONNECTOR,
                                                              OutboxEntry.status == "pending")))


def test_tasks_round_trip_with_salesforce(synced, fake_org, client):
    tenant, ids, account = synced
    api = client("ana")
    cta = api.post("/cockpit/ctas", {"name": "Renewal at risk", "company_id": ids["Acme"], "priority": "high"})
    assert cta.status_code == 201, cta.get_json()
    cta = cta.get_json()
    assert len(waiting(tenant)) == 2  # captured with the CTA, in its transaction

    push(tenant)
    tasks = fake_org.query("SELECT Id, Subject, Description, ActivityDate, Status, Priority, WhatId FROM Task "
                           "ORDER BY Subject")
    assert [(t["Subject"], t["Status"], t["Priority"], t["WhatId"]) for t in tasks] == [
        ("Confirm the budget", "Not Started", "High", account), ("Send the quote", "Not Started", "High", account)]
    first = cta["task_list"][0]
    assert tasks[0]["ActivityDate"] == first["due_date"]
    assert tasks[0]["Description"].startswith("Ask finance.") and f"#{cta['id']}" in tasks[0]["Description"]

    # Completed in Salesforce: the poll completes it in tether, and nothing goes back.
    fake_org.update("Task", tasks[0]["Id"], {"Status": "Completed"})
    assert poll_task_status(tenant) == {"status": "success", "checked": 2, "completed": 1}
    done = tasks_of(tenant, cta["id"])[0]
    assert (done.status, done.completed_by) == ("completed", "salesforce")
    assert waiting(tenant) == []
    assert poll_task_status(tenant)["checked"] == 1  # completed tasks are not read again

    # Completed in tether: Salesforce's Task is completed by the next push.
    second = cta["task_list"][1]
    assert api.patch(f"/cockpit/tasks/{second['id']}", {"status": "completed"}).status_code == 200
    push(tenant)
    assert fake_org.get(tasks[1]["Id"])["Status"] == "Completed"

    # Reopened in tether while Salesforce still says completed: the poll leaves it open until pushed.
    assert api.patch(f"/cockpit/tasks/{second['id']}", {"status": "open"}).status_code == 200
    assert poll_task_status(tenant)["completed"] == 0
    assert tasks_of(tenant, cta["id"])[1].status == "open"
    push(tenant)
    assert fake_org.get(tasks[1]["Id"])["Status"] == "Not Started"

    # Deleted in tether: deleted in Salesforce.
    assert api.delete(f"/cockpit/tasks/{second['id']}").status_code == 204
    push(tenant)
    assert [t["Subject"] for t in fake_org.query("SELECT Subject FROM Task")] == ["Confirm the budget"]


def test_without_task_sync_nothing_is_captured(make_cockpit, fake_org, client):
    tenant = make_cockpit({"playbooks": [PLAYBOOK]})
    ids = add_companies(tenant, [{"name": "Acme"}])
    assert client("ana").post("/cockpit/ctas", {"name": "x", "company_id": ids["Acme"]}).status_code == 201
    with tenant.session() as session:
        assert session.scalar(select(OutboxEntry.id)) is None
    assert poll_task_status(tenant)["status"] == "off"


def test_task_sync_needs_a_connector_to_write_through(make_cockpit):
    from tether.core.errors import ManifestError

    with pytest.raises(ManifestError) as refused:
        make_cockpit({"task_sync": True})
    assert "plugins[0].config.task_sync_connector" in refused.value.errors
    assert "enable the salesforce plugin" in refused.value.errors["plugins[0].config.task_sync_connector"][0]
