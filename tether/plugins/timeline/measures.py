"""What the timeline tells other plugins: health measures and renewal-risk features.

Both are computed for a whole batch in one grouped query per entity kind: the last
activity and the activities of the last 90 days per company (relationship activities
included, as they roll up) or per relationship.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

from sqlalchemy import case, func, select

from tether.core.contracts import HealthMeasure, RenewalFeatures
from tether.core.plugins import TenantContext
from tether.core.store import Opportunity
from tether.core.store.types import utcnow

from .activities import PLUGIN
from .models import ActivityRecord

RECENT_DAYS = 90
# Above this many ids a query reads the whole tenant and picks, instead of a long IN list.
IN_LIST_LIMIT = 1000


def _group_column(entity_kind: str):
    return ActivityRecord.relationship_id if entity_kind == "relationship" else ActivityRecord.company_id


def _activity_stats(tenant: TenantContext, entity_kind: str, ids: Sequence[int], now: dt.datetime
                    ) -> tuple[dict[int, dt.datetime], dict[int, int]]:
    column = _group_column(entity_kind)
    since = now - dt.timedelta(days=RECENT_DAYS)
    stmt = select(column, func.max(ActivityRecord.occurred_at),
                  func.sum(case((ActivityRecord.occurred_at >= since, 1), else_=0))
                  ).where(column.is_not(None)).group_by(column)
    if len(ids) <= IN_LIST_LIMIT:
        stmt = stmt.where(column.in_(list(ids)))
    last: dict[int, dt.datetime] = {}
    recent: dict[int, int] = {}
    with tenant.session() as session:
        for entity_id, latest, count in session.execute(stmt):
            last[entity_id] = latest
            recent[entity_id] = int(count or 0)
    return last, recent


def days_since_last_activity(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
    now = utcnow()
    last, _ = _activity_stats(tenant, entity_kind, ids, now)
    return {entity_id: max((now - when).total_seconds(), 0.0) / 86400 for entity_id, when in last.items()}


def activities_last_90_days(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
    _, recent = _activity_stats(tenant, entity_kind, ids, utcnow())
    # No activity is data here (a count of 0), not a missing value.
    return {entity_id: recent.get(entity_id, 0) for entity_id in ids}


def health_measures() -> list[HealthMeasure]:
    return [
        HealthMeasure(key="days_since_last_activity", label="Days since last activity",
                      compute=days_since_last_activity, higher_is_better=False, plugin=PLUGIN),
        HealthMeasure(key="activities_last_90_days", label="Activities in the last 90 days",
                      compute=activities_last_90_days, plugin=PLUGIN),
    ]


def renewal_features(tenant: TenantContext, opportunity_ids: Sequence[int]) -> RenewalFeatures:
    """Recency and volume of activity around each opportunity (its relationship's, else its company's)."""
    ids = list(opportunity_ids)
    stmt = select(Opportunity.id, Opportunity.company_id, Opportunity.relationship_id)
    if len(ids) <= IN_LIST_LIMIT:
        stmt = stmt.where(Opportunity.id.in_(ids))
    with tenant.session() as session:
        links = {row.id: (row.company_id, row.relationship_id) for row in session.execute(stmt)}
    now = utcnow()
    by_company = _activity_stats(tenant, "company", [c for c, _ in links.values() if c is not None], now)
    by_relationship = _activity_stats(tenant, "relationship", [r for _, r in links.values() if r is not None], now)
    days: list[float | None] = []
    counts: list[float | None] = []
    for opportunity_id in ids:
        company_id, relationship_id = links.get(opportunity_id, (None, None))
        last, recent, key = (by_relationship[0], by_relationship[1], relationship_id) if relationship_id is not None \
            else (by_company[0], by_company[1], company_id)
        when = last.get(key) if key is not None else None
        days.append(None if when is None else max((now - when).total_seconds(), 0.0) / 86400)
        counts.append(None if key is None else float(recent.get(key, 0)))
    return RenewalFeatures(
        opportunity_ids=ids,
        columns={"days_since_last_activity": days, "activities_last_90_days": counts},
        labels={"days_since_last_activity": "days since the last logged activity",
                "activities_last_90_days": "activities logged in the last 90 days"},
    )
