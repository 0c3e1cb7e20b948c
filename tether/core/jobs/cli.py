"""Commands: ``tether serve``, ``tether worker``, ``tether jobs list|run|pause|resume``, ``tether status``."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click
from rich.table import Table

from ..errors import JobError, TetherError
from ..store.types import utcnow


def _console():
    from ..cli import console

    return console


def _runtime(ctx: click.Context):
    from ..cli import runtime

    return runtime(ctx)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(worker)
    cli.add_command(jobs)
    cli.add_command(status)


# -- processes -------------------------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Web request threads.")
@click.option("--jobs/--no-jobs", default=True, show_default=True,
              help="With the embedded engine, run the scheduler and job threads here too.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, jobs: bool) -> None:
    """Serve the API and webhooks; with the embedded engine, run schedules and jobs too."""
    from .serve import serve as run_server

    run_server(_runtime(ctx), host=host, port=port, threads=threads, jobs=jobs)


@click.command()
@click.option("--concurrency", default=4, show_default=True, type=int, help="Jobs run at once in this process.")
@click.option("--metrics-port", default=None, type=int, help="Serve Prometheus metrics on this port.")
@click.pass_context
def worker(ctx: click.Context, concurrency: int, metrics_port: int | None) -> None:
    """Run jobs: a procrastinate worker, or more embedded worker threads beside `tether serve` (same database)."""
    from .serve import work

    work(_runtime(ctx), concurrency=concurrency, metrics_port=metrics_port)


# -- jobs ------------------------------------------------------------------------------------


@click.group()
def jobs() -> None:
    """Scheduled and queued jobs."""


@jobs.command("list")
@click.option("--tenant", "tenant_id", default=None, help="Only this tenant.")
@click.pass_context
def jobs_list(ctx: click.Context, tenant_id: str | None) -> None:
    """Each tenant's schedules (timing, source, state, next and last run) and the queue."""
    from ..tenants import get_tenant
    from . import engine_for
    from .schedules import load_schedules, refresh_all

    rt = _runtime(ctx)
    rt.store.check_current()
    if tenant_id:
        get_tenant(rt.store, tenant_id)
    refreshed = refresh_all(rt.store, rt.host, [tenant_id] if tenant_id else None)
    rows = load_schedules(rt.store, [tenant_id] if tenant_id else None)
    next_runs = _next_runs(rt, rows)
    last_runs = _last_runs(rt.store, rows)
    table = Table("tenant", "job", "object", "timing", "from", "state", "next run", "last run")
    for row in rows:
        state = "paused" if row.paused else ("disabled" if not row.enabled else "active")
        if row.collapsed_fires:  # fires faster than its jobs get done
            state += f" ({row.collapsed_fires} collapsed)"
        key = (row.tenant_id, row.job, row.object_name or None)
        last = last_runs.get(key)
        table.add_row(row.tenant_id, row.job, row.object_name or "-", _timing(row), row.source, state,
                      _when(next_runs.get(key)) if state.startswith("active") else "-",
                      f"{last[0]} {_when(last[1])}" if last else "never")
    console = _console()
    console.print(table)
    for tenant, result in sorted(refreshed.items()):
        for problem in result.problems:
            console.print(f"[yellow]{tenant}:[/] {problem}", highlight=False)
    summary = engine_for(rt).summary()
    console.print(f"queue ({rt.settings.job_engine}): {summary.waiting} waiting, {summary.running} running, "
                  f"{summary.failed_last_day} failed in the last 24 h")


@jobs.command("run")
@click.argument("tenant_id")
@click.argument("job")
@click.option("--object", "object_name", default=None, help="The object, for per-object jobs (sync, reconcile).")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
              help="A job argument, e.g. full=true for sync or max_delete_share=1 for reconcile.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for the job to finish.")
