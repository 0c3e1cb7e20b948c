"""The Renewal Center in a terminal: forecast, GRR/NRR and the riskiest renewals.

``tether demo`` calls :func:`print_renewal_center` after syncing the fake org; the CLI's
``tether renewals report`` prints the same for any tenant.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from .analytics import Selection, forecast, metrics
from .config import today_utc
from .risk import risk_list
from .scoring import active_version, train_and_score

if TYPE_CHECKING:
    from ..plugins import TenantContext


def money(value: Any) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.0f}"


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def forecast_table(report: dict[str, Any]) -> Table:
    basis = f"{report['currency']} {report['basis']}"
    table = Table(title=f"Renewal forecast ({basis})", title_justify="left")
    for column in ("period", "due", "won", "lost", "open", "missing fcst", "forecast", "high", "medium", "low",
                   "CRM prob.", "rep calls"):
        table.add_column(column, justify="left" if column == "period" else "right")
    for entry in report["periods"]:
        f = entry["figures"]
        table.add_row(entry["period"]["label"], f"{money(f['due']['amount'])} ({f['due']['count']})",
                      money(f["won"]["amount"]), money(f["lost"]["amount"]), money(f["open"]["amount"]),
                      str(f["open"]["missing_forecast"]), money(f["renewal_forecast"]),
                      money(f["scenarios"]["high"]), money(f["scenarios"]["medium"]), money(f["scenarios"]["low"]),
                      money(f["scenarios"]["crm_probability"]), money(f["rep_call_forecast"]))
    return table


def metrics_table(report: dict[str, Any]) -> Table:
    table = Table(title="Retention: GRR and NRR in both families", title_justify="left")
    for column in ("period", "family", "GRR", "NRR", "base", "note"):
        table.add_column(column, justify="right" if column in ("GRR", "NRR", "base") else "left")
    for entry in report["periods"]:
        families = entry["families"]
        renewal = families["renewal_cohort"]
        table.add_row(entry["period"]["label"], "renewal cohort (due in period)",
                      rate(renewal["rates"]["grr"]["value"]), rate(renewal["rates"]["nrr"]["value"]),
                      money(renewal["figures"]["renewals_due"]), renewal["rates"]["grr"].get("note", ""))
        arr = families["arr_cohort"]
        table.add_row("", "ARR cohort (in force at start)", rate(arr["rates"]["arr_grr"]["value"]),
                      rate(arr["rates"]["arr_nrr"]["value"]), money(arr["figures"]["arr_start"]),
                      arr["rates"]["arr_grr"].get("note", "")
                      or (f"{money(arr['figures']['arr_undecided'])} still open" if arr["figures"]["arr_undecided"] else ""))
    return table


def _factors(item: dict[str, Any], top: int = 3) -> str:
    parts = []
    for factor in item["factors"][:top]:
        sign = "+" if factor["contribution"] > 0 else "−"
        parts.append(f"{sign} {factor['label']} ({factor['effect'] * 100:+.0f} pts)")
    return "; ".join(parts) or "—"


def risk_table(report: dict[str, Any]) -> Table:
    table = Table(title="Riskiest open renewals", title_justify="left")
    for column in ("renewal", "company", "due", "target", "likelihood", "top factors", "flags"):
        table.add_column(column, justify="right" if column in ("target", "likelihood") else "left")
    for item in report["items"]:
        table.add_row(item["name"], item["company"] or "—", item["due_date"].isoformat() if item["due_date"] else "—",
                      money(item["target_amount"]), rate(item["likelihood"]), _factors(item),
                      ", ".join(flag["label"] for flag in item["flags"]) or "—")
    return table


def print_renewal_center(tenant: "TenantContext", console: Console, *, today: dt.date | None = None,
                         train: bool = True, riskiest: int = 5) -> dict[str, Any]:
    """Print the forecast for the current and next quarter, GRR/NRR (previous and current
    quarter, both families) and the ``riskiest`` open renewals with their top factors.

    With ``train`` and no trained model yet, trains one first (or says why it cannot).
    Returns what it printed, for callers that want the figures.
    """
    today = today or today_utc()
    console.rule(f"[bold]Renewal Center[/] · {tenant.name} · {today.isoformat()}")
    forecast_report = forecast(tenant, Selection.parse(period="current_quarter", after=1), today=today)
    console.print(forecast_table(forecast_report))
    metrics_report = metrics(tenant, Selection.parse(period="previous_quarter", after=1), today=today)
    console.print(metrics_table(metrics_report))
    if train:
        with tenant.session() as session:
            has_model = active_version(session) is not None
        if not has_model:
            trained = train_and_score(tenant, today=today)
            version = trained["version"]
            if version["status"] == "trained":
                m = version["metrics"]
                console.print(f"risk model v{version['version']} trained on {version['training_rows']} closed "
                              f"renewals: holdout ROC AUC {m['roc_auc']}, PR AUC {m['pr_auc']}, Brier {m['brier']} "
                              f"(baseline Brier {m['baseline']['brier']}); {trained['scored']['scored']} open renewals scored")
            else:
                console.print(f"[yellow]{version['message']}[/]")
    risk_report = risk_list(tenant, Selection.parse(period="current_quarter", after=1), limit=riskiest, today=today)
    console.print(risk_table(risk_report))
    if risk_report["model"].get("version") is None:
        console.print(f"[yellow]{risk_report['model']['message']}[/]")
    return {"forecast": forecast_report, "metrics": metrics_report, "risk": risk_report}
