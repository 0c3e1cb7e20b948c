"""Multi-row writes shared by the rules engine and the CTA service: CTAs, tasks, links.

A first rules run over a large tenant opens tens of thousands of CTAs with their tasks;
rows go to the driver in one ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) per table
(:func:`tether.core.renewals.sqlparts.raw_insert`), without SQLAlchemy's per-row
parameter processing. Every column is given, so no Python-side default is needed.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from tether.core.plugins import TenantContext
from tether.core.renewals.sqlparts import raw_insert
from tether.core.store import Opportunity

from .config import CockpitSettings
from .models import Cta, CtaOpportunity, CtaTask, RuleOccurrence
from .tasks_sync import capture_new_tasks

CHUNK = 900


def _write(session: Session, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = [c.name for c in table.columns if c.name != "id"]  # ids come from the database
    raw_insert(session, table, columns, [tuple(row.get(name) for name in columns) for row in rows])


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_rule_ctas(session: Session, tenant_id: str, rule_key: str,
                     rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert a rule's new open CTAs (keys starting with ``_`` ignored) in one multi-row
    statement; their ids by occurrence key (unique among a rule's open CTAs)."""
    _write(session, Cta.__table__, rows)
    c = Cta.__table__.c
    found: dict[str, int] = {}
    if len(rows) > 5 * CHUNK:  # most of the rule's open CTAs are new: read them all at once
        wanted = {row["occurrence_key"] for row in rows}
        return {key: cta_id for key, cta_id in session.execute(select(c.occurrence_key, c.id).where(
            c.tenant_id == tenant_id, c.rule_key == rule_key, c.is_closed.is_(False))).all() if key in wanted}
    for part in chunks([row["occurrence_key"] for row in rows]):
        found.update({key: cta_id for key, cta_id in session.execute(select(c.occurrence_key, c.id).where(
            c.tenant_id == tenant_id, c.rule_key == rule_key, c.is_closed.is_(False),
            c.occurrence_key.in_(part))).all()})
    return found


def insert_tasks(tenant: TenantContext, session: Session, settings: CockpitSettings,
                 rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert task rows; when task sync is on they are captured for the CRM in the same transaction."""
    if not rows:
        return
    _write(session, CtaTask.__table__, rows)
    if settings.task_sync:
        t = CtaTask.__table__.c
        ids: list[int] = []
        for part in chunks(sorted({row["cta_id"] for row in rows})):
            ids += session.scalars(select(t.id).where(t.tenant_id == tenant.id, t.cta_id.in_(part))
                                   .order_by(t.id)).all()
        capture_new_tasks(tenant, session, ids)


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
        _write(session, CtaOpportunity.__table__, list(unique.values()))


def insert_occurrences(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    _write(session, RuleOccurrence.__table__, rows)
