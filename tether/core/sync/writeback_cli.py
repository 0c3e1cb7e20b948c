"""Write-back commands under ``tether sync``: push, inbox, failures, retry, conflicts, resolve.

    tether sync push TENANT            push waiting local changes now
    tether sync inbox TENANT           apply stored webhook notifications now
    tether sync failures TENANT        changes Salesforce refused, and notifications that failed
    tether sync retry TENANT [--id N]  queue failed changes again (after fixing the cause)
    tether sync conflicts TENANT       fields changed on both sides (open ones; --all for history)
    tether sync resolve TENANT ID --keep local|remote   (or --value V)

Exit status of push and inbox: 0 success, 1 failed, 2 throttled by the quota guard.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import DomainError

console = Console()
STYLE = {"success": "green", "throttled": "yellow", "failed": "red"}


def _tenant(ctx: click.Context, tenant_id: str):
    from .cli import _context

    return _context(ctx, tenant_id)


def _short(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[:width - 1] + "…"


def _exit_for(status: str) -> None:
    if status == "failed":
        sys.exit(1)
    if status == "throttled":
        sys.exit(2)


@click.command("push")
@click.argument("tenant_id")
@click.option("--connector", default=None, help="Only this connector's changes.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many records.")
@click.pass_context
def push_command(ctx: click.Context, tenant_id: str, connector: str | None, limit: int | None) -> None:
    """Push the tenant's waiting local changes to Salesforce now."""
    from .push import PushOptions, push_outbox

    result = push_outbox(_tenant(ctx, tenant_id), connector=connector, options=PushOptions(limit=limit))
    table = Table("status", "entries", "pushed", "deleted", "skipped (no change)", "failed", "will retry",
                  "held (conflict)", "cancelled", "API calls", "error")
    table.add_row(Text(result.status, style=STYLE.get(result.status, "")), f"{result.records_read:,}",
                  f"{result.records_applied:,}", f"{result.records_deleted:,}", f"{result.skipped:,}",
                  f"{result.failed:,}", f"{result.retrying:,}", f"{result.held:,}", f"{result.cancelled:,}",
                  f"{result.api_calls:,}", result.error or "")
    console.print(table)
    if result.failed:
        console.print(f"[yellow]{result.failed} record(s) refused; see `tether sync failures {tenant_id}`[/]")
    _exit_for(result.status)


@click.command("inbox")
@click.argument("tenant_id")
@click.pass_context
def inbox_command(ctx: click.Context, tenant_id: str) -> None:
    """Apply the tenant's stored Outbound Message notifications now."""
    from .inbox import process_inbox

    result = process_inbox(_tenant(ctx, tenant_id))
    table = Table("status", "notifications", "applied", "deleted", "stale", "echo", "ignored", "failed",
                  "read by id", "API calls", "error")
    table.add_row(Text(result.status, style=STYLE.get(result.status, "")), f"{result.records_read:,}",
                  f"{result.records_applied:,}", f"{result.records_deleted:,}", f"{result.stale:,}",
                  f"{result.echoes:,}", f"{result.ignored:,}", f"{result.failed:,}", f"{result.fetched:,}",
                  f"{result.api_calls:,}", result.error or "")
    console.print(table)
    _exit_for(result.status)


@click.command("failures")
@click.argument("tenant_id")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_context
def failures_command(ctx: click.Context, tenant_id: str, limit: int) -> None:
    """Local changes Salesforce refused (with its message) and notifications that failed."""
    from sqlalchemy import select

    from ..store.models import InboxMessage
    from .push import failed_entries

    tenant = _tenant(ctx, tenant_id)
    entries = failed_entries(tenant, limit=limit)
    with tenant.session() as session:
        notifications = list(session.scalars(select(InboxMessage).where(InboxMessage.status == "failed")
                                             .order_by(InboxMessage.id).limit(limit)))
    if not entries and not notifications:
        console.print(f"no failures in tenant {tenant_id}")
        return
    if entries:
        table = Table("id", "object", "local id", "source id", "operation", "changes", "attempts", "error",
                      title="changes waiting for a fix (retry with `tether sync retry`)")
        for entry in entries:
            table.add_row(str(entry.id), f"{entry.connector} {entry.object_name}", str(entry.local_id or ""),
                          entry.external_id or "", entry.operation, _short(entry.changes), str(entry.attempts),
                          entry.last_error or "")
        console.print(table)
    if notifications:
        table = Table("id", "object", "record", "notification", "received", "error",
                      title="notifications that could not be applied (retry with `tether sync retry --inbox`)")
        for message in notifications:
            table.add_row(str(message.id), f"{message.connector} {message.object_name}",
                          message.record_external_id or "", message.notification_id,
                          message.received_at.strftime("%Y-%m-%d %H:%M:%S"), message.error or "")
        console.print(table)


