"""``tether companies …`` and ``tether relationships …``: list and inspect the customer domain."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.tree import Tree
from sqlalchemy import func, select

from . import company360, hierarchy, hierarchy_rollups, relationship_rules, relationships
from .plugins import TenantContext
from .store import Company

console = Console()


def require_current_schema(store) -> None:
    """Refuse to run on a database that misses migrations.

    Counts a revision as applied when it is an ancestor or a dependency of the applied
    heads: Alembic drops a branch's ``depends_on`` target from its version table, so
    comparing heads alone (``Store.check_current``) reports migrations as pending that
    are not.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from .errors import MigrationRequired

    script = ScriptDirectory.from_config(store.alembic_config())
    with store.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    applied = {revision.revision for revision in script.iterate_revisions(current, "base")} if current else set()
    missing = sorted({revision.revision for revision in script.walk_revisions()} - applied)
    if missing:
        raise MigrationRequired(f"database schema misses migrations {', '.join(missing)}", hint="run `tether db upgrade`")


def _context(ctx: click.Context, tenant_id: str) -> TenantContext:
    from .cli import runtime

    rt = runtime(ctx)
    require_current_schema(rt.store)
    return rt.context(tenant_id)


def _money(value: Any) -> str:
    return "" if value is None else f"{value:,.2f}"


def _health(health: dict[str, Any] | None) -> str:
    if not health:
        return ""
    score = "N/A" if health.get("score") is None else f"{health['score']:.1f}"
    arrow = {"up": " ↑", "down": " ↓", "same": " →"}.get(health.get("trend") or "", "")
    return f"{score} {health.get('label') or ''}{arrow}".strip()


@click.group("companies")
def companies() -> None:
    """Companies, their hierarchy and Company 360."""


