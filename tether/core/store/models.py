"""The core entities. Every row but a tenant's own carries ``tenant_id``.

Later areas (sync state, scorecards, timeline, renewals, cockpit) add their tables in
their own modules on the same ``Base`` and in their own Alembic branch.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

from .types import JSONDocument, Money, UTCDateTime, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; BIGINT there would need explicit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSONDocument, list[Any]: JSONDocument}


Base.metadata.naming_convention = NAMING_CONVENTION


class TenantScoped:
    """Mixin for every tenant-owned table; the tenant-scoped session filters on it.

    ``tenant_id`` has an index of its own unless the model sets ``__tenant_id_index__ =
    False``: for a table whose other indexes all lead with ``tenant_id`` it is one more
    B-tree to write on each insert that no query needs."""

    __tenant_id_index__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"), index=cls.__tenant_id_index__)


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Tenant(Timestamps, Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mappings: Mapped[list[Any]] = mapped_column(default=list)
    schedules: Mapped[list[Any]] = mapped_column(default=list)
    # Digest of the last applied manifest: applying the same one again writes nothing.
    manifest_digest: Mapped[str | None] = mapped_column(String(64))


class PluginInstallation(TenantScoped, Timestamps, Base):
    __tablename__ = "plugin_installations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plugin_name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Secret values are never here: only {"$env": NAME} / {"$file": path} references.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("tenant_id", "plugin_name"),)


class ExternalRecord:
    """Columns shared by rows that mirror a record in an external system."""

    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(64))
    # The source's own change stamp (Salesforce SystemModstamp): older arrivals change nothing.
    source_modstamp: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Company(TenantScoped, ExternalRecord, Timestamps, Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), index=True)
    # Kept so a child that arrives before its parent links up once the parent lands.
    parent_external_id: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(120))
    segment: Mapped[str | None] = mapped_column(String(120))
    company_type: Mapped[str | None] = mapped_column(String(120))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    csm: Mapped[str | None] = mapped_column(String(200))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(80))
    arr: Mapped[Decimal | None] = mapped_column(Money)
    mrr: Mapped[Decimal | None] = mapped_column(Money)
    employees: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    parent: Mapped["Company | None"] = relationship(remote_side="Company.id", back_populates="children")
    children: Mapped[list["Company"]] = relationship(back_populates="parent")

    __table_args__ = (
        UniqueConstraint("tenant_id", "external_source", "external_id"),
        Index("ix_companies_tenant_parent_external", "tenant_id", "parent_external_id"),
    )


class RelationshipType(TenantScoped, Timestamps, Base):
    __tablename__ = "relationship_types"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(1000))
    # Typed attribute fields: [{"name": "tier", "type": "string", "required": false, ...}]
    fields: Mapped[list[Any]] = mapped_column(default=list)
    # "admin" when defined in a manifest or the API, else the contributing plugin's name.
    source: Mapped[str] = mapped_column(String(100), default="admin")

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class Relationship(TenantScoped, ExternalRecord, Timestamps, Base):
    __tablename__ = "relationships"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("relationship_types.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    arr: Mapped[Decimal | None] = mapped_column(Money)
    mrr: Mapped[Decimal | None] = mapped_column(Money)
    csm: Mapped[str | None] = mapped_column(String(200))
    stage: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str | None] = mapped_column(String(80))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    company: Mapped[Company] = relationship()
    type: Mapped[RelationshipType] = relationship()

    __table_args__ = (
        UniqueConstraint("tenant_id", "external_source", "external_id"),
        # One relationship of a type per name under a company: rules find-or-create by it.
        UniqueConstraint("tenant_id", "company_id", "type_id", "name"),
    )


class Opportunity(TenantScoped, ExternalRecord, Timestamps, Base):
    __tablename__ = "opportunities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"), index=True)
    account_external_id: Mapped[str | None] = mapped_column(String(64))
    relationship_id: Mapped[int | None] = mapped_column(
        ForeignKey("relationships.id", ondelete="SET NULL"), index=True
    )
    stage: Mapped[str | None] = mapped_column(String(120))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    close_date: Mapped[dt.date | None] = mapped_column(Date)
    opportunity_type: Mapped[str | None] = mapped_column(String(120))
    record_type: Mapped[str | None] = mapped_column(String(120))
    probability: Mapped[float | None] = mapped_column(Float)
    forecast_category: Mapped[str | None] = mapped_column(String(40))
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_external_id: Mapped[str | None] = mapped_column(String(64))
    owner_name: Mapped[str | None] = mapped_column(String(200))
    csm: Mapped[str | None] = mapped_column(String(200))
    # new_business, renewal, upsell, downsell, renewal_upsell, renewal_downsell, churn
    booking_type: Mapped[str | None] = mapped_column(String(40))
    # Renewal amounts, consistently ARR (or MRR, per tenant setting).
    target_amount: Mapped[Decimal | None] = mapped_column(Money)
    forecast_amount: Mapped[Decimal | None] = mapped_column(Money)
    final_amount: Mapped[Decimal | None] = mapped_column(Money)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    company: Mapped[Company | None] = relationship()

    __table_args__ = (
        UniqueConstraint("tenant_id", "external_source", "external_id"),
        Index("ix_opportunities_tenant_close", "tenant_id", "close_date"),
        Index("ix_opportunities_tenant_account", "tenant_id", "account_external_id"),
    )


class SyncCursor(TenantScoped, Base):
    """How far an inbound sync of one object has read; committed with the rows it covers."""

    __tablename__ = "sync_cursors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str] = mapped_column(String(100))
    # The connector's own cursor value (for Salesforce an ISO SystemModstamp); opaque to the core.
    value: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    full_load_completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("tenant_id", "connector", "object_name"),)


class InboxMessage(TenantScoped, Base):
    """A notification received from an external system, stored before it is acknowledged."""

    __tablename__ = "inbox"
    # Written on the webhook's hot path; both indexes below lead with tenant_id.
    __tenant_id_index__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    notification_id: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str | None] = mapped_column(String(100))
    record_external_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending → applied | stale | failed
    status: Mapped[str] = mapped_column(String(20), default="pending")
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("tenant_id", "connector", "notification_id"),
        Index("ix_inbox_tenant_status", "tenant_id", "status", "id"),
    )


class OutboxEntry(TenantScoped, Base):
    """A local change waiting to be pushed, captured in the same transaction as the change."""

    __tablename__ = "outbox"
    # Written in every captured local change's transaction; its index leads with tenant_id.
    __tenant_id_index__ = False

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str] = mapped_column(String(100))
    local_id: Mapped[int | None] = mapped_column(BigInteger)
    external_id: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(20), default="upsert")  # upsert | delete
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # pending → pushed | failed | superseded | skipped (no value differs) | cancelled (deleted before pushed)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    pushed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_tenant_status", "tenant_id", "status", "id"),)


class JobRun(TenantScoped, Base):
    """One run of a sync, push, reconcile or plugin job, with what it did."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    connector: Mapped[str | None] = mapped_column(String(100))
    object_name: Mapped[str | None] = mapped_column(String(100))
    mode: Mapped[str | None] = mapped_column(String(40))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # running → success | throttled | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    records_read: Mapped[int] = mapped_column(Integer, default=0)
    records_applied: Mapped[int] = mapped_column(Integer, default=0)
    records_deleted: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_job_runs_tenant_kind_object", "tenant_id", "kind", "object_name", "id"),)


class User(TenantScoped, Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40), default="user")  # admin | user | viewer_analytics
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("tenant_id", "username"),)


class ApiToken(TenantScoped, Base):
    """An API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
