"""The embedded engine's job table: enqueue with dedupe, claim with a per-key lock.

Two partial unique indexes carry the rules, so they hold whoever writes: one waiting
job per dedupe key (``status = 'todo'``) and one running job per lock key
(``status = 'doing'``). Enqueue is an ``INSERT ... ON CONFLICT DO NOTHING`` on the first;
claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1) RETURNING`` that skips keys
already running, and the second index turns a lost race into a retry, never a double
run. On SQLite writers are serialised; on PostgreSQL the select also skips rows another
claimer has locked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING, Iterable, Sequence

from sqlalchemy import and_, delete, exists, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..store.types import utcnow
from .base import EnqueueResult, JobRequest, QueueSummary
from .models import QueuedJob

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger(__name__)

TABLE = QueuedJob.__table__
_TODO_WHERE = text("status = 'todo'")


def worker_name() -> str:
    """``host:pid:instance``: tells a crashed holder on this host from a live one elsewhere."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass(frozen=True)
class ClaimedJob:
    id: int
    request: JobRequest
    attempts: int
    max_attempts: int
    enqueued_at: dt.datetime
    run_at: dt.datetime

    @property
    def due_at(self) -> dt.datetime:
        """When the job was due: its schedule's fire time, else when it became runnable."""
        if self.request.scheduled_for is not None and self.attempts == 1:
            return self.request.scheduled_for
        return max(self.run_at, self.enqueued_at)


