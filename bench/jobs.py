"""Jobs: how late scheduled runs start, how the PostgreSQL engine scales, what an idle tenant costs.

Against the fake Salesforce org over HTTPS on loopback (in its own process), with the
real Salesforce connector and sync engine:

1. **Embedded engine, SQLite**: ``--tenants`` tenants (default 1,000), each syncing its
   Opportunities every minute. After a warm-up minute (the initial loads), for
   ``--minutes`` minutes: the start delay of every scheduled run (from its fire time
   to a worker thread starting it; p50, p99, max), and, since the tenants have nothing
   new to sync, the process's CPU and memory per idle tenant.
2. **PostgreSQL engine** (``--postgres-url`` or ``TETHER_TEST_POSTGRES_URL``): with the
   fake org answering every API call after 100 ms, ``--pg-jobs`` sync jobs through one
   ``tether worker``, then as many through three (``--concurrency`` each): jobs/s and
   the ratio.

Quick run: ``python bench/jobs.py --tenants 100 --minutes 1 --pg-jobs 60``.
The last line of output is JSON: ``{"bench": "jobs", "figures": {...}, "targets": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

TARGETS = {"p99_start_delay_ms": 1000, "ratio_3_to_1_workers": 2.5}
ROOT = Path(__file__).resolve().parents[1]
# Only the schedule under test fires: the other core jobs of a Salesforce tenant are switched off.
SCHEDULES_OFF = [{"job": job, "every": "1d", "enabled": False} for job in ("sync", "reconcile", "inbox", "outbox")]


# -- the fake org, in its own process -----------------------------------------------------------


def serve_org(latency: float) -> None:
    """Child process: a small seeded org, optionally slow, served until stdin closes."""
    from tether.testing.fake_salesforce import FakeClock, FakeOrg
    from tether.testing.fake_salesforce.server import FakeOrgServer

    org = FakeOrg(clock=FakeClock(realtime=True), api_limit=100_000_000)
    org.seed(seed=7, accounts=5, opportunities=20, contacts_per_account=0, tasks_per_opportunity=0,
             events_per_opportunity=0, stage_history=False)
    org.clock.advance(minutes=15)
    if latency:
        org.faults.slow(latency)
    server = FakeOrgServer(org, deliver_outbound_every=None).start()
    print(json.dumps({"instance_url": server.instance_url, "ca_bundle": server.ca_bundle_path}), flush=True)
    sys.stdin.read()
    server.stop()


def start_org(latency: float) -> tuple[subprocess.Popen, dict]:
    child = subprocess.Popen([sys.executable, __file__, "--serve-org", str(latency)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if not line:
        raise SystemExit("the fake org did not start")
    return child, json.loads(line)


def salesforce_config(org: dict) -> dict:
    from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

    os.environ["BENCH_SF_PASSWORD"] = DEFAULT_PASSWORD
    os.environ["BENCH_SF_TOKEN"] = DEFAULT_TOKEN
    return {"instance_url": org["instance_url"], "login_url": org["instance_url"], "ca_bundle": org["ca_bundle"],
            "username": INTEGRATION_USERNAME, "password": {"$env": "BENCH_SF_PASSWORD"},
            "security_token": {"$env": "BENCH_SF_TOKEN"}}


def make_tenants(store, host, ids: list[str], config: dict, schedules: list[dict]) -> float:
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest

    started = time.perf_counter()
    for tenant_id in ids:
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id}, "plugins": [{"name": "salesforce", "config": config}],
                    "schedules": schedules}
        apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    return time.perf_counter() - started


def rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


# -- 1. the embedded engine ---------------------------------------------------------------------


def embedded(tenants: int, minutes: float, warmup: float, threads: int, org: dict, folder: Path) -> dict:
    from sqlalchemy import func, select

    from tether.core.jobs.embedded import EmbeddedEngine
    from tether.core.jobs.models import QueuedJob
    from tether.core.plugins import PluginHost
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.store import Store
    from tether.core.store.models import JobRun
    from tether.core.store.types import utcnow

    url = f"sqlite:///{folder / 'embedded.sqlite3'}"
    host = PluginHost.from_entry_points()
    store = Store(url, migration_locations=host.migration_locations())
    store.upgrade()
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(folder), "TETHER_DATABASE_URL": url}), host=host, store=store)
    engine = EmbeddedEngine(runtime, threads=threads)
    engine.start()  # no tenants yet: the engine's own footprint is in the baseline
    time.sleep(2)
    rss_before = rss_kb()
    ids = [f"t{index:04d}" for index in range(tenants)]
    schedules = [{"job": "sync", "object": "Opportunity", "every": "1m"}, *SCHEDULES_OFF]
    seconds = make_tenants(store, host, ids, salesforce_config(org), schedules)
    print(f"  {tenants} tenants created in {seconds:.1f}s; warming up {warmup:.0f}s (first syncs are initial loads)")
    engine.refresh_schedules()
    time.sleep(warmup)
    window_start, cpu_start = utcnow(), cpu_seconds()
    time.sleep(minutes * 60)
    window_end, cpu_end, rss_after = utcnow(), cpu_seconds(), rss_kb()
    engine.stop()
    with store.admin_session() as session:
        rows = session.execute(select(QueuedJob.scheduled_for, QueuedJob.started_at).where(
            QueuedJob.origin == "schedule", QueuedJob.scheduled_for >= window_start,
            QueuedJob.scheduled_for < window_end, QueuedJob.started_at.is_not(None))).all()
        outcomes = dict(session.execute(select(JobRun.status, func.count()).where(
            JobRun.kind == "sync", JobRun.started_at >= window_start, JobRun.started_at < window_end)
            .group_by(JobRun.status)).all())
        deduplicated_or_late = session.scalar(select(func.count()).select_from(QueuedJob).where(
            QueuedJob.origin == "schedule", QueuedJob.scheduled_for >= window_start,
            QueuedJob.scheduled_for < window_end, QueuedJob.started_at.is_(None)))
    store.dispose()
    delays = [(started - fired).total_seconds() * 1000 for fired, started in rows]
    expected = tenants * minutes
    window_minutes = (window_end - window_start).total_seconds() / 60
    return {
        "tenants": tenants, "runs": len(delays), "runs_expected": round(expected), "not_started": deduplicated_or_late,
        "outcomes": outcomes,
        "p50_start_delay_ms": round(percentile(delays, 0.50), 1) if delays else None,
        "p99_start_delay_ms": round(percentile(delays, 0.99), 1) if delays else None,
        "max_start_delay_ms": round(max(delays), 1) if delays else None,
        "cpu_ms_per_idle_tenant_minute": round((cpu_end - cpu_start) * 1000 / (tenants * window_minutes), 2),
        "cpu_share_of_one_core": round((cpu_end - cpu_start) / (window_minutes * 60), 3),
        "rss_kb_per_idle_tenant": round((rss_after - rss_before) / tenants, 1),
    }


# -- 2. the PostgreSQL engine -------------------------------------------------------------------


def postgres_database(server_url: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from tether.core.settings import normalise_database_url

    base = make_url(normalise_database_url(server_url))
    name = f"tether_bench_jobs_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def procrastinate_round(runtime, workers: int, concurrency: int, jobs: int, config: dict, folder: Path) -> dict:
    from sqlalchemy import func, select, text

    from tether.core.jobs.base import JobRequest
    from tether.core.jobs.pg import ProcrastinateEngine
    from tether.core.store.models import JobRun
    from tether.core.store.types import utcnow

    store = runtime.store
    ids = [f"w{workers}-{index:04d}" for index in range(jobs)]
    make_tenants(store, runtime.host, ids, config, SCHEDULES_OFF)
    env = {**os.environ, "TETHER_DATABASE_URL": store.url, "TETHER_JOB_ENGINE": "procrastinate",
           "TETHER_HOME": str(folder), "TETHER_LOG_LEVEL": "WARNING"}
    processes = [subprocess.Popen([sys.executable, "-m", "tether", "worker", "--concurrency", str(concurrency)],
                                  env=env, cwd=ROOT, stdout=subprocess.DEVNULL) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while True:  # every worker registered (imports done, schedules refreshed) before the clock starts
            with store.engine.connect() as connection:
                ready = connection.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar()
            if ready >= workers:
                break
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start")
            time.sleep(0.2)
        time.sleep(1)
        engine = ProcrastinateEngine(runtime)
        started = utcnow()
        engine.enqueue_many([JobRequest(t, "sync", "Opportunity", "salesforce") for t in ids])
        engine.close()
        while True:
            with store.admin_session() as session:
                done = session.scalar(select(func.count()).select_from(JobRun).where(
                    JobRun.tenant_id.in_(ids), JobRun.kind == "sync", JobRun.status != "running"))
            if done >= jobs:
                break
            if time.monotonic() > deadline + 600:
                raise SystemExit(f"only {done} of {jobs} jobs finished")
            time.sleep(0.1)
        with store.admin_session() as session:
            finished = session.scalar(select(func.max(JobRun.finished_at)).where(JobRun.tenant_id.in_(ids)))
            outcomes = dict(session.execute(select(JobRun.status, func.count()).where(
                JobRun.tenant_id.in_(ids), JobRun.kind == "sync").group_by(JobRun.status)).all())
            calls = session.scalar(select(func.sum(JobRun.api_calls)).where(JobRun.tenant_id.in_(ids)))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    seconds = (finished - started).total_seconds()
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM procrastinate_workers"))
    return {"jobs": jobs, "seconds": round(seconds, 2), "jobs_per_s": round(jobs / seconds, 2), "outcomes": outcomes,
            "api_calls_per_job": round((calls or 0) / jobs, 1)}


def postgres(server_url: str, jobs: int, concurrency: int, org: dict, folder: Path) -> dict:
    from tether.core.plugins import PluginHost
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.store import Store

    url, drop = postgres_database(server_url)
    try:
        host = PluginHost.from_entry_points()
        store = Store(url, migration_locations=host.migration_locations())
        store.upgrade()
        settings = Settings.from_env({"TETHER_HOME": str(folder), "TETHER_DATABASE_URL": url,
                                      "TETHER_JOB_ENGINE": "procrastinate"})
        runtime = Runtime(settings, host=host, store=store)
        config = salesforce_config(org)
        one = procrastinate_round(runtime, 1, concurrency, jobs, config, folder)
        print(f"  1 worker:  {one['jobs']} jobs in {one['seconds']}s ({one['outcomes']})")
        three = procrastinate_round(runtime, 3, concurrency, jobs, config, folder)
        print(f"  3 workers: {three['jobs']} jobs in {three['seconds']}s ({three['outcomes']})")
        store.dispose()
    finally:
        drop()
    return {"one": one, "three": three}


# -- main ---------------------------------------------------------------------------------------


def run_embedded(args, folder: Path) -> dict:
    print(f"1. embedded engine: {args.tenants} tenants, sync every minute, {args.threads} threads")
    org_process, org = start_org(0.0)
    try:
        result = embedded(args.tenants, args.minutes, args.warmup, args.threads, org, folder)
    finally:
        org_process.stdin.close()
        org_process.wait(timeout=60)
    print(f"  runs measured {result['runs']} of {result['runs_expected']} expected "
          f"(not started in the window: {result['not_started']}; outcomes {result['outcomes']})")
    print(f"  start delay p50           {result['p50_start_delay_ms']:>10} ms")
    print(f"  start delay p99           {result['p99_start_delay_ms']:>10} ms   target <= {TARGETS['p99_start_delay_ms']} ms")
    print(f"  start delay max           {result['max_start_delay_ms']:>10} ms")
    print(f"  CPU per idle tenant       {result['cpu_ms_per_idle_tenant_minute']:>10} ms per minute "
          f"(process at {result['cpu_share_of_one_core']:.0%} of one core)")
    print(f"  memory per idle tenant    {result['rss_kb_per_idle_tenant']:>10} KB")
    return {k: v for k, v in result.items() if k != "outcomes"}


def run_postgres(args, folder: Path) -> dict:
    print(f"2. PostgreSQL engine: {args.pg_jobs} sync jobs per round, fake org at 100 ms per API call, "
          f"concurrency {args.concurrency} per worker")
    org_process, org = start_org(0.1)
    try:
        pg = postgres(args.postgres_url, args.pg_jobs, args.concurrency, org, folder)
    finally:
        org_process.stdin.close()
        org_process.wait(timeout=60)
    ratio = pg["three"]["jobs_per_s"] / pg["one"]["jobs_per_s"]
    print(f"  1 worker                  {pg['one']['jobs_per_s']:>10} jobs/s")
    print(f"  3 workers                 {pg['three']['jobs_per_s']:>10} jobs/s")
    print(f"  ratio 3 : 1               {ratio:>10.2f}        target >= {TARGETS['ratio_3_to_1_workers']}")
    return {"pg_1_worker_jobs_per_s": pg["one"]["jobs_per_s"], "pg_3_workers_jobs_per_s": pg["three"]["jobs_per_s"],
            "ratio_3_to_1_workers": round(ratio, 2), "pg_api_calls_per_job": pg["one"]["api_calls_per_job"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants on the embedded engine")
    parser.add_argument("--minutes", type=float, default=2, help="measured minutes after the warm-up")
    parser.add_argument("--warmup", type=float, default=75, help="seconds before measuring")
    parser.add_argument("--threads", type=int, default=8, help="embedded worker threads")
    parser.add_argument("--pg-jobs", type=int, default=240, help="sync jobs per PostgreSQL round")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per `tether worker`")
    parser.add_argument("--postgres-url", default=os.environ.get("TETHER_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=("embedded", "postgres"), help="run one part only")
    parser.add_argument("--serve-org", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_org is not None:
        serve_org(args.serve_org)
        return
    folder = Path(tempfile.mkdtemp(prefix="tether-bench-jobs-"))
    figures: dict = {}
    try:
        if args.only != "postgres":
            figures.update(run_embedded(args, folder))
        if args.only != "embedded":
            if args.postgres_url:
                figures.update(run_postgres(args, folder))
            else:
                print("2. PostgreSQL engine: not measured (pass --postgres-url or set TETHER_TEST_POSTGRES_URL)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"bench": "jobs", "figures": figures, "targets": TARGETS}))


if __name__ == "__main__":
    main()
