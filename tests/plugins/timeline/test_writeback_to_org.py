"""End to end: an activity logged in tether reaches the (fake) Salesforce org as a Task."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.core.domain.conftest import USERS, add_companies
from tether.core.store import OutboxEntry
from tether.core.sync.push import PushOptions, push_outbox
from tether.core.sync.retry import Backoff
from tether.testing.fake_salesforce.fixtures import fake_clock, fake_org  # noqa: F401 (fixtures)
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

from .conftest import client_for


@pytest.fixture
def tenant_on_org(fake_org, make_tenant, monkeypatch):
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)
    salesforce = {"instance_url": fake_org.instance_url, "username": INTEGRATION_USERNAME,
                  "password": {"$env": "FAKE_SF_PASSWORD"}, "security_token": {"$env": "FAKE_SF_TOKEN"}}
    return make_tenant("acme", plugins={"salesforce": salesforce, "timeline": {}}, users=USERS)


def test_a_logged_activity_is_pushed_to_salesforce_as_a_task(tenant_on_org, fake_org, tether_store, plugin_host,
                                                             tmp_path):
    ids = add_companies(tenant_on_org, [{"name": "Acme"}])
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    logged = api.post("/activities", {"type": "Call", "subject": "Renewal check-in", "notes": "Budget approved.",
                                      "company_id": ids["Acme"], "occurred_at": "2024-06-03T10:30:00+00:00"})
    assert logged.status_code == 201
    before = fake_org.count("Task")
    result = push_outbox(tenant_on_org, options=PushOptions(call_backoff=Backoff(max_attempts=2, sleep=lambda s: None)))
    assert result.failed == 0, result
    tasks = fake_org.query("SELECT Id, Subject, Description, ActivityDate, Type FROM Task "
                           "WHERE Subject = 'Renewal check-in'")
    assert fake_org.count("Task") == before + 1 and len(tasks) == 1
    task = tasks[0]
    assert (task["Description"], task["ActivityDate"], task["Type"]) == ("Budget approved.", "2024-06-03", "Call")
    with tether_store.tenant_session("acme") as session:
        entry = session.scalar(select(OutboxEntry).where(OutboxEntry.local_id == logged.get_json()["id"]))
    assert entry.status == "pushed"

    # The Task's id is known locally now, and deleting the activity deletes the Task.
    shown = api.get(f"/activities/{logged.get_json()['id']}").get_json()
    assert shown["external_id"] == task["Id"]
    assert api.delete(f"/activities/{logged.get_json()['id']}").status_code == 204
    assert push_outbox(tenant_on_org, options=PushOptions(call_backoff=Backoff(max_attempts=2,
                                                                                sleep=lambda s: None))).failed == 0
    assert fake_org.query("SELECT Id FROM Task WHERE Subject = 'Renewal check-in'") == []