class JobQueue:
    """The ``job_queue`` table of one store, seen by one worker process."""

    def __init__(self, store: "Store", worker: str | None = None) -> None:
        self.store = store
        self.worker = worker or worker_name()
        self._insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert

    # -- enqueue ----------------------------------------------------------------------------

    def enqueue(self, requests: Sequence[JobRequest]) -> list[EnqueueResult]:
        """Insert each request unless one with its dedupe key is already waiting."""
        now = utcnow()
        results: list[EnqueueResult] = []
        with self.store.engine.begin() as connection:
            for request in requests:
                request = request.with_keys()
                statement = (
                    self._insert(TABLE)
                    .values(tenant_id=request.tenant_id, job=request.job, object_name=request.object_name,
                            connector=request.connector, args=dict(request.args), lock_key=request.lock_key,
                            dedupe_key=request.dedupe_key, priority=request.priority, status="todo",
                            origin=request.origin, enqueued_at=now, run_at=request.run_at or now,
                            scheduled_for=request.scheduled_for, attempts=0, max_attempts=request.max_attempts)
                    .on_conflict_do_nothing(index_elements=[TABLE.c.dedupe_key], index_where=_TODO_WHERE)
                    .returning(TABLE.c.id)
                )
                new_id = connection.execute(statement).scalar()
                results.append(EnqueueResult("queued", new_id) if new_id is not None
                               else EnqueueResult("deduplicated", self._waiting_id(connection, request.dedupe_key)))
        return results

    def _waiting_id(self, connection, dedupe_key: str | None) -> int | None:
        return connection.execute(select(TABLE.c.id).where(TABLE.c.dedupe_key == dedupe_key,
                                                           TABLE.c.status == "todo")).scalar()

    # -- claim and finish -------------------------------------------------------------------

    def claim(self, *, job_id: int | None = None) -> ClaimedJob | None:
        """Take the next runnable job (or job ``job_id``) whose lock key is free."""
        for _ in range(5):
            try:
                return self._claim_once(job_id)
            except IntegrityError:
                # Another claimer took a job with the same lock key in the same instant.
                continue
        return None

    def _claim_once(self, job_id: int | None) -> ClaimedJob | None:
        now = utcnow()
        running = TABLE.alias("running")
        candidate = (
            select(TABLE.c.id)
            .where(TABLE.c.status == "todo", TABLE.c.run_at <= now,
                   or_(TABLE.c.lock_key.is_(None),
                       ~exists().where(running.c.lock_key == TABLE.c.lock_key, running.c.status == "doing")))
            .order_by(TABLE.c.priority.desc(), TABLE.c.run_at, TABLE.c.id)
            .limit(1)
        )
        if job_id is not None:
            candidate = candidate.where(TABLE.c.id == job_id)
        if self.store.dialect == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        statement = (
            update(TABLE)
            .where(TABLE.c.id == candidate.scalar_subquery(), TABLE.c.status == "todo")
            .values(status="doing", worker=self.worker, started_at=now, heartbeat_at=now,
                    attempts=TABLE.c.attempts + 1)
            .returning(*TABLE.c)
        )
        with self.store.engine.begin() as connection:
            row = connection.execute(statement).mappings().first()
        if row is None:
            return None
        request = JobRequest(tenant_id=row["tenant_id"], job=row["job"], object_name=row["object_name"],
                             connector=row["connector"], args=row["args"] or {}, lock_key=row["lock_key"],
                             dedupe_key=row["dedupe_key"], scheduled_for=row["scheduled_for"],
                             origin=row["origin"], priority=row["priority"], max_attempts=row["max_attempts"])
        return ClaimedJob(row["id"], request, row["attempts"], row["max_attempts"], row["enqueued_at"], row["run_at"])

    def finish(self, job_id: int, *, succeeded: bool, error: str | None = None) -> None:
        values = {"status": "succeeded" if succeeded else "failed", "finished_at": utcnow()}
        if error is not None:  # a success keeps the error of the attempt before it, for the record
            values["last_error"] = error
        with self.store.engine.begin() as connection:
            connection.execute(update(TABLE).where(TABLE.c.id == job_id, TABLE.c.status == "doing").values(**values))

    def retry(self, job_id: int, *, delay_seconds: float, error: str | None) -> str:
        """Put a job back to wait ``delay_seconds``; ``superseded`` if an identical one already waits."""
        return self._requeue(job_id, run_at=utcnow() + dt.timedelta(seconds=delay_seconds), error=error,
                             only_worker=self.worker)

    def _requeue(self, job_id: int, *, run_at: dt.datetime, error: str | None, only_worker: str | None) -> str:
        conditions = [TABLE.c.id == job_id, TABLE.c.status == "doing"]
        if only_worker is not None:
            conditions.append(TABLE.c.worker == only_worker)
        try:
            with self.store.engine.begin() as connection:
                changed = connection.execute(update(TABLE).where(*conditions).values(
                    status="todo", run_at=run_at, worker=None, heartbeat_at=None, last_error=error)).rowcount
            return "todo" if changed else "gone"
        except IntegrityError:
            # The same job was triggered again meanwhile and waits: that run covers this one.
            with self.store.engine.begin() as connection:
                connection.execute(update(TABLE).where(*conditions).values(
                    status="superseded", finished_at=utcnow(), last_error=error))
            return "superseded"

    def heartbeat(self, job_ids: Iterable[int]) -> None:
        ids = list(job_ids)
        if not ids:
            return
        with self.store.engine.begin() as connection:
            connection.execute(update(TABLE).where(TABLE.c.id.in_(ids), TABLE.c.worker == self.worker)
                               .values(heartbeat_at=utcnow()))

    # -- recovery and housekeeping ------------------------------------------------------------

    def recover(self, *, stall_after: dt.timedelta) -> list[int]:
        """Requeue jobs whose holder died: its process is gone from this host, or it has
        not sent a heartbeat for ``stall_after``. Returns the requeued ids."""
        now = utcnow()
        host = socket.gethostname()
        with self.store.engine.connect() as connection:
            rows = connection.execute(select(TABLE.c.id, TABLE.c.worker, TABLE.c.heartbeat_at, TABLE.c.attempts,
                                             TABLE.c.max_attempts)
                                      .where(TABLE.c.status == "doing", TABLE.c.worker != self.worker)).all()
        requeued = []
        for row in rows:
            holder_host, _, rest = (row.worker or "").partition(":")
            pid = rest.partition(":")[0]
            dead_here = holder_host == host and pid.isdigit() and not _alive(int(pid))
            silent = row.heartbeat_at is None or now - row.heartbeat_at > stall_after
            if not (dead_here or silent):
                continue
            error = f"interrupted: worker {row.worker} stopped while running it"
            if row.attempts >= row.max_attempts:
                with self.store.engine.begin() as connection:
                    connection.execute(update(TABLE).where(TABLE.c.id == row.id, TABLE.c.status == "doing")
                                       .values(status="failed", finished_at=now, last_error=error))
                continue
            if self._requeue(row.id, run_at=now, error=error, only_worker=row.worker) != "gone":
                requeued.append(row.id)
        if requeued:
            log.warning("requeued %d job(s) whose worker stopped: %s", len(requeued), requeued)
        return requeued

    def prune(self, *, keep_succeeded: dt.timedelta, keep_failed: dt.timedelta) -> int:
        now = utcnow()
        with self.store.engine.begin() as connection:
            return connection.execute(delete(TABLE).where(or_(
                and_(TABLE.c.status.in_(("succeeded", "superseded", "cancelled")),
                     TABLE.c.finished_at < now - keep_succeeded),
                and_(TABLE.c.status == "failed", TABLE.c.finished_at < now - keep_failed)))).rowcount

    def cancel_waiting(self, tenant_id: str, *, job: str | None = None) -> int:
        with self.store.engine.begin() as connection:
            query = update(TABLE).where(TABLE.c.tenant_id == tenant_id, TABLE.c.status == "todo")
            if job:
                query = query.where(TABLE.c.job == job)
            return connection.execute(query.values(status="cancelled", finished_at=utcnow())).rowcount

    # -- reading ------------------------------------------------------------------------------

    def summary(self) -> QueueSummary:
        now = utcnow()
        with self.store.engine.connect() as connection:
            counts = dict(connection.execute(select(TABLE.c.status, func.count()).where(
                TABLE.c.status.in_(("todo", "doing"))).group_by(TABLE.c.status)).all())
            failed = connection.execute(select(func.count()).where(
                TABLE.c.status == "failed", TABLE.c.finished_at > now - dt.timedelta(days=1))).scalar()
            oldest = connection.execute(select(func.min(TABLE.c.run_at)).where(
                TABLE.c.status == "todo", TABLE.c.run_at <= now)).scalar()
        if isinstance(oldest, str):
            oldest = dt.datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
        return QueueSummary(waiting=counts.get("todo", 0), running=counts.get("doing", 0), failed_last_day=failed or 0,
                            oldest_waiting_seconds=(now - oldest).total_seconds() if oldest else None)

    def next_run_at(self) -> dt.datetime | None:
        """When the earliest waiting job becomes runnable (to sleep until then)."""
        with self.store.engine.connect() as connection:
            value = connection.execute(select(func.min(TABLE.c.run_at)).where(TABLE.c.status == "todo")).scalar()
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value

    def get(self, job_id: int) -> dict | None:
        with self.store.engine.connect() as connection:
            row = connection.execute(select(TABLE).where(TABLE.c.id == job_id)).mappings().first()
        return dict(row) if row else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
