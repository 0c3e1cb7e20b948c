"""``tether renewals``: forecast, metrics, risk, train and the whole report from the shell."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..errors import InvalidFields, TetherError
from .analytics import Selection, forecast, metrics
from .report import forecast_table, metrics_table, print_renewal_center, riskiest_table
from .risk import risk_list
from .scoring import train_and_score

console = Console()


def _tenant(ctx: click.Context, tenant_id: str):
    from ..runtime import Runtime

    return ctx.ensure_object(Runtime).context(tenant_id)


def _selection(period: str, after: int, dimension: str | None = None, filters: str | None = None) -> Selection:
    parsed: Any = None
    if filters:
        try:
            parsed = json.loads(filters)
        except ValueError:
            raise TetherError(f"--filters is not JSON: {filters!r}",
                              hint='e.g. --filters \'[{"field": "segment", "op": "eq", "value": "SMB"}]\'') from None
    try:
        return Selection.parse(period=period, after=after, dimension=dimension, filters=parsed)
    except InvalidFields as exc:
        raise TetherError(exc.message, hint="see `tether renewals --help`") from exc


def _default(value: Any) -> Any:
    return str(value) if not isinstance(value, (dict, list)) else value


period_option = click.option("--period", default="current_quarter", show_default=True,
                             help="2025-03, FY2025-Q2, FY2025, current_quarter, next_quarter, ...")
after_option = click.option("--after", default=1, show_default=True, help="Also this many periods after it.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.group()
def renewals() -> None:
    """Renewal Center: forecast, GRR/NRR, risk and the risk model."""


@renewals.command("forecast")
@click.argument("tenant_id")
@period_option
@after_option
@click.option("--dimension", default=None, help="Break down by owner, csm, segment, company.attr.NAME ...")
@click.option("--filters", default=None, help="JSON list of filters.")
@json_option
@click.pass_context
def forecast_command(ctx, tenant_id, period, after, dimension, filters, as_json):
    """Forecast per period: due, won, lost, open, scenarios."""
    report = forecast(_tenant(ctx, tenant_id), _selection(period, after, dimension, filters))
    if as_json or dimension:
        console.print_json(json.dumps(report, default=_default))
    else:
        console.print(forecast_table(report))


@renewals.command("metrics")
@click.argument("tenant_id")
@period_option
@click.option("--after", default=0, show_default=True, help="Also this many periods after it.")
@click.option("--dimension", default=None)
@click.option("--filters", default=None, help="JSON list of filters.")
@json_option
@click.pass_context
def metrics_command(ctx, tenant_id, period, after, dimension, filters, as_json):
    """GRR and NRR in both families (renewal cohort, ARR cohort)."""
    report = metrics(_tenant(ctx, tenant_id), _selection(period, after, dimension, filters))
    if as_json or dimension:
        console.print_json(json.dumps(report, default=_default))
    else:
        console.print(metrics_table(report))


@renewals.command("risk")
@click.argument("tenant_id")
@period_option
@after_option
@click.option("--limit", default=10, show_default=True)
@json_option
@click.pass_context
def risk_command(ctx, tenant_id, period, after, limit, as_json):
    """Open renewals, riskiest first, with factors and rule flags."""
    report = risk_list(_tenant(ctx, tenant_id), _selection(period, after), limit=limit)
    if as_json:
        console.print_json(json.dumps(report, default=_default))
        return
    console.print(riskiest_table(report))
    console.print(f"model: {report['model']['message'] or report['model']['status']}")


@renewals.command("train")
@click.argument("tenant_id")
@click.pass_context
def train_command(ctx, tenant_id):
    """Train a new risk model version now and rescore open renewals."""
    result = train_and_score(_tenant(ctx, tenant_id))
    version = result["version"]
    console.print(f"version {version['version']}: {version['status']}: {version['message']}")
    if version["status"] != "trained":
        return
    m = version["metrics"]
    console.print(f"holdout ({m['holdout_rows']} renewals): ROC AUC {m['roc_auc']} (baseline 0.5), "
                  f"PR AUC {m['pr_auc']} (baseline {m['baseline']['pr_auc']}), "
                  f"Brier {m['brier']} (baseline {m['baseline']['brier']})")
    table = Table("feature", "share", "direction", "permutation ROC AUC drop", title="Global importance",
                  title_justify="left")
    for item in version["importance"]:
        table.add_row(item["label"], f"{item['share']:.1%}", item["direction"],
                      "—" if item["permutation_roc_auc_drop"] is None else f"{item['permutation_roc_auc_drop']:.4f}")
    console.print(table)
    console.print(f"scored {result['scored']['scored']} open renewals")


@renewals.command("report")
@click.argument("tenant_id")
@click.pass_context
def report_command(ctx, tenant_id):
    """Forecast for this and next quarter, GRR/NRR, and the five riskiest renewals."""
    print_renewal_center(_tenant(ctx, tenant_id), console)


def register(cli: click.Group) -> None:
    cli.add_command(renewals)
