"""The job interface every caller uses, whichever engine runs the jobs.

A job is named work for one tenant, maybe for one object: ``sync`` of ``Opportunity``,
``inbox``, a plugin's ``score_recompute``. Callers hand a :class:`JobRequest` to an
engine's ``enqueue``; schedules hand theirs over when they fire. Two keys govern it:

- ``lock_key``: at most one job per lock key **runs** at a time (per tenant and object
  for the sync jobs, so a sync and a reconcile of the same object never overlap);
- ``dedupe_key``: at most one job per dedupe key **waits**; a storm of triggers while one
  waits collapses into that one (a trigger while one runs queues exactly one more, so the
  change that arrived mid-run is not missed).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

Origin = Literal["schedule", "manual", "webhook", "startup"]


def lock_key_for(tenant_id: str, job: str, object_name: str | None, lock: str | None = None) -> str:
    """Per-object jobs lock on (tenant, object); others on (tenant, their lock or name)."""
    if object_name:
        return f"{tenant_id}/{object_name}"
    return f"{tenant_id}/{lock or job}"


def dedupe_key_for(tenant_id: str, job: str, object_name: str | None) -> str:
    return f"{tenant_id}/{job}/{object_name or '-'}"


@dataclasses.dataclass(frozen=True)
class JobRequest:
    """One job to run for one tenant."""

    tenant_id: str
    job: str
    object_name: str | None = None
    connector: str | None = None
    args: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lock_key: str | None = None
    dedupe_key: str | None = None
    # Not before this time (None: now).
    run_at: dt.datetime | None = None
    # The schedule fire time this request stands for, when a schedule made it.
    scheduled_for: dt.datetime | None = None
    origin: Origin = "manual"
    priority: int = 0
    max_attempts: int = 5

    def with_keys(self, *, lock: str | None = None) -> "JobRequest":
        """This request with its default lock and dedupe keys filled in."""
        return dataclasses.replace(
            self,
            lock_key=self.lock_key or lock_key_for(self.tenant_id, self.job, self.object_name, lock),
            dedupe_key=self.dedupe_key or dedupe_key_for(self.tenant_id, self.job, self.object_name),
        )

    def describe(self) -> str:
        return f"{self.tenant_id}: {self.job}" + (f" {self.object_name}" if self.object_name else "")


def with_job_lock(runtime: Any, request: JobRequest) -> JobRequest:
    """``request`` with its keys, the lock taken from the job's plugin when it has one."""
    if request.lock_key is not None:
        return request.with_keys()
    from .kinds import job_lock

    return request.with_keys(lock=job_lock(runtime, request.tenant_id, request.job))


@dataclasses.dataclass(frozen=True)
class EnqueueResult:
    """``queued`` with the new job's id, or ``deduplicated`` into the job already waiting."""

    status: Literal["queued", "deduplicated"]
    job_id: int | None = None

    @property
    def queued(self) -> bool:
        return self.status == "queued"


@dataclasses.dataclass(frozen=True)
class QueueSummary:
    """How many jobs wait and run, for ``tether jobs list`` and the metrics."""

    waiting: int
    running: int
    failed_last_day: int
    oldest_waiting_seconds: float | None = None


@runtime_checkable
class JobEngine(Protocol):
    """What the embedded and the PostgreSQL engine both offer."""

    name: str

    def enqueue(self, request: JobRequest) -> EnqueueResult:
        """Queue a job, honouring its dedupe key; returns at once."""
        ...

    def enqueue_many(self, requests: Sequence[JobRequest]) -> list[EnqueueResult]:
        ...

    def summary(self) -> QueueSummary:
        ...

    def close(self) -> None:
        ...
