"""The inbox: notifications from external systems, stored before they are acknowledged.

Storing is idempotent on (tenant, connector, notification id), so a re-delivered
message adds nothing. Processing (applying the records) belongs to the sync engine.

:class:`GroupCommit` lets concurrent requests share a transaction: each request thread
hands its rows over and waits; one writer thread takes everything waiting, writes it in
one transaction per tenant and wakes each request with its own outcome. Under load a
burst of messages costs one commit instead of one each, and nothing is acknowledged
before the commit that holds it.
"""

from __future__ import annotations

import functools
import queue
import threading
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .store import InboxMessage, utcnow

if TYPE_CHECKING:
    from .store import Store


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


class _Waiting:
    __slots__ = ("tenant_id", "connector", "notifications", "done", "new_ids", "error")

    def __init__(self, tenant_id: str, connector: str, notifications: list[Mapping[str, Any]]) -> None:
        self.tenant_id = tenant_id
        self.connector = connector
        self.notifications = notifications
        self.done = threading.Event()
        self.new_ids: list[str] = []
        self.error: BaseException | None = None


class GroupCommit:
    """Stores notifications for many request threads, one transaction per tenant per round.

    ``store(tenant_id, connector, notifications)`` blocks until the rows are committed and
    returns the ids that were new, or raises what the write raised (the caller answers
    503). A round takes whatever is waiting, up to ``max_messages``; an idle writer
    takes a lone request at once, so light traffic waits for nothing.
    """

    def __init__(self, store: "Store", *, max_messages: int = 64, timeout_seconds: float = 30.0) -> None:
        self.store = store
        self.max_messages = max_messages
        self.timeout_seconds = timeout_seconds
        self._queue: "queue.SimpleQueue[_Waiting]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def store_notifications(self, tenant_id: str, connector: str,
                            notifications: Iterable[Mapping[str, Any]]) -> list[str]:
        waiting = _Waiting(tenant_id, connector, list(notifications))
        if not waiting.notifications:
            return []
        self._ensure_writer()
        self._queue.put(waiting)
        if not waiting.done.wait(self.timeout_seconds):
            from .errors import StoreUnavailable

            raise StoreUnavailable(f"the inbox write did not finish in {self.timeout_seconds:.0f} s")
        if waiting.error is not None:
            raise waiting.error
        return waiting.new_ids

    def _ensure_writer(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            return
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="tether-inbox-writer", daemon=True)
                self._writer.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_messages:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_tenant: dict[str, list[_Waiting]] = {}
            for waiting in batch:
                by_tenant.setdefault(waiting.tenant_id, []).append(waiting)
            for tenant_id, group in by_tenant.items():
                self._write(tenant_id, group)

    def _write(self, tenant_id: str, group: list[_Waiting]) -> None:
        by_connector: dict[str, list[_Waiting]] = {}
        for waiting in group:
            by_connector.setdefault(waiting.connector, []).append(waiting)
        try:
            new: set[str] = set()
            with self.store.write_transaction(tenant_id) as session:
                for connector, members in by_connector.items():  # one statement for all of them
                    new.update(store_notifications(session, tenant_id, connector,
                                                   [n for waiting in members for n in waiting.notifications]))
        except BaseException as exc:  # every waiting request learns the write failed
            for waiting in group:
                waiting.error = exc
                waiting.done.set()
            if not isinstance(exc, Exception):
                raise
            return
        for waiting in group:
            waiting.new_ids = [n["notification_id"] for n in waiting.notifications if n["notification_id"] in new]
            waiting.done.set()
