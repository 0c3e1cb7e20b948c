"""Product events as a timeline feed (``tether_timeline_activities``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from tether.core.contracts import Activity, TimelineQuery

from .config import PLUGIN
from .models import ProductEvent

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext


def activities(tenant: "TenantContext", query: TimelineQuery) -> list[Activity]:
    """Events matching ``query``, newest first. Events belong to companies, so a timeline of
    a relationship or an opportunity has none."""
    if query.relationship_id is not None or query.opportunity_id is not None:
        return []
    stmt = select(ProductEvent)
    if query.company_id is not None:
        stmt = stmt.where(ProductEvent.company_id == query.company_id)
    if query.types:
        stmt = stmt.where(or_(*(ProductEvent.type == t for t in query.types)))
    if query.since is not None:
        stmt = stmt.where(ProductEvent.occurred_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(ProductEvent.occurred_at <= query.until)
    if query.author is not None:
        stmt = stmt.where(ProductEvent.author == query.author)
    stmt = stmt.order_by(ProductEvent.occurred_at.desc(), ProductEvent.id).limit(query.limit)
    with tenant.session() as session:
        return [Activity(type=row.type, subject=row.subject, occurred_at=row.occurred_at, source=PLUGIN,
                         key=f"event:{row.id}", notes=row.notes or "", author=row.author, company_id=row.company_id,
                         reporting_category="Product usage")
                for row in session.scalars(stmt)]
