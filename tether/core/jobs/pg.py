"""The scale-out engine: procrastinate on the same PostgreSQL database as the data.

Any number of ``tether worker`` processes, on any number of machines, fetch jobs with
``FOR UPDATE SKIP LOCKED``. A job's ``lock`` (tether's lock key) keeps two jobs of one
tenant and object from running at once, and its ``queueing_lock`` (the dedupe key) keeps
one waiting. Nobody needs to be the scheduler:

- a procrastinate periodic task, ``tether.tick``, is deferred every few seconds by every
  worker and deduplicated by procrastinate's unique ``(task, periodic id, timestamp)``
  row, and serialised by its lock, so exactly one tick runs per timestamp;
- the tick defers each due tenant schedule through the same mechanism, with the
  schedule's key as periodic id and its fire time as timestamp: a fire time yields one
  job, whichever worker ticks and however often;
- ``tether.retry_stalled`` requeues the jobs of a worker that stopped sending heartbeats
  (killed, or its machine gone), so another worker picks them up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from ..errors import ConfigurationError
from ..store.types import utcnow
from .base import EnqueueResult, JobRequest, QueueSummary, with_job_lock
from .models import JobSchedule
from .runner import execute
from .schedules import refresh_all, tenants_fingerprint, to_schedule
from .timing import latest_fire, next_fire

if TYPE_CHECKING:
    import procrastinate

    from ..plugins import TenantContext
    from ..runtime import Runtime

log = logging.getLogger(__name__)

RUN_TASK = "tether.run_job"
TICK_TASK = "tether.tick"
STALLED_TASK = "tether.retry_stalled"
CLEANUP_TASK = "tether.cleanup"
TICK_BATCH = 2000


class RetryJob(Exception):
    """Raised by the run task so procrastinate retries the job with backoff."""


class JobFailed(Exception):
    """Raised by the run task so procrastinate records the job as failed, without retry."""


def conninfo(url: str) -> str:
    """A libpq URL (procrastinate's psycopg pool) from tether's SQLAlchemy URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"the procrastinate job engine needs PostgreSQL, and the database is {parsed.get_backend_name()}",
            hint="set TETHER_JOB_ENGINE=embedded, or point TETHER_DATABASE_URL at PostgreSQL")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def periodic_id(key: str) -> str:
    """procrastinate keeps periodic ids in 128 characters; long keys are hashed."""
    return key if len(key) <= 120 else "sha1:" + hashlib.sha1(key.encode()).hexdigest()


