"""Jobs: how late scheduled runs start, how the PostgreSQL engine scales, what an idle tenant costs.

Against the fake Salesforce org over HTTPS on loopback (in its own process), with the
real Salesforce connector and sync engine:

1. **Embedded engine, SQLite**: ``--tenants`` tenants (default 1,000), each syncing its
   Opportunities every minute. After a warm-up minute (the initial loads), for
   ``--minutes`` minutes: the start delay of every scheduled run (from its fire time
   to a worker thread starting it; p50, p99, max), and, since the tenants have nothing
   new to sync, the process's CPU and memory per idle tenant. Then the same with the
   sync replaced by a job that does nothing: the engine's own share (``noop_*``).
2. **PostgreSQL engine** (``--postgres-url`` or ``TETHER_TEST_POSTGRES_URL``): with the
   fake org answering every API call after 100 ms, ``--pg-jobs`` sync jobs through one
   worker process, then as many through three (``--concurrency`` each): jobs/s and the
   ratio. A control round each time runs jobs that only wait 4 × 100 ms (no connector,
   no CPU): the engine's scaling when jobs are purely I/O-bound.

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
from pathlib import Path
from typing import Callable

from tether.core.contracts import JobSpec
from tether.core.hookspecs import hookimpl

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


def make_tenants(store, host, ids: list[str], plugins: dict, schedules: list[dict]) -> float:
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest

    started = time.perf_counter()
    for tenant_id in ids:
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id},
                    "plugins": [{"name": name, "config": config} for name, config in plugins.items()],
                    "schedules": schedules}
        apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="bench"))
    return time.perf_counter() - started


def rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (the extra workers count toward the CPU per tenant)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


# -- 1. the embedded engine ---------------------------------------------------------------------


class BenchJobs:
    """Controls that take the connector out of the picture.

    ``noop`` does nothing (every minute when ``scheduled``): the embedded engine's own
    share. ``wait`` sleeps as long as a sync's four API calls take at 100 ms each, using no
    CPU: how the PostgreSQL engine scales when jobs are purely I/O-bound.
    """

    TETHER_MANIFEST = {"name": "benchjobs", "version": "1.0.0", "description": "bench: control jobs",
                       "hooks": ["tether_scheduled_jobs"], "config": {"scheduled": {"type": "boolean", "default": False}}}

    @hookimpl
    def tether_scheduled_jobs(self, tenant):
        scheduled = bool(tenant.config_for("benchjobs").get("scheduled"))
        return [JobSpec(name="noop", run=lambda context: None, every=60 if scheduled else None, plugin="benchjobs"),
                JobSpec(name="wait", run=lambda context: time.sleep(0.4), plugin="benchjobs")]


def bench_host():
    from tether.core.plugins import PluginHost

    host = PluginHost.from_entry_points()
    host.register(BenchJobs())
    return host


def run_worker(concurrency: int) -> None:
    """Child process: ``tether worker`` with the bench's control jobs available."""
    from tether.core.jobs.serve import work
    from tether.core.runtime import Runtime

    work(Runtime(host=bench_host()), concurrency=concurrency)


