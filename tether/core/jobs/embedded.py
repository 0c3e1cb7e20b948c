"""The embedded engine: APScheduler 3 for timing, the ``job_queue`` table and worker
threads for running, all in the one ``tether serve`` (or ``tether worker``) process.

APScheduler keeps each schedule in its SQLAlchemy job store (``apscheduler_jobs``, same
database), so a restart loses none and knows what it missed: with ``coalesce`` and no
misfire grace time, every schedule that should have fired during downtime fires once.
APScheduler does not run the jobs: a small executor turns each firing into a row of
``job_queue`` (deduplicated), and worker threads claim rows with per-key locks. Other
processes (webhook receivers under another server, the CLI) only insert rows; the
threads pick them up within a poll interval, and at once when the insert happens here.

APScheduler 3 cannot share a job store between processes, so exactly one process per
database may run this engine's scheduler; use the PostgreSQL engine to scale out.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Sequence

from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from ..store.types import utcnow
from .base import EnqueueResult, JobRequest, QueueSummary, with_job_lock
from .queue import ClaimedJob, JobQueue
from .runner import execute, retry_delay
from .schedules import Schedule, refresh_all, tenants_fingerprint

if TYPE_CHECKING:
    from ..plugins import TenantContext
    from ..runtime import Runtime

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
KEEP_SUCCEEDED = dt.timedelta(hours=6)
KEEP_FAILED = dt.timedelta(days=7)


def fire_schedule(tenant_id: str, job: str, object_name: str | None = None, connector: str | None = None,
                  lock: str | None = None, timing: str = "") -> None:
    """The callable APScheduler stores for each schedule.

    The engine's executor handles firings itself (it needs the fire time); this runs only
    if a schedule is fired some other way, e.g. ``scheduler.get_job(id).func(...)``.
    """
    engine = EmbeddedEngine.current
    if engine is None:
        raise RuntimeError("no embedded job engine is running in this process")
    engine.fire({"tenant_id": tenant_id, "job": job, "object_name": object_name, "connector": connector,
                 "lock": lock, "timing": timing}, [utcnow()])


class EnqueueExecutor(BaseExecutor):
    """An APScheduler executor that queues a job row for each firing, with its fire time."""

    def __init__(self, engine: "EmbeddedEngine") -> None:
        super().__init__()
        self.engine = engine

    def _do_submit_job(self, job, run_times) -> None:
        try:
            self.engine.fire(job.kwargs, run_times)
        except Exception as exc:
            self._run_job_error(job.id, exc, exc.__traceback__)
        else:
            self._run_job_success(job.id, [])


class EmbeddedEngine:
    """Scheduler and workers in this process; see the module docstring."""

    name = "embedded"
    current: "EmbeddedEngine | None" = None

    def __init__(self, runtime: "Runtime", *, threads: int = 4, poll_seconds: float = 1.0,
                 heartbeat_seconds: float = 10.0, stall_seconds: float = 60.0, refresh_seconds: float = 10.0,
                 max_attempts: int = 5) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.queue = JobQueue(self.store)
        self.threads = max(1, threads)
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stall_after = dt.timedelta(seconds=stall_seconds)
        self.refresh_seconds = refresh_seconds
        self.max_attempts = max_attempts
        self.scheduler: BackgroundScheduler | None = None
        self.problems: dict[str, list[str]] = {}
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._housekeeper: threading.Thread | None = None
        self._running: dict[int, ClaimedJob] = {}
        self._running_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._fingerprint: tuple | None = None
        self._started = False

    # -- the job interface ------------------------------------------------------------------

    def enqueue(self, request: JobRequest) -> EnqueueResult:
        return self.enqueue_many([request])[0]

    def enqueue_many(self, requests: Sequence[JobRequest]) -> list[EnqueueResult]:
        results = self.queue.enqueue([with_job_lock(self.runtime, r) for r in requests])
        if any(r.queued for r in results):
            with self._wake:
                self._wake.notify(sum(1 for r in results if r.queued))
        return results

    def summary(self) -> QueueSummary:
        return self.queue.summary()

    def close(self) -> None:
        self.stop()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, *, schedule: bool = True, work: bool = True) -> None:
        """Recover jobs of a crashed predecessor, start the scheduler, drain the inbox, start workers."""
        if self._started:
            return
        self._started = True
        self._stop.clear()
        EmbeddedEngine.current = self
        self.queue.recover(stall_after=self.stall_after)
        if schedule:
            self._start_scheduler()
        listeners = getattr(self.runtime, "inbox_listeners", None)
        if listeners is not None and self._on_inbox not in listeners:
            listeners.append(self._on_inbox)
        self.enqueue_inbox_drains()
        if work:
            for index in range(self.threads):
                thread = threading.Thread(target=self._work_loop, name=f"tether-job-{index}", daemon=True)
                thread.start()
                self._workers.append(thread)
        self._housekeeper = threading.Thread(target=self._housekeeping_loop, name="tether-job-housekeeping",
                                             daemon=True)
        self._housekeeper.start()
        log.info("embedded job engine started: %d worker thread(s), scheduler %s", len(self._workers),
                 "on" if schedule else "off")

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop firing and claiming; wait up to ``timeout`` for running jobs to finish."""
        if not self._started:
            return
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        deadline = time.monotonic() + timeout
        for thread in self._workers + ([self._housekeeper] if self._housekeeper else []):
            thread.join(max(0.0, deadline - time.monotonic()))
        still = [t.name for t in self._workers if t.is_alive()]
        if still:
            log.warning("jobs still running in %s at shutdown; they are retried at the next start", still)
        self._workers.clear()
        listeners = getattr(self.runtime, "inbox_listeners", None)
        if listeners is not None and self._on_inbox in listeners:
            listeners.remove(self._on_inbox)
        if EmbeddedEngine.current is self:
            EmbeddedEngine.current = None
        self._started = False

    # -- scheduling -----------------------------------------------------------------------------

    def _start_scheduler(self) -> None:
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.store.engine, tablename="apscheduler_jobs")},
            executors={"default": EnqueueExecutor(self)},
            # Every missed fire time reaches the executor, however late, which runs them as
            # one (the latest) and counts the rest: coalescing, with the count kept.
            job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        # Paused until the schedules match the tenants, so nothing stale fires first.
        self.scheduler.start(paused=True)
        self.refresh_schedules(force=True)
        self.scheduler.resume()

    def refresh_schedules(self, *, force: bool = False) -> bool:
        """Bring APScheduler's jobs in line with the tenants' schedules; True if it looked."""
        with self._refresh_lock:
            return self._refresh(force)

    def _refresh(self, force: bool) -> bool:
        fingerprint = tenants_fingerprint(self.store)
        if not force and fingerprint == self._fingerprint:
            return False
        results = refresh_all(self.store, self.runtime.host)
        self.problems = {tenant: r.problems for tenant, r in results.items() if r.problems}
        desired = {s.key: s for r in results.values() for s in r.schedules}
        if self.scheduler is not None:
            self._apply(desired)
        # Saving may itself move the fingerprint; take it after.
        self._fingerprint = tenants_fingerprint(self.store)
        return True

    def _apply(self, desired: dict[str, Schedule]) -> None:
        scheduler = self.scheduler
        existing = {job.id: job for job in scheduler.get_jobs()}
        added = changed = removed = 0
        for key, job in existing.items():
            if key not in desired:
                scheduler.remove_job(key)
                removed += 1
        for key, schedule in desired.items():
            kwargs = _job_kwargs(schedule)
            job = existing.get(key)
            if job is None:
                if schedule.active:
                    scheduler.add_job(fire_schedule, trigger=schedule.trigger(), id=key, name=key, kwargs=kwargs,
                                      replace_existing=True)
                    added += 1
                continue
            if job.kwargs != kwargs:
                scheduler.modify_job(key, kwargs=kwargs)
                scheduler.reschedule_job(key, trigger=schedule.trigger())
                changed += 1
            if not schedule.active and job.next_run_time is not None:
                scheduler.pause_job(key)
                changed += 1
            elif schedule.active and job.next_run_time is None:
                scheduler.resume_job(key)
                changed += 1
        if added or changed or removed:
            log.info("schedules: %d added, %d changed, %d removed", added, changed, removed)

    def next_run_times(self) -> dict[str, dt.datetime | None]:
        if self.scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def fire(self, kwargs: dict[str, Any], run_times: list[dt.datetime]) -> EnqueueResult:
        """A schedule fired (``run_times`` holds every fire time it stands for, coalesced)."""
        scheduled_for = run_times[-1].astimezone(UTC)
        request = JobRequest(tenant_id=kwargs["tenant_id"], job=kwargs["job"], object_name=kwargs.get("object_name"),
                             connector=kwargs.get("connector"), scheduled_for=scheduled_for,
                             origin="schedule").with_keys(lock=kwargs.get("lock"))
        if len(run_times) > 1:
            log.info("%s: %d missed firings run once", request.describe(), len(run_times))
        result = self.enqueue(request)
        if not result.queued:
            log.info("%s: the run of an earlier fire time still waits; this one collapses into it", request.describe())
        merged = (len(run_times) - 1) + (0 if result.queued else 1)
        if merged:
            count_collapsed(self.store, request.tenant_id, request.job, request.object_name, merged)
        return result

    # -- inbox ----------------------------------------------------------------------------------

    def enqueue_inbox_drains(self) -> int:
        """Queue the ``inbox`` job of every tenant with stored, unprocessed notifications."""
        from .builtin import entry_point

        if entry_point("inbox") is None:
            return 0
        tenants = pending_inbox_tenants(self.store)
        self.enqueue_many([JobRequest(tenant_id=t, job="inbox", origin="startup") for t in tenants])
        if tenants:
            log.info("queued the inbox of %d tenant(s) with unprocessed notifications", len(tenants))
        return len(tenants)

    def _on_inbox(self, tenant: "TenantContext", connector: str, notification_ids: list[str]) -> None:
        self.enqueue(JobRequest(tenant_id=tenant.id, job="inbox", origin="webhook"))

    # -- workers --------------------------------------------------------------------------------

    def _work_loop(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self.queue.claim()
            except Exception:
                log.exception("claiming a job failed; retrying shortly")
                self._stop.wait(self.poll_seconds)
                continue
            if claimed is None:
                with self._wake:
                    self._wake.wait(self.poll_seconds)
                continue
            self.process(claimed)

    def run_pending(self, *, limit: int | None = None, job_id: int | None = None) -> int:
        """Run waiting jobs in this thread until none is runnable (for ``--here`` and tests)."""
        done = 0
        while limit is None or done < limit:
            claimed = self.queue.claim(job_id=job_id)
            if claimed is None:
                break
            self.process(claimed)
            done += 1
        return done

    def process(self, claimed: ClaimedJob) -> None:
        with self._running_lock:
            self._running[claimed.id] = claimed
        try:
            outcome = execute(self.runtime, claimed.request, attempt=claimed.attempts,
                              max_attempts=claimed.max_attempts, engine=self.name, queue_id=claimed.id,
                              due_at=claimed.due_at)
            if outcome.retry:
                self.queue.retry(claimed.id, delay_seconds=retry_delay(claimed.attempts), error=outcome.error)
            else:
                self.queue.finish(claimed.id, succeeded=outcome.ok, error=outcome.error)
        except Exception:
            # The row stays 'doing' without heartbeats; recovery requeues it after the stall time.
            log.exception("could not record the end of job %s", claimed.id)
        finally:
            with self._running_lock:
                self._running.pop(claimed.id, None)

    # -- housekeeping ---------------------------------------------------------------------------

    def _housekeeping_loop(self) -> None:
        last = {"heartbeat": 0.0, "recover": time.monotonic(), "refresh": time.monotonic(), "prune": 0.0}
        while not self._stop.wait(min(1.0, self.heartbeat_seconds)):
            now = time.monotonic()
            try:
                if now - last["heartbeat"] >= self.heartbeat_seconds:
                    with self._running_lock:
                        ids = list(self._running)
                    self.queue.heartbeat(ids)
                    last["heartbeat"] = now
                if now - last["recover"] >= self.stall_after.total_seconds() / 2:
                    self.queue.recover(stall_after=self.stall_after)
                    last["recover"] = now
                if self.scheduler is not None and now - last["refresh"] >= self.refresh_seconds:
                    self.refresh_schedules()
                    last["refresh"] = now
                if now - last["prune"] >= 3600:
                    self.queue.prune(keep_succeeded=KEEP_SUCCEEDED, keep_failed=KEEP_FAILED)
                    last["prune"] = now
            except Exception:
                log.exception("job housekeeping failed; it runs again shortly")


def _job_kwargs(schedule: Schedule) -> dict[str, Any]:
    return {"tenant_id": schedule.tenant_id, "job": schedule.job, "object_name": schedule.object_name,
            "connector": schedule.connector, "lock": schedule.lock,
            "timing": f"{schedule.timing} {schedule.timezone}"}


def count_collapsed(store, tenant_id: str, job: str, object_name: str | None, fires: int) -> None:
    from sqlalchemy import update

    from .models import JobSchedule

    table = JobSchedule.__table__
    with store.engine.begin() as connection:  # updated_at kept: this is not an operator's change
        connection.execute(update(table).where(table.c.tenant_id == tenant_id, table.c.job == job,
                                               table.c.object_name == (object_name or ""))
                           .values(collapsed_fires=table.c.collapsed_fires + fires, updated_at=table.c.updated_at))


def pending_inbox_tenants(store) -> list[str]:
    from sqlalchemy import distinct, select

    from ..store.models import InboxMessage

    with store.admin_session() as session:
        return list(session.scalars(select(distinct(InboxMessage.tenant_id)).where(InboxMessage.status == "pending")))


__all__ = ["EmbeddedEngine", "fire_schedule", "pending_inbox_tenants"]