@click.option("--here", is_flag=True, help="Run it in this process (embedded engine), respecting its lock.")
@click.option("--timeout", default=3600, show_default=True, type=float, help="Seconds to wait.")
@click.pass_context
def jobs_run(ctx: click.Context, tenant_id: str, job: str, object_name: str | None, args: tuple[str, ...],
             wait: bool, here: bool, timeout: float) -> None:
    """Queue a job now (deduplicated against one already waiting) and report how it ends."""
    from . import engine_for
    from .base import JobRequest
    from .kinds import job_catalog, resolve, synced_objects

    rt = _runtime(ctx)
    rt.store.check_current()
    tenant = rt.context(tenant_id)
    kind = resolve(tenant, job, job_catalog(tenant))
    connector = None
    if kind.per_object:
        objects = synced_objects(tenant)
        if not object_name:
            raise JobError(f"job {job!r} runs per object: name one with --object",
                           hint=f"objects of {tenant_id}: {', '.join(o.object_name for o in objects) or 'none'}")
        match = [o for o in objects if o.object_name.lower() == object_name.lower()]
        if not match:
            raise JobError(f"tenant {tenant_id!r} does not sync {object_name!r}",
                           hint=f"objects: {', '.join(o.object_name for o in objects) or 'none'}")
        object_name, connector = match[0].object_name, match[0].connector
    elif object_name:
        raise JobError(f"job {job!r} does not run per object; drop --object")
    request = JobRequest(tenant_id=tenant_id, job=job, object_name=object_name, connector=connector,
                         args=_parse_args(args), origin="manual")
    engine = engine_for(rt)
    if here and rt.settings.job_engine != "embedded":
        raise JobError("--here runs a job of the embedded engine; with procrastinate, a `tether worker` runs it")
    result = engine.enqueue(request)
    console = _console()
    if not result.queued:
        console.print(f"{request.describe()}: an identical job is already waiting; it will do this work")
        if not here:
            return
    else:
        console.print(f"{request.describe()}: queued (job {result.job_id})")
    if here:
        job_id = result.job_id if result.queued else None
        ran = engine.run_pending(limit=1, job_id=job_id) if job_id else 0
        if not ran:
            raise JobError(f"{request.describe()} cannot start now: a job with the same lock is running",
                           hint="it runs as soon as the lock is free, in `tether serve`")
    if wait or here:
        _report_outcome(rt, request, result.job_id, timeout)


@jobs.command("pause")
@click.argument("tenant_id")
@click.argument("job", required=False)
@click.option("--object", "object_name", default=None, help="Only this object's schedule.")
@click.pass_context
def jobs_pause(ctx: click.Context, tenant_id: str, job: str | None, object_name: str | None) -> None:
    """Stop a tenant's schedules firing (all, one job, or one object's); survives restarts."""
    _set_paused(ctx, tenant_id, job, object_name, True)


@jobs.command("resume")
@click.argument("tenant_id")
@click.argument("job", required=False)
@click.option("--object", "object_name", default=None, help="Only this object's schedule.")
@click.pass_context
def jobs_resume(ctx: click.Context, tenant_id: str, job: str | None, object_name: str | None) -> None:
    """Let paused schedules fire again (from their next fire time; missed ones are skipped)."""
    _set_paused(ctx, tenant_id, job, object_name, False)


def _set_paused(ctx, tenant_id: str, job: str | None, object_name: str | None, paused: bool) -> None:
    from ..tenants import get_tenant
    from .schedules import refresh_all, set_paused

    rt = _runtime(ctx)
    rt.store.check_current()
    get_tenant(rt.store, tenant_id)
    refresh_all(rt.store, rt.host, [tenant_id])
    changed = set_paused(rt.store, tenant_id, paused, job=job, object_name=object_name)
    what = " ".join(filter(None, [job, object_name])) or "every schedule"
    verb = "paused" if paused else "resumed"
    _console().print(f"{tenant_id}: {what} {verb} ({changed} schedule{'s' if changed != 1 else ''} changed)"
                     if changed else f"{tenant_id}: {what} already {verb}")


# -- status ------------------------------------------------------------------------------------


