"""Usage and events from the drop become a health score and timeline entries; companies
come from the same drop through the sync engine."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tether.core.contracts import TimelineQuery
from tether.core.store.models import Company, JobRun, SyncCursor
from tether.core.sync.engine import sync_tenant
from tether.plugins.filedrop.importer import import_drop, run_import
from tether.plugins.filedrop.models import ProductEvent, UsageValue
from tether.plugins.scorecards.runner import run_scoring
from tether.plugins.timeline.feed import timeline_page

from .drop import event, usage

ACCOUNTS_MAPPING = {
    "connector": "filedrop", "object": "accounts", "entity": "company",
    "fields": [{"source": "name", "target": "name", "direction": "inbound"},
               {"source": "industry", "target": "industry", "direction": "inbound"},
               {"source": "arr", "target": "arr", "type": "money", "direction": "inbound"}],
}
SCORECARD = {"name": "Adoption", "entity": "company", "default": True,
             "measures": [{"key": "usage:weekly_active_users", "scoring": {"type": "linear", "worst": 0, "best": 200}}]}


@pytest.fixture
def usage_tenant(make_tenant, drop):
    def make(**config):
        filedrop = {"location": drop.url, "settle_seconds": 30, "keys": {"accounts": ["account_id"]},
                    "company_source": "filedrop",
                    "measures": [{"metric": "weekly_active_users", "label": "Weekly active users"},
                                 {"metric": "logins", "aggregate": "sum", "window_days": 7}], **config}
        return make_tenant("acme", plugins={"filedrop": filedrop, "scorecards": {"scorecards": [SCORECARD]},
                                            "timeline": {}}, mappings=[ACCOUNTS_MAPPING])
    return make


def companies(tenant) -> dict[str, Company]:
    with tenant.session() as session:
        return {c.external_id: c for c in session.scalars(select(Company))}


def drop_accounts(drop, *accounts):
    drop.csv("accounts", [{"account_id": a, "name": name, "industry": "Software", "arr": arr}
                          for a, name, arr in accounts])


def test_usage_feeds_a_health_score_and_events_feed_the_timeline(drop, usage_tenant, tether_clock):
    tenant = usage_tenant()
    drop_accounts(drop, ("acct-1", "Acme", "120000.50"), ("acct-2", "Globex", "80000"))
    today = tether_clock.now().date().isoformat()
    drop.csv("usage", [usage("acct-1", "weekly_active_users", "2024-01-01", 10),  # outside the 30-day window
                       usage("acct-1", "weekly_active_users", today, 150),
                       usage("acct-2", "weekly_active_users", today, 50),
                       usage("acct-2", "logins", today, 7)])
    drop.parquet("events", [event("acct-1", "2024-06-03T10:00:00Z", "Feature adopted", "Turned on SSO",
                                  notes="12 users", user="ana@acme.test")])
    tether_clock.advance(60)

    [synced] = sync_tenant(tenant, connector="filedrop")
    assert (synced.object_name, synced.status, synced.records_applied) == ("accounts", "success", 2)
    found = companies(tenant)
    assert found["acct-1"].name == "Acme" and str(found["acct-1"].arr) == "120000.50"

    results = {r.object_name: r for r in import_drop(tenant)}
    assert (results["usage"].status, results["usage"].rows_stored) == ("success", 4)
    assert (results["events"].status, results["events"].rows_stored) == ("success", 1)

    report = run_scoring(tenant)
    assert report.scored["company"] == 2 and not report.missing_measures
    ids = [found["acct-1"].id, found["acct-2"].id]
    health = tenant.hooks.tether_entity_health(entity="company", ids=ids)
    assert health[found["acct-1"].id]["score"] == pytest.approx(75.0)  # 150 of 200
    assert health[found["acct-2"].id]["score"] == pytest.approx(25.0)

    measures = {m.key: m for batch in tenant.hooks.tether_health_measures() for m in batch}
    assert measures["usage:logins:sum"].compute(tenant, "company", ids) == {found["acct-2"].id: 7.0}

    page = timeline_page(tenant, TimelineQuery(company_id=found["acct-1"].id))
    [entry] = [a for a in page.items if a.source == "filedrop"]
    assert (entry.type, entry.subject, entry.notes, entry.author) == (
        "Feature adopted", "Turned on SSO", "12 users", "ana@acme.test")
    assert timeline_page(tenant, TimelineQuery(company_id=found["acct-2"].id)).items == []


def test_usage_waits_for_its_company_and_links_when_the_company_is_synced(drop, usage_tenant, tether_clock):
    tenant = usage_tenant()
    drop.csv("usage", [usage("acct-7", "weekly_active_users", tether_clock.now().date().isoformat(), 90)])
    drop.csv("events", [event("acct-7", "2024-06-03T10:00:00Z", "Login", "First login")])
    tether_clock.advance(60)
    import_drop(tenant)
    with tenant.session() as session:
        assert session.scalars(select(UsageValue.company_id)).all() == [None]
    drop_accounts(drop, ("acct-7", "Initech", "5000"))
    tether_clock.advance(60)
    sync_tenant(tenant, connector="filedrop")
    company = companies(tenant)["acct-7"]
    with tenant.session() as session:
        assert session.scalars(select(UsageValue.company_id)).all() == [company.id]
        assert session.scalars(select(ProductEvent.company_id)).all() == [company.id]


def test_a_corrected_file_replaces_values_and_a_rerun_reads_only_new_files(drop, usage_tenant, tether_clock):
    tenant = usage_tenant()
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-01", 3), usage("acct-1", "logins", "2024-06-02", 4)])
    tether_clock.advance(60)
    import_drop(tenant)
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-02", 40)])
    tether_clock.advance(60)
    results = {r.object_name: r for r in import_drop(tenant)}
    assert results["usage"].rows_read == 1
    assert results["events"].status == "skipped"
    with tenant.session() as session:
        values = dict(session.execute(select(UsageValue.period, UsageValue.value)).all())
    assert sorted(values.values()) == [3.0, 40.0]


def test_a_bad_value_fails_the_run_naming_the_row_and_keeps_the_cursor_before_it(drop, usage_tenant, tether_clock):
    tenant = usage_tenant()
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-01", 3)], name="good.csv")
    tether_clock.advance(10)
    bad = drop.csv("usage", [usage("acct-1", "logins", "2024-06-02", "many")], name="bad.csv")
    tether_clock.advance(60)
    with pytest.raises(Exception, match="bad.csv row 1: value 'many' is not a number"):
        run_import(tenant)
    with tenant.session() as session:
        run = session.scalars(select(JobRun).where(JobRun.connector == "filedrop").order_by(JobRun.id.desc())).first()
        assert run.status == "failed" and "bad.csv row 1" in run.error
        assert session.scalars(select(UsageValue.value)).all() == [3.0]
        cursor = session.scalar(select(SyncCursor.value).where(SyncCursor.object_name == "usage"))
    assert cursor is not None
    drop.csv("usage", [usage("acct-1", "logins", "2024-06-02", 5)], name=bad.name)  # the fixed file, dropped again
    tether_clock.advance(60)
    [result] = [r for r in import_drop(tenant, objects=("usage",))]
    assert (result.status, result.rows_stored) == ("success", 1)


def test_the_import_job_is_scheduled_and_the_config_is_checked(make_tenant, drop, usage_tenant):
    tenant = usage_tenant(import_every_seconds=300)
    jobs = [j for batch in tenant.hooks.tether_scheduled_jobs() for j in batch if j.plugin == "filedrop"]
    assert [(j.name, j.every) for j in jobs] == [("filedrop_import", 300)]
    from tether.core.errors import ManifestError

    with pytest.raises(ManifestError) as refused:
        make_tenant("bad", plugins={"filedrop": {"location": "s3://bucket", "measures": [{"metric": "x",
                                                                                           "aggregate": "median"}]}})
    text = str(refused.value)
    assert "s3:// is not supported" in text and "measures[0].aggregate" in text
