"""Each renewal compared with its customer's earlier renewals: the history features.

A renewal's customer is its company (a renewal without a company is its own customer).
Ordered by due date, then id, a renewal's history is every live renewal of its customer
before it: how many there were, how many of them fell short (lost, or won below target),
and how its target changed against the one just before.

Training needs this for closed renewals deep in the past, so :func:`history` works it out
for every renewal of the tenant in one vectorised pass over a few columns. Scoring needs it
only for open renewals, which nearly always come after their customer's closed ones, so
:func:`open_renewal_history` reads the open renewals and, per customer, one aggregate row of
its closed ones (count, shortfalls, and the place and target of the last one), which an
index in customer and due-date order serves without sorting or touching the table. Only
customers whose closed renewals interleave with open ones (a closed renewal due after an
overdue open one) are read renewal by renewal. Both give the same numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
from sqlalchemy import BigInteger, case, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg
from sqlalchemy.orm import Session

from ..store.models import Opportunity
from .sqlparts import cents, day_number, raw_fetchall
from .vocabulary import RENEWAL_BOOKINGS

# A renewal's place in its customer's history as one integer: due day × 2**40 + id. Ids
# must stay below 2**40 for that; beyond, scoring reads renewal by renewal instead.
PLACE_SHIFT = 1 << 40
CHUNK = 500


def live_renewals(tenant_id: str) -> tuple:
    o = Opportunity
    return (o.tenant_id == tenant_id, o.is_deleted == False, o.booking_type.in_(RENEWAL_BOOKINGS),  # noqa: E712
            o.due_date.is_not(None))


def history(customer: np.ndarray, due: np.ndarray, ids: np.ndarray, target: np.ndarray, final: np.ndarray,
            is_closed: np.ndarray, is_won: np.ndarray) -> dict[str, np.ndarray]:
    """Per renewal: change of target vs the customer's previous renewal, how many renewals it
    had before, and how many of those fell short (lost, or won below target)."""
    n = len(ids)
    result = {"target_change": np.zeros(n), "prior_count": np.zeros(n), "prior_shortfalls": np.zeros(n)}
    if n == 0:
        return result
    order = np.lexsort((ids, due, customer))
    c = customer[order]
    starts = np.r_[True, c[1:] != c[:-1]]
    position = np.arange(n)
    group_start = np.maximum.accumulate(np.where(starts, position, 0))
    shortfall = (is_closed & (~is_won | (final < target)))[order].astype(float)
    running = np.cumsum(shortfall)
    prior_shortfalls = running - shortfall - (running[group_start] - shortfall[group_start])
    sorted_target = target[order]
    previous = np.r_[np.nan, sorted_target[:-1]]
    previous[starts] = np.nan
    change = target_change(sorted_target, previous)
    for name, values in (("target_change", change), ("prior_count", (position - group_start).astype(float)),
                         ("prior_shortfalls", prior_shortfalls)):
        out = np.empty(n)
        out[order] = values
        result[name] = out
    return result


def target_change(target: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Relative change against the previous target (0 without one), clipped to [-1, 5]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where((previous > 0) & ~np.isnan(target), (target - previous) / previous, 0.0)
    return np.clip(np.nan_to_num(change, nan=0.0), -1.0, 5.0)


def renewal_columns():
    """What :func:`history` needs of each renewal, and who it belongs to."""
    o = Opportunity
    return (o.id, func.coalesce(o.company_id, -o.id), o.company_id, o.relationship_id, day_number(o.due_date),
            cents(o.target_amount), cents(o.final_amount), o.is_closed, o.is_won)


@dataclasses.dataclass
class RenewalTable:
    """Renewals as columns (money in currency units, NaN when unknown), as :func:`read_renewals` reads them."""

    ids: np.ndarray
    customer: np.ndarray
    company_ids: list[Any]
    relationship_ids: list[Any]
    due: np.ndarray
    target: np.ndarray
    final: np.ndarray
    is_closed: np.ndarray
    is_won: np.ndarray

    def history(self) -> dict[str, np.ndarray]:
        return history(self.customer, self.due, self.ids, self.target, self.final, self.is_closed, self.is_won)


def read_renewals(session: Session, statements: Sequence[Any]) -> RenewalTable:
    """Run selects of :func:`renewal_columns` and convert their rows column-wise, as one table."""
    fetched = [row for statement in statements for row in raw_fetchall(session, statement)]
    n = len(fetched)
    columns: list[Sequence[Any]] = list(zip(*fetched)) if n else [()] * 9
    return RenewalTable(
        ids=np.fromiter(columns[0], dtype=np.int64, count=n),
        customer=np.fromiter(columns[1], dtype=np.int64, count=n),
        company_ids=list(columns[2]), relationship_ids=list(columns[3]),
        due=np.fromiter(columns[4], dtype=np.int64, count=n),
        target=_money(columns[5]), final=_money(columns[6]),
        is_closed=np.array(columns[7], dtype=bool), is_won=np.array(columns[8], dtype=bool))


def _money(cents_column: Sequence[Any]) -> np.ndarray:
    """Integer cents (None when unknown) → currency units, NaN when unknown."""
    values = np.array(cents_column, dtype=object)
    missing = np.equal(values, None)
    values[missing] = 0
    out = values.astype(float) / 100.0
    out[missing] = np.nan
    return out


@dataclasses.dataclass
class OpenHistory:
    """Open renewals (in the order read) with their history features."""

    ids: np.ndarray
    company_ids: list[Any]
    relationship_ids: list[Any]
    target: np.ndarray
    target_change: np.ndarray
    prior_count: np.ndarray
    prior_shortfalls: np.ndarray


def open_renewal_history(session: Session, tenant_id: str) -> OpenHistory:
    """The open renewals of a tenant with the same history features :func:`history` gives them."""
    o = Opportunity
    live = live_renewals(tenant_id)
    if (session.scalar(select(func.max(o.__table__.c.id))) or 0) >= PLACE_SHIFT:
        return _from_full_read(session, tenant_id)
    place = type_coerce(day_number(o.due_date), BigInteger) * PLACE_SHIFT + o.id
    open_rows = raw_fetchall(session, select(o.id, o.company_id, o.relationship_id, place, cents(o.target_amount))
                             .where(*live, o.is_closed == False))  # noqa: E712
    n = len(open_rows)
    columns: list[Sequence[Any]] = list(zip(*open_rows)) if n else [()] * 5
    ids = np.fromiter(columns[0], dtype=np.int64, count=n)
    company = np.array([-1 if c is None else c for c in columns[1]], dtype=np.int64)
    customer = np.where(company < 0, -ids, company)
    places = np.fromiter(columns[3], dtype=np.int64, count=n)
    target = _money(columns[4])

    closed = _closed_by_customer(session, live)
    # Open renewals grouped by customer, each group in due-date order.
    order = np.lexsort((places, customer))
    sorted_customer = customer[order]
    starts = np.r_[True, sorted_customer[1:] != sorted_customer[:-1]] if n else np.zeros(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
    rank = np.arange(n) - group_start
    found, (count, shortfalls, last_place, last_target) = _lookup(closed, sorted_customer)
    # Closed renewals after a customer's first open one: that customer is read in full.
    interleaved = found & (last_place > places[order][group_start])

    sorted_target = target[order]
    previous = np.r_[np.nan, sorted_target[:-1]]
    previous[starts] = np.where(found[starts], last_target[starts], np.nan)
    features = {"target_change": target_change(sorted_target, previous),
                "prior_count": count + rank, "prior_shortfalls": shortfalls}
    if interleaved.any():
        _replace_from_full_read(session, live, sorted_customer[interleaved], ids[order], features)
    result = {}
    for name, values in features.items():
        out = np.empty(n)
        out[order] = values
        result[name] = out
    return OpenHistory(ids=ids, company_ids=list(columns[1]), relationship_ids=list(columns[2]), target=target,
                       **result)


def _closed_by_customer(session: Session, live: tuple) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Per company with closed renewals: how many, how many fell short, and the place and target of the last."""
    o = Opportunity
    place = type_coerce(day_number(o.due_date), BigInteger) * PLACE_SHIFT + o.id
    shortfall = case((or_(o.is_won == False, cents(o.final_amount) < cents(o.target_amount)), 1), else_=0)  # noqa: E712
    if session.connection().dialect.name == "postgresql":
        last_target = array_agg(aggregate_order_by(cents(o.target_amount), place.desc()))[1]
    else:
        # SQLite: with exactly one max() aggregate, a bare column comes from the row holding the maximum.
        last_target = cents(o.target_amount)
    rows = raw_fetchall(session, select(o.company_id, func.count(), func.sum(shortfall), func.max(place), last_target)
                        .where(*live, o.is_closed == True, o.company_id.is_not(None))  # noqa: E712
                        .group_by(o.company_id))
    n = len(rows)
    columns: list[Sequence[Any]] = list(zip(*rows)) if n else [()] * 5
    companies = np.fromiter(columns[0], dtype=np.int64, count=n)
    order = np.argsort(companies, kind="stable")
    values = (np.array(columns[1], dtype=float), np.array(columns[2], dtype=float),
              np.fromiter(columns[3], dtype=np.int64, count=n), _money(columns[4]))
    return companies[order], tuple(v[order] for v in values)


