"""``tether cockpit …``: run the rules, poll task completions and list CTAs from the command line."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from tether.core.domain_cli import require_current_schema
from tether.core.errors import TetherError
from tether.core.runtime import Runtime

from .config import PLUGIN, settings_of
from .listing import list_ctas
from .rule_runs import run_rules
from .tasks_sync import poll_task_status

console = Console()


def _tenant(ctx: click.Context, tenant_id: str):
    rt = ctx.ensure_object(Runtime)
    require_current_schema(rt.store)
    tenant = rt.context(tenant_id)
    if not tenant.is_enabled(PLUGIN):
        raise TetherError(f"the cockpit plugin is not enabled for tenant {tenant_id!r}",
                          hint=f"enable it with `tether plugins enable {tenant_id} cockpit`")
    return tenant


@click.group("cockpit")
def cockpit() -> None:
    """Calls to action, playbooks and rules (Cockpit plugin)."""


@cockpit.command("run-rules")
@click.argument("tenant_id")
@click.option("--rule", "names", multiple=True, help="Only this rule (repeatable); every enabled rule by default.")
@click.pass_context
def cockpit_run_rules(ctx: click.Context, tenant_id: str, names: tuple[str, ...]) -> None:
    """Run the rules now and show what each opened."""
    report = run_rules(_tenant(ctx, tenant_id), only=list(names) or None)
    table = Table("rule", "condition", "status", "occurrences", "started", "ended", "opened", "already open",
                  "seconds")
    for item in report["rules"]:
        table.add_row(item["rule"], item["condition"], item["status"] if not item["error"] else
                      f"{item['status']}: {item['error']}", *(str(item[k]) for k in (
                          "occurrences", "started", "ended", "opened", "already_open", "seconds")))
    console.print(table)
    console.print(f"{report['opened']} CTAs opened in {report['seconds']:.2f} s")
    if report["failed"]:
        raise TetherError(f"{report['failed']} rule(s) failed", hint="see the status column")


@cockpit.command("sync-tasks")
@click.argument("tenant_id")
@click.pass_context
def cockpit_sync_tasks(ctx: click.Context, tenant_id: str) -> None:
    """Complete tasks whose Salesforce Task was completed (the task status poll)."""
    result = poll_task_status(_tenant(ctx, tenant_id))
    if result["status"] == "off":
        raise TetherError(f"task sync is off for tenant {tenant_id!r}",
                          hint="set plugins: cockpit: config: task_sync: true in the tenant manifest and apply it")
    console.print(f"{result['checked']} synced open tasks checked, {result['completed']} completed in Salesforce")


@cockpit.command("list")
@click.argument("tenant_id")
@click.option("--owner", default="any", show_default=True, help="A username, or 'any'.")
@click.option("--status", default="open", show_default=True, help="open, closed, all, or statuses (comma-separated).")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_context
def cockpit_list(ctx: click.Context, tenant_id: str, owner: str, status: str, limit: int) -> None:
    """List CTAs, soonest due first."""
    tenant = _tenant(ctx, tenant_id)
    page = list_ctas(tenant, settings_of(tenant), {"owner": owner, "status": status.split(","), "limit": limit},
                     username="")
    table = Table("id", "due", "priority", "status", "type", "name", "company", "relationship", "owner", "tasks")
    for item in page["items"]:
        rel = item["relationship"]
        table.add_row(str(item["id"]), str(item["due_date"] or ""), item["priority"], item["status_label"],
                      item["type"], item["name"], item["company"]["name"], rel["name"] if rel else "",
                      item["owner"] or "", f"{item['tasks']['open']}/{item['tasks']['total']} open")
    console.print(table)
