"""Tables of the write-back path: what each record last looked like in sync, and conflicts.

A **shadow** is the last-synced state of one local record that tether has changed: per
tether field, the value both sides agreed on when they last met (Salesforce's value when
it was last applied here, or the value tether last pushed there). It is the *base* of the
three-way merge, and it is how our own pushes are recognised when they come back: an
incoming version whose fields all equal the base carries nothing new. Records never
edited in tether need no shadow (their local row is the last-synced state).

A **conflict** is one field both sides changed to different values; it is recorded with
base, local and remote values, and either resolved at once by the field's policy (kept
for the audit trail) or left ``open`` for a person (``manual``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..store.models import Base, BigId, TenantScoped
from ..store.types import UTCDateTime, utcnow


class SyncShadow(TenantScoped, Base):
    """The last-synced values of one locally edited record, per connector object."""

    __tablename__ = "sync_shadows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(40))
    local_id: Mapped[int] = mapped_column(BigInteger)
    # The source's id once the record exists there.
    external_id: Mapped[str | None] = mapped_column(String(64))
    # The value tether upserts by (the mapping's external_id_field), for records it created.
    tether_key: Mapped[str | None] = mapped_column(String(100))
    # {tether field: canonical JSON value} both sides last agreed on.
    base: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The source's stamp of the version ``base`` was last taken from (None: only pushes so far).
    base_modstamp: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # tether deleted the record at the source.
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    pushed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "connector", "object_name", "local_id"),
        Index("ix_sync_shadows_tenant_external", "tenant_id", "connector", "object_name", "external_id"),
    )


class SyncConflict(TenantScoped, Base):
    """One field changed on both sides to different values."""

    __tablename__ = "sync_conflicts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    object_name: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(40))
    local_id: Mapped[int] = mapped_column(BigInteger)
    external_id: Mapped[str | None] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(120))  # tether field
    source_field: Mapped[str | None] = mapped_column(String(120))
    policy: Mapped[str] = mapped_column(String(20))
    # {"base": ..., "local": ..., "remote": ...} as canonical JSON values.
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_modstamp: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    local_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # open → resolved
    status: Mapped[str] = mapped_column(String(20), default="open")
    # local | remote | value (a value a person typed)
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_sync_conflicts_tenant_status", "tenant_id", "status", "id"),
        Index("ix_sync_conflicts_tenant_record", "tenant_id", "connector", "object_name", "local_id"),
    )