def embedded(tenants: int, minutes: float, warmup: float, threads: int, org: dict | None, folder: Path,
             extra_workers: int = 0) -> dict:
    """With ``org``: each tenant syncs Opportunities every minute; without: a no-op job every minute.

    ``extra_workers`` ``tether worker`` processes (embedded: worker threads only) run beside
    the bench's own engine, claiming from the same queue.
    """
    from sqlalchemy import func, select

    from tether.core.jobs.embedded import EmbeddedEngine
    from tether.core.jobs.models import QueuedJob
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.store import Store
    from tether.core.store.models import JobRun
    from tether.core.store.types import utcnow

    url = f"sqlite:///{folder / ('embedded-sync.sqlite3' if org else 'embedded-noop.sqlite3')}"
    host = bench_host()
    store = Store(url, migration_locations=host.migration_locations())
    store.upgrade()
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(folder), "TETHER_DATABASE_URL": url}), host=host, store=store)
    engine = EmbeddedEngine(runtime, threads=threads)
    engine.start()  # no tenants yet: the engine's own footprint is in the baseline
    time.sleep(2)
    rss_before = rss_kb()
    ids = [f"t{index:04d}" for index in range(tenants)]
    if org is not None:
        schedules = [{"job": "sync", "object": "Opportunity", "every": "1m"}, *SCHEDULES_OFF]
        seconds = make_tenants(store, host, ids, {"salesforce": salesforce_config(org)}, schedules)
    else:
        seconds = make_tenants(store, host, ids, {"benchjobs": {"scheduled": True}}, [])
    print(f"  {tenants} tenants created in {seconds:.1f}s; warming up {warmup:.0f}s (first syncs are initial loads)")
    engine.refresh_schedules()
    env = {**os.environ, "TETHER_DATABASE_URL": url, "TETHER_JOB_ENGINE": "embedded", "TETHER_HOME": str(folder),
           "TETHER_LOG_LEVEL": "WARNING"}
    helpers = [subprocess.Popen([sys.executable, __file__, "--run-worker", str(threads)], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL) for _ in range(extra_workers)]
    try:
        time.sleep(warmup)
        window_start, cpu_start = utcnow(), cpu_seconds() + sum(process_cpu_seconds(h.pid) for h in helpers)
        time.sleep(minutes * 60)
        window_end, rss_after = utcnow(), rss_kb()
        cpu_end = cpu_seconds() + sum(process_cpu_seconds(h.pid) for h in helpers)
    finally:
        stop_workers(helpers)
        engine.stop()
    with store.admin_session() as session:
        rows = session.execute(select(QueuedJob.scheduled_for, QueuedJob.started_at).where(
            QueuedJob.origin == "schedule", QueuedJob.scheduled_for >= window_start,
            QueuedJob.scheduled_for < window_end, QueuedJob.started_at.is_not(None))).all()
        outcomes = dict(session.execute(select(JobRun.status, func.count()).where(
            JobRun.kind == ("sync" if org else "noop"), JobRun.started_at >= window_start,
            JobRun.started_at < window_end)
            .group_by(JobRun.status)).all())
        deduplicated_or_late = session.scalar(select(func.count()).select_from(QueuedJob).where(
            QueuedJob.origin == "schedule", QueuedJob.scheduled_for >= window_start,
            QueuedJob.scheduled_for < window_end, QueuedJob.started_at.is_(None)))
    store.dispose()
    delays = [(started - fired).total_seconds() * 1000 for fired, started in rows]
    expected = tenants * minutes
    window_minutes = (window_end - window_start).total_seconds() / 60
    return {
        "tenants": tenants, "extra_workers": extra_workers, "runs": len(delays), "runs_expected": round(expected),
        "not_started": deduplicated_or_late,
        "outcomes": outcomes,
        "p50_start_delay_ms": round(percentile(delays, 0.50), 1) if delays else None,
        "p99_start_delay_ms": round(percentile(delays, 0.99), 1) if delays else None,
        "max_start_delay_ms": round(max(delays), 1) if delays else None,
        "cpu_ms_per_idle_tenant_minute": round((cpu_end - cpu_start) * 1000 / (tenants * window_minutes), 2),
        "cpu_share_of_one_core": round((cpu_end - cpu_start) / (window_minutes * 60), 3),
        "rss_kb_per_idle_tenant": round((rss_after - rss_before) / tenants, 1),
    }


# -- 2. the PostgreSQL engine -------------------------------------------------------------------


def postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    from tether.testing.databases import scratch_postgres_database

    return scratch_postgres_database(server_url, "tether_bench_jobs")


def start_workers(store, count: int, concurrency: int, folder: Path) -> list[subprocess.Popen]:
    from sqlalchemy import text

    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM procrastinate_workers"))
    env = {**os.environ, "TETHER_DATABASE_URL": store.url, "TETHER_JOB_ENGINE": "procrastinate",
           "TETHER_HOME": str(folder), "TETHER_LOG_LEVEL": "WARNING"}
    processes = [subprocess.Popen([sys.executable, __file__, "--run-worker", str(concurrency)], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL) for _ in range(count)]
    deadline = time.monotonic() + 300
    while True:  # every worker registered (imports done, schedules refreshed) before any clock starts
        with store.engine.connect() as connection:
            if connection.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar() >= count:
                return processes
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start")
        time.sleep(0.2)


