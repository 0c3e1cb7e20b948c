"""The Timeline plugin's tables: custom activity types, and activities logged in tether or
synced from a connector (a Salesforce Task, Event or stage change)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tether.core.store.models import Base, BigId, ExternalRecord, TenantScoped, Timestamps
from tether.core.store.types import UTCDateTime

BUILT_IN_TYPES = ("Update", "Call", "Meeting", "Email", "Milestone")
SCOPES = ("global", "company", "relationship")


class ActivityType(TenantScoped, Timestamps, Base):
    """A custom activity type. ``scope``: global (anywhere), company (logged on a company), or
    relationship (logged on relationships of one relationship type)."""

    __tablename__ = "timeline_activity_types"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(500), default="")
    scope: Mapped[str] = mapped_column(String(20), default="global")
    relationship_type_id: Mapped[int | None] = mapped_column(
        ForeignKey("relationship_types.id", ondelete="CASCADE"), index=True)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class ActivityRecord(TenantScoped, ExternalRecord, Timestamps, Base):
    """An activity logged in tether or synced from a connector. Activities logged on a
    relationship or an opportunity carry its company too, which is how they roll up to the
    company's timeline.

    Synced activities are keyed by (``external_source``, ``external_id``) and follow the
    sync's rules: an older ``source_modstamp`` changes nothing, a deletion at the source
    sets ``is_deleted`` (so an older copy arriving later cannot revive it). Several objects
    of one connector feed this table (Tasks, Events, stage history), and a connector's ids
    are unique per object only, so ``external_source`` is ``"<connector>:<object>"``
    (``salesforce:Task``). An activity logged here and written back keeps
    ``external_source`` empty; its CRM id is in the write-back's shadow rows.
    """

    __tablename__ = "timeline_activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(255))
    notes: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(200))
    internal_attendees: Mapped[list[Any]] = mapped_column(default=list)
    external_attendees: Mapped[list[Any]] = mapped_column(default=list)
    reporting_category: Mapped[str | None] = mapped_column(String(80))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    relationship_id: Mapped[int | None] = mapped_column(ForeignKey("relationships.id", ondelete="SET NULL"))
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    # "<connector>:<object>" (wider than the core's connector names).
    external_source: Mapped[str | None] = mapped_column(String(120))
    # A synced activity's company and opportunity by their source ids, so one that arrives
    # before them is linked when they land (see sync.py).
    company_external_id: Mapped[str | None] = mapped_column(String(64))
    opportunity_external_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("tenant_id", "external_source", "external_id"),
        # Activities waiting for their company or opportunity to arrive.
        Index("ix_timeline_activities_company_ref", "tenant_id", "company_external_id"),
        Index("ix_timeline_activities_opportunity_ref", "tenant_id", "opportunity_external_id"),
        # Newest-first reads per entity and tenant-wide; id breaks ties in feed order.
        Index("ix_timeline_activities_company", "tenant_id", "company_id", "occurred_at", "id"),
        Index("ix_timeline_activities_relationship", "tenant_id", "relationship_id", "occurred_at", "id"),
        Index("ix_timeline_activities_opportunity", "tenant_id", "opportunity_id", "occurred_at", "id"),
        Index("ix_timeline_activities_tenant_time", "tenant_id", "occurred_at", "id"),
        # The few activities hidden at their source, per entity: a scoring run looks them up
        # instead of scanning every activity of the tenant.
        Index("ix_timeline_activities_hidden_company", "tenant_id", "company_id",
              sqlite_where=text("is_deleted = 1"), postgresql_where=text("is_deleted")),
        Index("ix_timeline_activities_hidden_relationship", "tenant_id", "relationship_id",
              sqlite_where=text("is_deleted = 1"), postgresql_where=text("is_deleted")),
    )
