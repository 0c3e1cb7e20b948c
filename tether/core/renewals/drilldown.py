"""From any figure to the opportunities behind it, each with what it contributes.

The rows are selected with the figure's own terms (booking family, status, scenario
categories, date window: see :mod:`.measures`), and each row's contribution is computed
by the same definition, so the contributions of a figure's rows add up to the figure. A
ratio drills into the rows of its numerator and denominator, with both contributions.

Rows stream from a server-side cursor in id order, so an export of any size runs in
constant memory; the JSON drill-down pages through the same stream by id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Iterator, Sequence

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from ..store.models import Opportunity
from .catalog import NONE_LABEL, Field, Filter, Sources, group_condition, needed_joins
from .config import RenewalConfig
from .measures import MEASURES, Measure, Term, row_columns, row_contribution
from .periods import Period, month_start
from .sqlparts import cents
from .vocabulary import bookings_of, category_of, category_spellings, family_of, status_of

COLUMNS = ("opportunity_id", "external_id", "name", "company", "owner", "csm", "booking_type", "status",
           "forecast_category", "due_date", "close_date", "target_amount", "forecast_amount", "final_amount",
           "probability", "call_amount")
STREAM_BATCH = 2000


@dataclasses.dataclass(frozen=True)
class Drill:
    """One figure to drill into: a measure, a period, filters, and maybe one group of a breakdown."""

    measure: Measure
    period: Period
    filters: tuple[Filter, ...] = ()
    dimension: Field | None = None
    group: Any = None

    @property
    def parts(self) -> list[tuple[str, Measure]]:
        """(column name, money/count measure) pairs whose contributions each row carries."""
        if self.measure.unit == "ratio":
            return [("numerator_contribution", MEASURES[self.measure.numerator]),
                    ("denominator_contribution", MEASURES[self.measure.denominator])]
        return [("contribution", self.measure)]

    def header(self) -> list[str]:
        return list(COLUMNS) + [name for name, _ in self.parts]

    def describe(self) -> dict[str, Any]:
        return {"measure": self.measure.key, "label": self.measure.label, "period": self.period.as_dict(),
                "filters": [f.as_dict() for f in self.filters],
                "dimension": self.dimension.key if self.dimension else None,
                "group": self.group if self.dimension else None}


def _status_condition(status: str):
    o = Opportunity
    if status == "open":
        return o.is_closed.is_(False)
    if status == "won":
        return and_(o.is_closed.is_(True), o.is_won.is_(True))
    return and_(o.is_closed.is_(True), o.is_won.is_(False))


def _categories_condition(column, categories: frozenset[str]):
    spellings = sorted({s for c in categories if c != "none" for s in category_spellings(c)})
    conditions = [func.lower(column).in_(spellings)] if spellings else []
    if "none" in categories:
        conditions += [column.is_(None), column == ""]
    return or_(*conditions) if conditions else false()


def _term_condition(term: Term, drill: Drill, config: RenewalConfig, sources: Sources):
    period_date = func.coalesce(Opportunity.due_date, Opportunity.close_date)
    if term.window == "period":
        start, end = drill.period.start, drill.period.end
    else:
        start, end = drill.period.start, month_start(drill.period.first_month + config.contract_term_months)
    parts = [Opportunity.booking_type.in_(bookings_of(term.family)),
             or_(*[_status_condition(s) for s in term.statuses]),
             period_date >= start, period_date < end]
    if term.scenario:
        category = func.coalesce(sources.call.category, Opportunity.forecast_category)
        parts.append(_categories_condition(category, frozenset(config.scenarios.get(term.scenario, ()))))
    return and_(*parts)


def _statement(drill: Drill, tenant_id: str, config: RenewalConfig, after_id: int | None):
    o = Opportunity
    sources = Sources()
    terms = [term for _, part in drill.parts for term in part.terms]
    statement = select(
        o.id, o.external_id, o.name, sources.company.name, o.owner_name, o.csm, o.booking_type, o.is_closed, o.is_won,
        func.coalesce(sources.call.category, o.forecast_category), o.due_date, o.close_date,
        cents(o.target_amount), cents(o.forecast_amount), cents(o.final_amount), o.probability,
        cents(sources.call.amount), sources.call.id,
    ).select_from(o)
    joins = needed_joins(drill.filters, drill.dimension) | {"company"}
    statement = sources.join(statement, joins, with_call=True)
    where = [o.tenant_id == tenant_id, o.is_deleted == False,  # noqa: E712
             or_(*[_term_condition(term, drill, config, sources) for term in terms])]
    where += [item.condition(sources, effective=True) for item in drill.filters]
    if drill.dimension is not None:
        where.append(group_condition(drill.dimension, drill.group, sources, effective=True))
    if after_id is not None:
        where.append(o.id > after_id)
    return statement.where(*where).order_by(o.id)


def _money(value: int | float | None) -> str:
    if value is None:
        return ""
    cents_value = int(round(value))
    sign = "-" if cents_value < 0 else ""
    cents_value = abs(cents_value)
    return f"{sign}{cents_value // 100}.{cents_value % 100:02d}"


def _contribution(part: Measure, value: float | None) -> str | int | None:
    if value is None:
        return None
    if part.unit == "count":
        return int(round(value))
    return _money(value)


def rows(session: Session, drill: Drill, tenant_id: str, config: RenewalConfig, *,
         after_id: int | None = None, limit: int | None = None) -> Iterator[list[Any]]:
    """Drill-down rows as lists in :meth:`Drill.header` order (amounts as exact decimal text)."""
    statement = _statement(drill, tenant_id, config, after_id)
    if limit is not None:
        statement = statement.limit(limit)
    result = session.execute(statement.execution_options(stream_results=True, yield_per=STREAM_BATCH))
    period_start, period_end = drill.period.start, drill.period.end
    term_end = month_start(drill.period.first_month + config.contract_term_months)
    scenarios = {name: frozenset(categories) for name, categories in config.scenarios.items()}
    parts = drill.parts
    for record in result:
        (opp_id, external_id, name, company, owner, csm, booking, closed, won, category, due, close,
         target, forecast, final, probability, call_amount, call_id) = record
        when = due or close
        family, status, normal_category = family_of(booking), status_of(closed, won), category_of(category)
        columns = row_columns(target=_f(target), forecast=_f(forecast), final=_f(final), probability=probability,
                              call_amount=_f(call_amount), has_call=call_id is not None)
        in_period = when is not None and period_start <= when < period_end
        in_term = when is not None and period_start <= when < term_end
        contributions = [row_contribution(part, family=family, status=status, category=normal_category,
                                          in_period=in_period, in_term=in_term, columns=columns, scenarios=scenarios)
                         for _, part in parts]
        if all(c is None for c in contributions):
            continue
        yield [opp_id, external_id or "", name, company or "", owner or "", csm or "", booking or "", status,
               normal_category, _date(due), _date(close), _money(target), _money(forecast), _money(final),
               "" if probability is None else probability, _money(call_amount) if call_id is not None else "",
               *[_contribution(part, value) for (_, part), value in zip(parts, contributions)]]


def _f(value: int | None) -> float | None:
    return None if value is None else float(value)


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def page(session: Session, drill: Drill, tenant_id: str, config: RenewalConfig, *, limit: int,
         after_id: int | None) -> dict[str, Any]:
    """One page of rows as objects, and the cursor (last id) for the next."""
    header = drill.header()
    items = []
    last_id = None
    # Ask for one more than needed: a row past the limit means there is another page.
    for values in rows(session, drill, tenant_id, config, after_id=after_id, limit=None):
        if len(items) == limit:
            return {"items": items, "next_cursor": last_id}
        items.append(dict(zip(header, values)))
        last_id = values[0]
    return {"items": items, "next_cursor": None}


def group_value(raw: Any) -> Any:
    return NONE_LABEL if raw in (None, "") else raw


def sum_contributions(values: Sequence[Any]) -> float:
    return sum(float(v) for v in values if v not in (None, ""))
