"""The Scorecards plugin's tables: API-managed definitions, current scores, history, overrides, runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.core.store.models import Base, BigId, TenantScoped, Timestamps
from tether.core.store.types import UTCDateTime, utcnow


class ScorecardDefinition(TenantScoped, Timestamps, Base):
    """A scorecard managed through the API (tenants whose config lists scorecards do not use this)."""

    __tablename__ = "scorecard_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    entity: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class ScoreRun(TenantScoped, Base):
    """One scoring run, and the layout of each scorecard it used (to read stored measure scores)."""

    __tablename__ = "scorecard_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    trigger: Mapped[str] = mapped_column(String(20), default="on_demand")  # scheduled | on_demand | change | override
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    # {scorecard name: [measure keys in stored order]}
    layouts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_scorecard_runs_started", "tenant_id", "started_at"),)


class HealthScore(TenantScoped, Base):
    """The current score of one company or relationship: exactly one row per scored entity.

    Keyed by (tenant, kind, entity) with no other index, and without a rowid on SQLite:
    a run upserts hundreds of thousands of rows, and every extra B-tree costs on each."""

    __tablename__ = "health_scores"

    # Declared here (not by TenantScoped) to be part of the key rather than separately indexed.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    entity_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    scorecard: Mapped[str] = mapped_column(String(80))
    score: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(40))
    color: Mapped[str | None] = mapped_column(String(7))
    previous_score: Mapped[float | None] = mapped_column(Float)
    trend: Mapped[str | None] = mapped_column(String(4))  # up | down | same
    # The exception that forced the score, if one did.
    exception: Mapped[str | None] = mapped_column(String(80))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    # Each measure's 0–100 score as float32 (NaN = N/A), in the run's layout order.
    measure_scores: Mapped[bytes | None] = mapped_column(LargeBinary)
    run_id: Mapped[int | None] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A 64-bit digest of scorecard, score, range, exception, override and measure scores:
    # a run compares digests to find what changed without reading the rows back.
    digest: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = ({"sqlite_with_rowid": False},)


class HealthScoreHistory(TenantScoped, Base):
    """Snapshots of scores (weekly by default), for history charts and trends over time."""

    __tablename__ = "health_score_history"
    # A snapshot inserts a row per scored entity: one index (per entity, over time) and no
    # other (the tenant and time indexes made a 400,000-row snapshot 730 ms instead of 480).
    __tenant_id_index__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_kind: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigId)
    scorecard: Mapped[str] = mapped_column(String(80))
    score: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(40))
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    snapshot_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_health_score_history_entity", "tenant_id", "entity_kind", "entity_id", "snapshot_at"),)


class ScoreOverride(TenantScoped, Base):
    """A CSM's manual score for one measure (or the overall score) of one entity.

    It holds until the next full scoring run, which marks it ``consumed_at``."""

    __tablename__ = "health_score_overrides"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_kind: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[int] = mapped_column(BigId)
    measure: Mapped[str | None] = mapped_column(String(120))  # None: the overall score
    score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    consumed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_health_score_overrides_active", "tenant_id", "entity_kind", "consumed_at", "entity_id"),)