@click.command()
@click.argument("tenant_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def status(ctx: click.Context, tenant_id: str | None, as_json: bool) -> None:
    """Per tenant: last sync per object, lag, failures, API quota, inbox and outbox."""
    from ..tenants import get_tenant, list_tenants
    from .status import format_lag, tenant_status

    rt = _runtime(ctx)
    rt.store.check_current()
    ids = [get_tenant(rt.store, tenant_id).id] if tenant_id else [t.id for t in list_tenants(rt.store)]
    reports = [tenant_status(rt.store, t) for t in ids]
    console = _console()
    if as_json:
        console.print_json(json.dumps([_as_json(r) for r in reports]))
        return
    if not tenant_id:
        table = Table("tenant", "objects", "worst lag", "never synced", "failures 24h", "API calls 24h", "quota",
                      "inbox", "outbox", "paused")
        for r in reports:
            table.add_row(r.tenant_id, str(len(r.objects)), format_lag(r.worst_lag) if r.objects else "-",
                          ", ".join(r.never_synced) or "-", str(r.failures_24h), str(r.api_calls_24h), _quota(r.quota),
                          _queue(r.inbox_pending, r.inbox_failed), _queue(r.outbox_pending, r.outbox_failed),
                          str(r.paused_schedules))
        console.print(table)
        return
    [r] = reports
    table = Table("connector", "object", "last sync", "status", "lag", "records", "error")
    for o in r.objects:
        table.add_row(o.connector, o.object_name, _when(o.last_run_at), o.last_status or "-", format_lag(o.lag),
                      str(o.records_last_run), (o.error or "")[:120])
    console.print(table)
    console.print(f"API calls in 24 h: {r.api_calls_24h}; quota: {_quota(r.quota)}; "
                  f"inbox: {_queue(r.inbox_pending, r.inbox_failed)}; outbox: {_queue(r.outbox_pending, r.outbox_failed)}; "
                  f"paused schedules: {r.paused_schedules}")
    if r.failures:
        failures = Table("job", "object", "failures 24h", "latest", "error")
        for f in r.failures:
            failures.add_row(f.job, f.object_name or "-", str(f.count), _when(f.at), (f.error or "")[:160])
        console.print(failures)


# -- helpers -------------------------------------------------------------------------------------


def _parse_args(pairs: tuple[str, ...]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise JobError(f"--arg {pair!r} is not KEY=VALUE", hint="e.g. --arg full=true")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def _report_outcome(rt, request, job_id: int | None, timeout: float) -> None:
    """Wait until the job's run shows up finished, then print it (non-zero exit if it failed)."""
    from sqlalchemy import select

    from ..store.models import JobRun

    started = utcnow() - dt.timedelta(seconds=1)
    deadline = time.monotonic() + timeout
    console = _console()
    while time.monotonic() < deadline:
        with rt.store.tenant_session(request.tenant_id) as session:
            query = select(JobRun).where(JobRun.kind == request.job, JobRun.started_at >= started,
                                         JobRun.status != "running")
            if request.object_name:
                query = query.where(JobRun.object_name == request.object_name)
            run = session.scalars(query.order_by(JobRun.id.desc())).first()
        if run is not None and not (run.details or {}).get("will_retry"):
            counts = [f"{label} {value}" for label, value in (
                ("read", run.records_read), ("applied", run.records_applied), ("deleted", run.records_deleted),
                ("API calls", run.api_calls)) if value]
            line = (f"{request.describe()}: {run.status} in {(run.finished_at - run.started_at).total_seconds():.1f}s"
                    + (f" ({', '.join(counts)})" if counts else ""))
            console.print(line)
            if run.status == "failed":
                raise TetherError(f"{request.describe()} failed: {run.error}")
            return
        time.sleep(0.5)
    raise JobError(f"{request.describe()} did not finish within {timeout:.0f}s",
                   hint="is `tether serve` (embedded engine) or a `tether worker` running? see `tether jobs list`")


def _next_runs(rt, rows) -> dict[tuple, dt.datetime | None]:
    if rt.settings.job_engine != "embedded":
        return {(r.tenant_id, r.job, r.object_name or None): r.next_run_at for r in rows}
    from sqlalchemy import inspect, text

    with rt.store.engine.connect() as connection:
        if not inspect(connection).has_table("apscheduler_jobs"):
            return {}
        stored = dict(connection.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all())
    result = {}
    for r in rows:
        stamp = stored.get(f"{r.tenant_id}|{r.job}|{r.object_name}")
        result[(r.tenant_id, r.job, r.object_name or None)] = (
            dt.datetime.fromtimestamp(stamp, dt.timezone.utc) if stamp is not None else None)
    return result


def _last_runs(store, rows) -> dict[tuple, tuple[str, dt.datetime]]:
    from sqlalchemy import func, select

    from ..store.models import JobRun

    tenants = sorted({r.tenant_id for r in rows})
    if not tenants:
        return {}
    with store.admin_session() as session:
        latest = select(func.max(JobRun.id)).where(JobRun.tenant_id.in_(tenants)).group_by(
            JobRun.tenant_id, JobRun.kind, JobRun.object_name)
        found = session.scalars(select(JobRun).where(JobRun.id.in_(latest))).all()
    return {(r.tenant_id, r.kind, r.object_name): (r.status, r.started_at) for r in found}


def _timing(row) -> str:
    from .timing import describe

    return describe(row.every_seconds, row.cron) + (f" ({row.timezone})" if row.cron and row.timezone != "UTC" else "")


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _quota(quota: tuple[int, int] | None) -> str:
    return f"{quota[0]}/{quota[1]} ({quota[0] / quota[1]:.0%})" if quota and quota[1] else "unknown"


def _queue(pending: int, failed: int) -> str:
    return f"{pending} waiting" + (f", {failed} failed" if failed else "")


def _as_json(r) -> dict[str, Any]:
    return {
        "tenant": r.tenant_id,
        "objects": [{"connector": o.connector, "object": o.object_name, "last_run_at": _iso(o.last_run_at),
                     "last_status": o.last_status, "last_success_at": _iso(o.last_success_at),
                     "lag_seconds": o.lag.total_seconds() if o.lag else None, "records_last_run": o.records_last_run,
                     "error": o.error} for o in r.objects],
        "failures_24h": [{"job": f.job, "object": f.object_name, "count": f.count, "latest_at": _iso(f.at),
                          "error": f.error} for f in r.failures],
        "api_calls_24h": r.api_calls_24h, "quota": list(r.quota) if r.quota else None,
        "inbox": {"pending": r.inbox_pending, "failed": r.inbox_failed},
        "outbox": {"pending": r.outbox_pending, "failed": r.outbox_failed},
        "paused_schedules": r.paused_schedules,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
