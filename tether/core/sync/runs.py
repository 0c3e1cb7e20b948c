"""Sync runs as ``JobRun`` rows (kind ``"sync"``): start, progress, finish, and status.

A run row is committed when the run starts, its counters move forward in the same
transaction as each applied page (so a killed run still shows what it did), and it is
finished as ``success``, ``throttled`` or ``failed``. A run whose process died is found
by the next run of the same object and closed as failed ("interrupted").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
from typing import Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import TetherError
from ..store import Store
from ..store.models import JobRun, SyncCursor
from ..store.types import utcnow

KIND = "sync"
STATUSES = ("running", "success", "throttled", "failed")
# A run on another machine that has not moved for this long is taken as dead.
STALE_AFTER = dt.timedelta(minutes=15)


class SyncAlreadyRunning(TetherError):
    pass


@dataclasses.dataclass
class RunCounters:
    records_read: int = 0
    records_applied: int = 0
    records_deleted: int = 0
    records_unchanged: int = 0
    api_calls: int = 0
    pages: int = 0

    def as_columns(self) -> dict[str, int]:
        return {"records_read": self.records_read, "records_applied": self.records_applied,
                "records_deleted": self.records_deleted, "api_calls": self.api_calls}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _is_dead(run: JobRun, now: dt.datetime) -> bool:
    details = run.details or {}
    if details.get("host") == socket.gethostname() and isinstance(details.get("pid"), int):
        if details["pid"] == os.getpid():
            return False
        return not _process_alive(details["pid"])
    heartbeat = details.get("heartbeat")
    seen = dt.datetime.fromisoformat(heartbeat) if heartbeat else run.started_at
    return now - seen > STALE_AFTER


def start_run(store: Store, tenant_id: str, *, connector: str, object_name: str, mode: str) -> int:
    """Close interrupted runs of this object, refuse if one is alive, and open a new run."""
    now = utcnow()
    with store.tenant_transaction(tenant_id) as session:
        running = session.scalars(select(JobRun).where(
            JobRun.kind == KIND, JobRun.connector == connector, JobRun.object_name == object_name,
            JobRun.status == "running")).all()
        for run in running:
            if not _is_dead(run, now):
                raise SyncAlreadyRunning(
                    f"a sync of {connector} {object_name} is already running for tenant {tenant_id!r} "
                    f"(run {run.id}, pid {run.details.get('pid')} on {run.details.get('host')})",
                    hint="wait for it to finish; a run whose process died is closed automatically")
            run.status = "failed"
            run.finished_at = now
            run.error = "interrupted: the process running this sync stopped before it finished"
        run = JobRun(kind=KIND, connector=connector, object_name=object_name, mode=mode, status="running",
                     started_at=now, details={**_owner(), "heartbeat": now.isoformat()})
        session.add(run)
        session.flush()
        return run.id


def record_progress(session: Session, tenant_id: str, run_id: int, counters: RunCounters,
                    details: dict[str, Any]) -> None:
    """Move the run's counters forward inside the page's own transaction."""
    table = JobRun.__table__
    session.connection().execute(
        update(table).where(table.c.id == run_id, table.c.tenant_id == tenant_id)
        .values(**counters.as_columns(), details={**details, **_owner(), "heartbeat": utcnow().isoformat(),
                                                  "records_unchanged": counters.records_unchanged,
                                                  "pages": counters.pages}))


def finish_run(store: Store, tenant_id: str, run_id: int, *, status: str, counters: RunCounters,
               details: dict[str, Any], error: str | None = None) -> None:
    assert status in STATUSES[1:]
    with store.tenant_transaction(tenant_id) as session:
        run = session.get(JobRun, run_id)
        run.status = status
        run.finished_at = utcnow()
        run.error = error
        for name, value in counters.as_columns().items():
            setattr(run, name, value)
        run.details = {**details, "records_unchanged": counters.records_unchanged, "pages": counters.pages}


@dataclasses.dataclass(frozen=True)
class ObjectStatus:
    connector: str
    object_name: str
    cursor: str | None
    full_load_completed_at: dt.datetime | None
    last_run: JobRun | None
    last_success: JobRun | None


def sync_status(store: Store, tenant_id: str) -> list[ObjectStatus]:
    """Per synced object: its cursor, its latest run and its latest successful run."""
    with store.tenant_session(tenant_id) as session:
        cursors = {(c.connector, c.object_name): c for c in session.scalars(select(SyncCursor))}
        runs: Sequence[JobRun] = session.scalars(
            select(JobRun).where(JobRun.kind == KIND).order_by(JobRun.id.desc()).limit(2000)).all()
    latest: dict[tuple[str, str], JobRun] = {}
    success: dict[tuple[str, str], JobRun] = {}
    for run in runs:
        key = (run.connector or "", run.object_name or "")
        latest.setdefault(key, run)
        if run.status == "success":
            success.setdefault(key, run)
    keys = sorted(set(cursors) | set(latest))
    return [ObjectStatus(connector=k[0], object_name=k[1], cursor=cursors[k].value if k in cursors else None,
                         full_load_completed_at=cursors[k].full_load_completed_at if k in cursors else None,
                         last_run=latest.get(k), last_success=success.get(k)) for k in keys]


def recent_runs(store: Store, tenant_id: str, limit: int = 20) -> list[JobRun]:
    with store.tenant_session(tenant_id) as session:
        return list(session.scalars(select(JobRun).where(JobRun.kind == KIND).order_by(JobRun.id.desc()).limit(limit)))
