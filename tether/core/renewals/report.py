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
from rich.text import Text

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
    """Figures down, periods across: a few periods fit a narrow terminal however large the amounts."""
    basis = f"{report['currency']} {report['basis']}"
    table = Table(title=f"Renewal forecast ({basis})", title_justify="left")
    table.add_column("")
    for entry in report["periods"]:
        table.add_column(entry["period"]["label"], justify="right")
    figures = [entry["figures"] for entry in report["periods"]]
    rows = [
        ("due (count)", lambda f: f"{money(f['due']['amount'])} ({f['due']['count']})"),
        ("won", lambda f: money(f["won"]["amount"])),
        ("lost", lambda f: money(f["lost"]["amount"])),
        ("open", lambda f: money(f["open"]["amount"])),
        ("open without forecast", lambda f: str(f["open"]["missing_forecast"])),
        ("renewal forecast", lambda f: money(f["renewal_forecast"])),
        ("scenario high", lambda f: money(f["scenarios"]["high"])),
        ("scenario medium", lambda f: money(f["scenarios"]["medium"])),
        ("scenario low", lambda f: money(f["scenarios"]["low"])),
        ("CRM probability", lambda f: money(f["scenarios"]["crm_probability"])),
        ("reps' calls", lambda f: money(f["rep_call_forecast"])),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(f) for f in figures))
    return table


def metrics_table(report: dict[str, Any]) -> Table:
    table = Table(title="Retention: GRR and NRR in both families", title_justify="left",
                  caption="renewal cohort: renewed ÷ due in the period · ARR cohort: of the ARR in force at its start",
                  caption_justify="left")
    for column in ("period", "family", "GRR", "NRR", "base", "note"):
        table.add_column(column, justify="right" if column in ("GRR", "NRR", "base") else "left")
    for entry in report["periods"]:
        families = entry["families"]
        renewal = families["renewal_cohort"]
        table.add_row(entry["period"]["label"], "renewal cohort",
                      rate(renewal["rates"]["grr"]["value"]), rate(renewal["rates"]["nrr"]["value"]),
                      money(renewal["figures"]["renewals_due"]), renewal["rates"]["grr"].get("note", ""))
        arr = families["arr_cohort"]
        table.add_row("", "ARR cohort", rate(arr["rates"]["arr_grr"]["value"]),
                      rate(arr["rates"]["arr_nrr"]["value"]), money(arr["figures"]["arr_start"]),
                      arr["rates"]["arr_grr"].get("note", "")
                      or (f"{money(arr['figures']['arr_undecided'])} still open" if arr["figures"]["arr_undecided"] else ""))
    return table


def _factors(item: dict[str, Any], top: int = 3) -> str:
    return "; ".join(f"{factor['effect'] * 100:+.0f} pts {factor['label']}" for factor in item["factors"][:top]) or "—"


def riskiest_table(report: dict[str, Any]) -> Table:
    """The riskiest renewals as short indented blocks rather than table rows: their top
    factors are long, and a table would fold them into a narrow column."""
    grid = Table.grid(padding=(0, 1))
    grid.title, grid.title_justify = "Riskiest open renewals", "left"
    grid.add_column(justify="right")
    grid.add_column()
    for rank, item in enumerate(report["items"], 1):
        due = item["due_date"].isoformat() if item["due_date"] else "—"
        flags = ", ".join(flag["label"] for flag in item["flags"]) or "none"
        block = Text()
        block.append(item["name"], style="bold")
        block.append(f" · {item['company'] or '—'}\n")
        block.append(f"due {due} · target {money(item['target_amount'])} · likelihood {rate(item['likelihood'])}"
                     f" · flags: {flags}\n")
        block.append(f"top factors: {_factors(item)}", style="dim")
        grid.add_row(f"{rank}.", block)
    if not report["items"]:
        grid.add_row("", "no open renewals in these periods")
    return grid


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
    console.print(riskiest_table(risk_report))
    if risk_report["model"].get("version") is None:
        console.print(f"[yellow]{risk_report['model']['message']}[/]")
    return {"forecast": forecast_report, "metrics": metrics_report, "risk": risk_report}
