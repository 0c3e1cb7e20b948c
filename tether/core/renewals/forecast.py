"""The forecast page's figures per period, from a filled :class:`~.measures.Rollup` (no I/O).

Per period: renewals due, won, lost, open (amounts and counts), the renewal forecast and
its scenarios (high / medium / low over the admin's forecast categories, and the CRM
probability scenario), the reps' called forecast, upsell and downsell, and how many open
renewals lack a forecast or a call. With a dimension, the same for every group.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .measures import EVERY_GROUP, FORECAST_FIGURES, MEASURES, Rollup
from .periods import Period

SCENARIO_FIGURES = {"high": "forecast_high", "medium": "forecast_medium", "low": "forecast_low",
                    "crm_probability": "forecast_crm_probability"}


def figures(rollup: Rollup, period: Period, group: Any, keys: Iterable[str]) -> dict[str, Any]:
    return {key: rollup.value(key, period, group) for key in keys}


def shape(values: dict[str, Any]) -> dict[str, Any]:
    """Flat figures → the forecast page's nested layout."""
    return {
        "due": {"count": values["renewals_due_count"], "amount": values["renewals_due"]},
        "won": {"count": values["won_count"], "amount": values["won"], "final_amount": values["won_final"]},
        "lost": {"count": values["lost_count"], "amount": values["lost"]},
        "open": {"count": values["open_count"], "amount": values["open"], "forecast": values["open_forecast"],
                 "missing_forecast": values["missing_forecast_count"], "called": values["called_count"],
                 "expected": values["expected_forecast"]},
        "renewal_forecast": values["renewal_forecast"],
        "scenarios": {name: values[key] for name, key in SCENARIO_FIGURES.items()},
        "rep_call_forecast": values["forecast_rep_calls"],
        "upsell": values["upsell"],
        "downsell": values["downsell"],
    }


def forecast_periods(rollup: Rollup, periods: Sequence[Period], *, breakdown: bool = False) -> list[dict[str, Any]]:
    """Every period's forecast; with ``breakdown`` also each group's, largest due first."""
    result = []
    total_group = EVERY_GROUP if breakdown else None
    for period in periods:
        entry: dict[str, Any] = {"period": period.as_dict(),
                                 "figures": shape(figures(rollup, period, total_group, FORECAST_FIGURES))}
        if breakdown:
            groups = []
            for group in rollup.groups:
                values = figures(rollup, period, group, FORECAST_FIGURES)
                if values["renewals_due_count"] or values["won_final"] or values["upsell"] or values["downsell"]:
                    groups.append({"group": group, "figures": shape(values)})
            groups.sort(key=lambda g: (-g["figures"]["due"]["amount"], str(g["group"])))
            entry["groups"] = groups
        result.append(entry)
    return result


def definitions() -> dict[str, str]:
    return {key: MEASURES[key].description for key in FORECAST_FIGURES}
