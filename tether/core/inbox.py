"""The inbox: notifications from external systems, stored before they are acknowledged.

Storing is idempotent on (tenant, connector, notification id), so a re-delivered
message adds nothing. Processing (applying the records) belongs to the sync engine.

:class:`GroupCommit` lets concurrent requests share a transaction: each request thread
queues its rows; whichever thread finds no write in progress leads, writing everything
queued in one transaction per tenant and waking each request with its own outcome, while
the others wait for theirs. Once its own rows are written the leader hands the lead to
the oldest request still queued and answers its own: a leader that wrote on until the
queue was empty kept its sender waiting for other senders' commits (two messages in
flight per web process: ACK p50 2.8-2.9 ms against 3.0-3.05 ms, runs alternated). A lone
request writes its own rows without handing them to another thread; under load a burst
of messages costs one commit instead of one each, and nothing is acknowledged before the
commit that holds it. A request that waits longer than the timeout leaves the queue
unwritten and is answered 503.

Waking the inbox job (``on_commit``) follows every commit but is rate-limited per tenant
and connector: queueing that job is a transaction of its own, deduplicated against the
one already waiting, and one per message doubled the database work for nothing. A
commit after a quiet spell wakes the job before its requests are answered; commits
within ``wake_interval_seconds`` of the last wake are woken together at the end of that
interval (by a timer thread, or by :meth:`GroupCommit.flush` on shutdown). The interval
is 0.25 s: each wake is a write transaction that takes SQLite's write lock from the
inbox writes, and at 0.05 s (20 a second per web process) the receiver bench spent
15-20 % more server CPU per message (ratio to the trivial endpoint 0.235-0.244 against
0.272-0.273, runs alternated); a notification waits at most that long more to be applied.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NoReturn

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .store import InboxMessage, utcnow

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)


def store_notifications(session: Session, tenant_id: str, connector: str,
                        notifications: Iterable[Mapping[str, Any]]) -> list[str]:
    """Insert notifications not seen before; return the ids that were new.

    Each notification is ``{"notification_id", "object_name", "record_external_id", "payload"}``.
    Runs inside the caller's transaction.
    """
    connection = session.connection()
    return _insert(connection.dialect, lambda sql, params: connection.exec_driver_sql(sql, params).fetchall(),
                   tenant_id, connector, notifications)


def _insert(dialect: Any, execute: Callable[[str, tuple], list], tenant_id: str, connector: str,
            notifications: Iterable[Mapping[str, Any]]) -> list[str]:
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
    # One multi-row INSERT as driver SQL, with the columns' own bind processors: the
    # webhook's hot path skips SQLAlchemy's per-execution compile work.
    return _writer(dialect.name, dialect).insert(execute, rows)


def _driver_execute(connection: Any, sql: str, params: tuple) -> list[tuple]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


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

    def insert(self, execute: Callable[[str, tuple], list], rows: list[dict[str, Any]]) -> list[str]:
        """``execute(sql, params)`` runs one statement and returns its rows."""
        # Values every row shares (the receipt time above all) are processed once, not per row.
        plan = []
        for name, processor in zip(self.COLUMNS, self.processors):
            first = rows[0][name]
            if processor is not None and first is not None and all(row[name] is first for row in rows):
                plan.append((name, None, True, processor(first)))
            else:
                plan.append((name, processor, False, None))
        params: list[Any] = []
        for row in rows:
            for name, processor, is_shared, shared in plan:
                if is_shared:
                    params.append(shared)
                    continue
                value = row[name]
                params.append(processor(value) if processor is not None and value is not None else value)
        new: list[str] = []
        per_statement = 500  # well inside both databases' bound-parameter limits
        for start in range(0, len(rows), per_statement):
            count = min(per_statement, len(rows) - start)
            width = len(self.COLUMNS)
            result = execute(self.head + ", ".join([self.row] * count) + self.tail,
                             tuple(params[start * width:(start + count) * width]))
            new += [notification_id for (notification_id,) in result]
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
    __slots__ = ("tenant_id", "connector", "notifications", "context", "done", "leads", "new_ids", "error")

    def __init__(self, tenant_id: str, connector: str, notifications: list[Mapping[str, Any]],
                 context: Any = None) -> None:
        self.tenant_id = tenant_id
        self.connector = connector
        self.notifications = notifications
        self.context = context
        # Held until the writer releases it: a bare lock, since an Event's Condition costs
        # a lock allocation and several Python calls per wait on this hot path.
        self.done = threading.Lock()
        self.done.acquire()
        self.leads = False  # set when the lead is handed to this request's thread
        self.new_ids: list[str] = []
        self.error: BaseException | None = None


class GroupCommit:
    """Stores notifications for many request threads, one transaction per tenant per round.

    ``store(tenant_id, connector, notifications)`` blocks until the rows are committed and
    returns the ids that were new, or raises what the write raised (the caller answers
    503). The thread that finds no write in progress leads: it writes what is queued,
    up to ``max_messages`` a round, until its own rows are written, then hands the lead
    to the oldest request still queued (whose thread was waiting anyway).

    ``on_commit(context, connector, new_ids)``, if given, is called after the commits
    that stored new ids (``context`` is what one of their requests passed to
    ``store_notifications``): at once, before the requests are answered, if the last call
    for that tenant and connector was ``wake_interval_seconds`` ago or more; else once
    for all of them when that interval is up. Its failure is logged; the rows are stored,
    so the requests still succeed.
    """

    def __init__(self, store: "Store", *, max_messages: int = 64, timeout_seconds: float = 30.0,
                 on_commit: Callable[[Any, str, list[str]], None] | None = None,
                 wake_interval_seconds: float = 0.25) -> None:
        self.store = store
        self.max_messages = max_messages
        self.timeout_seconds = timeout_seconds
        self.on_commit = on_commit
        self.wake_interval_seconds = wake_interval_seconds
        # Requests not yet written, and whether one of their threads is leading; both under _mutex.
        self._queue: collections.deque[_Waiting] = collections.deque()
        self._mutex = threading.Lock()
        self._led = False
        self._wake_lock = threading.Lock()
        self._last_wake: dict[tuple[str, str], float] = {}
        # (tenant, connector) -> (context, ids stored since the last wake, when it is due)
        self._owed: dict[tuple[str, str], tuple[Any, list[str], float]] = {}
        self._timer: threading.Timer | None = None

    def store_notifications(self, tenant_id: str, connector: str, notifications: Iterable[Mapping[str, Any]],
                            *, context: Any = None) -> list[str]:
        waiting = _Waiting(tenant_id, connector, list(notifications), context)
        if not waiting.notifications:
            return []
        with self._mutex:
            self._queue.append(waiting)
            leads = not self._led
            self._led = True
        if leads:
            self._lead(waiting)
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            if not waiting.done.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self._give_up(waiting)
            if not waiting.leads:
                break
            waiting.leads = False  # handed the lead: write what is queued, this request first
            self._lead(waiting)
        if waiting.error is not None:
            raise waiting.error
        return waiting.new_ids

    def _lead(self, own: _Waiting) -> None:
        """Write rounds until ``own`` is written, then hand the lead to the oldest request
        still queued: this thread goes on to answer its own request instead of writing
        later ones, which the next thread writes (with whatever queued meanwhile)."""
        try:
            written = False
            while not written:
                with self._mutex:
                    batch = [self._queue.popleft() for _ in range(min(self.max_messages, len(self._queue)))]
                by_tenant: dict[str, list[_Waiting]] = {}
                for waiting in batch:
                    by_tenant.setdefault(waiting.tenant_id, []).append(waiting)
                for tenant_id, group in by_tenant.items():
                    self._write(tenant_id, group)
                written = own in batch or not batch
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        """The lead passes to the oldest queued request's thread, or lapses when none is queued."""
        with self._mutex:
            if not self._queue:
                self._led = False
                return
            heir = self._queue[0]
            heir.leads = True
        heir.done.release()

    def _give_up(self, waiting: _Waiting) -> NoReturn:
        """A request that waited too long leaves the queue unwritten (its sender retries);
        a lead handed to it just now goes on to the next."""
        with self._mutex:
            handed, waiting.leads = waiting.leads, False
            if waiting in self._queue:
                self._queue.remove(waiting)
        if handed:
            self._hand_on()
        from .errors import StoreUnavailable

        raise StoreUnavailable(f"the inbox write did not finish in {self.timeout_seconds:.0f} s")

    def _wake(self, tenant_id: str, connector: str, context: Any, ids: list[str]) -> None:
        """Call ``on_commit`` now, or owe it until the interval since the last call is up."""
        key = (tenant_id, connector)
        now = time.monotonic()
        with self._wake_lock:
            owed = self._owed.get(key)
            if owed is not None or now - self._last_wake.get(key, -1e9) < self.wake_interval_seconds:
                due = owed[2] if owed else self._last_wake[key] + self.wake_interval_seconds
                self._owed[key] = (context, (owed[1] if owed else []) + ids, due)
                self._schedule_wake(due)
                return
            self._last_wake[key] = now
        self._call_on_commit(tenant_id, connector, context, ids)

    def _wake_owed(self) -> None:
        with self._wake_lock:
            self._timer = None
        self.flush(due_only=True)
        with self._wake_lock:  # owed again meanwhile, or not yet due: look again when it is
            if self._owed:
                self._schedule_wake(min(due for _, _, due in self._owed.values()))

    def _schedule_wake(self, due: float) -> None:
        """Owed wake-ups are made at ``due`` (monotonic) by one timer at a time; under ``_wake_lock``."""
        if self._timer is None:
            self._timer = threading.Timer(max(0.0, due - time.monotonic()), self._wake_owed)
            self._timer.daemon = True
            self._timer.name = "tether-inbox-wake"
            self._timer.start()

    def flush(self, *, due_only: bool = False) -> None:
        """Make the ``on_commit`` calls still owed (all of them, or those due): a server
        stopping calls this so no stored notification is left without its wake-up."""
        now = time.monotonic()
        with self._wake_lock:
            keys = [key for key, (_, _, due) in self._owed.items() if not due_only or due <= now]
            calls = [(key, self._owed.pop(key)) for key in keys]
            for key in keys:
                self._last_wake[key] = now
        for (tenant_id, connector), (context, ids, _) in calls:
            self._call_on_commit(tenant_id, connector, context, ids)

    def _call_on_commit(self, tenant_id: str, connector: str, context: Any, ids: list[str]) -> None:
        try:
            self.on_commit(context, connector, ids)  # type: ignore[misc]
        except Exception:
            log.exception("tenant %s: waking the inbox after a commit failed; the rows are stored", tenant_id)

    def _write(self, tenant_id: str, group: list[_Waiting]) -> None:
        by_connector: dict[str, list[_Waiting]] = {}
        for waiting in group:
            by_connector.setdefault(waiting.connector, []).append(waiting)
        try:
            new: dict[str, list[str]] = {}
            # The rows name their tenant, so the driver connection needs no tenant scoping.
            with self.store.driver_write() as connection:
                execute = functools.partial(_driver_execute, connection)
                for connector, members in by_connector.items():  # one statement for all of them
                    new[connector] = _insert(self.store.engine.dialect, execute, tenant_id, connector,
                                             [n for waiting in members for n in waiting.notifications])
        except BaseException as exc:  # every waiting request learns the write failed
            for waiting in group:
                waiting.error = exc
                waiting.done.release()
            if not isinstance(exc, Exception):
                raise
            return
        if self.on_commit is not None:
            for connector, ids in new.items():
                if ids:
                    self._wake(tenant_id, connector, by_connector[connector][0].context, ids)
        stored = {connector: set(ids) for connector, ids in new.items()}
        for waiting in group:
            fresh = stored[waiting.connector]
            waiting.new_ids = [n["notification_id"] for n in waiting.notifications if n["notification_id"] in fresh]
            waiting.done.release()