def _lookup(closed: tuple[np.ndarray, tuple[np.ndarray, ...]], customer: np.ndarray
            ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The closed aggregates of each customer (zeros and NaN where it has none)."""
    companies, (count, shortfalls, last_place, last_target) = closed
    n = len(customer)
    if not len(companies):
        return np.zeros(n, dtype=bool), (np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64), np.full(n, np.nan))
    pos = np.minimum(np.searchsorted(companies, customer), len(companies) - 1)
    found = companies[pos] == customer
    return found, (np.where(found, count[pos], 0.0), np.where(found, shortfalls[pos], 0.0),
                   np.where(found, last_place[pos], 0), np.where(found, last_target[pos], np.nan))


def _replace_from_full_read(session: Session, live: tuple, companies: np.ndarray, sorted_ids: np.ndarray,
                            features: dict[str, np.ndarray]) -> None:
    """Work out the history of these companies' open renewals from all of their renewals."""
    o = Opportunity
    wanted = np.unique(companies).tolist()
    table = read_renewals(session, [select(*renewal_columns()).where(*live, o.company_id.in_(wanted[i:i + CHUNK]))
                                    for i in range(0, len(wanted), CHUNK)])
    full = table.history()
    order = np.argsort(table.ids)
    known = table.ids[order]
    pos = np.minimum(np.searchsorted(known, sorted_ids), len(known) - 1)
    hit = known[pos] == sorted_ids
    for name, values in features.items():
        values[hit] = full[name][order][pos[hit]]


def _from_full_read(session: Session, tenant_id: str) -> OpenHistory:
    table = read_renewals(session, [select(*renewal_columns()).where(*live_renewals(tenant_id))])
    full = table.history()
    chosen = np.flatnonzero(~table.is_closed)
    return OpenHistory(ids=table.ids[chosen], company_ids=[table.company_ids[i] for i in chosen],
                       relationship_ids=[table.relationship_ids[i] for i in chosen], target=table.target[chosen],
                       **{name: values[chosen] for name, values in full.items()})
