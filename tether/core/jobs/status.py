"""``tether status``: per tenant, how fresh each object is and what is going wrong.

- **last sync** per object: the latest sync run and the latest successful one;
- **lag**: how long since the start of the last successful sync (the data is at least
  that fresh), or "never";
- **failures**: failed runs of the last 24 hours, with the latest error of each job;
- **quota**: API calls tether made in the last 24 hours, and the source's own count
  against its daily limit when a run saw it;
- inbox and outbox rows waiting or failed, and paused schedules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ..store.models import InboxMessage, JobRun, OutboxEntry
from ..store.types import utcnow
from .models import JobSchedule

if TYPE_CHECKING:
    from ..store import Store

DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class ObjectStatus:
    connector: str
    object_name: str
    last_run_at: dt.datetime | None
    last_status: str | None
    last_success_at: dt.datetime | None
    lag: dt.timedelta | None
    records_last_run: int
    error: str | None


@dataclasses.dataclass(frozen=True)
class Failure:
    job: str
    object_name: str | None
    at: dt.datetime
    error: str | None
    count: int


@dataclasses.dataclass(frozen=True)
class TenantStatus:
    tenant_id: str
    objects: list[ObjectStatus]
    failures: list[Failure]
    api_calls_24h: int
    quota: tuple[int, int] | None
    inbox_pending: int
    inbox_failed: int
    outbox_pending: int
    outbox_failed: int
    paused_schedules: int

    @property
    def failures_24h(self) -> int:
        return sum(f.count for f in self.failures)

    @property
    def worst_lag(self) -> dt.timedelta | None:
        lags = [o.lag for o in self.objects if o.lag is not None]
        return max(lags) if lags else None

    @property
    def never_synced(self) -> list[str]:
        return [o.object_name for o in self.objects if o.last_success_at is None]


def tenant_status(store: "Store", tenant_id: str, *, now: dt.datetime | None = None) -> TenantStatus:
    from ..sync.runs import sync_status

    now = now or utcnow()
    objects = []
    for entry in sync_status(store, tenant_id):
        last, success = entry.last_run, entry.last_success
        objects.append(ObjectStatus(
            connector=entry.connector, object_name=entry.object_name,
            last_run_at=last.started_at if last else None, last_status=last.status if last else None,
            last_success_at=success.finished_at if success else None,
            lag=now - success.started_at if success else None,
            records_last_run=last.records_read if last else 0,
            error=last.error if last and last.status != "success" else None))
    since = now - DAY
    with store.tenant_session(tenant_id) as session:
        failed = session.execute(
            select(JobRun.kind, JobRun.object_name, func.count(), func.max(JobRun.id))
            .where(JobRun.status == "failed", JobRun.started_at >= since)
            .group_by(JobRun.kind, JobRun.object_name)).all()
        latest = {row.id: row for row in session.scalars(select(JobRun).where(JobRun.id.in_([f[3] for f in failed])))}
        calls = session.scalar(select(func.coalesce(func.sum(JobRun.api_calls), 0)).where(JobRun.started_at >= since))
        quota = _last_quota(session)
        inbox = dict(session.execute(select(InboxMessage.status, func.count()).group_by(InboxMessage.status)).all())
        outbox = dict(session.execute(select(OutboxEntry.status, func.count()).group_by(OutboxEntry.status)).all())
        paused = session.scalar(select(func.count()).select_from(JobSchedule).where(JobSchedule.paused.is_(True)))
    failures = sorted((Failure(kind, obj, latest[last_id].started_at, latest[last_id].error, count)
                       for kind, obj, count, last_id in failed), key=lambda f: f.at, reverse=True)
    return TenantStatus(tenant_id, objects, failures, int(calls or 0), quota, inbox.get("pending", 0),
                        inbox.get("failed", 0), outbox.get("pending", 0), outbox.get("failed", 0), paused or 0)


def _last_quota(session) -> tuple[int, int] | None:
    """The source's API usage as the latest run that saw it reported (``details.api_usage``)."""
    for run in session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(50)):
        usage = (run.details or {}).get("api_usage")
        if isinstance(usage, (list, tuple)) and len(usage) == 2:
            return int(usage[0]), int(usage[1])
    return None


def format_lag(lag: dt.timedelta | None) -> str:
    if lag is None:
        return "never"
    seconds = int(lag.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
