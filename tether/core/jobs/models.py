"""The job layer's tables: each tenant's schedules, and the embedded engine's queue.

``job_schedules`` is what ``tether jobs list|pause|resume`` reads and writes, whichever
engine runs; ``job_queue`` is the embedded engine's queue (the PostgreSQL engine keeps
its jobs in procrastinate's own tables). Both are infrastructure tables read across
tenants by the engine's workers, through Core statements that name ``tenant_id``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, BigId, TenantScoped
from ..store.types import UTCDateTime, utcnow

# Queue states: todo → doing → succeeded | failed | superseded (a retry that found an
# identical run already queued) | cancelled.
QUEUE_STATES = ("todo", "doing", "succeeded", "failed", "superseded", "cancelled")


class JobSchedule(TenantScoped, Base):
    """One scheduled job of one tenant: built in, from a plugin, or set by the manifest."""

    __tablename__ = "job_schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    # "" when the job is not per object (a unique constraint cannot see NULLs as equal).
    object_name: Mapped[str] = mapped_column(String(100), default="")
    connector: Mapped[str | None] = mapped_column(String(100))
    every_seconds: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(120))
    # A plugin job's own lock name (scoped to the tenant when used); None: the default key.
    lock: Mapped[str | None] = mapped_column(String(200))
    # Cron schedules fire in the tenant's time zone.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # default | plugin:<name> | manifest
    source: Mapped[str] = mapped_column(String(120), default="default")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by an operator (`tether jobs pause`); survives manifest changes and restarts.
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_fired_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Fire times that got no run of their own: merged into the run of a later fire time
    # (downtime, or a late tick) or into a run still waiting (jobs slower than the schedule).
    collapsed_fires: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "job", "object_name"),
        Index("ix_job_schedules_due", "next_run_at"),
    )


class QueuedJob(TenantScoped, Base):
    """A job waiting for, holding, or done with a worker thread of the embedded engine."""

    __tablename__ = "job_queue"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str | None] = mapped_column(String(100))
    connector: Mapped[str | None] = mapped_column(String(100))
    args: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # At most one job per lock key runs at a time; at most one per dedupe key waits.
    lock_key: Mapped[str | None] = mapped_column(String(255))
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="todo")
    # schedule | manual | webhook | startup
    origin: Mapped[str] = mapped_column(String(20), default="manual")
    enqueued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Not before this time (retries back off by moving it).
    run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The fire time of the schedule that queued it, to measure start delay.
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # host:pid:instance of the engine running it, to tell a crashed holder from a live one.
    worker: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("uq_job_queue_dedupe_todo", "dedupe_key", unique=True,
              sqlite_where=text("status = 'todo'"), postgresql_where=text("status = 'todo'")),
        Index("uq_job_queue_lock_doing", "lock_key", unique=True,
              sqlite_where=text("status = 'doing'"), postgresql_where=text("status = 'doing'")),
        Index("ix_job_queue_claim", "status", "run_at", "priority"),
        Index("ix_job_queue_tenant_job", "tenant_id", "job", "object_name", "id"),
    )