@click.command("retry")
@click.argument("tenant_id")
@click.option("--id", "ids", type=int, multiple=True, help="Only this failed change (repeatable); default: all.")
@click.option("--inbox", is_flag=True, help="Retry failed notifications instead of failed changes.")
@click.pass_context
def retry_command(ctx: click.Context, tenant_id: str, ids: tuple[int, ...], inbox: bool) -> None:
    """Queue failed changes (or notifications) again, after fixing what was wrong."""
    tenant = _tenant(ctx, tenant_id)
    if inbox:
        from sqlalchemy import update

        from ..store.models import InboxMessage

        with tenant.transaction() as session:
            query = update(InboxMessage).where(InboxMessage.status == "failed")
            if ids:
                query = query.where(InboxMessage.id.in_(ids))
            count = session.execute(query.values(status="pending", error=None)
                                    .execution_options(synchronize_session=False)).rowcount or 0
        console.print(f"{count} notification(s) queued again; `tether sync inbox {tenant_id}` applies them now")
        return
    from .push import retry_failed

    count = retry_failed(tenant, ids=ids or None)
    if ids and count < len(ids):
        raise DomainError(f"{len(ids) - count} of the ids given are not failed changes of tenant {tenant_id!r}",
                          hint=f"list them with `tether sync failures {tenant_id}`")
    console.print(f"{count} change(s) queued again; `tether sync push {tenant_id}` pushes them now")


@click.command("conflicts")
@click.argument("tenant_id")
@click.option("--all", "show_all", is_flag=True, help="Also conflicts already resolved (by policy or by hand).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.pass_context
def conflicts_command(ctx: click.Context, tenant_id: str, show_all: bool, limit: int) -> None:
    """Fields changed both here and in Salesforce since they last agreed."""
    from .conflicts import list_conflicts

    tenant = _tenant(ctx, tenant_id)
    conflicts = list_conflicts(tenant, status=None if show_all else "open", limit=limit)
    if not conflicts:
        console.print(f"no {'' if show_all else 'open '}conflicts in tenant {tenant_id}")
        return
    table = Table("id", "object", "record", "field", "was", "local", "salesforce", "policy", "status", "when")
    for conflict in conflicts:
        values = conflict.values or {}
        status = "open" if conflict.status == "open" else f"kept {conflict.resolution}"
        table.add_row(str(conflict.id), f"{conflict.connector} {conflict.object_name}",
                      f"{conflict.entity} {conflict.local_id} / {conflict.external_id or '-'}",
                      conflict.field + (f" ({conflict.source_field})" if conflict.source_field else ""),
                      _short(values.get("base"), 24), _short(values.get("local"), 24),
                      _short(values.get("remote"), 24), conflict.policy,
                      Text(status, style="yellow" if conflict.status == "open" else ""),
                      conflict.created_at.strftime("%Y-%m-%d %H:%M:%S"))
    console.print(table)
    if not show_all:
        console.print(f"resolve one with `tether sync resolve {tenant_id} ID --keep local|remote` or `--value V`")


@click.command("resolve")
@click.argument("tenant_id")
@click.argument("conflict_id", type=int)
@click.option("--keep", type=click.Choice(["local", "remote"]), default=None,
              help="local: push tether's value; remote: take Salesforce's.")
@click.option("--value", default=None, help="Set this value instead (pushed to Salesforce).")
@click.option("--by", default="cli", show_default=True, help="Who resolved it (kept on the conflict).")
@click.pass_context
def resolve_command(ctx: click.Context, tenant_id: str, conflict_id: int, keep: str | None, value: str | None,
                    by: str) -> None:
    """Resolve an open conflict."""
    from .conflicts import resolve_conflict

    if (keep is None) == (value is None):
        raise DomainError("give exactly one of --keep local|remote and --value", field="keep")
    conflict = resolve_conflict(_tenant(ctx, tenant_id), conflict_id, keep=keep or "value", value=value, by=by)
    kept = {"local": "tether's value (pushed next)", "remote": "Salesforce's value",
            "value": f"{value!r} (pushed next)"}[conflict.resolution or "value"]
    console.print(f"conflict {conflict_id} on {conflict.object_name} {conflict.field}: kept {kept}")


COMMANDS = (push_command, inbox_command, failures_command, retry_command, conflicts_command, resolve_command)


def register(cli: click.Group) -> None:
    group = cli.commands.get("sync")
    if not isinstance(group, click.Group):
        raise RuntimeError("tether.core.sync.cli must be registered before tether.core.sync.writeback_cli")
    for command in COMMANDS:
        group.add_command(command)
