"""Company 360 and Relationship 360: everything a CSM reads about one customer, in one call.

A handful of indexed queries (the company, its path, children, rollup, relationships,
opportunities) plus two hook calls for what plugins own: health
(``tether_entity_health``) and the recent timeline (``tether_timeline_activities``).
The core never imports a plugin; without Scorecards or Timeline those parts are empty.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Sequence

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from .contracts import Activity, TimelineQuery
from .errors import NotFound
from .hierarchy import children_of, get_company, path_of
from .hierarchy_rollups import rollups
from .plugins import TenantContext
from .store import Company, Opportunity, Relationship, RelationshipType

TIMELINE_ITEMS = 20
CLOSED_OPPORTUNITIES = 100
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def activity_order(activity: Activity) -> tuple[int, str, str]:
    """Newest first; ties broken by source then key, so pages never shuffle."""
    return (-((activity.occurred_at - EPOCH) // dt.timedelta(microseconds=1)), activity.source, activity.key)


def merge_activities(feeds: Iterable[Sequence[Activity] | None], limit: int | None = None) -> list[Activity]:
    """Merge plugin feeds newest first. An entry mirrored from another system (same
    ``external_id``) appears once, as tether's own copy (source ``"tether"``)."""
    merged: dict[Any, Activity] = {}
    for feed in feeds:
        for activity in feed or []:
            key = ("external", activity.external_id) if activity.external_id else (activity.source, activity.key)
            kept = merged.get(key)
            if kept is None or (activity.source == "tether" and kept.source != "tether"):
                merged[key] = activity
    ordered = sorted(merged.values(), key=activity_order)
    return ordered if limit is None else ordered[:limit]


def health_of(tenant: TenantContext, entity: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return dict(tenant.hooks.tether_entity_health(entity=entity, ids=list(ids)) or {})


def recent_activities(tenant: TenantContext, limit: int = TIMELINE_ITEMS, **entity: int) -> list[Activity]:
    query = TimelineQuery(limit=limit, **entity)
    return merge_activities(tenant.hooks.tether_timeline_activities(query=query) or [], limit)


def company_summary(company: Company) -> dict[str, Any]:
    return {
        "id": company.id, "name": company.name, "parent_id": company.parent_id, "industry": company.industry,
        "segment": company.segment, "company_type": company.company_type, "owner_name": company.owner_name,
        "csm": company.csm, "lifecycle_stage": company.lifecycle_stage, "arr": company.arr, "mrr": company.mrr,
        "employees": company.employees, "attributes": dict(company.attributes or {}),
        "external_source": company.external_source, "external_id": company.external_id,
        "parent_external_id": company.parent_external_id, "updated_at": company.updated_at,
    }


def relationship_summary(rel: Relationship, type_name: str | None = None) -> dict[str, Any]:
    return {
        "id": rel.id, "company_id": rel.company_id, "type_id": rel.type_id,
        "type_name": type_name if type_name is not None else rel.type.name, "name": rel.name, "arr": rel.arr,
        "mrr": rel.mrr, "csm": rel.csm, "stage": rel.stage, "status": rel.status,
        "attributes": dict(rel.attributes or {}), "updated_at": rel.updated_at,
    }


OPPORTUNITY_COLUMNS = ("id", "name", "stage", "amount", "currency", "close_date", "due_date", "booking_type",
                       "forecast_category", "probability", "is_closed", "is_won", "target_amount", "forecast_amount",
                       "final_amount", "relationship_id", "owner_name", "csm")


def _opportunities(session: Session, *criteria) -> dict[str, Any]:
    """Open (soonest close first) and closed (latest first) opportunities, as plain rows."""
    table = Opportunity.__table__
    rows = [row._mapping for row in session.execute(
        select(*(table.c[name] for name in OPPORTUNITY_COLUMNS))
        .where(table.c.tenant_id == _tenant_of(session), table.c.is_deleted.is_(False), *criteria)
        .order_by(case((table.c.close_date.is_(None), 1), else_=0), table.c.close_date.desc(), table.c.id))]
    open_rows = sorted((r for r in rows if not r["is_closed"]),
                       key=lambda r: (r["close_date"] is None, r["close_date"] or dt.date.max, r["id"]))
    closed = [r for r in rows if r["is_closed"]]
    return {"open": open_rows, "closed": closed[:CLOSED_OPPORTUNITIES], "closed_total": len(closed)}


def _tenant_of(session: Session) -> str:
    from .store.scoping import tenant_of

    return tenant_of(session)


def company_360(tenant: TenantContext, company_id: int, *, timeline_limit: int = TIMELINE_ITEMS) -> dict[str, Any]:
    """The Company 360 read model."""
    with tenant.session() as session:
        company = get_company(session, company_id)
        path = path_of(session, company_id)
        children = children_of(session, [company_id]).get(company_id, [])
        rollup = rollups(session, [company_id]).get(company_id)
        relationships = session.execute(
            select(Relationship, RelationshipType.name).join(RelationshipType, RelationshipType.id == Relationship.type_id)
            .where(Relationship.company_id == company_id, Relationship.is_deleted.is_(False))
            .order_by(RelationshipType.name, Relationship.name)
        ).all()
        opportunities = _opportunities(session, Opportunity.__table__.c.company_id == company_id)
        summary = company_summary(company)
        rel_summaries = [relationship_summary(rel, type_name) for rel, type_name in relationships]
    rel_health = health_of(tenant, "relationship", [r["id"] for r in rel_summaries])
    for rel in rel_summaries:
        rel["health"] = rel_health.get(rel["id"])
    return {
        "company": summary,
        "health": health_of(tenant, "company", [company_id]).get(company_id),
        "hierarchy": {
            "path": path,
            "children": [{"id": c.id, "name": c.name, "arr": c.arr} for c in children],
            "rollup": rollup.as_dict() if rollup else None,
        },
        "relationships": rel_summaries,
        "opportunities": opportunities,
        "timeline": recent_activities(tenant, timeline_limit, company_id=company_id),
    }


def relationship_360(tenant: TenantContext, relationship_id: int, *,
                     timeline_limit: int = TIMELINE_ITEMS) -> dict[str, Any]:
    """The Relationship 360 read model."""
    with tenant.session() as session:
        rel = session.get(Relationship, relationship_id)
        if rel is None or rel.is_deleted:
            raise NotFound(f"no relationship {relationship_id}", hint="list them with GET /relationships")
        rel_type = rel.type
        company = rel.company
        summary = relationship_summary(rel, rel_type.name)
        type_view = {"id": rel_type.id, "name": rel_type.name, "description": rel_type.description or "",
                     "fields": list(rel_type.fields or [])}
        path = path_of(session, company.id)
        opportunities = _opportunities(session, Opportunity.__table__.c.relationship_id == relationship_id)
        company_view = {"id": company.id, "name": company.name, "csm": company.csm, "arr": company.arr}
    return {
        "relationship": summary,
        "type": type_view,
        "company": company_view,
        "health": health_of(tenant, "relationship", [relationship_id]).get(relationship_id),
        "hierarchy": {"path": path},
        "opportunities": opportunities,
        "timeline": recent_activities(tenant, timeline_limit, relationship_id=relationship_id),
    }