@companies.command("list")
@click.argument("tenant_id")
@click.option("--name", default=None, help="Only companies whose name contains this.")
@click.option("--top-level", is_flag=True, help="Only companies without a parent.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.pass_context
def companies_list(ctx: click.Context, tenant_id: str, name: str | None, top_level: bool, limit: int) -> None:
    """List a tenant's companies."""
    tenant = _context(ctx, tenant_id)
    query = select(Company).where(Company.is_deleted.is_(False))
    if name:
        query = query.where(func.lower(Company.name).contains(name.lower(), autoescape=True))
    if top_level:
        query = query.where(Company.parent_id.is_(None))
    with tenant.session() as session:
        rows = list(session.scalars(query.order_by(Company.name).limit(limit)))
    health = company360.health_of(tenant, "company", [r.id for r in rows])
    table = Table("id", "name", "parent", "csm", "ARR", "health")
    for row in rows:
        table.add_row(str(row.id), row.name, str(row.parent_id or ""), row.csm or "", _money(row.arr),
                      _health(health.get(row.id)))
    console.print(table)


@companies.command("show")
@click.argument("tenant_id")
@click.argument("company_id", type=int)
@click.pass_context
def companies_show(ctx: click.Context, tenant_id: str, company_id: int) -> None:
    """Company 360: attributes, hierarchy, relationships, opportunities, health, timeline."""
    view = company360.company_360(_context(ctx, tenant_id), company_id)
    company = view["company"]
    console.print(f"[bold]{company['name']}[/] (id {company['id']})  health: {_health(view['health']) or 'none'}")
    console.print("path: " + hierarchy.ARROW.join(p["name"] for p in view["hierarchy"]["path"]))
    for key in ("industry", "segment", "csm", "lifecycle_stage"):
        if company[key]:
            console.print(f"{key}: {company[key]}")
    console.print(f"ARR {_money(company['arr'])}  MRR {_money(company['mrr'])}")
    rollup = view["hierarchy"]["rollup"]
    if rollup and rollup["companies"] > 1:
        console.print(f"with {rollup['companies'] - 1} companies below: ARR {_money(rollup['arr'])}, "
                      f"MRR {_money(rollup['mrr'])}")
    if view["relationships"]:
        table = Table("id", "type", "relationship", "csm", "ARR", "health", title="relationships")
        for rel in view["relationships"]:
            table.add_row(str(rel["id"]), rel["type_name"], rel["name"], rel["csm"] or "", _money(rel["arr"]),
                          _health(rel["health"]))
        console.print(table)
    groups = view["opportunities"]
    table = Table("id", "opportunity", "stage", "close", "amount", title=f"opportunities: {len(groups['open'])} open, "
                                                                          f"{groups['closed_total']} closed")
    for opp in groups["open"] + groups["closed"][:10]:
        table.add_row(str(opp["id"]), opp["name"], opp["stage"] or "", str(opp["close_date"] or ""),
                      _money(opp["amount"]))
    console.print(table)
    if view["timeline"]:
        table = Table("when", "type", "subject", "by", "source", title="recent timeline")
        for activity in view["timeline"]:
            table.add_row(f"{activity.occurred_at:%Y-%m-%d %H:%M}", activity.type, activity.subject,
                          activity.author or "", activity.source)
        console.print(table)


@companies.command("hierarchy")
@click.argument("tenant_id")
@click.argument("company_id", type=int)
@click.pass_context
def companies_hierarchy(ctx: click.Context, tenant_id: str, company_id: int) -> None:
    """The tree below a company, with rolled-up ARR per branch."""
    tenant = _context(ctx, tenant_id)
    with tenant.session() as session:
        path = hierarchy.path_of(session, company_id)
        tree = hierarchy.subtree(session, company_id)
        totals = hierarchy_rollups.rollups(session, [node for node in _ids(tree)])
    console.print("path: " + hierarchy.ARROW.join(p["name"] for p in path))
    root = Tree(_label(tree, totals))
    _grow(root, tree, totals)
    console.print(root)


def _ids(node: dict[str, Any]) -> list[int]:
    return [node["id"]] + [i for child in node["children"] for i in _ids(child)]


def _label(node: dict[str, Any], totals: dict[int, hierarchy_rollups.Rollup]) -> str:
    rollup = totals.get(node["id"])
    return f"{node['name']} (id {node['id']})" + (f"  ARR {_money(rollup.arr)}" if rollup else "")


def _grow(branch: Tree, node: dict[str, Any], totals: dict[int, hierarchy_rollups.Rollup]) -> None:
    for child in node["children"]:
        _grow(branch.add(_label(child, totals)), child, totals)


@companies.command("link-parents")
@click.argument("tenant_id")
@click.pass_context
def companies_link_parents(ctx: click.Context, tenant_id: str) -> None:
    """Link companies to the parents their CRM ParentId names (cycles and a sixth level refused)."""
    tenant = _context(ctx, tenant_id)
    with tenant.transaction() as session:
        report = hierarchy.link_parents(session)
    console.print(f"linked {report.linked}, unlinked {report.unlinked}, waiting for their parent {report.waiting}")
    for message in report.refused:
        console.print(f"[yellow]refused:[/] {message}", highlight=False)


@companies.command("check-hierarchy")
@click.argument("tenant_id")
@click.pass_context
def companies_check_hierarchy(ctx: click.Context, tenant_id: str) -> None:
    """Report cycles and branches deeper than five levels in stored data."""
    with _context(ctx, tenant_id).session() as session:
        problems = hierarchy.hierarchy_problems(session)
    for problem in problems:
        console.print(f"[yellow]problem:[/] {problem}", highlight=False)
    console.print("hierarchy is sound" if not problems else f"{len(problems)} problems")
    if problems:
        raise SystemExit(1)


@click.group("relationships")
def relationships_group() -> None:
    """Relationship types, relationships, rules and Relationship 360."""


@relationships_group.command("types")
@click.argument("tenant_id")
@click.pass_context
def relationships_types(ctx: click.Context, tenant_id: str) -> None:
    """List relationship types (admin-defined and plugin-contributed)."""
    tenant = _context(ctx, tenant_id)
    with tenant.session() as session:
        views = relationships.list_types(tenant, session)
    table = Table("id", "name", "source", "fields", "relationships", "description")
    for view in views:
        table.add_row(str(view.id or "-"), view.name, view.source,
                      ", ".join(f"{f['name']}:{f['type']}" for f in view.fields), str(view.relationships),
                      view.description)
    console.print(table)


@relationships_group.command("list")
@click.argument("tenant_id")
@click.option("--company", "company_id", type=int, default=None, help="Only this company's relationships.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.pass_context
def relationships_list(ctx: click.Context, tenant_id: str, company_id: int | None, limit: int) -> None:
    """List relationships with their health."""
    tenant = _context(ctx, tenant_id)
    with tenant.session() as session:
        rows = [company360.relationship_summary(r)
                for r in relationships.list_relationships(session, company_id=company_id, limit=limit)]
    health = company360.health_of(tenant, "relationship", [r["id"] for r in rows])
    table = Table("id", "company", "type", "name", "csm", "stage", "ARR", "health")
    for row in rows:
        table.add_row(str(row["id"]), str(row["company_id"]), row["type_name"], row["name"], row["csm"] or "",
                      row["stage"] or "", _money(row["arr"]), _health(health.get(row["id"])))
    console.print(table)


@relationships_group.command("show")
@click.argument("tenant_id")
@click.argument("relationship_id", type=int)
@click.pass_context
def relationships_show(ctx: click.Context, tenant_id: str, relationship_id: int) -> None:
    """Relationship 360."""
    view = company360.relationship_360(_context(ctx, tenant_id), relationship_id)
    rel = view["relationship"]
    console.print(f"[bold]{rel['name']}[/] ({view['type']['name']}) of {view['company']['name']}  "
                  f"health: {_health(view['health']) or 'none'}")
    console.print("path: " + hierarchy.ARROW.join(p["name"] for p in view["hierarchy"]["path"]))
    console.print(f"ARR {_money(rel['arr'])}  MRR {_money(rel['mrr'])}  CSM {rel['csm'] or '-'}  "
                  f"stage {rel['stage'] or '-'}  status {rel['status'] or '-'}")
    for key, value in sorted(rel["attributes"].items()):
        console.print(f"  {key}: {value}")
    groups = view["opportunities"]
    console.print(f"opportunities: {len(groups['open'])} open, {groups['closed_total']} closed")
    for activity in view["timeline"]:
        console.print(f"  {activity.occurred_at:%Y-%m-%d} {activity.type}: {activity.subject}")


@relationships_group.command("rules")
@click.argument("tenant_id")
@click.pass_context
def relationships_rules(ctx: click.Context, tenant_id: str) -> None:
    """List the rules that link opportunities to relationships, in the order they are tried."""
    with _context(ctx, tenant_id).session() as session:
        rules = relationship_rules.list_rules(session)
    table = Table("id", "priority", "name", "when", "relationship", "enabled")
    for rule in rules:
        values = ", ".join(rule.values or [])
        table.add_row(str(rule.id), str(rule.priority), rule.name, f"{rule.field} {rule.operator} {values}".strip(),
                      rule.relationship_name, "yes" if rule.enabled else "no")
    console.print(table)


@relationships_group.command("apply-rules")
@click.argument("tenant_id")
@click.option("--reassign", is_flag=True, help="Also re-examine opportunities already linked.")
@click.pass_context
def relationships_apply_rules(ctx: click.Context, tenant_id: str, reassign: bool) -> None:
    """Run the relationship rules over stored opportunities now."""
    run = relationship_rules.apply_rules_to_opportunities(_context(ctx, tenant_id), reassign=reassign)
    console.print(f"examined {run.examined} opportunities, linked {run.linked}, "
                  f"created {run.relationships_created} relationships")


def register(cli: click.Group) -> None:
    cli.add_command(companies)
    cli.add_command(relationships_group)
