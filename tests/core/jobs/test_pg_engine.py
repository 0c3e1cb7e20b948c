"""The PostgreSQL engine in one process: keys on deferred jobs, ticks that meet, webhooks."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, text, update

from tether.core.jobs.base import JobRequest
from tether.core.jobs.models import JobSchedule
from tether.core.jobs.pg import ProcrastinateEngine
from tether.core.jobs.schedules import refresh_all
from tether.core.store.types import utcnow


@pytest.fixture
def pg_engine(tether_store, jobs_runtime):
    if tether_store.dialect != "postgresql":
        pytest.skip("the procrastinate engine runs on PostgreSQL only")
    engine = ProcrastinateEngine(jobs_runtime, tick_seconds=1)
    yield engine
    engine.close()


def deferred(store):
    with store.engine.connect() as connection:
        return connection.execute(text(
            "SELECT args->>'tenant_id' AS tenant, args->>'job' AS job, args->>'scheduled_for' AS scheduled_for, "
            "args->>'origin' AS origin, lock, queueing_lock, status::text AS status "
            "FROM procrastinate_jobs WHERE task_name = 'tether.run_job' ORDER BY id")).mappings().all()


def test_a_storm_queues_one_job_with_the_lock_and_dedupe_keys(jobs_tenant, pg_engine, tether_store):
    jobs_tenant("acme")
    results = pg_engine.enqueue_many([JobRequest("acme", "probe", origin="webhook") for _ in range(5)])
    assert [r.status for r in results] == ["queued"] + ["deduplicated"] * 4
    [job] = deferred(tether_store)
    assert (job["lock"], job["queueing_lock"], job["origin"]) == ("acme/Shared", "acme/probe/-", "webhook")
    assert pg_engine.summary().waiting == 1


def test_two_ticks_at_once_fire_each_due_schedule_once(jobs_tenant, pg_engine, tether_store, jobs_host):
    for tenant in ("acme", "beta"):
        jobs_tenant(tenant, schedules=[{"job": job, "every": "1d", "enabled": False}
                                       for job in ("sync", "reconcile", "outbox", "inbox")])
    refresh_all(tether_store, jobs_host)
    # Due ten minutes ago (down for a while): each fires once, for its latest fire time.
    with tether_store.engine.begin() as connection:
        connection.execute(update(JobSchedule).where(JobSchedule.job.in_(("probe", "probe_b")))
                           .values(next_run_at=utcnow() - dt.timedelta(minutes=10)))
        connection.execute(update(JobSchedule).where(JobSchedule.job.not_in(("probe", "probe_b")))
                           .values(next_run_at=utcnow() + dt.timedelta(days=1)))

    async def two_ticks():
        async with pg_engine.app.open_async():
            return await asyncio.gather(pg_engine.tick(), pg_engine.tick())

    handled = asyncio.run(two_ticks())
    assert sum(handled) == 4  # probe and probe_b of two tenants, each taken by one tick
    jobs = deferred(tether_store)
    assert sorted((j["tenant"], j["job"]) for j in jobs) == [("acme", "probe"), ("acme", "probe_b"),
                                                           ("beta", "probe"), ("beta", "probe_b")]
    with tether_store.admin_session() as session:
        rows = session.scalars(select(JobSchedule).where(JobSchedule.job.in_(("probe", "probe_b")))).all()
    now = utcnow()
    for row in rows:
        assert now < row.next_run_at <= now + dt.timedelta(seconds=60)
        assert now - dt.timedelta(seconds=61) < row.last_fired_for <= now
        assert row.collapsed_fires >= 9  # ten fire times missed, one run
    assert {j["scheduled_for"] for j in jobs} == {r.last_fired_for.isoformat() for r in rows}


def test_a_stored_webhook_message_queues_the_inbox_job(jobs_tenant, pg_engine, tether_store, jobs_runtime):
    tenant = jobs_tenant("acme")
    jobs_runtime.inbox_listeners.append(pg_engine._on_inbox)
    jobs_runtime.notify_inbox(tenant, "mem", ["n1"])
    jobs_runtime.notify_inbox(tenant, "mem", ["n2"])
    assert [(j["job"], j["origin"], j["queueing_lock"]) for j in deferred(tether_store)] == [
        ("inbox", "webhook", "acme/inbox/-")]
