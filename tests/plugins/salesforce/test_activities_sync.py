"""Salesforce Tasks, Events and stage history onto the Timeline, against the fake org: what a
CSM sees in a company's timeline and its "days since last activity" after a sync."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.core.domain.conftest import USERS
from tests.plugins.timeline.conftest import client_for
from tether.core.contracts import TimelineQuery
from tether.core.store.models import Company, Opportunity
from tether.core.sync.engine import sync_object, sync_tenant
from tether.core.sync.push import PushOptions, push_outbox
from tether.core.sync.retry import Backoff
from tether.plugins.timeline.feed import local_feed
from tether.plugins.timeline.measures import activities_last_90_days, days_since_last_activity
from tether.plugins.timeline.models import ActivityRecord
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_config  # noqa: F401

SETTLE = dt.timedelta(seconds=LOOKBACK + 120)
UTC = dt.timezone.utc


@pytest.fixture
def tenant(fake_org, make_tenant, monkeypatch):
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)
    return make_tenant("acme", plugins={"salesforce": sf_config(fake_org.instance_url), "timeline": {}}, users=USERS)


def sync(org, tenant, *objects: str):
    org.clock.advance(SETTLE.total_seconds())
    results = sync_tenant(tenant, objects=list(objects) or None, options=fast_options())
    assert all(r.ok for r in results), [(r.object_name, r.error) for r in results]
    return {r.object_name: r for r in results}


def activities(tenant) -> dict[str, ActivityRecord]:
    with tenant.session() as session:
        return {a.external_id: a for a in session.scalars(select(ActivityRecord).where(
            ActivityRecord.external_source.in_(("salesforce:Task", "salesforce:Event",
                                                "salesforce:OpportunityHistory"))))}


def local_ids(tenant, model) -> dict[str, int]:
    with tenant.session() as session:
        return dict(session.execute(select(model.external_id, model.id)).all())


def seed(org) -> dict[str, str]:
    ids = {"account": org.insert("Account", {"Name": "Globex"})}
    ids["opp"] = org.insert("Opportunity", {"Name": "Globex renewal", "AccountId": ids["account"],
                                            "StageName": "Prospecting", "CloseDate": "2025-03-31", "Amount": 1000})
    org.clock.advance(minutes=5)
    org.update("Opportunity", ids["opp"], {"StageName": "Qualification"})
    org.clock.advance(minutes=5)
    org.update("Opportunity", ids["opp"], {"Amount": 1200})  # a history row, but no stage change
    ids["call"] = org.insert("Task", {"Subject": "Discovery call", "WhatId": ids["opp"], "Status": "Completed",
                                      "Type": "Call", "ActivityDate": "2024-05-02", "Description": "Budget in Q3."})
    ids["todo"] = org.insert("Task", {"Subject": "Send QBR deck", "WhatId": ids["account"],
                                      "ActivityDate": "2024-06-01"})
    ids["email"] = org.insert("Task", {"Subject": "Recap", "WhatId": ids["account"], "Status": "Completed",
                                       "TaskSubtype": "Email", "ActivityDate": "2024-05-03"})
    ids["meeting"] = org.insert("Event", {"Subject": "QBR", "WhatId": ids["opp"],
                                          "StartDateTime": "2024-05-10T15:00:00.000Z", "DurationInMinutes": 45})
    return ids


def test_tasks_events_and_stage_changes_reach_the_company_timeline(fake_org, tenant):
    ids = seed(fake_org)
    results = sync(fake_org, tenant)
    assert list(results) == ["Account", "Opportunity", "Task", "Event", "OpportunityHistory"]
    companies, opps = local_ids(tenant, Company), local_ids(tenant, Opportunity)
    company, opp = companies[ids["account"]], opps[ids["opp"]]
    rows = activities(tenant)
    assert ids["todo"] not in rows  # an open task is planned, not an activity yet
    call, email, meeting = rows[ids["call"]], rows[ids["email"]], rows[ids["meeting"]]
    assert (call.type, call.subject, call.notes) == ("Call", "Discovery call", "Budget in Q3.")
    assert (call.opportunity_id, call.company_id) == (opp, company)
    assert call.occurred_at == dt.datetime(2024, 5, 2, 12, tzinfo=UTC)
    assert call.author == fake_org.admin_user_id
    assert (email.type, email.company_id, email.opportunity_id) == ("Email", company, None)
    assert (meeting.type, meeting.duration_minutes, meeting.opportunity_id) == ("Meeting", 45, opp)
    assert meeting.occurred_at == dt.datetime(2024, 5, 10, 15, tzinfo=UTC)
    milestones = sorted((a.occurred_at, a.subject) for a in rows.values() if a.type == "Milestone")
    assert [subject for _, subject in milestones] == ["Stage changed to Prospecting", "Stage changed to Qualification"]
    assert results["OpportunityHistory"].records_read == 3 and results["OpportunityHistory"].records_applied == 2

    timeline = local_feed(tenant, TimelineQuery(company_id=company))
    assert {a.subject for a in timeline} == {"Discovery call", "Recap", "QBR", "Stage changed to Prospecting",
                                             "Stage changed to Qualification"}
    newest = max(a.occurred_at for a in timeline)
    days = days_since_last_activity(tenant, "company", [company])[company]
    assert days == pytest.approx((dt.datetime.now(UTC) - newest).total_seconds() / 86400, abs=0.01)


def test_later_changes_completions_deletes_and_undeletes(fake_org, tenant):
    ids = seed(fake_org)
    sync(fake_org, tenant)
    company = local_ids(tenant, Company)[ids["account"]]
    fake_org.update("Task", ids["todo"], {"Status": "Completed", "ActivityDate": dt.date.today().isoformat()})
    fake_org.update("Opportunity", ids["opp"], {"StageName": "Needs Analysis"})
    fake_org.delete(ids["call"])
    changed = sync(fake_org, tenant, "Task", "OpportunityHistory")
    assert changed["Task"].records_applied == 1 and changed["Task"].records_deleted == 1
    subjects = [a.subject for a in local_feed(tenant, TimelineQuery(company_id=company))]
    assert "Send QBR deck" in subjects and "Discovery call" not in subjects
    assert "Stage changed to Needs Analysis" in subjects
    assert activities_last_90_days(tenant, "company", [company])[company] == 1  # the task done today
    fake_org.undelete(ids["call"])
    again = sync(fake_org, tenant, "Task")
    assert again["Task"].records_applied == 1
    assert "Discovery call" in [a.subject for a in local_feed(tenant, TimelineQuery(company_id=company))]
    assert len(activities(tenant)) == 7  # 4 tasks and events, 3 milestones: nothing twice


def test_an_activity_written_back_is_recognised_when_its_task_comes_back(fake_org, tenant, tether_store, plugin_host,
                                                                        tmp_path):
    account = fake_org.insert("Account", {"Name": "Initech"})
    sync(fake_org, tenant, "Account")
    company = local_ids(tenant, Company)[account]
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    logged = api.post("/activities", {"type": "Call", "subject": "Renewal check-in", "notes": "Budget approved.",
                                      "company_id": company, "occurred_at": "2024-06-03T10:30:00+00:00"})
    assert logged.status_code == 201
    pushed = push_outbox(tenant, options=PushOptions(call_backoff=Backoff(max_attempts=2, sleep=lambda s: None)))
    assert pushed.failed == 0 and pushed.records_applied == 1
    [task] = fake_org.query("SELECT Id, Status FROM Task WHERE Subject = 'Renewal check-in'")
    assert task["Status"] == "Completed"  # it happened: not an open to-do in Salesforce

    echo = sync(fake_org, tenant, "Task")["Task"]
    assert (echo.records_read, echo.records_applied, echo.records_unchanged) == (1, 0, 1)
    with tenant.session() as session:
        rows = list(session.scalars(select(ActivityRecord)))
    assert len(rows) == 1 and (rows[0].subject, rows[0].company_id) == ("Renewal check-in", company)

    fake_org.update("Task", task["Id"], {"Subject": "Renewal check-in (moved to June 5)"})
    edited = sync(fake_org, tenant, "Task")["Task"]
    assert (edited.records_applied, edited.records_unchanged) == (1, 0)
    with tenant.session() as session:
        rows = list(session.scalars(select(ActivityRecord)))
    assert len(rows) == 1 and rows[0].id == logged.get_json()["id"]
    assert (rows[0].subject, rows[0].company_id, rows[0].author) == (
        "Renewal check-in (moved to June 5)", company, "csm@acme.example")
    # Nothing changed here since: nothing goes back.
    assert push_outbox(tenant).records_applied == 0


def test_without_the_timeline_plugin_tasks_are_written_back_but_not_read(fake_org, sf_tenant_plain):
    fake_org.insert("Task", {"Subject": "Someone's call", "Status": "Completed"})
    results = sync(fake_org, sf_tenant_plain)
    assert list(results) == ["Account", "Opportunity"]


@pytest.fixture
def sf_tenant_plain(fake_org, make_tenant, monkeypatch):
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)
    return make_tenant("plain", plugins={"salesforce": sf_config(fake_org.instance_url)})


def test_objects_synced_one_by_one_keep_their_own_cursor(fake_org, tenant):
    ids = seed(fake_org)
    sync(fake_org, tenant, "Account", "Opportunity")
    first = sync_object(tenant, "salesforce", "Event", options=fast_options())
    assert (first.mode, first.records_applied) == ("initial", 1)
    fake_org.clock.advance(SETTLE.total_seconds())
    again = sync_object(tenant, "salesforce", "Event", options=fast_options())
    assert (again.mode, again.records_read) == ("incremental", 0)
    assert activities(tenant)[ids["meeting"]].subject == "QBR"


def test_a_task_outbound_message_lands_on_the_timeline_once(fake_org, tenant):
    from tether.core.inbox import store_notifications
    from tether.core.sync.inbox import process_inbox

    account = fake_org.insert("Account", {"Name": "Hooli"})
    sync(fake_org, tenant, "Account")
    task = fake_org.insert("Task", {"Subject": "Escalation call", "WhatId": account, "Status": "Completed",
                                    "Type": "Call", "ActivityDate": "2024-07-01"})
    fields = {k: v for k, v in fake_org.get(task).items() if k in ("Id", "Subject", "SystemModstamp")}
    with tenant.transaction() as session:  # a rule sending only some fields: the rest is read by id
        store_notifications(session, tenant.id, "salesforce", [
            {"notification_id": f"04l{n}", "object_name": "Task", "record_external_id": task,
             "payload": {"fields": fields, "action_id": "04k1"}} for n in range(2)])  # delivered twice
    result = process_inbox(tenant)
    assert result.ok and (result.records_applied, result.fetched) == (1, 1)
    [row] = activities(tenant).values()
    assert (row.subject, row.type, row.company_id) == ("Escalation call", "Call", local_ids(tenant, Company)[account])
    assert sync(fake_org, tenant, "Task")["Task"].records_applied == 0  # the poll brings the same version


def test_the_nightly_reconcile_of_one_activity_object_leaves_the_others_alone(fake_org, tenant):
    from tether.core.jobs.reconcile import reconcile_object

    seed(fake_org)
    sync(fake_org, tenant)
    before = {k: a.is_deleted for k, a in activities(tenant).items()}
    fake_org.clock.advance(SETTLE.total_seconds())
    result = reconcile_object(tenant, "salesforce", "Task")
    assert result.status == "success" and result.records_deleted == 0
    assert {k: a.is_deleted for k, a in activities(tenant).items()} == before
