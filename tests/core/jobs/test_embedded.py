"""The embedded engine: dedupe and locks under concurrent triggers, schedules that survive
restarts, missed runs that coalesce, retries, and crash recovery."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tether.core.inbox import store_notifications
from tether.core.jobs import builtin
from tether.core.jobs.base import JobRequest
from tether.core.jobs.embedded import EmbeddedEngine
from tether.core.jobs.models import QueuedJob
from tether.core.jobs.schedules import load_schedules, set_paused
from tether.core.store.models import InboxMessage, JobRun
from tether.core.store.types import utcnow

from .support import RUNS, overlaps

UTC = dt.timezone.utc
WORKER = Path(__file__).with_name("worker_main.py")


def wait_for(condition, timeout: float = 60.0, interval: float = 0.02, explain=None):
    """Poll ``condition`` (generous timeouts: CI machines are slow, never the test's measure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s" + (f": {explain()}" if explain else ""))


def queue_rows(store, **filters):
    with store.admin_session() as session:
        query = select(QueuedJob).order_by(QueuedJob.id)
        for name, value in filters.items():
            query = query.where(getattr(QueuedJob, name) == value)
        return list(session.scalars(query))


def runs(store, kind):
    with store.admin_session() as session:
        return list(session.scalars(select(JobRun).where(JobRun.kind == kind).order_by(JobRun.id)))


@pytest.fixture
def engine_factory(jobs_runtime):
    engines: list[EmbeddedEngine] = []

    def make(**options) -> EmbeddedEngine:
        options.setdefault("poll_seconds", 0.05)
        engine = EmbeddedEngine(jobs_runtime, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.stop(timeout=10)


def test_a_storm_of_triggers_queues_one_run(jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme")
    engine = engine_factory()
    barrier = threading.Barrier(16)
    results = []

    def trigger():
        barrier.wait()
        results.append(engine.enqueue(JobRequest("acme", "probe", origin="webhook")))

    threads = [threading.Thread(target=trigger) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in results).count("queued") == 1
    assert len(queue_rows(tether_store, status="todo")) == 1


def test_one_job_per_lock_runs_at_a_time_and_a_trigger_mid_run_queues_exactly_one_more(
        jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme", probe={"sleep": 0.3})
    jobs_tenant("beta", probe={"sleep": 0.05})
    engine = engine_factory(threads=4)
    engine.start(schedule=False)
    engine.enqueue(JobRequest("acme", "probe"))
    wait_for(lambda: queue_rows(tether_store, status="doing"))
    # While acme's probe runs: a storm for it, its lock-sharing sibling, and another tenant.
    storm = [engine.enqueue(JobRequest("acme", "probe")) for _ in range(10)]
    engine.enqueue(JobRequest("acme", "probe_b"))
    for _ in range(3):
        engine.enqueue(JobRequest("beta", "probe"))
        engine.enqueue(JobRequest("beta", "probe_b"))
    assert [r.status for r in storm].count("queued") == 1
    wait_for(lambda: not queue_rows(tether_store, status="todo") and not queue_rows(tether_store, status="doing"))
    acme = [(start, end) for tenant, job, start, end, _ in RUNS if tenant == "acme"]
    beta = [(start, end) for tenant, job, start, end, _ in RUNS if tenant == "beta"]
    assert [job for tenant, job, *_ in RUNS if tenant == "acme"].count("probe") == 2
    assert overlaps(acme) == [] and overlaps(beta) == []  # probe and probe_b share one lock per tenant


def test_schedules_and_pauses_persist_across_restarts(jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme")
    first = engine_factory()
    first.start(work=False)
    before = first.next_run_times()
    assert {"acme|probe|", "acme|probe_b|", "acme|sync|Org", "acme|reconcile|Org"} <= set(before)
    set_paused(tether_store, "acme", True, job="probe_b")
    first.refresh_schedules()
    first.stop()

    second = engine_factory()
    second.start(work=False)
    after = second.next_run_times()
    assert after["acme|probe|"] == before["acme|probe|"]  # the stored next run, not a new one
    assert after["acme|sync|Org"] == before["acme|sync|Org"]
    assert after["acme|probe_b|"] is None  # still paused
    set_paused(tether_store, "acme", False, job="probe_b")
    second.refresh_schedules()
    assert second.next_run_times()["acme|probe_b|"] is not None


def test_runs_missed_while_down_coalesce_into_one(jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme")
    first = engine_factory()
    first.start(work=False)
    # Pretend the server went down ten minutes before probe's next run and has just come back.
    first.scheduler.modify_job("acme|probe|", next_run_time=utcnow() - dt.timedelta(minutes=10))
    first.stop()
    second = engine_factory()
    second.start(work=False)
    rows = wait_for(lambda: queue_rows(tether_store, job="probe"))
    time.sleep(0.3)  # a second firing, if there were one, would be queued by now
    rows = queue_rows(tether_store, job="probe")
    assert len(rows) == 1
    assert rows[0].origin == "schedule"
    assert utcnow() - rows[0].scheduled_for < dt.timedelta(seconds=61)  # the latest missed fire time
    assert queue_rows(tether_store, job="probe_b") == []
    [schedule] = [s for s in load_schedules(tether_store, ["acme"]) if s.job == "probe"]
    assert schedule.collapsed_fires >= 9  # ten missed fire times, one run: the rest are counted as merged


def test_a_firing_queues_the_job_with_its_fire_time_and_keys(jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme")
    engine = engine_factory()
    fire_time = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    engine.fire({"tenant_id": "acme", "job": "probe", "lock": "Shared"}, [fire_time - dt.timedelta(minutes=1), fire_time])
    engine.fire({"tenant_id": "acme", "job": "sync", "object_name": "Org", "connector": "mem"}, [fire_time])
    probe, sync = queue_rows(tether_store)
    assert (probe.scheduled_for, probe.lock_key, probe.dedupe_key) == (fire_time, "acme/Shared", "acme/probe/-")
    assert (sync.lock_key, sync.dedupe_key, sync.connector) == ("acme/Org", "acme/sync/Org", "mem")


def test_transient_failures_are_retried_later_and_permanent_ones_are_not(jobs_tenant, engine_factory, tether_store):
    jobs_tenant("acme")
    engine = engine_factory()
    engine.enqueue(JobRequest("acme", "flaky"))
    engine.enqueue(JobRequest("acme", "broken"))
    engine.run_pending()
    [flaky] = queue_rows(tether_store, job="flaky")
    [broken] = queue_rows(tether_store, job="broken")
    assert (flaky.status, flaky.attempts) == ("todo", 1) and flaky.run_at > utcnow()
    assert "TIMEOUT" not in (flaky.last_error or "") and "timed out" in flaky.last_error
    assert (broken.status, broken.attempts) == ("failed", 1) and "INVALID_FIELD" in broken.last_error
    [broken_run] = runs(tether_store, "broken")
    assert broken_run.status == "failed" and "No such column" in broken_run.error
    with tether_store.engine.begin() as connection:  # the backoff has passed
        connection.execute(update(QueuedJob).where(QueuedJob.id == flaky.id).values(run_at=utcnow()))
    engine.run_pending()
    [flaky] = queue_rows(tether_store, job="flaky")
    assert (flaky.status, flaky.attempts) == ("succeeded", 2)
    assert [r.status for r in runs(tether_store, "flaky")] == ["failed", "success"]


def test_unprocessed_inbox_rows_are_drained_at_start_and_new_ones_queue_a_drain(
        jobs_tenant, engine_factory, tether_store, jobs_runtime, monkeypatch):
    applied: list[str] = []

    def process_inbox(tenant):
        with tenant.transaction() as session:
            rows = session.scalars(select(InboxMessage).where(InboxMessage.status == "pending")).all()
            for row in rows:
                row.status = "applied"
                applied.append(row.notification_id)
        return {"status": "success", "records_applied": len(rows)}

    real = builtin.entry_point
    monkeypatch.setattr(builtin, "entry_point", lambda job: process_inbox if job == "inbox" else real(job))
    tenant = jobs_tenant("acme")
    jobs_tenant("beta")
    with tether_store.tenant_transaction("acme") as session:
        store_notifications(session, "acme", "mem", [{"notification_id": "n1"}, {"notification_id": "n2"}])
    engine = engine_factory()
    engine.start(schedule=False)
    wait_for(lambda: len(applied) == 2)
    assert [r.origin for r in queue_rows(tether_store, job="inbox")] == ["startup"]  # beta had nothing stored

    with tether_store.tenant_transaction("acme") as session:
        store_notifications(session, "acme", "mem", [{"notification_id": "n3"}])
    jobs_runtime.notify_inbox(tenant, "mem", ["n3"])
    wait_for(lambda: "n3" in applied)
    assert [r.origin for r in queue_rows(tether_store, job="inbox")] == ["startup", "webhook"]


def test_a_crash_mid_job_is_retried_and_loses_nothing(jobs_tenant, engine_factory, tether_store, tmp_path):
    jobs_tenant("acme", probe={"marker_dir": str(tmp_path)})
    engine = engine_factory(threads=1, stall_seconds=3)
    engine.enqueue(JobRequest("acme", "slow"))
    worker = subprocess.Popen([sys.executable, str(WORKER), "embedded", tether_store.url, "1"],
                              stdout=subprocess.DEVNULL)
    try:
        marker = tmp_path / "acme.slow"
        wait_for(marker.exists, timeout=120)
        assert int(marker.read_text()) == worker.pid  # the job is running in the worker process
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    [row] = queue_rows(tether_store, job="slow")
    assert row.status == "doing"  # abandoned by the dead process
    engine.start(schedule=False)  # the next start finds the holder dead and requeues the job
    wait_for(lambda: queue_rows(tether_store, job="slow")[0].status == "succeeded")
    [row] = queue_rows(tether_store, job="slow")
    assert row.attempts == 2 and "interrupted" in row.last_error
    assert [r.status for r in runs(tether_store, "slow")] == ["failed", "success"]
    assert "interrupted" in runs(tether_store, "slow")[0].error
    assert [job for _, job, *_ in RUNS] == ["slow"]
