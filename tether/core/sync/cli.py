"""``tether sync TENANT [--object NAME] [--full]`` and ``tether sync status TENANT``.

A sync shows one rich progress bar per object (records, records/s, ETA) and ends with a
table of runs (and the warnings of runs whose records broke a domain rule). Exit status:
0 when every run succeeded, 2 when a run was throttled by the quota guard (nothing
failed), 1 when a run failed.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..plugins import TenantContext
from .engine import SyncOptions, SyncProgress, SyncResult, sync_tenant
from .runs import recent_runs, sync_status

console = Console()
err_console = Console(stderr=True)
STATUS_STYLE = {"success": "green", "throttled": "yellow", "failed": "red", "running": "cyan"}


class RateColumn(ProgressColumn):
    """Records per second (rich's speed column is for bytes)."""

    def render(self, task: Any) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            speed = task.completed / task.elapsed
        return Text("" if speed is None else f"{speed:,.0f} rec/s", style="progress.data.speed")


class SyncGroup(click.Group):
    """``tether sync TENANT`` runs a sync; ``tether sync status TENANT`` shows state."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _context(ctx: click.Context, tenant_id: str) -> TenantContext:
    from ..cli import runtime

    rt = runtime(ctx)
    rt.store.check_current()
    return rt.context(tenant_id)


@click.group("sync", cls=SyncGroup)
def sync() -> None:
    """Pull Salesforce (and any connector) into tether: `tether sync TENANT`, `tether sync status TENANT`."""


@sync.command("run")
@click.argument("tenant_id")
@click.option("--object", "objects", multiple=True, metavar="NAME", help="Only this object (repeatable), e.g. Opportunity.")
@click.option("--connector", default=None, help="Only this connector (default: every connector of the tenant).")
@click.option("--full", is_flag=True, help="Reload from scratch instead of reading changes since the last run.")
@click.option("--page-size", default=2000, show_default=True, type=click.IntRange(1, 50_000),
              help="Records applied per transaction.")
@click.pass_context
def sync_run(ctx: click.Context, tenant_id: str, objects: tuple[str, ...], connector: str | None, full: bool,
             page_size: int) -> None:
    """Sync a tenant's mapped objects (incrementally, or --full)."""
    tenant = _context(ctx, tenant_id)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
                  TimeRemainingColumn(), console=err_console, transient=False) as progress:
        tasks: dict[tuple[str, str], TaskID] = {}

        def show(event: SyncProgress) -> None:
            key = (event.connector, event.object_name)
            if key not in tasks:
                tasks[key] = progress.add_task(f"{event.connector} {event.object_name} ({event.mode})", total=event.total)
            task = tasks[key]
            total = event.total if event.total is not None else None
            if total is not None and event.read > total:
                total = event.read  # changes arrived while reading
            progress.update(task, completed=event.read, total=total)
            if event.done:
                progress.update(task, total=event.read, completed=event.read,
                                description=f"{event.connector} {event.object_name} ({event.mode}) {event.status}")

        results = sync_tenant(tenant, connector=connector, objects=list(objects) or None, full=full,
                              options=SyncOptions(page_size=page_size, progress=show))
    _print_results(results)
    _print_warnings([run for run in recent_runs(tenant.store, tenant.id, max(len(results), 1))
                     if run.id in {r.run_id for r in results}])
    if any(r.status == "failed" for r in results):
        sys.exit(1)
    if any(r.status == "throttled" for r in results):
        sys.exit(2)


def _print_results(results: list[SyncResult]) -> None:
    table = Table("object", "mode", "status", "read", "applied", "deleted", "unchanged", "API calls", "error")
    for r in results:
        table.add_row(f"{r.connector} {r.object_name}", r.mode, Text(r.status, style=STATUS_STYLE.get(r.status, "")),
                      f"{r.records_read:,}", f"{r.records_applied:,}", f"{r.records_deleted:,}",
                      f"{r.records_unchanged:,}", f"{r.api_calls:,}", r.error or "")
    console.print(table)


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: dt.datetime | None, end: dt.datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.1f}s"


@sync.command("status")
@click.argument("tenant_id")
@click.option("--runs", "show_runs", default=0, type=click.IntRange(0, 500), help="Also list this many recent runs.")
@click.pass_context
def sync_status_command(ctx: click.Context, tenant_id: str, show_runs: int) -> None:
    """Each synced object's cursor and last run; --runs N lists recent runs."""
    tenant = _context(ctx, tenant_id)
    table = Table("object", "cursor", "initial load", "last run", "status", "read / applied / deleted",
                  "API calls", "took", "last success", "error")
    states = sync_status(tenant.store, tenant.id)
    for state in states:
        run = state.last_run
        table.add_row(
            f"{state.connector} {state.object_name}", state.cursor or "", _when(state.full_load_completed_at) or "not yet",
            f"#{run.id} {run.mode} {_when(run.started_at)}" if run else "",
            Text(run.status, style=STATUS_STYLE.get(run.status, "")) if run else "",
            f"{run.records_read:,} / {run.records_applied:,} / {run.records_deleted:,}" if run else "",
            f"{run.api_calls:,}" if run else "", _duration(run.started_at, run.finished_at) if run else "",
            _when(state.last_success.finished_at) if state.last_success else "", (run.error or "") if run else "")
    console.print(table)
    _print_warnings([state.last_run for state in states if state.last_run])
    if show_runs:
        runs = Table("run", "object", "mode", "started", "took", "status", "read", "applied", "deleted", "API calls", "error")
        for run in recent_runs(tenant.store, tenant.id, show_runs):
            runs.add_row(f"#{run.id}", f"{run.connector} {run.object_name}", run.mode or "", _when(run.started_at),
                         _duration(run.started_at, run.finished_at),
                         Text(run.status, style=STATUS_STYLE.get(run.status, "")), f"{run.records_read:,}",
                         f"{run.records_applied:,}", f"{run.records_deleted:,}", f"{run.api_calls:,}", run.error or "")
        console.print(runs)


def _print_warnings(runs: list[Any]) -> None:
    """What the domain's rules refused in each object's last run (a parent making a cycle...)."""
    for run in runs:
        details = run.details or {}
        warnings = details.get("warnings") or []
        if not warnings:
            continue
        count = details.get("warning_count", len(warnings))
        console.print(Text(f"{run.connector} {run.object_name}: {count} warning{'s' if count != 1 else ''} "
                           f"in run #{run.id}", style="yellow"))
        for warning in warnings:
            console.print(f"  - {warning}", highlight=False, soft_wrap=True)
        if count > len(warnings):
            console.print(f"  … and {count - len(warnings)} more (see the log)")


def register(cli: click.Group) -> None:
    cli.add_command(sync)
