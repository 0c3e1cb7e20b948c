"""Forecast and metrics for a tenant: resolve periods, filters and dimension, run the rollup.

This is the seam the API, the CLI, saved views and the demo all call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy.orm import Session

from ..errors import InvalidFields
from .catalog import Field, Filter, dimension_field, parse_filters
from .cells import load_rollup
from .config import RenewalConfig, load_config, today_utc
from .forecast import forecast_periods
from .measures import Rollup
from .metrics import FAMILIES, metric_periods
from .periods import GRAINS, Period

if TYPE_CHECKING:
    from ..plugins import TenantContext

ALL_PERIODS = "all"
MAX_PERIODS = 120


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which periods, which opportunities and which breakdown a figure request means."""

    period: str = "current_quarter"
    grain: str | None = None          # with period="all": every period of this grain with data
    before: int = 0
    after: int = 0
    filters: tuple[Filter, ...] = ()
    dimension: Field | None = None

    @classmethod
    def parse(cls, *, period: str | None = None, grain: str | None = None, before: int = 0, after: int = 0,
              filters: Any = None, dimension: str | None = None) -> "Selection":
        errors: dict[str, list[str]] = {}
        if grain is not None and grain not in GRAINS:
            errors["grain"] = [f"{grain!r} is not a grain; use one of {', '.join(GRAINS)}"]
        if (period or "current_quarter") == ALL_PERIODS and grain is None:
            errors["grain"] = ["period 'all' needs a grain (month, quarter or fiscal_year)"]
        if before < 0 or after < 0 or before + after >= MAX_PERIODS:
            errors["periods"] = [f"before and after must be non-negative and span fewer than {MAX_PERIODS} periods"]
        parsed_filters: list[Filter] = []
        parsed_dimension = None
        try:
            parsed_filters = parse_filters(filters)
        except InvalidFields as exc:
            errors.update(exc.errors)
        if dimension:
            try:
                parsed_dimension = dimension_field(dimension)
            except InvalidFields as exc:
                errors.update(exc.errors)
        if errors:
            raise InvalidFields("invalid figure request", errors)
        return cls(period or "current_quarter", grain, before, after, tuple(parsed_filters), parsed_dimension)

    def resolve(self, config: RenewalConfig, today: dt.date) -> list[Period] | None:
        """The periods asked for (None for "every period with data", decided after loading)."""
        if self.period == ALL_PERIODS:
            return None
        anchor = config.calendar.parse(self.period, today)
        if self.grain and self.grain != anchor.grain:
            anchor = config.calendar.containing(anchor.start, self.grain)
        return config.calendar.series(anchor, self.before, self.after)


def build_rollup(session: Session, tenant_id: str, config: RenewalConfig, selection: Selection,
                 periods: Sequence[Period] | None, *, arr_window: bool) -> Rollup:
    rollup = Rollup(config.scenarios, config.contract_term_months)
    months = None
    if periods:
        first = min(p.first_month for p in periods)
        last = max(p.first_month + p.months - 1 for p in periods)
        if arr_window:
            last = max(last, max(p.first_month for p in periods) + config.contract_term_months - 1)
        months = (first, last)
    return load_rollup(session, tenant_id, rollup, filters=selection.filters, dimension=selection.dimension,
                       months=months)


def periods_with_data(rollup: Rollup, config: RenewalConfig, grain: str) -> list[Period]:
    span = rollup.month_range()
    if span is None:
        return []
    return list(config.calendar.between(span[0], span[1], grain))


def _context(tenant: "TenantContext", config: RenewalConfig, selection: Selection, today: dt.date) -> dict[str, Any]:
    return {"tenant": tenant.id, "basis": config.amount_basis, "currency": config.currency,
            "today": today.isoformat(), "filters": [f.as_dict() for f in selection.filters],
            "dimension": selection.dimension.key if selection.dimension else None,
            "scenarios": {name: list(categories) for name, categories in config.scenarios.items()}}


def forecast(tenant: "TenantContext", selection: Selection, *, today: dt.date | None = None,
             session: Session | None = None) -> dict[str, Any]:
    """The forecast page: figures per period (and per group with a dimension)."""
    return _run(tenant, selection, today, session, kind="forecast")


def metrics(tenant: "TenantContext", selection: Selection, *, families: Sequence[str] = tuple(FAMILIES),
            today: dt.date | None = None, session: Session | None = None) -> dict[str, Any]:
    """GRR/NRR in the requested families per period (and per group with a dimension)."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise InvalidFields("unknown metric family", {"family": [f"use one of {', '.join(FAMILIES)}"]})
    return _run(tenant, selection, today, session, kind="metrics", families=families)


def figures(tenant: "TenantContext", selection: Selection, *, today: dt.date | None = None,
            session: Session | None = None) -> dict[str, Any]:
    """Forecast and both metric families from one rollup (what a dashboard shows at once)."""
    return _run(tenant, selection, today, session, kind="both", families=tuple(FAMILIES))


def _run(tenant, selection, today, session, *, kind: str, families: Sequence[str] = ()) -> dict[str, Any]:
    if session is None:
        with tenant.session() as own:
            return _run(tenant, selection, today, own, kind=kind, families=families)
    today = today or today_utc()
    config = load_config(tenant, session)
    periods = selection.resolve(config, today)
    rollup = build_rollup(session, tenant.id, config, selection, periods,
                          arr_window=kind != "forecast" and "arr_cohort" in families)
    if periods is None:
        periods = periods_with_data(rollup, config, selection.grain)
    breakdown = selection.dimension is not None
    result = _context(tenant, config, selection, today)
    if kind == "forecast":
        result["periods"] = forecast_periods(rollup, periods, breakdown=breakdown)
    elif kind == "metrics":
        result["periods"] = metric_periods(rollup, periods, families=families, breakdown=breakdown)
    else:
        result["forecast"] = forecast_periods(rollup, periods, breakdown=breakdown)
        result["metrics"] = metric_periods(rollup, periods, families=families, breakdown=breakdown)
    return result