class ProcrastinateEngine:
    """Defers jobs into procrastinate and runs its workers; see the module docstring."""

    name = "procrastinate"

    def __init__(self, runtime: "Runtime", *, tick_seconds: int = 5, stall_seconds: float = 30.0,
                 heartbeat_seconds: float = 5.0, max_attempts: int = 5) -> None:
        import procrastinate

        self.runtime = runtime
        self.store = runtime.store
        self.tick_seconds = max(1, min(59, int(tick_seconds)))
        self.stall_seconds = stall_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.max_attempts = max_attempts
        self._fingerprint: tuple | None = None
        self._sync_open = False
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo(self.store.url)))
        self._register_tasks(procrastinate)

    # -- tasks ----------------------------------------------------------------------------------

    def _register_tasks(self, procrastinate) -> None:
        app = self.app
        engine = self

        @app.task(name=RUN_TASK, pass_context=True,
                  retry=procrastinate.RetryStrategy(max_attempts=self.max_attempts - 1, exponential_wait=3,
                                                    retry_exceptions={RetryJob}))
        def run_job(context, **kwargs: Any) -> None:
            engine._run(context, **kwargs)

        @app.periodic(cron=f"* * * * * */{self.tick_seconds}", periodic_id="tick")
        # No lock: a tick stuck on a dead worker must not hold up the next one (see _tick).
        @app.task(name=TICK_TASK, queueing_lock="tether:tick")
        async def tick(timestamp: int) -> None:
            await engine.tick(timestamp)

        stall_every = max(1, min(59, int(self.stall_seconds // 3) or 1))

        @app.periodic(cron=f"* * * * * */{stall_every}", periodic_id="stalled")
        # No lock either: if the worker running it dies, the next one must still run.
        @app.task(name=STALLED_TASK, queueing_lock="tether:stalled")
        async def retry_stalled(timestamp: int) -> None:
            await engine.retry_stalled()

        @app.periodic(cron="17 * * * *", periodic_id="cleanup")
        @app.task(name=CLEANUP_TASK, queueing_lock="tether:cleanup")
        async def cleanup(timestamp: int) -> None:
            # Successful jobs are deleted as they finish; keep failures a week for inspection.
            await app.job_manager.delete_old_jobs(nb_hours=24 * 7, include_failed=True)

    def _run(self, context, **kwargs: Any) -> None:
        job = context.job
        attempt = job.attempts + 1
        scheduled_for = _parse_time(kwargs.get("scheduled_for"))
        enqueued_at = _parse_time(kwargs.get("enqueued_at"))
        request = JobRequest(tenant_id=kwargs["tenant_id"], job=kwargs["job"], object_name=kwargs.get("object_name"),
                             connector=kwargs.get("connector"), args=kwargs.get("args") or {}, lock_key=job.lock,
                             dedupe_key=job.queueing_lock, scheduled_for=scheduled_for,
                             origin=kwargs.get("origin") or "manual")
        due_at = scheduled_for if (scheduled_for and attempt == 1) else (enqueued_at if attempt == 1 else None)
        outcome = execute(self.runtime, request, attempt=attempt, max_attempts=self.max_attempts,
                          engine=self.name, queue_id=job.id, due_at=due_at)
        if outcome.retry:
            raise RetryJob(outcome.error or "retrying")
        if not outcome.ok:
            raise JobFailed(outcome.error or "failed")

    # -- the job interface ----------------------------------------------------------------------

    def _job_args(self, request: JobRequest) -> dict[str, Any]:
        return {"tenant_id": request.tenant_id, "job": request.job, "object_name": request.object_name,
                "connector": request.connector, "args": dict(request.args), "origin": request.origin,
                "scheduled_for": request.scheduled_for.isoformat() if request.scheduled_for else None,
                "enqueued_at": utcnow().isoformat()}

    def _configure(self, request: JobRequest, **extra: Any):
        request = request.with_keys()
        return self.app.configure_task(RUN_TASK, lock=request.lock_key, queueing_lock=request.dedupe_key,
                                       priority=request.priority,
                                       schedule_at=request.run_at, **extra), request

    def enqueue(self, request: JobRequest) -> EnqueueResult:
        return self.enqueue_many([request])[0]

    def enqueue_many(self, requests: Sequence[JobRequest]) -> list[EnqueueResult]:
        from procrastinate.exceptions import AlreadyEnqueued

        self._ensure_open()
        results = []
        for request in requests:
            deferrer, request = self._configure(with_job_lock(self.runtime, request))
            try:
                results.append(EnqueueResult("queued", deferrer.defer(**self._job_args(request))))
            except AlreadyEnqueued:
                results.append(EnqueueResult("deduplicated"))
        return results

    def summary(self) -> QueueSummary:
        with self.store.engine.connect() as connection:
            counts = dict(connection.exec_driver_sql(
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE task_name = %(task)s "
                "AND status IN ('todo', 'doing') GROUP BY status", {"task": RUN_TASK}).all())
            failed = connection.exec_driver_sql(
                "SELECT count(*) FROM procrastinate_jobs j WHERE j.task_name = %(task)s AND j.status = 'failed' "
                "AND EXISTS (SELECT 1 FROM procrastinate_events e WHERE e.job_id = j.id "
                "AND e.type = 'failed' AND e.at > now() - interval '1 day')", {"task": RUN_TASK}).scalar()
        return QueueSummary(waiting=counts.get("todo", 0), running=counts.get("doing", 0), failed_last_day=failed or 0)

    def close(self) -> None:
        if self._sync_open:
            self.app.close()
            self._sync_open = False

    def _ensure_open(self) -> None:
        # Inside a worker the app is open (async) already; elsewhere open a small sync pool.
        connector = self.app.connector
        if getattr(connector, "_async_pool", None) is not None or self._sync_open:
            return
        self.app.open()
        self._sync_open = True

    # -- scheduling -----------------------------------------------------------------------------

    async def tick(self, timestamp: int | None = None) -> int:
        """Defer every due schedule once per fire time; returns how many fire times it handled."""
        await asyncio.to_thread(self.refresh_schedules)
        return await asyncio.to_thread(self._tick, asyncio.get_running_loop())

    def _tick(self, loop: asyncio.AbstractEventLoop) -> int:
        """Handle each due schedule under its row lock (in a thread; defers run on ``loop``).

        Ticks may overlap (one stalled on a dead worker holds nothing), so each schedule is
        taken with ``FOR UPDATE SKIP LOCKED`` and only while its ``next_run_at`` is the one
        read: whoever takes it fires it and moves it on, and nobody fires that time again.
        """
        table = JobSchedule.__table__
        handled = 0
        for row_id, old_next in self._due_schedules():
            with self.store.engine.connect() as connection:
                condition = table.c.next_run_at.is_(None) if old_next is None else table.c.next_run_at == old_next
                row = connection.execute(select(table).where(table.c.id == row_id, condition, table.c.paused.is_(False))
                                         .with_for_update(skip_locked=True)).mappings().first()
                if row is None:
                    connection.rollback()
                    continue
                schedule = to_schedule(JobSchedule(**{k: row[k] for k in row.keys()}))
                trigger = schedule.trigger()
                now = utcnow()
                values: dict[str, Any] = {"next_run_at": next_fire(trigger, now), "updated_at": table.c.updated_at}
                if old_next is not None:
                    fire_at, missed = latest_fire(trigger, old_next, now)
                    if missed > 1:
                        log.info("%s: %d missed firings run once", schedule.key, missed)
                    queued = asyncio.run_coroutine_threadsafe(self._defer_fire(schedule, fire_at), loop).result()
                    merged = (missed - 1) + (0 if queued else 1)
                    if merged:
                        values["collapsed_fires"] = table.c.collapsed_fires + merged
                    values["last_fired_for"] = fire_at
                    handled += 1
                connection.execute(update(table).where(table.c.id == row_id).values(**values))
                connection.commit()
        return handled

    async def _defer_fire(self, schedule, fire_at: dt.datetime) -> bool:
        """Defer the job of one fire time; False when it collapsed into a run still waiting."""
        from procrastinate.exceptions import AlreadyEnqueued

        request = schedule.request(scheduled_for=fire_at)
        stamp = int(fire_at.timestamp())
        deferrer, request = self._configure(request, task_kwargs={**self._job_args(request), "timestamp": stamp})
        try:
            await self.app.job_manager.defer_periodic_job(deferrer.job, periodic_id=periodic_id(schedule.key),
                                                          defer_timestamp=stamp)
        except AlreadyEnqueued:
            log.info("%s: the run of an earlier fire time still waits; this one collapses into it", schedule.key)
            return False
        return True

    def _due_schedules(self) -> list[tuple[int, dt.datetime | None]]:
        table = JobSchedule.__table__
        now = utcnow()
        with self.store.engine.connect() as connection:
            return [(row.id, row.next_run_at) for row in connection.execute(
                select(table.c.id, table.c.next_run_at)
                .where(table.c.enabled.is_(True), table.c.paused.is_(False),
                       table.c.next_run_at.is_(None) | (table.c.next_run_at <= now))
                .order_by(table.c.next_run_at.nulls_first(), table.c.id).limit(TICK_BATCH))]

    def refresh_schedules(self, *, force: bool = False) -> bool:
        """Recompute tenants' schedules when a tenant or plugin changed; True if it did."""
        fingerprint = tenants_fingerprint(self.store)
        if not force and fingerprint == self._fingerprint:
            return False
        with self.store.engine.connect() as connection:
            # One refresher at a time across workers and ticks.
            locked = connection.exec_driver_sql("SELECT pg_try_advisory_lock(hashtext('tether.refresh'))").scalar()
            if not locked:
                return False
            try:
                refresh_all(self.store, self.runtime.host)
            finally:
                connection.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('tether.refresh'))")
                connection.commit()
        self._fingerprint = tenants_fingerprint(self.store)
        return True

    async def retry_stalled(self) -> int:
        from procrastinate.exceptions import ConnectorException, UniqueViolation
        from procrastinate.jobs import Status

        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.stall_seconds)
        for job in stalled:
            try:
                await manager.retry_job(job)
                log.warning("job %s (%s) was running on a worker that stopped; retrying it", job.id, job.task_name)
            except UniqueViolation:
                # The same job was queued again meanwhile; that run does this one's work.
                await manager.finish_job_by_id_async(job.id, status=Status.ABORTED, delete_job=False)
                log.warning("job %s (%s) was running on a worker that stopped; an identical job waits, "
                            "so it is not retried", job.id, job.task_name)
            except ConnectorException as exc:  # another worker's check got to it first
                log.debug("stalled job %s already handled: %s", job.id, exc)
        await manager.prune_stalled_workers(self.stall_seconds)
        return len(stalled)

    # -- workers --------------------------------------------------------------------------------

    def run_worker(self, *, concurrency: int = 4, name: str | None = None, wait: bool = True,
                   keep_succeeded: bool = False) -> None:
        """Run a worker in this process until SIGINT/SIGTERM (or, without ``wait``, until idle).

        Succeeded jobs are deleted as they finish (their runs are in ``job_runs``) unless
        ``keep_succeeded``; failed ones are kept a week.
        """
        ensure_schema(self.store)
        self.refresh_schedules(force=True)
        listeners = getattr(self.runtime, "inbox_listeners", None)
        if listeners is not None and self._on_inbox not in listeners:
            listeners.append(self._on_inbox)
        self.app.run_worker(concurrency=concurrency, name=name or "tether", wait=wait,
                            delete_jobs="never" if keep_succeeded else "successful",
                            update_heartbeat_interval=self.heartbeat_seconds,
                            stalled_worker_timeout=self.stall_seconds, fetch_job_polling_interval=1.0,
                            additional_context={})

    def enqueue_inbox_drains(self) -> int:
        from .builtin import entry_point
        from .embedded import pending_inbox_tenants

        if entry_point("inbox") is None:
            return 0
        tenants = pending_inbox_tenants(self.store)
        self.enqueue_many([JobRequest(tenant_id=t, job="inbox", origin="startup") for t in tenants])
        return len(tenants)

    def _on_inbox(self, tenant: "TenantContext", connector: str, notification_ids: list[str]) -> None:
        self.enqueue(JobRequest(tenant_id=tenant.id, job="inbox", origin="webhook"))


def ensure_schema(store) -> None:
    """Create procrastinate's schema if the migration could not (procrastinate was missing then)."""
    from procrastinate.schema import SchemaManager

    with store.engine.begin() as connection:
        if connection.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is not None:
            return
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('tether.procrastinate_schema'))")
        if connection.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar() is None:
            log.info("creating procrastinate's schema")
            connection.connection.driver_connection.execute(SchemaManager.get_schema())


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


__all__ = ["ProcrastinateEngine", "ensure_schema", "conninfo", "RUN_TASK", "TICK_TASK"]
