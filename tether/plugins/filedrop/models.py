"""The file drop plugin's tables: usage values and product events, each row from one file row.

``record_key`` is the connector's primary key, so a re-delivered row replaces the stored
one; ``arrived`` is when its file landed, and an older arrival never overwrites a newer
one. ``account`` is the id the files use; ``company_id`` is filled when a company with
that id (or name) exists, now or when it is synced later.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tether.core.store.models import Base, BigId, TenantScoped, Timestamps
from tether.core.store.types import UTCDateTime


class UsageValue(TenantScoped, Timestamps, Base):
    """One metric of one account on one day (``period``)."""

    __tablename__ = "filedrop_usage"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_key: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(120))
    period: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)
    source_file: Mapped[str] = mapped_column(String(255))
    arrived: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant_id", "record_key"),
        # Measures: one metric of many companies over a window.
        Index("ix_filedrop_usage_metric", "tenant_id", "metric", "company_id", "period"),
        Index("ix_filedrop_usage_unlinked", "tenant_id", "account"),
    )


class ProductEvent(TenantScoped, Timestamps, Base):
    """Something that happened in the product (a feature adopted, an admin added ...)."""

    __tablename__ = "filedrop_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    record_key: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(255))
    notes: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(200))
    source_file: Mapped[str] = mapped_column(String(255))
    arrived: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("tenant_id", "record_key"),
        Index("ix_filedrop_events_company", "tenant_id", "company_id", "occurred_at", "id"),
        Index("ix_filedrop_events_account", "tenant_id", "account"),
    )
