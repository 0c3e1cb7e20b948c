"""Reads above the bulk threshold: Bulk API 1.0 jobs with PK chunking, resumed after a stop."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from tether.core.store.models import Opportunity, SyncCursor
from tether.core.sync.engine import sync_object, sync_tenant

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401

SETTLE = LOOKBACK + 120


def _seed(org, count: int) -> list[str]:
    account = org.insert("Account", {"Name": "Bulk Corp"})
    ids = []
    for index in range(count):
        ids.append(org.insert("Opportunity", {"Name": f"Deal {index}", "AccountId": account, "Amount": 10 + index,
                                              "StageName": "Prospecting", "CloseDate": "2025-01-01", "Type": "Renewal"}))
        if index % 7 == 0:
            org.clock.advance(1)
    org.clock.advance(SETTLE)
    return ids


def _stored(tenant) -> dict[str, Opportunity]:
    with tenant.session() as session:
        return {o.external_id: o for o in session.scalars(select(Opportunity))}


def test_large_reads_go_through_pk_chunked_bulk_jobs(fake_org, sf_tenant):
    tenant = sf_tenant(bulk_threshold=50, pk_chunk_size=40)
    ids = _seed(fake_org, 130)
    jobs_before = len(fake_org.bulk1.jobs)
    [accounts, opps] = sync_tenant(tenant, options=fast_options(page_size=25))
    assert (accounts.status, opps.status, opps.records_applied) == ("success", "success", 130)
    [job] = list(fake_org.bulk1.jobs.values())[jobs_before:]
    assert job.pk_chunk_size == 40 and len(job.batches) == 1 + 4  # the original (NotProcessed) and 4 chunks
    stored = _stored(tenant)
    assert sorted(stored) == sorted(ids)
    assert stored[ids[7]].amount == Decimal("17.00") and stored[ids[7]].booking_type == "renewal"
    assert stored[ids[7]].probability == 10.0 and stored[ids[7]].forecast_category == "pipeline"
    with tenant.session() as session:
        cursor = session.scalar(select(SyncCursor.value).where(SyncCursor.object_name == "Opportunity"))
    assert not cursor.startswith("bulk|")  # the finished job leaves a watermark


def test_a_stopped_bulk_read_resumes_the_same_job(fake_org, sf_tenant):
    tenant = sf_tenant(bulk_threshold=50, pk_chunk_size=40)
    ids = _seed(fake_org, 130)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    jobs_before = len(fake_org.bulk1.jobs)
    # Stop after the job is recorded and two pages are applied (40-row batches, 25-row pages).
    first = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=25, max_pages=3))
    assert first.records_read == 25 + 15
    second = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=25))
    assert second.status == "success"
    assert len(fake_org.bulk1.jobs) == jobs_before + 1  # no second job
    assert second.records_read <= 130 - first.records_read + 40  # at most one batch read again
    assert sorted(_stored(tenant)) == sorted(ids)


def test_small_reads_stay_on_rest(fake_org, sf_tenant):
    tenant = sf_tenant(bulk_threshold=500)
    _seed(fake_org, 30)
    jobs_before = len(fake_org.bulk1.jobs)
    sync_tenant(tenant, options=fast_options())
    assert len(fake_org.bulk1.jobs) == jobs_before
    assert len(_stored(tenant)) == 30


def test_bulk_incremental_reads_deletes(fake_org, sf_tenant):
    tenant = sf_tenant(bulk_threshold=5, pk_chunk_size=1000)
    ids = _seed(fake_org, 12)
    sync_tenant(tenant, options=fast_options())
    for record_id in ids[:6]:
        fake_org.delete(record_id)
    fake_org.update("Opportunity", ids[6], {"Amount": 1})
    fake_org.clock.advance(SETTLE)
    [_, opps] = sync_tenant(tenant, options=fast_options())
    assert (opps.records_read, opps.records_applied, opps.records_deleted) == (7, 1, 6)
    stored = _stored(tenant)
    assert [stored[i].is_deleted for i in ids[:7]] == [True] * 6 + [False]
    assert stored[ids[6]].amount == Decimal("1.00")
    assert all(o.source_modstamp <= fake_org.clock.now() for o in stored.values())
    assert isinstance(stored[ids[6]].source_modstamp, dt.datetime)
