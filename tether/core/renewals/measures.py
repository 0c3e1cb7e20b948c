"""Every Renewal Center figure, defined once as a sum of terms over opportunities.

A *term* says which opportunities count (booking family, status, optionally the forecast
categories of a scenario, and which date window) and what each contributes (one of the
per-opportunity amounts in :data:`COLUMNS`, with a sign). The same definition computes a
figure from aggregated cells (:class:`Rollup`) and a single opportunity's contribution in
a drill-down (:func:`row_contribution`), so a figure always equals the sum of its rows.

Per-opportunity amounts (money in cents; an unset amount contributes nothing):

- ``target``, ``forecast``, ``final``: the amounts as stored;
- ``final_capped`` = min(final, target) and ``forecast_capped`` = min(forecast, target):
  the renewed value without upsell (Gainsight excludes anything above Target);
- ``expected`` = forecast × probability and ``expected_capped`` = min(forecast, target) ×
  probability (the CRM-probability scenario);
- ``call_capped`` = min(the rep's called amount, else forecast, target);
- counts ``n``, ``n_forecast`` (has a forecast), ``n_called`` (has a current call).

Amounts of downsell bookings are the value removed, as a positive number.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Iterable, Mapping

from .periods import Period
from .vocabulary import STATUSES

COLUMNS = ("n", "n_forecast", "target", "forecast", "final", "final_capped", "forecast_capped",
           "expected", "expected_capped", "call_capped", "n_called")
COL = {name: index for index, name in enumerate(COLUMNS)}
COUNT_COLUMNS = frozenset({"n", "n_forecast", "n_called"})
ALL = ("open", "won", "lost")
CENT = Decimal("0.01")


@dataclasses.dataclass(frozen=True)
class Term:
    family: str
    statuses: tuple[str, ...]
    column: str
    sign: int = 1
    scenario: str | None = None     # count only categories of this scenario
    window: str = "period"          # "period", or "term": [period start, start + contract term)


@dataclasses.dataclass(frozen=True)
class Measure:
    key: str
    label: str
    unit: str                       # money | count | ratio
    group: str                      # forecast | renewal_cohort | arr_cohort
    description: str
    terms: tuple[Term, ...] = ()
    numerator: str | None = None    # ratios: keys of two money measures
    denominator: str | None = None
    empty_note: str | None = None   # said instead of a ratio whose denominator is zero

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "unit": self.unit, "group": self.group,
                "description": self.description}


def _t(family: str, statuses, column: str, sign: int = 1, **kw) -> Term:
    return Term(family, tuple(statuses) if not isinstance(statuses, str) else (statuses,), column, sign, **kw)


def _forecast_terms(scenario: str | None = None, open_column: str = "forecast_capped",
                    downsell_open_column: str = "forecast") -> tuple[Term, ...]:
    return (
        _t("renewal", "won", "final_capped", scenario=scenario),
        _t("renewal", "open", open_column, scenario=scenario),
        _t("downsell", "won", "final", -1, scenario=scenario),
        _t("downsell", "open", downsell_open_column, -1, scenario=scenario),
    )


NOTHING_DUE = "nothing was due for renewal in this period"
NO_BASE = "no contract was in force at the start of this period"

MEASURES: dict[str, Measure] = {m.key: m for m in (
    # -- forecast ------------------------------------------------------------------------
    Measure("renewals_due", "Renewals due", "money", "forecast",
            "Target amount of renewals due in the period (the GRR/NRR denominator).",
            (_t("renewal", ALL, "target"),)),
    Measure("renewals_due_count", "Renewals due (count)", "count", "forecast",
            "Renewals due in the period.", (_t("renewal", ALL, "n"),)),
    Measure("won", "Won", "money", "forecast",
            "Renewed value of won renewals due in the period: min(final, target), upsell excluded.",
            (_t("renewal", "won", "final_capped"),)),
    Measure("won_count", "Won (count)", "count", "forecast", "Won renewals due in the period.",
            (_t("renewal", "won", "n"),)),
    Measure("won_final", "Won at final amount", "money", "forecast",
            "Final amount of won renewals due in the period, upsell included.", (_t("renewal", "won", "final"),)),
    Measure("lost", "Lost", "money", "forecast", "Target amount of lost renewals due in the period (churn).",
            (_t("renewal", "lost", "target"),)),
    Measure("lost_count", "Lost (count)", "count", "forecast", "Lost renewals due in the period.",
            (_t("renewal", "lost", "n"),)),
    Measure("open", "Open", "money", "forecast", "Target amount of renewals due in the period still open.",
            (_t("renewal", "open", "target"),)),
    Measure("open_count", "Open (count)", "count", "forecast", "Open renewals due in the period.",
            (_t("renewal", "open", "n"),)),
    Measure("open_forecast", "Open forecast", "money", "forecast",
            "Forecast amount of open renewals, capped at target.", (_t("renewal", "open", "forecast_capped"),)),
    Measure("missing_forecast_count", "Missing forecast (count)", "count", "forecast",
            "Open renewals due in the period without a forecast amount (they forecast nothing).",
            (_t("renewal", "open", "n"), _t("renewal", "open", "n_forecast", -1))),
    Measure("renewal_forecast", "Renewal forecast", "money", "forecast",
            "Won renewals at min(final, target) plus open renewals at min(forecast, target), less downsell "
            "bookings; upsell excluded (Gainsight's Renewal Forecast).", _forecast_terms()),
    Measure("forecast_high", "Forecast: high scenario", "money", "forecast",
            "Renewal forecast over the forecast categories of the high scenario.", _forecast_terms("high")),
    Measure("forecast_medium", "Forecast: medium scenario", "money", "forecast",
            "Renewal forecast over the forecast categories of the medium scenario.", _forecast_terms("medium")),
    Measure("forecast_low", "Forecast: low scenario", "money", "forecast",
            "Renewal forecast over the forecast categories of the low scenario.", _forecast_terms("low")),
    Measure("forecast_crm_probability", "Forecast: CRM probability", "money", "forecast",
            "Expected forecast (forecast × probability, capped at target) of open renewals in every category, "
            "plus won renewals, less expected downsell.",
            _forecast_terms(open_column="expected_capped", downsell_open_column="expected")),
    Measure("forecast_rep_calls", "Forecast: rep calls", "money", "forecast",
            "Like the renewal forecast, but an open renewal counts at its rep's called amount when it has one.",
            _forecast_terms(open_column="call_capped")),
    Measure("called_count", "Open renewals with a forecast call", "count", "forecast",
            "Open renewals due in the period whose rep entered a forecast call.",
            (_t("renewal", "open", "n_called"),)),
    Measure("expected_forecast", "Expected forecast", "money", "forecast",
            "Forecast × probability of open renewals (uncapped, as Salesforce's Expected Revenue).",
            (_t("renewal", "open", "expected"),)),
    Measure("upsell", "Upsell", "money", "forecast",
            "Won renewals' final amount above target plus won upsell bookings.",
            (_t("renewal", "won", "final"), _t("renewal", "won", "final_capped", -1), _t("upsell", "won", "final"))),
    Measure("downsell", "Downsell", "money", "forecast",
            "Won renewals' shortfall below target plus won downsell bookings.",
            (_t("renewal", "won", "target"), _t("renewal", "won", "final_capped", -1), _t("downsell", "won", "final"))),
    # -- renewal-cohort rates (Gainsight Renewal Center style) ------------------------------
    Measure("net_renewed", "Net renewed", "money", "renewal_cohort",
            "Final amount of won renewals plus won upsell less won downsell bookings (the NRR numerator).",
            (_t("renewal", "won", "final"), _t("upsell", "won", "final"), _t("downsell", "won", "final", -1))),
    Measure("renewed_or_forecast", "Renewed or forecast", "money", "renewal_cohort",
            "Won renewals at min(final, target) plus open ones at min(forecast, target).",
            (_t("renewal", "won", "final_capped"), _t("renewal", "open", "forecast_capped"))),
    Measure("grr", "GRR (renewal cohort)", "ratio", "renewal_cohort",
            "Gross renewal rate: renewed value, upsell excluded, ÷ renewals due in the period.",
            numerator="won", denominator="renewals_due", empty_note=NOTHING_DUE),
    Measure("nrr", "NRR (renewal cohort)", "ratio", "renewal_cohort",
            "Net renewal rate: won renewals at final amount plus upsell less downsell ÷ renewals due.",
            numerator="net_renewed", denominator="renewals_due", empty_note=NOTHING_DUE),
    Measure("grr_forecast", "GRR forecast (renewal cohort)", "ratio", "renewal_cohort",
            "Won plus open renewals at forecast, capped at target, ÷ renewals due.",
            numerator="renewed_or_forecast", denominator="renewals_due", empty_note=NOTHING_DUE),
    # -- ARR-cohort retention (finance standard) --------------------------------------------
    Measure("arr_start", "Starting ARR", "money", "arr_cohort",
            "Contracts in force at the period start: target of renewals due within one contract term of it.",
            (_t("renewal", ALL, "target", window="term"),)),
    Measure("arr_churn", "Churned ARR", "money", "arr_cohort", "Target of renewals due in the period and lost.",
            (_t("renewal", "lost", "target"),)),
    Measure("arr_contraction", "Contraction ARR", "money", "arr_cohort",
            "Won renewals' shortfall below target plus won downsell bookings in the period.",
            (_t("renewal", "won", "target"), _t("renewal", "won", "final_capped", -1), _t("downsell", "won", "final"))),
    Measure("arr_expansion", "Expansion ARR", "money", "arr_cohort",
            "Won renewals' final amount above target plus won upsell bookings in the period.",
            (_t("renewal", "won", "final"), _t("renewal", "won", "final_capped", -1), _t("upsell", "won", "final"))),
    Measure("arr_undecided", "Undecided ARR", "money", "arr_cohort",
            "Target of renewals due in the period still open: not yet churned nor renewed.",
            (_t("renewal", "open", "target"),)),
    Measure("arr_retained", "Retained ARR", "money", "arr_cohort",
            "Starting ARR less churn and contraction (the GRR numerator).",
            (_t("renewal", ALL, "target", window="term"), _t("renewal", "lost", "target", -1),
             _t("renewal", "won", "target", -1), _t("renewal", "won", "final_capped"), _t("downsell", "won", "final", -1))),
    Measure("arr_net_retained", "Net retained ARR", "money", "arr_cohort",
            "Starting ARR less churn and contraction plus expansion (the NRR numerator).",
            (_t("renewal", ALL, "target", window="term"), _t("renewal", "lost", "target", -1),
             _t("renewal", "won", "target", -1), _t("renewal", "won", "final"),
             _t("downsell", "won", "final", -1), _t("upsell", "won", "final"))),
    Measure("arr_grr", "GRR (ARR cohort)", "ratio", "arr_cohort",
            "Gross revenue retention: (starting ARR − churn − contraction) ÷ starting ARR.",
            numerator="arr_retained", denominator="arr_start", empty_note=NO_BASE),
    Measure("arr_nrr", "NRR (ARR cohort)", "ratio", "arr_cohort",
            "Net revenue retention: (starting ARR − churn − contraction + expansion) ÷ starting ARR.",
            numerator="arr_net_retained", denominator="arr_start", empty_note=NO_BASE),
)}

FORECAST_FIGURES = ("renewals_due", "renewals_due_count", "won", "won_count", "won_final", "lost", "lost_count",
                    "open", "open_count", "open_forecast", "missing_forecast_count", "renewal_forecast",
                    "forecast_high", "forecast_medium", "forecast_low", "forecast_crm_probability",
                    "forecast_rep_calls", "called_count", "expected_forecast", "upsell", "downsell")


def measure(key: str) -> Measure:
    from ..errors import InvalidFields

    found = MEASURES.get(key)
    if found is None:
        raise InvalidFields("unknown measure", {"measure": [f"{key!r} is not a measure; use one of {', '.join(MEASURES)}"]})
    return found


def money(cents: float | int) -> Decimal:
    return (Decimal(int(round(cents))) / 100).quantize(CENT)


# -- aggregated cells --------------------------------------------------------------------

Key = tuple[str, str]   # (family, status)
_TOTAL = "*"


class Rollup:
    """Sums per month, group (dimension value), (family, status) and forecast category.

    Filled from the database's aggregate rows, read by period: a period's figure is the
    sum of its months, so one query answers every period and every grain.
    """

    def __init__(self, scenarios: Mapping[str, Iterable[str]], contract_term_months: int = 12) -> None:
        self.scenarios = {name: frozenset(categories) for name, categories in scenarios.items()}
        self.term_months = contract_term_months
        # month -> group -> (family, status) -> category (and "*" for all) -> sums
        self.cells: dict[int, dict[Any, dict[Key, dict[str, list[float]]]]] = {}
        self.groups: set[Any] = set()

    def add(self, month: int, group: Any, family: str, status: str, category: str, sums: Iterable[float]) -> None:
        by_category = self.cells.setdefault(month, {}).setdefault(group, {}).setdefault((family, status), {})
        values = list(sums)
        for name in (category, _TOTAL):
            current = by_category.get(name)
            if current is None:
                by_category[name] = list(values)
            else:
                for index, value in enumerate(values):
                    current[index] += value
        self.groups.add(group)

    def month_range(self) -> tuple[int, int] | None:
        if not self.cells:
            return None
        return min(self.cells), max(self.cells)

    def _term_total(self, term: Term, months: range, group: Any) -> float:
        column = COL[term.column]
        allowed = self.scenarios.get(term.scenario, frozenset()) if term.scenario else None
        total = 0.0
        for month in months:
            groups = self.cells.get(month)
            if not groups:
                continue
            buckets = groups.values() if group is EVERY_GROUP else ([groups[group]] if group in groups else [])
            for bucket in buckets:
                for status in term.statuses:
                    by_category = bucket.get((term.family, status))
                    if not by_category:
                        continue
                    if allowed is None:
                        total += by_category[_TOTAL][column]
                    else:
                        total += sum(sums[column] for category, sums in by_category.items()
                                     if category != _TOTAL and category in allowed)
        return term.sign * total

    def raw(self, key: str, period: Period, group: Any = None) -> float:
        """A money or count measure, in cents (or units), for ``period`` and ``group``."""
        definition = MEASURES[key]
        total = 0.0
        for term in definition.terms:
            months = period.month_indexes() if term.window == "period" else range(
                period.first_month, period.first_month + self.term_months)
            total += self._term_total(term, months, group)
        return total

    def figure(self, key: str, period: Period, group: Any = None) -> dict[str, Any]:
        """``{"value": Decimal | int | float | None, "note"?: str}`` for one figure."""
        definition = MEASURES[key]
        if definition.unit == "ratio":
            numerator = self.raw(definition.numerator, period, group)
            denominator = self.raw(definition.denominator, period, group)
            if denominator == 0:
                return {"value": None, "note": definition.empty_note}
            return {"value": round(numerator / denominator, 6)}
        value = self.raw(key, period, group)
        if definition.unit == "count":
            return {"value": int(round(value))}
        return {"value": money(value)}

    def value(self, key: str, period: Period, group: Any = None) -> Any:
        return self.figure(key, period, group)["value"]


class _EveryGroup:
    def __repr__(self) -> str:
        return "EVERY_GROUP"


# Group marker meaning "all groups together" (a breakdown's total).
EVERY_GROUP: Any = _EveryGroup()


# -- one opportunity ---------------------------------------------------------------------


def _least(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return 0.0
    return a if a < b else b


def row_columns(*, target: float | None, forecast: float | None, final: float | None,
                probability: float | None, call_amount: float | None, has_call: bool) -> list[float]:
    """An opportunity's :data:`COLUMNS` values (amounts in cents), as the aggregate computes them."""
    capped_forecast = _least(forecast, target)
    prob = probability if probability is not None else None
    call_base = call_amount if (has_call and call_amount is not None) else forecast
    return [
        1.0,
        1.0 if forecast is not None else 0.0,
        target or 0.0,
        forecast or 0.0,
        final or 0.0,
        _least(final, target),
        capped_forecast,
        (forecast * prob / 100.0) if (forecast is not None and prob is not None) else 0.0,
        (capped_forecast * prob / 100.0) if (forecast is not None and target is not None and prob is not None) else 0.0,
        _least(call_base, target),
        1.0 if has_call else 0.0,
    ]


def row_contribution(definition: Measure, *, family: str, status: str, category: str, in_period: bool,
                     in_term: bool, columns: list[float], scenarios: Mapping[str, frozenset[str]]) -> float | None:
    """What one opportunity adds to a money or count measure (None when it is not part of it)."""
    total = 0.0
    counted = False
    for term in definition.terms:
        if term.family != family or status not in term.statuses:
            continue
        if term.scenario and category not in scenarios.get(term.scenario, frozenset()):
            continue
        if not (in_period if term.window == "period" else in_term):
            continue
        counted = True
        total += term.sign * columns[COL[term.column]]
    return total if counted else None


def statuses_of(definition: Measure) -> set[str]:
    return {status for term in definition.terms for status in term.statuses} & set(STATUSES)