def stop_workers(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def timed_round(runtime, ids: list[str], job: str) -> dict:
    """Queue ``job`` for every tenant at once; jobs/s from the enqueue to the last finish."""
    from sqlalchemy import func, select

    from tether.core.jobs.base import JobRequest
    from tether.core.jobs.pg import ProcrastinateEngine
    from tether.core.store.models import JobRun
    from tether.core.store.types import utcnow

    store = runtime.store
    engine = ProcrastinateEngine(runtime)
    started = utcnow()
    if job == "sync":
        engine.enqueue_many([JobRequest(t, "sync", "Opportunity", "salesforce") for t in ids])
    else:
        engine.enqueue_many([JobRequest(t, job) for t in ids])
    engine.close()
    deadline = time.monotonic() + 900
    condition = (JobRun.tenant_id.in_(ids), JobRun.kind == job, JobRun.started_at >= started)
    while True:
        with store.admin_session() as session:
            done = session.scalar(select(func.count()).select_from(JobRun).where(*condition, JobRun.status != "running"))
        if done >= len(ids):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"only {done} of {len(ids)} {job} jobs finished")
        time.sleep(0.1)
    with store.admin_session() as session:
        finished = session.scalar(select(func.max(JobRun.finished_at)).where(*condition))
        outcomes = dict(session.execute(select(JobRun.status, func.count()).where(*condition)
                                        .group_by(JobRun.status)).all())
        calls = session.scalar(select(func.sum(JobRun.api_calls)).where(*condition))
    seconds = (finished - started).total_seconds()
    return {"jobs": len(ids), "seconds": round(seconds, 2), "jobs_per_s": round(len(ids) / seconds, 2),
            "outcomes": outcomes, "api_calls_per_job": round((calls or 0) / len(ids), 1)}


def postgres(server_url: str, jobs: int, concurrency: int, org: dict, folder: Path) -> dict:
    from tether.core.runtime import Runtime
    from tether.core.settings import Settings
    from tether.core.store import Store

    url, drop = postgres_database(server_url)
    results: dict = {}
    try:
        host = bench_host()
        store = Store(url, migration_locations=host.migration_locations())
        store.upgrade()
        settings = Settings.from_env({"TETHER_HOME": str(folder), "TETHER_DATABASE_URL": url,
                                      "TETHER_JOB_ENGINE": "procrastinate"})
        runtime = Runtime(settings, host=host, store=store)
        ids = [f"p{index:04d}" for index in range(jobs)]
        seconds = make_tenants(store, host, ids, {"salesforce": salesforce_config(org), "benchjobs": {}},
                               SCHEDULES_OFF)
        print(f"  {jobs} tenants created in {seconds:.1f}s")
        # Initial loads first, untimed, by workers of their own: both timed rounds are then
        # incremental runs of the same size, each by new worker processes that keep nothing yet
        # (every tenant's first run in a process logs in and describes its objects).
        processes = start_workers(store, 3, concurrency, folder)
        try:
            warm = timed_round(runtime, ids, "sync")
            print(f"  initial loads: {warm['jobs']} jobs in {warm['seconds']}s, not timed")
        finally:
            stop_workers(processes)
        for workers in (1, 3):
            processes = start_workers(store, workers, concurrency, folder)
            try:
                for job in ("sync", "wait"):
                    result = results[(workers, job)] = timed_round(runtime, ids, job)
                    print(f"  {workers} worker{'s' if workers > 1 else ' '} {job:<5} {result['jobs']} jobs in "
                          f"{result['seconds']}s ({result['outcomes']})")
            finally:
                stop_workers(processes)
        store.dispose()
    finally:
        drop()
    return results


# -- main ---------------------------------------------------------------------------------------


