"""What the timeline tells other plugins: health measures and renewal-risk features.

Both are computed for a whole batch in one grouped query per entity kind: the last
activity and the activities of the last 90 days per company (relationship activities
included, as they roll up) or per relationship.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from sqlalchemy import Float, case, func, select

from tether.core.contracts import HealthMeasure, RenewalFeatures
from tether.core.plugins import TenantContext
from tether.core.renewals.sqlparts import fetch_tuples
from tether.core.store import Opportunity
from tether.core.store.types import utcnow

from .activities import PLUGIN
from .models import ActivityRecord

RECENT_DAYS = 90
# Above this many ids a query reads the whole tenant and picks, instead of a long IN list.
IN_LIST_LIMIT = 1000


class ColumnMapping(Mapping[int, float]):
    """``{entity id: value}`` over sorted numpy arrays: ``ids`` and ``values`` may be used
    directly (Scorecards lines them up with array operations)."""

    def __init__(self, ids: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(ids, kind="stable")
        self.ids, self.values = ids[order], values[order]

    def __getitem__(self, key: int) -> float:
        pos = int(np.searchsorted(self.ids, key))
        if pos < len(self.ids) and self.ids[pos] == key:
            return float(self.values[pos])
        raise KeyError(key)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)


# The two measures share one grouped query per run: the scoring run passes the same id
# list to both, so a result computed moments ago for that very list is reused.
_CACHE_SECONDS = 60.0
_cache: dict[tuple[str, str], tuple[Any, float, np.ndarray, np.ndarray, np.ndarray]] = {}


def _epoch_seconds(column, dialect: str):
    """Seconds since 1970 of a naive-UTC timestamp column, computed by the database."""
    if dialect == "postgresql":
        return func.extract("epoch", column)
    return func.cast(func.strftime("%s", column), Float)


def _activity_stats(tenant: TenantContext, entity_kind: str, ids: Sequence[int], now: dt.datetime
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted ids with activity, the seconds since 1970 of each one's last activity, and
    how many activities each had in the last 90 days.

    Hidden (deleted at the source) and scheduled (future) activities are not activity. The
    grouped query reads only the per-entity index (tenant, entity, time), which has no
    ``is_deleted``; the few entities with a hidden activity are then worked out again
    from their live activities alone."""
    key = (tenant.id, entity_kind)
    cached = _cache.get(key)
    if cached is not None and cached[0] is ids and time.monotonic() - cached[1] < _CACHE_SECONDS:
        return cached[2], cached[3], cached[4]
    table = ActivityRecord.__table__
    column = table.c.relationship_id if entity_kind == "relationship" else table.c.company_id
    since = now - dt.timedelta(days=RECENT_DAYS)
    few = len(ids) <= IN_LIST_LIMIT
    with tenant.session() as session:
        connection = session.connection()
        stmt = (select(column, _epoch_seconds(func.max(table.c.occurred_at), connection.dialect.name),
                       func.sum(case((table.c.occurred_at >= since, 1), else_=0)))
                .where(table.c.tenant_id == tenant.id, column.is_not(None), table.c.occurred_at <= now)
                .group_by(column))
        hidden = select(column).where(table.c.tenant_id == tenant.id, column.is_not(None),
                                      table.c.is_deleted == True).distinct()  # noqa: E712
        if few:
            stmt, hidden = stmt.where(column.in_(list(ids))), hidden.where(column.in_(list(ids)))
        rows = fetch_tuples(connection, stmt)
        redo = [row[0] for row in fetch_tuples(connection, hidden)]
        if redo:
            wanted = set(redo)
            rows = [row for row in rows if row[0] not in wanted]
            live = stmt.where(table.c.is_deleted == False)  # noqa: E712
            for start in range(0, len(redo), IN_LIST_LIMIT):
                rows += fetch_tuples(connection, live.where(column.in_(redo[start:start + IN_LIST_LIMIT])))
    # One C-level conversion: ids (below 2**53), epoch seconds and counts all fit a float.
    table_rows = np.array(rows, dtype=float).reshape(len(rows), 3)
    found = table_rows[:, 0].astype(np.int64)
    last, recent = table_rows[:, 1], np.nan_to_num(table_rows[:, 2]).astype(np.int64)
    if len(found) > 1 and not (found[1:] > found[:-1]).all():
        order = np.argsort(found, kind="stable")
        found, last, recent = found[order], last[order], recent[order]
    _cache.clear()  # one entry: only the run in progress benefits
    _cache[key] = (ids, time.monotonic(), found, last, recent)
    return found, last, recent


def days_since_last_activity(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
    now = utcnow()
    found, last, _ = _activity_stats(tenant, entity_kind, ids, now)
    return ColumnMapping(found, np.maximum(now.timestamp() - last, 0.0) / 86400)


def activities_last_90_days(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
    found, _, recent = _activity_stats(tenant, entity_kind, ids, utcnow())
    # No activity is data here (a count of 0), not a missing value.
    wanted = np.array(ids, dtype=np.int64)
    if len(wanted) > 1 and not (wanted[1:] > wanted[:-1]).all():
        wanted = np.unique(wanted)
    counts = np.zeros(len(wanted), dtype=float)
    if len(found):
        pos = np.minimum(np.searchsorted(found, wanted), len(found) - 1)
        hit = found[pos] == wanted
        counts[hit] = recent[pos[hit]]
    return ColumnMapping(wanted, counts)


def health_measures() -> list[HealthMeasure]:
    return [
        HealthMeasure(key="days_since_last_activity", label="Days since last activity",
                      compute=days_since_last_activity, higher_is_better=False, plugin=PLUGIN),
        HealthMeasure(key="activities_last_90_days", label="Activities in the last 90 days",
                      compute=activities_last_90_days, plugin=PLUGIN),
    ]


def _as_dicts(stats: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[dict[int, float], dict[int, int]]:
    found, last, recent = stats
    keys = found.tolist()
    return dict(zip(keys, last.tolist())), dict(zip(keys, recent.tolist()))


def renewal_features(tenant: TenantContext, opportunity_ids: Sequence[int]) -> RenewalFeatures:
    """Recency and volume of activity around each opportunity (its relationship's, else its company's)."""
    ids = list(opportunity_ids)
    stmt = select(Opportunity.id, Opportunity.company_id, Opportunity.relationship_id)
    if len(ids) <= IN_LIST_LIMIT:
        stmt = stmt.where(Opportunity.id.in_(ids))
    with tenant.session() as session:
        links = {row.id: (row.company_id, row.relationship_id) for row in session.execute(stmt)}
    now = utcnow()
    stats = {kind: _as_dicts(_activity_stats(tenant, kind, [i for i in wanted if i is not None], now))
             for kind, wanted in (("company", [c for c, _ in links.values()]),
                                  ("relationship", [r for _, r in links.values()]))}
    days: list[float | None] = []
    counts: list[float | None] = []
    for opportunity_id in ids:
        company_id, relationship_id = links.get(opportunity_id, (None, None))
        kind, key = ("relationship", relationship_id) if relationship_id is not None else ("company", company_id)
        last, recent = stats[kind]
        when = last.get(key) if key is not None else None
        days.append(None if when is None else max(now.timestamp() - when, 0.0) / 86400)
        counts.append(None if key is None else float(recent.get(key, 0)))
    return RenewalFeatures(
        opportunity_ids=ids,
        columns={"days_since_last_activity": days, "activities_last_90_days": counts},
        labels={"days_since_last_activity": "days since the last logged activity",
                "activities_last_90_days": "activities logged in the last 90 days"},
    )
