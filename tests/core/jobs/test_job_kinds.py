"""The core jobs through the queue: sync calls the sync engine; reconcile finds hard deletes
and formula changes the incremental sync cannot see."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from tether.core.jobs.base import JobRequest
from tether.core.jobs.embedded import EmbeddedEngine
from tether.core.jobs.models import QueuedJob
from tether.core.store.models import Company, JobRun
from tether.core.store.types import utcnow

from .support import SOURCES


@pytest.fixture
def engine(jobs_runtime):
    engine = EmbeddedEngine(jobs_runtime)
    yield engine
    engine.stop()


def companies(store, tenant_id):
    with store.tenant_session(tenant_id) as session:
        return {c.external_id: c for c in session.scalars(select(Company))}


def job_runs(store, tenant_id):
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.id)))


def run(engine, *requests):
    for request in requests:
        engine.enqueue(request)
    engine.run_pending()


def age_local_rows(store, tenant_id, hours=1):
    """As if the rows were synced an hour ago (reconcile leaves just-written rows alone)."""
    with store.tenant_transaction(tenant_id) as session:
        session.execute(update(Company).values(updated_at=utcnow() - dt.timedelta(hours=hours)))


def test_the_sync_job_runs_the_sync_engine_and_its_run_is_recorded_once(jobs_tenant, engine, tether_store):
    jobs_tenant("acme")
    source = SOURCES["acme"]
    for index in range(3):
        source.put(f"001{index}", Name=f"Org {index}", Industry="Software")
    run(engine, JobRequest("acme", "sync", "Org", "mem"))
    assert {c.name for c in companies(tether_store, "acme").values()} == {"Org 0", "Org 1", "Org 2"}
    [sync_run] = job_runs(tether_store, "acme")
    assert (sync_run.kind, sync_run.status, sync_run.records_applied) == ("sync", "success", 3)
    with tether_store.admin_session() as session:
        assert session.scalar(select(QueuedJob.status)) == "succeeded"


def test_reconcile_marks_hard_deleted_records_and_refreshes_formula_fields(jobs_tenant, engine, tether_store):
    jobs_tenant("acme")
    source = SOURCES["acme"]
    for index in range(4):
        source.put(f"001{index}", Name=f"Org {index}", Industry="Software")
    run(engine, JobRequest("acme", "sync", "Org", "mem"))
    age_local_rows(tether_store, "acme")
    source.purge("0012")  # gone from the recycle bin: no deleted record to read
    source.records["0013"]["Industry"] = "Hardware"  # a formula: the value moved, SystemModstamp did not
    run(engine, JobRequest("acme", "sync", "Org", "mem"))
    assert companies(tether_store, "acme")["0013"].industry == "Software"  # the incremental sync cannot see either
    assert companies(tether_store, "acme")["0012"].is_deleted is False

    run(engine, JobRequest("acme", "reconcile", "Org", "mem"))
    local = companies(tether_store, "acme")
    assert local["0012"].is_deleted is True and local["0012"].deleted_at is not None
    assert local["0013"].industry == "Hardware"
    assert [c.is_deleted for key, c in sorted(local.items()) if key != "0012"] == [False, False, False]
    reconcile = [r for r in job_runs(tether_store, "acme") if r.kind == "reconcile"]
    assert len(reconcile) == 1 and reconcile[0].status == "success"
    assert reconcile[0].records_deleted == 1
    assert reconcile[0].details["hard_deletes_found"] == 1 and reconcile[0].details["refresh_status"] == "success"


def test_reconcile_refuses_to_delete_most_of_a_table(jobs_tenant, engine, tether_store):
    jobs_tenant("acme")
    source = SOURCES["acme"]
    for index in range(20):
        source.put(f"001{index:02d}", Name=f"Org {index}")
    run(engine, JobRequest("acme", "sync", "Org", "mem"))
    age_local_rows(tether_store, "acme")
    for index in range(15):  # as when the integration user loses access to most records
        source.purge(f"001{index:02d}")
    run(engine, JobRequest("acme", "reconcile", "Org", "mem"))
    assert not any(c.is_deleted for c in companies(tether_store, "acme").values())
    [reconcile] = [r for r in job_runs(tether_store, "acme") if r.kind == "reconcile"]
    assert reconcile.status == "failed"
    assert "would mark 15 of 20 records deleted" in reconcile.error and "max_delete_share=1" in reconcile.error

    # An operator who knows the deletions are real says so.
    run(engine, JobRequest("acme", "reconcile", "Org", "mem", args={"max_delete_share": 1, "refresh": False}))
    assert sum(c.is_deleted for c in companies(tether_store, "acme").values()) == 15


def test_reconcile_leaves_rows_written_during_the_read_alone(jobs_tenant, engine, tether_store):
    jobs_tenant("acme")
    source = SOURCES["acme"]
    source.put("0010", Name="Org 0")
    run(engine, JobRequest("acme", "sync", "Org", "mem"))
    source.purge("0010")  # purged at the source, but the local row was just written
    run(engine, JobRequest("acme", "reconcile", "Org", "mem", args={"refresh": False}))
    assert companies(tether_store, "acme")["0010"].is_deleted is False
