"""``tether timeline …``: read a tenant's timeline and its activity types from the command line."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from tether.core.contracts import TimelineQuery
from tether.core.domain_cli import require_current_schema
from tether.core.errors import TetherError
from tether.core.runtime import Runtime

from . import activities
from .activities import PLUGIN
from .feed import timeline_page

console = Console()


def _tenant(ctx: click.Context, tenant_id: str):
    rt = ctx.ensure_object(Runtime)
    require_current_schema(rt.store)
    tenant = rt.context(tenant_id)
    if not tenant.is_enabled(PLUGIN):
        raise TetherError(f"the timeline plugin is not enabled for tenant {tenant_id!r}",
                          hint=f"enable it with `tether plugins enable {tenant_id} timeline`")
    return tenant


@click.group("timeline")
def timeline() -> None:
    """Timeline activities (Timeline plugin)."""


@timeline.command("list")
@click.argument("tenant_id")
@click.option("--company", "company_id", type=int, default=None)
@click.option("--relationship", "relationship_id", type=int, default=None)
@click.option("--opportunity", "opportunity_id", type=int, default=None)
@click.option("--type", "types", multiple=True, help="Only this activity type (repeatable).")
@click.option("--author", default=None)
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.pass_context
def timeline_list(ctx: click.Context, tenant_id: str, company_id, relationship_id, opportunity_id, types, author,
                  limit: int) -> None:
    """Show the newest activities from tether and every plugin feed."""
    tenant = _tenant(ctx, tenant_id)
    query = TimelineQuery(company_id=company_id, relationship_id=relationship_id, opportunity_id=opportunity_id,
                          types=tuple(types), author=author, limit=limit)
    page = timeline_page(tenant, query)
    table = Table("when (UTC)", "type", "subject", "by", "company", "relationship", "source")
    for item in page.items:
        table.add_row(f"{item.occurred_at:%Y-%m-%d %H:%M}", item.type, item.subject, item.author or "",
                      str(item.company_id or ""), str(item.relationship_id or ""), item.source)
    console.print(table)
    if page.next_cursor:
        console.print("(more: raise --limit, or page with the API)")


@timeline.command("types")
@click.argument("tenant_id")
@click.pass_context
def timeline_types(ctx: click.Context, tenant_id: str) -> None:
    """List activity types and their scope."""
    with _tenant(ctx, tenant_id).session() as session:
        rows = activities.list_types(session)
    table = Table("id", "name", "scope", "relationship type", "description")
    for row in rows:
        table.add_row(str(row["id"] or "-"), row["name"], row["scope"], str(row["relationship_type_id"] or ""),
                      row["description"])
    console.print(table)