def run_embedded(args, folder: Path) -> dict:
    print(f"1. embedded engine: {args.tenants} tenants, sync every minute, {args.threads} threads"
          + (f", plus {args.extra_workers} `tether worker` process(es)" if args.extra_workers else ""))
    org_process, org = start_org(0.0)
    try:
        result = embedded(args.tenants, args.minutes, args.warmup, args.threads, org, folder, args.extra_workers)
    finally:
        org_process.stdin.close()
        org_process.wait(timeout=60)
    _print_embedded(result)
    figures = {k: v for k, v in result.items() if k != "outcomes"}
    print(f"1b. the same engine and tenants, the sync replaced by a job that does nothing (the engine's own share)")
    noop = embedded(args.tenants, args.minutes, args.warmup, args.threads, None, folder)
    _print_embedded(noop)
    figures.update({f"noop_{k}": v for k, v in noop.items()
                    if k in ("p50_start_delay_ms", "p99_start_delay_ms", "max_start_delay_ms", "runs",
                             "cpu_ms_per_idle_tenant_minute", "rss_kb_per_idle_tenant")})
    return figures


def _print_embedded(result: dict) -> None:
    print(f"  runs measured {result['runs']} of {result['runs_expected']} expected "
          f"(not started in the window: {result['not_started']}; outcomes {result['outcomes']})")
    print(f"  start delay p50           {result['p50_start_delay_ms']:>10} ms")
    print(f"  start delay p99           {result['p99_start_delay_ms']:>10} ms   target <= {TARGETS['p99_start_delay_ms']} ms")
    print(f"  start delay max           {result['max_start_delay_ms']:>10} ms")
    print(f"  CPU per idle tenant       {result['cpu_ms_per_idle_tenant_minute']:>10} ms per minute "
          f"(process at {result['cpu_share_of_one_core']:.0%} of one core)")
    print(f"  memory per idle tenant    {result['rss_kb_per_idle_tenant']:>10} KB")


def run_postgres(args, folder: Path) -> dict:
    print(f"2. PostgreSQL engine: {args.pg_jobs} sync jobs per round, fake org at 100 ms per API call, "
          f"concurrency {args.concurrency} per worker")
    org_process, org = start_org(0.1)
    try:
        pg = postgres(args.postgres_url, args.pg_jobs, args.concurrency, org, folder)
    finally:
        org_process.stdin.close()
        org_process.wait(timeout=60)
    one, three = pg[(1, "sync")]["jobs_per_s"], pg[(3, "sync")]["jobs_per_s"]
    wait_one, wait_three = pg[(1, "wait")]["jobs_per_s"], pg[(3, "wait")]["jobs_per_s"]
    print(f"  1 worker                  {one:>10} jobs/s")
    print(f"  3 workers                 {three:>10} jobs/s")
    print(f"  ratio 3 : 1               {three / one:>10.2f}        target >= {TARGETS['ratio_3_to_1_workers']}")
    print(f"  control (4 x 100 ms waits, no connector): 1 worker {wait_one} jobs/s, 3 workers {wait_three} jobs/s, "
          f"ratio {wait_three / wait_one:.2f}")
    return {"pg_1_worker_jobs_per_s": one, "pg_3_workers_jobs_per_s": three, "ratio_3_to_1_workers": round(three / one, 2),
            "pg_api_calls_per_job": pg[(1, "sync")]["api_calls_per_job"],
            "pg_wait_1_worker_jobs_per_s": wait_one, "pg_wait_3_workers_jobs_per_s": wait_three,
            "ratio_3_to_1_workers_wait_control": round(wait_three / wait_one, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants on the embedded engine")
    parser.add_argument("--minutes", type=float, default=2, help="measured minutes after the warm-up")
    parser.add_argument("--warmup", type=float, default=75, help="seconds before measuring")
    parser.add_argument("--threads", type=int, default=8, help="embedded worker threads")
    parser.add_argument("--extra-workers", type=int, default=0,
                        help="embedded: `tether worker` processes beside the engine for the sync run")
    parser.add_argument("--pg-jobs", type=int, default=240, help="sync jobs per PostgreSQL round")
    parser.add_argument("--concurrency", type=int, default=4, help="jobs at once per `tether worker`")
    parser.add_argument("--postgres-url", default=os.environ.get("TETHER_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=("embedded", "postgres"), help="run one part only")
    parser.add_argument("--serve-org", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--run-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_org is not None:
        serve_org(args.serve_org)
        return
    if args.run_worker is not None:
        run_worker(args.run_worker)
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
