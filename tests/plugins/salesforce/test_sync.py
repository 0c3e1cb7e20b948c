"""Salesforce → tether through the engine and the connector, against the fake org."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update

from tether.core.store.models import Company, JobRun, Opportunity, SyncCursor
from tether.core.sync.engine import sync_object, sync_tenant

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401

SETTLE = dt.timedelta(seconds=LOOKBACK + 120)


def companies(tenant) -> dict[str, Company]:
    with tenant.session() as session:
        return {c.external_id: c for c in session.scalars(select(Company))}


def opportunities(tenant) -> dict[str, Opportunity]:
    with tenant.session() as session:
        return {o.external_id: o for o in session.scalars(select(Opportunity))}


def seed_book(org) -> dict[str, str]:
    ids = {}
    ids["parent"] = org.insert("Account", {"Name": "Globex Holdings", "Industry": "Finance", "NumberOfEmployees": 5000})
    ids["child"] = org.insert("Account", {"Name": "Globex EMEA", "ParentId": ids["parent"], "Type": "Customer - Direct"})
    ids["renewal"] = org.insert("Opportunity", {"Name": "Globex renewal 2025", "AccountId": ids["child"],
                                                "StageName": "Negotiation/Review", "CloseDate": "2025-03-31",
                                                "Amount": 120000.5, "Type": "Renewal",
                                                "ForecastCategoryName": "Commit"})
    ids["new"] = org.insert("Opportunity", {"Name": "Globex new logo", "AccountId": ids["parent"],
                                            "StageName": "Closed Won", "CloseDate": "2024-05-01", "Amount": 999.99,
                                            "Type": "New Customer"})
    ids["lost"] = org.insert("Opportunity", {"Name": "Globex churned renewal", "AccountId": ids["parent"],
                                             "StageName": "Closed Lost", "CloseDate": "2024-04-01", "Amount": 5000,
                                             "Type": "Renewal"})
    return ids


def test_initial_load_lands_exactly(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    results = sync_tenant(tenant, options=fast_options())
    assert [(r.object_name, r.mode, r.status, r.records_applied) for r in results] == [
        ("Account", "initial", "success", 2), ("Opportunity", "initial", "success", 3)]
    rows, opps = companies(tenant), opportunities(tenant)
    assert rows[ids["child"]].parent_id == rows[ids["parent"]].id
    assert rows[ids["parent"]].employees == 5000 and rows[ids["child"]].company_type == "Customer - Direct"
    renewal = opps[ids["renewal"]]
    source = fake_org.get(ids["renewal"])
    assert renewal.amount == Decimal("120000.50") and renewal.close_date == dt.date(2025, 3, 31)
    assert renewal.company_id == rows[ids["child"]].id
    assert renewal.stage == "Negotiation/Review" and renewal.probability == 90.0
    assert renewal.forecast_category == "commit"  # the API value Forecast, label Commit
    assert renewal.source_modstamp == dt.datetime.fromisoformat(source["SystemModstamp"].replace("Z", "+00:00"))
    assert renewal.booking_type == "renewal"
    assert opps[ids["new"]].booking_type == "new_business" and opps[ids["new"]].is_won and opps[ids["new"]].is_closed
    assert opps[ids["lost"]].booking_type == "churn" and opps[ids["lost"]].forecast_category == "omitted"


def test_rerun_without_changes_reads_nothing_and_writes_nothing(fake_org, sf_tenant):
    tenant = sf_tenant()
    seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_tenant(tenant, options=fast_options())
    before = {k: (v.updated_at, v.source_modstamp) for k, v in opportunities(tenant).items()}
    fake_org.clock.advance(SETTLE.total_seconds())
    again = sync_tenant(tenant, options=fast_options())
    assert [(r.mode, r.status, r.records_read, r.records_applied, r.records_deleted) for r in again] == [
        ("incremental", "success", 0, 0, 0)] * 2
    assert {k: (v.updated_at, v.source_modstamp) for k, v in opportunities(tenant).items()} == before


def test_changes_inside_the_lookback_are_reread_but_change_nothing(fake_org, sf_tenant):
    tenant = sf_tenant()
    seed_book(fake_org)
    fake_org.clock.advance(30)
    sync_tenant(tenant, options=fast_options())
    before = {k: v.updated_at for k, v in opportunities(tenant).items()}
    [_, opps] = sync_tenant(tenant, options=fast_options())
    assert opps.records_read == 3 and opps.records_applied == 0 and opps.records_unchanged == 3
    assert {k: v.updated_at for k, v in opportunities(tenant).items()} == before


def test_updates_deletes_and_undeletes_land(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_tenant(tenant, options=fast_options())
    fake_org.update("Opportunity", ids["renewal"], {"Amount": 150000, "StageName": "Closed Won"})
    fake_org.update("Account", ids["child"], {"ParentId": None, "Name": "Globex Europe"})
    fake_org.delete(ids["new"])
    fake_org.clock.advance(SETTLE.total_seconds())
    accounts, opps = sync_tenant(tenant, options=fast_options())
    assert (accounts.records_applied, opps.records_applied, opps.records_deleted) == (1, 1, 1)
    rows, stored = companies(tenant), opportunities(tenant)
    assert rows[ids["child"]].parent_id is None and rows[ids["child"]].name == "Globex Europe"
    renewal = stored[ids["renewal"]]
    assert renewal.amount == Decimal("150000.00") and renewal.is_won and renewal.forecast_category == "closed"
    assert stored[ids["new"]].is_deleted and stored[ids["new"]].deleted_at is not None
    fake_org.undelete(ids["new"])
    fake_org.clock.advance(SETTLE.total_seconds())
    [_, opps] = sync_tenant(tenant, options=fast_options())
    assert opps.records_applied == 1
    restored = opportunities(tenant)[ids["new"]]
    assert not restored.is_deleted and restored.deleted_at is None and restored.name == "Globex new logo"


def test_hundreds_sharing_one_stamp_across_page_edges(fake_org, sf_tenant):
    tenant = sf_tenant()
    account = fake_org.insert("Account", {"Name": "Same-stamp Inc."})
    with fake_org.clock.frozen():
        created = [fake_org.insert("Opportunity", {"Name": f"Opp {i}", "AccountId": account, "StageName": "Prospecting",
                                                   "CloseDate": "2025-01-01"}) for i in range(450)]
    fake_org.clock.advance(SETTLE.total_seconds())
    # Stop after the first page (a run killed mid-way), then let the next run finish.
    first = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200, max_pages=1))
    assert first.records_read == 200
    second = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert second.records_read == 250  # resumed after the last applied (stamp, Id): nothing re-read
    assert sorted(opportunities(tenant)) == sorted(created)
    # Their account arrives after them: all 450 link up when it lands.
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    [company] = companies(tenant).values()
    assert {o.company_id for o in opportunities(tenant).values()} == {company.id}


def test_late_commit_inside_the_lookback_is_caught_once(fake_org, sf_tenant):
    tenant = sf_tenant()
    seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_tenant(tenant, options=fast_options())
    synced_at = fake_org.clock.now()
    account = next(iter(companies(tenant)))
    # A transaction that got its SystemModstamp 40 s ago commits only now.
    fake_org.clock.set(synced_at - dt.timedelta(seconds=40))
    late = fake_org.insert("Opportunity", {"Name": "Late", "AccountId": account, "StageName": "Prospecting",
                                           "CloseDate": "2025-01-01"})
    fake_org.clock.set(synced_at + dt.timedelta(seconds=5))
    [_, opps] = sync_tenant(tenant, options=fast_options())
    assert opps.records_applied == 1
    assert late in opportunities(tenant)
    assert len(opportunities(tenant)) == 4


def test_incremental_contract_second_read_is_after_the_first(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    first_max = max(o.source_modstamp for o in opportunities(tenant).values())
    fake_org.clock.advance(10)
    fake_org.update("Opportunity", ids["lost"], {"Description": "Lost to a competitor"})
    fake_org.clock.advance(SETTLE.total_seconds())
    second = sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    assert second.records_applied == 1
    changed = [o for o in opportunities(tenant).values() if o.source_modstamp > first_max]
    assert [o.external_id for o in changed] == [ids["lost"]]


def test_a_future_cursor_yields_nothing(fake_org, sf_tenant):
    tenant = sf_tenant()
    seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_tenant(tenant, options=fast_options())
    with tenant.transaction() as session:
        session.execute(update(SyncCursor).where(SyncCursor.object_name == "Opportunity")
                        .values(value="2099-01-01T00:00:00.000Z"))
    fake_org.insert("Opportunity", {"Name": "After", "StageName": "Prospecting", "CloseDate": "2025-01-01"})
    fake_org.clock.advance(SETTLE.total_seconds())
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    assert (result.status, result.records_read) == ("success", 0)
    with tenant.session() as session:
        assert session.scalar(select(SyncCursor.value).where(SyncCursor.object_name == "Opportunity")) == \
            "2099-01-01T00:00:00.000Z"


def test_two_full_loads_give_identical_stores(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = seed_book(fake_org)
    fake_org.delete(ids["lost"])
    fake_org.clock.advance(SETTLE.total_seconds())

    def snapshot():
        columns = ("external_id", "name", "amount", "close_date", "stage", "probability", "forecast_category",
                   "is_closed", "is_won", "company_id", "booking_type", "source_modstamp", "is_deleted")
        return sorted(tuple(getattr(o, c) for c in columns) for o in opportunities(tenant).values())

    sync_tenant(tenant, full=True, options=fast_options())
    first = snapshot()
    results = sync_tenant(tenant, full=True, options=fast_options())
    assert all((r.mode, r.status) == ("full", "success") for r in results)
    assert snapshot() == first


def test_runs_are_recorded(fake_org, sf_tenant):
    tenant = sf_tenant()
    seed_book(fake_org)
    fake_org.clock.advance(SETTLE.total_seconds())
    sync_tenant(tenant, options=fast_options())
    with tenant.session() as session:
        run = session.scalar(select(JobRun).where(JobRun.object_name == "Opportunity"))
    assert (run.kind, run.connector, run.mode, run.status) == ("sync", "salesforce", "initial", "success")
    assert (run.records_read, run.records_applied, run.records_deleted) == (3, 3, 0)
    assert run.api_calls >= 3 and run.finished_at >= run.started_at and run.error is None
