"""The one aggregate query behind every forecast and metric figure.

Opportunities are summed in the database, grouped by period date, booking type, status
and forecast category (and a dimension when a breakdown asks for one); Python only adds
up the few thousand resulting cells by period (:class:`~.measures.Rollup`).

The period date is the due date, or the close date for an opportunity without one (a
standalone upsell, say). Without a dimension the rows are grouped by day, in the order of
the covering index, so SQLite never sorts; with one they are grouped by month.

Reps' forecast calls override an opportunity's category and add a called amount. Calls
are few next to opportunities, so rather than join every opportunity to its call, the
called ones are summed twice more, once as stored (subtracted) and once as called (added).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..store.models import Opportunity
from .catalog import Field, Filter, Sources, needed_joins
from .measures import Rollup
from .models import ForecastCall
from .periods import month_index, month_start
from .sqlparts import cents, least_or_null, month_of
from .vocabulary import category_of, family_of, status_of


def _sums(call=None) -> list:
    target, forecast, final = cents(Opportunity.target_amount), cents(Opportunity.forecast_amount), cents(Opportunity.final_amount)
    capped_forecast = least_or_null(forecast, target)
    columns = [
        func.count(),
        func.count(Opportunity.forecast_amount),
        func.sum(target),
        func.sum(forecast),
        func.sum(final),
        func.sum(least_or_null(final, target)),
        func.sum(capped_forecast),
        func.sum(forecast * Opportunity.probability),
        func.sum(capped_forecast * Opportunity.probability),
    ]
    if call is not None:
        columns.append(func.sum(least_or_null(func.coalesce(cents(call.amount), forecast), target)))
    return columns


def _live(tenant_id: str):
    # == rather than IS: SQLite uses an index for equality only.
    return and_(Opportunity.tenant_id == tenant_id, Opportunity.is_deleted == False)  # noqa: E712


def _date_range(column, months: tuple[int, int] | None):
    if months is None:
        return []
    return [column >= month_start(months[0]), column < month_start(months[1] + 1)]


def load_rollup(session: Session, tenant_id: str, rollup: Rollup, *, filters: Sequence[Filter] = (),
                dimension: Field | None = None, months: tuple[int, int] | None = None) -> Rollup:
    """Add every live opportunity matching ``filters`` with a period date in ``months``
    (first and last month index, inclusive; None for all) to ``rollup``."""
    sources = Sources()
    joins = needed_joins(filters, dimension)
    for date_column, other_is_null in ((Opportunity.due_date, None), (Opportunity.close_date, Opportunity.due_date)):
        _add_main(session, tenant_id, rollup, sources, joins, filters, dimension, months, date_column, other_is_null)
    if _has_calls(session, tenant_id):
        _add_call_corrections(session, tenant_id, rollup, joins, filters, dimension, months)
    return rollup


def _add_main(session, tenant_id, rollup, sources, joins, filters, dimension, months, date_column, other_is_null) -> None:
    by_day = dimension is None
    date_key = date_column if by_day else month_of(date_column)
    keys = [date_key, Opportunity.booking_type, Opportunity.is_closed, Opportunity.is_won, Opportunity.forecast_category]
    if dimension is not None:
        keys.append(dimension.sql(sources, effective=False))
    where = [_live(tenant_id), date_column.is_not(None), *_date_range(date_column, months)]
    if other_is_null is not None:
        where.append(other_is_null.is_(None))
    where += [item.condition(sources, effective=False) for item in filters]
    statement = sources.join(select(*keys, *_sums()).select_from(Opportunity), joins, with_call=False)
    statement = statement.where(*where).group_by(*keys)
    month_cache: dict[Any, int] = {}
    for row in session.execute(statement):
        day, booking, closed, won, category = row[0], row[1], row[2], row[3], row[4]
        group = dimension.group_label(row[5]) if dimension is not None else None
        sums = row[-9:]
        if by_day:
            month = month_cache.get(day)
            if month is None:
                month = month_cache[day] = month_index(day if isinstance(day, dt.date) else dt.date.fromisoformat(day))
        else:
            month = int(day)
        values = _values(sums)
        values += [values[6], 0.0]          # call_capped = forecast_capped, n_called = 0
        rollup.add(month, group, family_of(booking), status_of(closed, won), category_of(category), values)


def _values(sums: Sequence[Any]) -> list[float]:
    values = [float(v or 0) for v in sums]
    values[7] /= 100.0      # amount × percent → amount
    values[8] /= 100.0
    return values


def _has_calls(session: Session, tenant_id: str) -> bool:
    found = session.execute(select(ForecastCall.id).where(
        ForecastCall.tenant_id == tenant_id, ForecastCall.is_current.is_(True)).limit(1)).first()
    return found is not None


def _add_call_corrections(session, tenant_id, rollup, joins, filters, dimension, months) -> None:
    period_date = func.coalesce(Opportunity.due_date, Opportunity.close_date)
    for effective, sign in ((False, -1.0), (True, 1.0)):
        sources = Sources()
        category = sources.call.category if effective else Opportunity.forecast_category
        keys = [month_of(period_date), Opportunity.booking_type, Opportunity.is_closed, Opportunity.is_won, category]
        if dimension is not None:
            keys.append(dimension.sql(sources, effective=effective))
        statement = select(*keys, *_sums(sources.call)).select_from(Opportunity).join(
            sources.call, and_(sources.call.opportunity_id == Opportunity.id, sources.call.is_current.is_(True),
                               sources.call.tenant_id == tenant_id))
        statement = sources.join(statement, joins, with_call=False)
        where = [_live(tenant_id), period_date.is_not(None), *_date_range(period_date, months)]
        where += [item.condition(sources, effective=effective) for item in filters]
        for row in session.execute(statement.where(*where).group_by(*keys)):
            month, booking, closed, won, raw_category = int(row[0]), row[1], row[2], row[3], row[4]
            group = dimension.group_label(row[5]) if dimension is not None else None
            sums = row[-10:]
            values = _values(sums[:9])
            called = float(sums[9] or 0)
            if effective:
                values += [called, values[0]]
            else:
                values += [values[6], 0.0]   # removes the call_capped the main pass assumed
            rollup.add(month, group, family_of(booking), status_of(closed, won), category_of(raw_category),
                       [sign * v for v in values])
