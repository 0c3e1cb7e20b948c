"""Running one job: load the tenant, find the job, record the run, classify the outcome.

Both engines call :func:`execute`. It never raises for a job's own failure: it returns an
:class:`Outcome` saying whether the engine should retry (a transient error, or a crash
the job did not see coming) or stop (success, quota guard, a permanent error). Jobs that
do not record their own runs (everything but ``sync``, whose engine does) get a
``JobRun`` row here, so ``tether status`` and the API see every run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import random
import socket
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from .. import metrics
from ..errors import (JobError, PermanentConnectorError, PluginHookError, QuotaExceeded, StoreUnavailable,
                      TenantNotFound, TetherError, TransientConnectorError, UnknownJob)
from ..store.models import JobRun
from ..store.types import utcnow
from .base import JobRequest
from .kinds import JobCall, JobKind, resolve

if TYPE_CHECKING:
    from ..runtime import Runtime

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 600.0


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a job execution ended: ``success``, ``throttled`` or ``failed``."""

    status: str
    error: str | None = None
    retry: bool = False
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("success", "throttled")


def retry_delay(attempt: int, *, base: float = RETRY_BASE_SECONDS, cap: float = RETRY_MAX_SECONDS) -> float:
    """Exponential backoff with full jitter: attempt 1 waits up to 5 s, 2 up to 10 s, ..."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2 ** (attempt - 1))


def execute(runtime: "Runtime", request: JobRequest, *, attempt: int = 1, max_attempts: int = 5,
            engine: str = "embedded", queue_id: int | None = None, due_at: dt.datetime | None = None) -> Outcome:
    """Run ``request`` once, in this thread."""
    started = utcnow()
    if due_at is not None:
        metrics.JOB_START_DELAY.labels(engine).observe(max(0.0, (started - due_at).total_seconds()))
    clock = time.monotonic()
    run_id: int | None = None
    kind: JobKind | None = None
    try:
        tenant = runtime.context(request.tenant_id)
        kind = resolve(tenant, request.job)
        if not kind.records_own_run:
            run_id = _start_run(runtime, request, attempt=attempt, engine=engine, queue_id=queue_id, due_at=due_at,
                                started=started)
        result = kind.run(JobCall(tenant=tenant, request=request, attempt=attempt))
        outcome = _from_result(result)
    except (TenantNotFound, UnknownJob, PermanentConnectorError) as exc:
        outcome = Outcome("failed", exc.one_line())
    except QuotaExceeded as exc:
        outcome = Outcome("throttled", exc.one_line())
    except (TransientConnectorError, StoreUnavailable, OperationalError) as exc:
        message = exc.one_line() if isinstance(exc, TetherError) else f"database: {exc.orig}"
        outcome = Outcome("failed", message, retry=attempt < max_attempts)
    except PluginHookError as exc:
        outcome = Outcome("failed", exc.one_line(), retry=attempt < max_attempts)
    except JobError as exc:
        outcome = Outcome("failed", exc.one_line())
    except Exception as exc:  # a bug, or a sync already running elsewhere: name the job's plugin, retry a few times
        where = f"plugin {kind.plugin!r} job {request.job!r}" if kind and kind.plugin else f"job {request.job!r}"
        message = f"{where} raised {type(exc).__name__}: {exc}"
        outcome = Outcome("failed", message, retry=attempt < max_attempts)
        log.exception("%s failed (attempt %d of %d)", request.describe(), attempt, max_attempts)
    elapsed = time.monotonic() - clock
    if run_id is not None:
        _finish_run(runtime, request.tenant_id, run_id, outcome)
    status_label = "retry" if outcome.retry else outcome.status
    metrics.JOB_RUNS.labels(request.job, status_label).inc()
    metrics.JOB_DURATION.labels(request.job).observe(elapsed)
    _count_records(request.job, outcome.details)
    if outcome.status == "failed":
        log.warning("%s failed after %.1fs (attempt %d of %d%s): %s", request.describe(), elapsed, attempt,
                    max_attempts, ", will be retried" if outcome.retry else "", outcome.error)
    else:
        log.info("%s %s in %.2fs", request.describe(), outcome.status, elapsed)
    return outcome


def _from_result(result: Any) -> Outcome:
    """Read what a job returned: a sync result (or a list of them), a mapping, or nothing."""
    results = result if isinstance(result, (list, tuple)) else [result]
    statuses, errors, details = [], [], {"records_read": 0, "records_applied": 0, "records_deleted": 0, "api_calls": 0}
    for item in results:
        if item is None:
            continue
        data = item if isinstance(item, dict) else {k: getattr(item, k) for k in (
            "status", "error", "records_read", "records_applied", "records_deleted", "api_calls", "run_id", "details")
            if hasattr(item, k)}
        status = data.get("status")
        if status:
            statuses.append("success" if status in ("success", "succeeded", "ok") else status)
        if data.get("error"):
            errors.append(str(data["error"]))
        for key in ("records_read", "records_applied", "records_deleted", "api_calls"):
            if isinstance(data.get(key), int):
                details[key] += data[key]
        extra = data.get("details")
        if isinstance(extra, dict):
            details.update(extra)
        if isinstance(item, dict):  # whatever else a job reports, kept on its run when it is JSON
            details.update({k: v for k, v in item.items() if k not in _RESULT_KEYS and _jsonable(v)})
    if "failed" in statuses:
        status = "failed"
    elif "throttled" in statuses:
        status = "throttled"
    else:
        status = "success"
    return Outcome(status, "; ".join(errors) or None, details=details)


_RESULT_KEYS = {"status", "error", "details", "records_read", "records_applied", "records_deleted", "api_calls"}


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _count_records(job: str, details: dict[str, Any]) -> None:
    for kind in ("read", "applied", "deleted"):
        value = details.get(f"records_{kind}")
        if isinstance(value, int) and value:
            metrics.SYNC_RECORDS.labels(job, kind).inc(value)
    calls = details.get("api_calls")
    if isinstance(calls, int) and calls:
        metrics.API_CALLS.labels(job).inc(calls)


def _start_run(runtime: "Runtime", request: JobRequest, *, attempt: int, engine: str, queue_id: int | None,
               due_at: dt.datetime | None, started: dt.datetime) -> int:
    details = {"engine": engine, "attempt": attempt, "origin": request.origin, "pid": os.getpid(),
               "host": socket.gethostname()}
    if queue_id is not None:
        details["queue_id"] = queue_id
    if request.scheduled_for is not None:
        details["scheduled_for"] = request.scheduled_for.isoformat()
    if due_at is not None:
        details["start_delay_ms"] = round((started - due_at).total_seconds() * 1000, 1)
    with runtime.store.tenant_transaction(request.tenant_id) as session:
        # This job holds its lock key, so a run of it still marked running is one whose
        # process died: close it as interrupted.
        session.execute(update(JobRun).where(
            JobRun.kind == request.job, JobRun.status == "running",
            JobRun.object_name.is_(None) if request.object_name is None else JobRun.object_name == request.object_name,
        ).values(status="failed", finished_at=started,
                 error="interrupted: the process running this job stopped before it finished").execution_options(
            synchronize_session=False))
        run = JobRun(kind=request.job, connector=request.connector, object_name=request.object_name,
                     mode=request.origin, status="running", started_at=started, details=details)
        session.add(run)
        session.flush()
        return run.id


def _finish_run(runtime: "Runtime", tenant_id: str, run_id: int, outcome: Outcome) -> None:
    counters = {key: outcome.details[key] for key in ("records_read", "records_applied", "records_deleted", "api_calls")
                if isinstance(outcome.details.get(key), int)}
    extra = {k: v for k, v in outcome.details.items() if k not in counters}
    if outcome.retry:
        extra["will_retry"] = True
    table = JobRun.__table__
    values: dict[str, Any] = {"status": outcome.status, "finished_at": utcnow(), "error": outcome.error, **counters}
    try:
        with runtime.store.engine.begin() as connection:
            if extra:
                details = connection.execute(select(table.c.details).where(
                    table.c.id == run_id, table.c.tenant_id == tenant_id)).scalar() or {}
                values["details"] = {**details, **extra}
            connection.execute(update(table).where(table.c.id == run_id, table.c.tenant_id == tenant_id).values(**values))
    except Exception:  # the job's own work is committed; losing its run row must not undo that
        log.exception("could not record the end of run %s of tenant %s", run_id, tenant_id)
