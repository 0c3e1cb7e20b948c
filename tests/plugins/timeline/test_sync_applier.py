"""Timeline's applier of synced activities (the ``activity`` entity), page by page as the
engine hands them over: stamps, hiding, types, dates, milestones, references, own records."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.core.domain.conftest import add_companies, add_opportunity
from tether.core.contracts import ChangeSet, EntityPage, SyncedRecord, TimelineQuery
from tether.plugins.timeline.feed import local_feed
from tether.plugins.timeline.measures import activities_last_90_days, days_since_last_activity
from tether.plugins.timeline.models import ActivityRecord, ActivityType
from tether.plugins.timeline.sync import apply_page
from tether.plugins.timeline.sync_links import link_waiting

from .conftest import client_for

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SOURCE = "crm"


@pytest.fixture
def crm(make_tenant):
    """A tenant with the Timeline plugin and a company and an opportunity synced from "crm"."""
    tenant = make_tenant("acme", plugins={"timeline": {}}, relationship_types=[{"name": "Product"}],
                         users=[{"username": "csm@acme.example", "role": "user"}])
    ids = add_companies(tenant, [{"name": "Acme", "external_source": SOURCE, "external_id": "A1"}])
    ids["opp"] = add_opportunity(tenant, ids["Acme"], "Acme renewal", external_source=SOURCE, external_id="O1")
    return tenant, ids


def record(external_id: str, minutes: int = 0, *, deleted: bool = False, local_id: int | None = None, **values):
    values.setdefault("subject", f"Activity {external_id}")
    values.setdefault("occurred_at", T0)
    return SyncedRecord(external_id, T0 + dt.timedelta(minutes=minutes), deleted, values, local_id=local_id)


def apply(tenant, *records: SyncedRecord, full_reload: bool = False):
    with tenant.transaction() as session:
        return apply_page(tenant, session, EntityPage(SOURCE, "Task", list(records), full_reload=full_reload))


def stored(tenant) -> dict[str, ActivityRecord]:
    with tenant.session() as session:
        return {a.external_id: a for a in session.scalars(select(ActivityRecord))}


def test_an_older_or_repeated_version_changes_nothing_unless_reloading(crm):
    tenant, _ = crm
    apply(tenant, record("t1", 10, subject="Call with CFO"))
    older = apply(tenant, record("t1", 5, subject="Older subject"))
    same = apply(tenant, record("t1", 10, subject="Same stamp"))
    assert (older.unchanged, same.unchanged, older.updated, same.updated) == (1, 1, [], [])
    assert stored(tenant)["t1"].subject == "Call with CFO"
    reloaded = apply(tenant, record("t1", 10, subject="Same stamp"), full_reload=True)
    assert len(reloaded.updated) == 1 and stored(tenant)["t1"].subject == "Same stamp"


def test_deleted_and_planned_activities_are_hidden_until_back(crm):
    tenant, ids = crm
    apply(tenant, record("t1", 1, company_external_id="A1", occurred_at=T0 - dt.timedelta(days=3)))
    company = ids["Acme"]
    assert company in days_since_last_activity(tenant, "company", [company])
    hidden = apply(tenant, record("t1", 2, deleted=True))
    assert len(hidden.deleted) == 1 and stored(tenant)["t1"].is_deleted
    assert local_feed(tenant, TimelineQuery(company_id=company)) == []
    assert company not in days_since_last_activity(tenant, "company", [company])
    assert apply(tenant, record("t1", 1, company_external_id="A1")).unchanged == 1  # older than the delete
    back = apply(tenant, record("t1", 3, company_external_id="A1"))
    assert len(back.updated) == 1 and not stored(tenant)["t1"].is_deleted
    reopened = apply(tenant, record("t1", 4, company_external_id="A1", done=False))
    assert len(reopened.deleted) == 1 and local_feed(tenant, TimelineQuery(company_id=company)) == []
    never = apply(tenant, record("t2", 1, company_external_id="A1", done=False))
    assert never.unchanged == 1 and "t2" not in stored(tenant)


def test_types_dates_and_defaults(crm):
    tenant, _ = crm
    with tenant.transaction() as session:
        session.add(ActivityType(name="QBR", scope="global"))
    apply(tenant,
          record("a", type="call"), record("b", type="Other", subtype="Email"), record("c", type="Other", subtype="Task"),
          record("d", type="qbr"), record("e", occurred_at=dt.date(2026, 2, 1), subject="  "),
          record("f", occurred_at=None, logged_at=T0 - dt.timedelta(hours=2), author="005xx0000012345"))
    rows = stored(tenant)
    assert [rows[k].type for k in "abcd"] == ["Call", "Email", "Update", "QBR"]
    assert rows["e"].occurred_at == dt.datetime(2026, 2, 1, 12, tzinfo=UTC) and rows["e"].subject == "(no subject)"
    assert rows["f"].occurred_at == T0 - dt.timedelta(hours=2) and rows["f"].author == "005xx0000012345"
    assert rows["a"].author == SOURCE


def test_a_milestone_repeating_the_previous_one_is_left_out(crm):
    tenant, ids = crm
    stage = lambda name: {"type": "Milestone", "subject": f"Stage changed to {name}", "opportunity_external_id": "O1"}  # noqa: E731
    first = apply(tenant, record("h1", occurred_at=T0, **stage("Prospecting")),
                  record("h2", occurred_at=T0 + dt.timedelta(days=1), **stage("Prospecting")),
                  record("h3", occurred_at=T0 + dt.timedelta(days=2), **stage("Qualification")))
    assert (len(first.created), first.unchanged) == (2, 1)
    later = apply(tenant, record("h4", occurred_at=T0 + dt.timedelta(days=3), **stage("Qualification")),
                  record("h5", occurred_at=T0 + dt.timedelta(days=4), **stage("Closed Won")))
    assert (len(later.created), later.unchanged) == (1, 1)
    milestones = [a.subject for a in local_feed(tenant, TimelineQuery(opportunity_id=ids["opp"]))]
    assert milestones == ["Stage changed to Closed Won", "Stage changed to Qualification",
                          "Stage changed to Prospecting"]


def test_references_resolve_roll_up_and_wait_for_what_is_not_synced_yet(crm):
    tenant, ids = crm
    apply(tenant, record("on-opp", related_external_id="O1"), record("on-company", related_external_id="A1"),
          record("waiting", related_external_id="O2"), record("waiting-company", company_external_id="A2"))
    rows = stored(tenant)
    assert (rows["on-opp"].opportunity_id, rows["on-opp"].company_id) == (ids["opp"], ids["Acme"])
    assert (rows["on-company"].company_id, rows["on-company"].opportunity_id) == (ids["Acme"], None)
    assert rows["waiting"].company_id is None and rows["waiting"].opportunity_external_id == "O2"
    later = add_companies(tenant, [{"name": "Beta", "external_source": SOURCE, "external_id": "A2"}])
    opp = add_opportunity(tenant, later["Beta"], "Beta deal", external_source=SOURCE, external_id="O2")
    link_waiting(tenant, ChangeSet(entity="company", created=[later["Beta"]], connector=SOURCE))
    link_waiting(tenant, ChangeSet(entity="opportunity", created=[opp], connector=SOURCE))
    rows = stored(tenant)
    assert (rows["waiting"].opportunity_id, rows["waiting"].company_id) == (opp, later["Beta"])
    assert rows["waiting-company"].company_id == later["Beta"]
    assert later["Beta"] in days_since_last_activity(tenant, "company", [later["Beta"]])


def test_an_activity_tether_wrote_changes_only_in_what_the_source_changed(crm, tether_store, plugin_host, tmp_path):
    tenant, ids = crm
    api = client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)
    logged = api.post("/activities", {"type": "Call", "subject": "Check-in", "notes": "Went well.",
                                      "company_id": ids["Acme"], "occurred_at": "2026-03-01T10:30:00+00:00"})
    local_id = logged.get_json()["id"]
    result = apply(tenant, record("00T1", 5, local_id=local_id, subject="Check-in (rescheduled)"))
    assert result.updated == [local_id] and "00T1" not in stored(tenant)
    shown = api.get(f"/activities/{local_id}").get_json()
    assert (shown["subject"], shown["notes"], shown["company_id"], shown["author"]) == (
        "Check-in (rescheduled)", "Went well.", ids["Acme"], "csm@acme.example")
    gone = apply(tenant, record("00T1", 6, local_id=local_id, deleted=True))
    assert gone.deleted == [local_id]
    assert api.get(f"/activities/{local_id}").status_code == 404


def test_scheduled_activities_do_not_count_as_the_last_activity(crm):
    tenant, ids = crm
    now = dt.datetime.now(UTC)
    apply(tenant, record("past", company_external_id="A1", occurred_at=now - dt.timedelta(days=10)),
          record("next-week", company_external_id="A1", occurred_at=now + dt.timedelta(days=7)))
    company = ids["Acme"]
    assert days_since_last_activity(tenant, "company", [company])[company] == pytest.approx(10, abs=0.01)
    assert activities_last_90_days(tenant, "company", [company])[company] == 1


@pytest.mark.parametrize("clock, day, expected", [
    # Synced at 04:10 UTC: a task done and dated today already happened, so it counts now.
    (dt.datetime(2026, 12, 7, 4, 10, tzinfo=UTC), dt.date(2026, 12, 7), dt.datetime(2026, 12, 7, 4, 10, tzinfo=UTC)),
    (dt.datetime(2026, 12, 7, 15, 0, tzinfo=UTC), dt.date(2026, 12, 7), dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)),
    (dt.datetime(2026, 12, 7, 4, 10, tzinfo=UTC), dt.date(2026, 12, 6), dt.datetime(2026, 12, 6, 12, 0, tzinfo=UTC)),
    (dt.datetime(2026, 12, 7, 4, 10, tzinfo=UTC), dt.date(2026, 12, 9), dt.datetime(2026, 12, 9, 12, 0, tzinfo=UTC)),
])
def test_a_date_alone_is_noon_utc_unless_that_is_still_to_come_today(monkeypatch, clock, day, expected):
    from tether.plugins.timeline import sync

    monkeypatch.setattr(sync, "utcnow", lambda: clock)
    assert sync.occurred_at(day) == expected
