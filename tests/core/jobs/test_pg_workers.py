"""The PostgreSQL engine with three real worker processes.

100 tenants, each with two jobs every 5 seconds that share one lock. While three
``procrastinate`` workers run them, one worker is killed in the middle of a job. Then:
every fire time of every schedule produced exactly one job (none twice, none missing),
no two jobs holding the same lock ever ran at once, and the killed worker's job was
finished by another worker.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tether.core.jobs.base import JobRequest
from tether.core.jobs.models import JobSchedule
from tether.core.jobs.pg import ProcrastinateEngine
from tether.core.manifests import validate_tenant_manifest
from tether.core.store.types import utcnow
from tether.core.store.models import JobRun
from tether.core.tenants import apply_manifest

from .support import overlaps
from .test_embedded import wait_for

WORKER = Path(__file__).with_name("worker_main.py")
TENANTS = 100
EVERY = 5


@pytest.fixture
def pg_only(tether_store):
    if tether_store.dialect != "postgresql":
        pytest.skip("the procrastinate engine runs on PostgreSQL only")


def _tenants(store, host, marker_dir: Path) -> None:
    off = [{"job": job, "every": "1d", "enabled": False} for job in ("sync", "reconcile", "outbox", "inbox")]
    for index in range(TENANTS):
        manifest = {"tenant": {"id": f"t{index:03d}", "name": f"Tenant {index}"},
                    "plugins": [{"name": "probe", "config": {"every": EVERY}}], "schedules": off}
        apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="test"))
    manifest = {"tenant": {"id": "slowpoke", "name": "Slowpoke"},
                "plugins": [{"name": "probe", "config": {"every": 3600, "marker_dir": str(marker_dir)}}],
                "schedules": off + [{"job": "probe", "every": "1d", "enabled": False},
                                    {"job": "probe_b", "every": "1d", "enabled": False}]}
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="test"))


def _waiting_or_running(store) -> int:
    with store.engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'tether.run_job' "
            "AND status IN ('todo', 'doing')").scalar()


def _fired_everywhere(store, *, after, times: int) -> bool:
    """Every probe schedule has fired ``times`` times since ``after`` (or since it started)."""
    with store.admin_session() as session:
        rows = session.execute(select(JobSchedule.last_fired_for).where(
            JobSchedule.job.in_(("probe", "probe_b")), JobSchedule.tenant_id != "slowpoke")).scalars().all()
    if len(rows) != 2 * TENANTS or any(r is None for r in rows):
        return False
    with store.engine.connect() as connection:
        firsts = connection.exec_driver_sql(
            "SELECT min((args->>'scheduled_for')::timestamptz) FROM procrastinate_jobs "
            "WHERE task_name = 'tether.run_job' AND args->>'origin' = 'schedule' "
            "AND args->>'job' IN ('probe', 'probe_b') GROUP BY args->>'tenant_id', args->>'job'").scalars().all()
    if len(firsts) != 2 * TENANTS:
        return False
    floor = after if after is not None else max(firsts)
    return min(rows) >= floor + dt.timedelta(seconds=EVERY * times)


def _progress(store) -> str:
    with store.admin_session() as session:
        fired = session.execute(select(JobSchedule.last_fired_for).where(
            JobSchedule.job.in_(("probe", "probe_b")), JobSchedule.tenant_id != "slowpoke")).scalars().all()
    with store.engine.connect() as connection:
        states = connection.exec_driver_sql("SELECT task_name, status::text, count(*) FROM procrastinate_jobs "
                                            "GROUP BY 1, 2 ORDER BY 1, 2").all()
    stamps = [f for f in fired if f is not None]
    return (f"now {utcnow()}, schedules {len(fired)}, never fired {len(fired) - len(stamps)}, "
            f"last fired from {min(stamps, default=None)} to {max(stamps, default=None)}, jobs {states}")


@pytest.mark.slow
def test_three_workers_run_every_tick_once_never_overlap_and_survive_a_kill(
        pg_only, tether_store, jobs_host, jobs_runtime, tmp_path):
    _tenants(tether_store, jobs_host, tmp_path)
    engine = ProcrastinateEngine(jobs_runtime)
    engine.enqueue(JobRequest("slowpoke", "slow"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    workers = [subprocess.Popen([sys.executable, str(WORKER), "procrastinate", tether_store.url, "4"], env=env,
                                stdout=subprocess.DEVNULL) for _ in range(3)]
    killed: int | None = None
    try:
        marker = tmp_path / "slowpoke.slow"
        wait_for(marker.exists, timeout=120)
        killed = int(marker.read_text())
        assert killed in {w.pid for w in workers}
        # Progress, not wall time, paces the test (the machine may be busy): every schedule
        # fires a few times, a worker is killed mid-job, and every schedule fires a few more.
        wait_for(lambda: _fired_everywhere(tether_store, after=None, times=2), timeout=120, interval=0.5,
                 explain=lambda: _progress(tether_store))
        kill_time = utcnow()
        os.kill(killed, signal.SIGKILL)  # mid-job: "slow" blocks in that worker
        wait_for(lambda: _fired_everywhere(tether_store, after=kill_time, times=2), timeout=120, interval=0.5,
                 explain=lambda: f"killed at {kill_time}; {_progress(tether_store)}")
        with tether_store.engine.begin() as connection:  # stop every schedule at once
            connection.execute(update(JobSchedule).values(paused=True))
        # The killed worker's jobs are retried after 3 s of silence; then everything drains.
        wait_for(lambda: _waiting_or_running(tether_store) == 0, timeout=120, interval=0.2,
                 explain=lambda: f"{_waiting_or_running(tether_store)} jobs left; {_progress(tether_store)}")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        engine.close()

    with tether_store.admin_session() as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.id)).all()
        schedules = {(s.tenant_id, s.job): s for s in session.scalars(select(JobSchedule))}

    # The killed worker's job was finished by another worker.
    slow = [r for r in runs if r.kind == "slow"]
    assert [r.status for r in slow] == ["failed", "success"]
    assert "interrupted" in slow[0].error and slow[1].details["pid"] != killed

    # Every fire time of every schedule: exactly one job (whatever became of it), none missing.
    with tether_store.engine.connect() as connection:
        deferred = connection.exec_driver_sql(
            "SELECT id, status::text, args->>'tenant_id', args->>'job', args->>'scheduled_for' FROM procrastinate_jobs "
            "WHERE task_name = 'tether.run_job' AND args->>'origin' = 'schedule' "
            "AND args->>'job' IN ('probe', 'probe_b')").all()
    jobs_per_fire: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for job_id, status, tenant, job, stamp in deferred:
        jobs_per_fire[(tenant, job, stamp)].append((job_id, status))
    assert {key: jobs for key, jobs in jobs_per_fire.items() if len(jobs) != 1} == {}
    # A job taken down with the killed worker is retried, or stands aside for an identical one already waiting.
    assert {status for jobs in jobs_per_fire.values() for _, status in jobs} <= {"succeeded", "aborted"}
    missing = {}
    for index in range(TENANTS):
        for job in ("probe", "probe_b"):
            tenant = f"t{index:03d}"
            fired = sorted(dt.datetime.fromisoformat(stamp) for (t, j, stamp) in jobs_per_fire if (t, j) == (tenant, job))
            assert len(fired) >= 2, (tenant, job, fired)
            expected, at = [], fired[0]
            while at <= schedules[(tenant, job)].last_fired_for:
                expected.append(at)
                at += dt.timedelta(seconds=EVERY)
            # On a busy machine a tick can come late (its missed fire times merge into one run) or find
            # the previous run still waiting (it merges into that); both are counted, a lost one is not.
            lost = len(set(expected) - set(fired)) - schedules[(tenant, job)].collapsed_fires
            if set(fired) - set(expected) or lost:
                missing[(tenant, job)] = {"missing": sorted(set(expected) - set(fired)),
                                          "unexpected": sorted(set(fired) - set(expected)),
                                          "merged": schedules[(tenant, job)].collapsed_fires}
    assert missing == {}

    # probe and probe_b share a lock per tenant: their runs never overlapped.
    by_tenant: dict[str, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
    for run in runs:
        if run.kind in ("probe", "probe_b") and run.status == "success":
            by_tenant[run.tenant_id].append((run.started_at, run.finished_at))
    assert {tenant: overlaps(spans) for tenant, spans in by_tenant.items() if overlaps(spans)} == {}
    assert len({run.details["pid"] for run in runs if run.kind == "probe"}) == 3  # all three workers took part
