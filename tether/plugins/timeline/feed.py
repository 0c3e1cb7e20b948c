"""Reading timelines: the local feed this plugin offers through ``tether_timeline_activities``,
and the merged, paged timeline of every plugin's feed.

Order is newest first, ties by source then key. A page's cursor remembers the last
entry's time and how many entries at exactly that time were already shown, so each
feed is asked only for entries at or before that time and no entry is skipped or
repeated when many share a timestamp.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from tether.core.company360 import activity_order, merge_activities
from tether.core.contracts import Activity, TimelineQuery
from tether.core.plugins import TenantContext

from .activities import PLUGIN, activity_key
from .models import ActivityRecord

SOURCE = "tether"


def to_activity(row: ActivityRecord) -> Activity:
    return Activity(
        type=row.type, subject=row.subject, occurred_at=row.occurred_at, source=SOURCE, key=activity_key(row.id),
        notes=row.notes or "", author=row.author, company_id=row.company_id, relationship_id=row.relationship_id,
        opportunity_id=row.opportunity_id, duration_minutes=row.duration_minutes,
        internal_attendees=tuple(row.internal_attendees or ()), external_attendees=tuple(row.external_attendees or ()),
        reporting_category=row.reporting_category, external_id=row.external_id,
    )


def local_feed(tenant: TenantContext, query: TimelineQuery) -> list[Activity]:
    """Activities logged in tether matching ``query``, newest first, at most ``query.limit``."""
    stmt = select(ActivityRecord).where(ActivityRecord.is_deleted.is_(False))
    if query.company_id is not None:
        stmt = stmt.where(ActivityRecord.company_id == query.company_id)
        if not tenant.config_for(PLUGIN).get("relationship_rollup", True):
            stmt = stmt.where(ActivityRecord.relationship_id.is_(None))
    if query.relationship_id is not None:
        stmt = stmt.where(ActivityRecord.relationship_id == query.relationship_id)
    if query.opportunity_id is not None:
        stmt = stmt.where(ActivityRecord.opportunity_id == query.opportunity_id)
    if query.types:
        stmt = stmt.where(or_(*(ActivityRecord.type == t for t in query.types)))
    if query.since is not None:
        stmt = stmt.where(ActivityRecord.occurred_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(ActivityRecord.occurred_at <= query.until)
    if query.author is not None:
        stmt = stmt.where(ActivityRecord.author == query.author)
    stmt = stmt.order_by(ActivityRecord.occurred_at.desc(), ActivityRecord.id).limit(query.limit)
    with tenant.session() as session:
        rows = list(session.scalars(stmt))
        pushed = crm_ids(session, [row.id for row in rows if row.external_id is None])
    activities = [to_activity(row) for row in rows]
    return [dataclasses.replace(a, external_id=pushed[row.id]) if row.id in pushed else a
            for a, row in zip(activities, rows)]


def crm_ids(session, activity_ids: list[int]) -> dict[int, str]:
    """The CRM ids of activities the write-back has pushed (kept in the sync's shadow rows),
    so the CRM's copy of an activity is recognised when a feed brings it back."""
    if not activity_ids:
        return {}
    from tether.core.sync.writeback_models import SyncShadow

    return dict(session.execute(select(SyncShadow.local_id, SyncShadow.external_id).where(
        SyncShadow.entity == "activity", SyncShadow.local_id.in_(activity_ids), SyncShadow.external_id.is_not(None),
        SyncShadow.deleted.is_(False))).all())


@dataclasses.dataclass(frozen=True)
class Cursor:
    occurred_at: dt.datetime
    source: str
    key: str
    # Entries at exactly ``occurred_at`` shown so far (on this and earlier pages).
    shown_at_time: int

    def as_json(self) -> dict[str, Any]:
        return {"t": self.occurred_at.isoformat(), "s": self.source, "k": self.key, "n": self.shown_at_time}

    @classmethod
    def from_json(cls, data: Any) -> "Cursor":
        try:
            when = dt.datetime.fromisoformat(data["t"])
            if when.tzinfo is None:
                raise ValueError("naive")
            return cls(when, str(data["s"]), str(data["k"]), int(data["n"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError("not a timeline cursor this API returned") from None


@dataclasses.dataclass(frozen=True)
class TimelinePage:
    items: list[Activity]
    next_cursor: Cursor | None


def timeline_page(tenant: TenantContext, query: TimelineQuery, cursor: Cursor | None = None) -> TimelinePage:
    """One page of the merged timeline: every enabled plugin's feed, this one's included."""
    ask = query
    if cursor is not None:
        until = cursor.occurred_at if query.until is None else min(query.until, cursor.occurred_at)
        ask = dataclasses.replace(query, until=until, limit=query.limit + 1 + cursor.shown_at_time)
    else:
        ask = dataclasses.replace(query, limit=query.limit + 1)
    merged = merge_activities(tenant.hooks.tether_timeline_activities(query=ask) or [])
    if cursor is not None:
        position = activity_order(Activity(type="", subject="", occurred_at=cursor.occurred_at,
                                           source=cursor.source, key=cursor.key))
        merged = [a for a in merged if activity_order(a) > position]
    items = merged[:query.limit]
    if len(merged) <= query.limit or not items:
        return TimelinePage(items, None)
    last = items[-1]
    same_time = sum(1 for a in items if a.occurred_at == last.occurred_at)
    if cursor is not None and cursor.occurred_at == last.occurred_at:
        same_time += cursor.shown_at_time
    return TimelinePage(items, Cursor(last.occurred_at, last.source, last.key, same_time))

