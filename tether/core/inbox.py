"""The inbox: notifications from external systems, stored before they are acknowledged.

Storing is idempotent on (tenant, connector, notification id), so a re-delivered
message adds nothing. Processing (applying the records) belongs to the sync engine.
"""

from __future__ import annotations

import functools
from typing import Any, Iterable, Mapping

from sqlalchemy import func, select
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
    dialect = session.get_bind().dialect
    # One multi-row INSERT as driver SQL, with the columns' own bind processors: the
    # webhook's hot path skips SQLAlchemy's per-execution compile work, and keeps its
    # events and error wrapping (an outage is still a DBAPIError the receiver answers 503).
    return _writer(dialect.name, dialect).insert(session.connection(), rows)


class _InboxWriter:
    COLUMNS = ("tenant_id", "connector", "notification_id", "object_name", "record_external_id", "payload",
               "received_at", "status", "attempts")

    def __init__(self, dialect: Any) -> None:
        table = InboxMessage.__table__
        self.processors = [table.c[name].type._cached_bind_processor(dialect) for name in self.COLUMNS]
        mark = "?" if dialect.name == "sqlite" else "%s"
        self.row = "(" + ", ".join([mark] * len(self.COLUMNS)) + ")"
        self.head = f"INSERT INTO {table.name} ({', '.join(self.COLUMNS)}) VALUES "
        self.tail = " ON CONFLICT (tenant_id, connector, notification_id) DO NOTHING RETURNING notification_id"

    def insert(self, connection: Any, rows: list[dict[str, Any]]) -> list[str]:
        params: list[Any] = []
        for row in rows:
            for name, processor in zip(self.COLUMNS, self.processors):
                value = row[name]
                params.append(processor(value) if processor is not None and value is not None else value)
        new: list[str] = []
        per_statement = 500  # well inside both databases' bound-parameter limits
        for start in range(0, len(rows), per_statement):
            count = min(per_statement, len(rows) - start)
            width = len(self.COLUMNS)
            result = connection.exec_driver_sql(self.head + ", ".join([self.row] * count) + self.tail,
                                                tuple(params[start * width:(start + count) * width]))
            new += [notification_id for (notification_id,) in result.fetchall()]
        return new


@functools.lru_cache(maxsize=4)
def _writer(name: str, dialect: Any) -> _InboxWriter:
    return _InboxWriter(dialect)


def pending_count(session: Session, connector: str | None = None) -> int:
    """Notifications stored but not yet processed (in the session's tenant)."""
    query = select(func.count()).select_from(InboxMessage).where(InboxMessage.status == "pending")
    if connector:
        query = query.where(InboxMessage.connector == connector)
    return session.scalar(query) or 0
