"""Multi-row writes shared by the rules engine and the CTA service: CTAs, tasks, links."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tether.core.plugins import TenantContext
from tether.core.store import Opportunity

from .config import CockpitSettings
from .models import Cta, CtaOpportunity, CtaTask
from .tasks_sync import capture_new_tasks

CHUNK = 900


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_ctas(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert CTA rows (column values, keys starting with ``_`` ignored); their ids in order."""
    columns = set(Cta.__table__.c.keys())
    clean = [{k: v for k, v in row.items() if k in columns} for row in rows]
    stmt = insert(Cta.__table__).returning(Cta.__table__.c.id, sort_by_parameter_order=True)
    return list(session.execute(stmt, clean).scalars())


def insert_tasks(tenant: TenantContext, session: Session, settings: CockpitSettings,
                 rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert task rows; when task sync is on they are captured for the CRM in the same transaction."""
    if not rows:
        return []
    if not settings.task_sync:
        session.execute(insert(CtaTask.__table__), list(rows))
        return []
    stmt = insert(CtaTask.__table__).returning(CtaTask.__table__.c.id, sort_by_parameter_order=True)
    ids = list(session.execute(stmt, list(rows)).scalars())
    capture_new_tasks(tenant, session, ids)
    return ids


def insert_links(session: Session, tenant_id: str, links: Sequence[Mapping[str, Any]]) -> None:
    """Link opportunities to CTAs; ids of opportunities tether does not have are left out."""
    if not links:
        return
    live = set()
    for part in chunks(sorted({link["opportunity_id"] for link in links})):
        live.update(session.scalars(select(Opportunity.__table__.c.id).where(
            Opportunity.__table__.c.tenant_id == tenant_id, Opportunity.__table__.c.id.in_(part))))
    unique = {(link["cta_id"], link["opportunity_id"]): link for link in links if link["opportunity_id"] in live}
    if unique:
        session.execute(insert(CtaOpportunity.__table__), list(unique.values()))
