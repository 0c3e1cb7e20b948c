"""``tether scores …``: run scoring and inspect scorecards and scores from the command line."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from tether.core.domain_cli import require_current_schema
from tether.core.errors import TetherError
from tether.core.runtime import Runtime

from . import health
from .definitions import ENTITY_KINDS, PLUGIN, effective_scorecards
from .health import weight_shares
from .runner import run_scoring

console = Console()


def _tenant(ctx: click.Context, tenant_id: str):
    rt = ctx.ensure_object(Runtime)
    require_current_schema(rt.store)
    tenant = rt.context(tenant_id)
    if not tenant.is_enabled(PLUGIN):
        raise TetherError(f"the scorecards plugin is not enabled for tenant {tenant_id!r}",
                          hint=f"enable it with `tether plugins enable {tenant_id} scorecards`")
    return tenant


def _score(value) -> str:
    return "N/A" if value is None else f"{value:.1f}"


@click.group("scores")
def scores() -> None:
    """Health scores (Scorecards plugin)."""


@scores.command("run")
@click.argument("tenant_id")
@click.pass_context
def scores_run(ctx: click.Context, tenant_id: str) -> None:
    """Score every company and relationship now."""
    report = run_scoring(_tenant(ctx, tenant_id), trigger="on_demand")
    console.print(f"scored {report.scored or 'nothing (no scorecards)'} in {report.seconds:.2f}s; "
                  f"N/A: {report.not_applicable}; snapshot: {'yes' if report.snapshot else 'no'}; "
                  f"overrides ended: {report.overrides_ended}")
    for card, keys in report.missing_measures.items():
        console.print(f"[yellow]warning:[/] scorecard {card!r} uses measures no enabled plugin offers: "
                      f"{', '.join(keys)} (scored as N/A)", highlight=False)


@scores.command("scorecards")
@click.argument("tenant_id")
@click.pass_context
def scores_scorecards(ctx: click.Context, tenant_id: str) -> None:
    """List scorecards and each measure's share of the overall score."""
    tenant = _tenant(ctx, tenant_id)
    with tenant.session() as session:
        cards, source = effective_scorecards(tenant, session)
    console.print(f"scorecards defined in: {'the tenant manifest' if source == 'config' else 'the API'}")
    for card in cards:
        shares = weight_shares(card)
        kind = "default" if card.get("default") else f"priority {card.get('priority', 100)}"
        table = Table("measure", "group", "weight", "share %", title=f"{card['name']} ({card['entity']}, {kind})")
        for measure in card["measures"]:
            table.add_row(measure["key"], measure.get("group") or "", f"{measure.get('weight', 1):g}",
                          f"{shares[measure['key']]:.1f}")
        console.print(table)


@scores.command("list")
@click.argument("tenant_id")
@click.option("--entity", type=click.Choice(ENTITY_KINDS), default="company", show_default=True)
@click.option("--label", default=None, help="Only scores in this range (e.g. Red).")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.pass_context
def scores_list(ctx: click.Context, tenant_id: str, entity: str, label: str | None, limit: int) -> None:
    """List current scores."""
    rows = health.list_scores(_tenant(ctx, tenant_id), entity, label=label, scorecard=None, after=None, limit=limit)
    table = Table(entity, "scorecard", "score", "range", "trend", "exception")
    for row in rows:
        table.add_row(str(row["entity_id"]), row["scorecard"], _score(row["score"]), row["label"] or "",
                      row["trend"] or "", row["exception"] or "")
    console.print(table)


@scores.command("show")
@click.argument("tenant_id")
@click.argument("entity", type=click.Choice(ENTITY_KINDS))
@click.argument("entity_id", type=int)
@click.pass_context
def scores_show(ctx: click.Context, tenant_id: str, entity: str, entity_id: int) -> None:
    """One entity's score with its measures."""
    detail = health.score_detail(_tenant(ctx, tenant_id), entity, entity_id)
    console.print(f"{entity} {entity_id}: {_score(detail['score'])} {detail['label'] or ''} "
                  f"(trend {detail['trend'] or '-'}, scorecard {detail['scorecard']})")
    table = Table("measure", "group", "share %", "score", "range")
    for measure in detail["measures"]:
        table.add_row(measure["label"], measure["group"] or "", f"{measure['share']:.1f}", _score(measure["score"]),
                      measure["range"] or "")
    console.print(table)
    if detail["exception"]:
        console.print(f"exception applied: {detail['exception']}")
    for override in detail["overrides"]:
        console.print(f"override by {override['author']}: {override['measure'] or 'overall'} = {override['score']}")
