"""Rule flags on open renewals, and the forecast page's "update needed" flags (no I/O).

Each rule reads one :class:`RenewalFacts` and says why an open renewal is at risk, with
the figures behind it. Rules that need data a plugin provides (health from Scorecards,
activity from Timeline) stay silent when no plugin provides it, and
:func:`inactive_rules` says which ones are silent and why.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Callable

from .config import RenewalConfig

ACTIVITY_FEATURE = "days_since_last_activity"


@dataclasses.dataclass(frozen=True)
class RenewalFacts:
    """What the rules know of one open renewal."""

    opportunity_id: int
    target: Decimal | None
    forecast: Decimal | None
    due_date: dt.date | None
    close_date: dt.date | None
    call_at: dt.datetime | None = None          # the current forecast call, if any
    health_score: float | None = None
    health_color: str | None = None
    has_health_source: bool = False
    days_since_activity: float | None = None
    has_activity_source: bool = False
    likelihood: float | None = None


@dataclasses.dataclass(frozen=True)
class Flag:
    code: str
    label: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _missing_forecast(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.forecast is None:
        return Flag("missing_forecast", "Missing forecast", "no forecast amount is entered")
    return None


def _forecast_below_target(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.forecast is not None and f.target and f.forecast < f.target:
        share = (f.target - f.forecast) / f.target * 100
        return Flag("forecast_below_target", "Forecast below target",
                    f"forecast {_money(f.forecast)} is {share:.0f}% below target {_money(f.target)}")
    return None


def _close_after_due(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.close_date and f.due_date and f.close_date > f.due_date:
        days = (f.close_date - f.due_date).days
        return Flag("close_after_due", "Close date after due date",
                    f"expected to close {f.close_date.isoformat()}, {days} days after it is due ({f.due_date.isoformat()})")
    return None


def _stale_forecast(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.due_date is None or (f.due_date - today).days > c.forecast_horizon_days:
        return None
    if f.call_at is None:
        return Flag("stale_forecast", "Stale forecast",
                    f"no forecast call, due in {(f.due_date - today).days} days")
    age = (today - f.call_at.date()).days
    if age > c.stale_forecast_days:
        return Flag("stale_forecast", "Stale forecast",
                    f"last forecast call {age} days ago (older than {c.stale_forecast_days})")
    return None


def _red_health(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.health_color and f.health_color.strip().lower() == "red":
        score = f" (score {f.health_score:.0f})" if f.health_score is not None else ""
        return Flag("red_health", "Red health score", f"health is red{score}")
    if f.health_color is None and f.health_score is not None and f.health_score < c.red_health_below:
        return Flag("red_health", "Red health score",
                    f"health score {f.health_score:.0f} is below {c.red_health_below:.0f}")
    return None


def _no_activity(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if not f.has_activity_source:
        return None
    if f.days_since_activity is None:
        return Flag("no_activity", "No activity", "no activity was ever logged")
    if f.days_since_activity > c.no_activity_days:
        return Flag("no_activity", "No activity",
                    f"last activity {f.days_since_activity:.0f} days ago (more than {c.no_activity_days})")
    return None


def _low_likelihood(f: RenewalFacts, c: RenewalConfig, today: dt.date) -> Flag | None:
    if f.likelihood is not None and f.likelihood < c.low_likelihood_below:
        return Flag("low_likelihood", "Low predicted likelihood",
                    f"predicted likelihood to renew {f.likelihood:.0%} is below {c.low_likelihood_below:.0%}")
    return None


RULES: dict[str, Callable[[RenewalFacts, RenewalConfig, dt.date], Flag | None]] = {
    "missing_forecast": _missing_forecast,
    "forecast_below_target": _forecast_below_target,
    "close_after_due": _close_after_due,
    "stale_forecast": _stale_forecast,
    "red_health": _red_health,
    "no_activity": _no_activity,
    "low_likelihood": _low_likelihood,
}


def evaluate(facts: RenewalFacts, config: RenewalConfig, today: dt.date) -> list[Flag]:
    """Every rule that fires for one open renewal, in rule order."""
    return [flag for rule in RULES.values() if (flag := rule(facts, config, today)) is not None]


def inactive_rules(*, has_health: bool, has_activity: bool, has_model: bool) -> dict[str, str]:
    """Rules that cannot fire for this tenant, and why."""
    silent = {}
    if not has_health:
        silent["red_health"] = "no enabled plugin provides health scores (tether_entity_health)"
    if not has_activity:
        silent["no_activity"] = f"no enabled plugin provides the {ACTIVITY_FEATURE!r} renewal feature"
    if not has_model:
        silent["low_likelihood"] = "no trained risk model yet"
    return silent


def update_needed(*, is_open: bool, forecast: Decimal | None, close_date: dt.date | None,
                  due_date: dt.date | None, call_at: dt.datetime | None, config: RenewalConfig,
                  today: dt.date) -> list[str]:
    """What a rep should update on an open opportunity (Gainsight's "update needed")."""
    if not is_open:
        return []
    needed = []
    if forecast is None:
        needed.append("forecast_amount")
    if close_date is not None and close_date < today:
        needed.append("close_date")
    if due_date is not None and (due_date - today).days <= config.forecast_horizon_days:
        if call_at is None or (today - call_at.date()).days > config.stale_forecast_days:
            needed.append("forecast_call")
    return needed


def flags_dicts(flags: list[Flag]) -> list[dict[str, Any]]:
    return [flag.as_dict() for flag in flags]
