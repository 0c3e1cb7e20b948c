"""The inbox: notifications from external systems, stored before they are acknowledged.

Storing is idempotent on (tenant, connector, notification id), so a re-delivered
message adds nothing. Processing (applying the records) belongs to the sync engine.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .store import InboxMessage, utcnow


def store_notifications(session: Session, tenant_id: str, connector: str,
                        notifications: Iterable[Mapping[str, Any]]) -> list[str]:
    """Insert notifications not seen before; return the ids that were new.

    Each notification is ``{"notification_id", "object_name", "record_external_id", "payload"}``.
    Runs inside the caller's transaction.
    """
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant_id, "connector": connector, "notification_id": n["notification_id"],
            "object_name": n.get("object_name"), "record_external_id": n.get("record_external_id"),
            "payload": dict(n.get("payload") or {}), "received_at": now, "status": "pending", "attempts": 0,
        }
        for n in notifications
    ]
    if not rows:
        return []
    statement = _insert_statement(session.get_bind().dialect.name)
    # Core executemany with a cached statement: no ORM bookkeeping or recompiling per message.
    return list(session.connection().execute(statement, rows).scalars())


@functools.lru_cache(maxsize=4)
def _insert_statement(dialect: str):
    table = InboxMessage.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["tenant_id", "connector", "notification_id"])
        .returning(table.c.notification_id, sort_by_parameter_order=True)
    )


def pending_count(session: Session, connector: str | None = None) -> int:
    """Notifications stored but not yet processed (in the session's tenant)."""
    query = select(func.count()).select_from(InboxMessage).where(InboxMessage.status == "pending")
    if connector:
        query = query.where(InboxMessage.connector == connector)
    return session.scalar(query) or 0
