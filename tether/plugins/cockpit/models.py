"""The Cockpit plugin's tables: calls to action (CTAs), their tasks, comments and linked
opportunities, playbooks and rules managed through the API, and the rule occurrences the
rules engine has seen.

A CTA opened by a rule carries the rule's name and an *occurrence key* (what the
condition is about, e.g. ``company:42``). A partial unique index allows one open CTA per
(tenant, rule, occurrence): the database itself refuses a duplicate, whatever runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from tether.core.store.models import Base, BigId, TenantScoped, Timestamps
from tether.core.store.types import UTCDateTime, utcnow

NOT_CLOSED = text("is_closed = false")


class Cta(TenantScoped, Timestamps, Base):
    """A call to action on a company, optionally on one of its relationships."""

    __tablename__ = "cockpit_ctas"

    # Declared here so it is not separately indexed: every index below starts with it.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    relationship_id: Mapped[int | None] = mapped_column(ForeignKey("relationships.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    priority: Mapped[str] = mapped_column(String(10), default="medium")
    status: Mapped[str] = mapped_column(String(40), default="open")
    # Derived from the status (built-in closed statuses, or a custom status marked closed).
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    # manual (API, pages, CLI) | rule (the rules engine) | plugin (another plugin's code)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    rule_key: Mapped[str | None] = mapped_column(String(80))
    occurrence_key: Mapped[str | None] = mapped_column(String(200))
    playbook: Mapped[str | None] = mapped_column(String(80))
    created_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        # A CSM's list: their CTAs, open ones first, by due date.
        Index("ix_cockpit_ctas_owner", "tenant_id", "owner", "is_closed", "due_date", "id"),
        Index("ix_cockpit_ctas_tenant_open", "tenant_id", "is_closed", "due_date", "id"),
        Index("ix_cockpit_ctas_company", "tenant_id", "company_id"),
        Index("ix_cockpit_ctas_relationship", "tenant_id", "relationship_id"),
        # No duplicate while one is open: one open CTA per rule and occurrence.
        Index("uq_cockpit_ctas_open_occurrence", "tenant_id", "rule_key", "occurrence_key", unique=True,
              sqlite_where=NOT_CLOSED, postgresql_where=NOT_CLOSED),
    )


class CtaTask(TenantScoped, Timestamps, Base):
    """One task of a CTA, with its own owner and due date."""

    __tablename__ = "cockpit_tasks"

    # Declared here so it is not separately indexed: every index below starts with it.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cta_id: Mapped[int] = mapped_column(ForeignKey("cockpit_ctas.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # open | completed
    status: Mapped[str] = mapped_column(String(20), default="open")
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A username, or "salesforce" when it was completed there and the status poll brought it back.
    completed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_cockpit_tasks_cta", "tenant_id", "cta_id", "position"),
        Index("ix_cockpit_tasks_owner", "tenant_id", "owner", "status", "due_date"),
    )


class CtaComment(TenantScoped, Base):
    __tablename__ = "cockpit_comments"

    # Declared here so it is not separately indexed: every index below starts with it.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cta_id: Mapped[int] = mapped_column(ForeignKey("cockpit_ctas.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_cockpit_comments_cta", "tenant_id", "cta_id", "id"),)


class CtaOpportunity(TenantScoped, Base):
    """An opportunity linked to a CTA (a renewal at risk, an upsell to pursue...)."""

    __tablename__ = "cockpit_cta_opportunities"

    # Declared here so it is not separately indexed: every index below starts with it.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))

    cta_id: Mapped[int] = mapped_column(ForeignKey("cockpit_ctas.id", ondelete="CASCADE"), primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_cockpit_cta_opportunities_opportunity", "tenant_id", "opportunity_id"),)


class PlaybookDefinition(TenantScoped, Timestamps, Base):
    """A playbook managed through the API (manifest playbooks live in the plugin config)."""

    __tablename__ = "cockpit_playbooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class RuleDefinition(TenantScoped, Timestamps, Base):
    """A rule managed through the API (manifest rules live in the plugin config)."""

    __tablename__ = "cockpit_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class RuleOccurrence(TenantScoped, Base):
    """A condition occurrence a rule has seen and not yet seen end.

    While it lasts, the rule opens no second CTA for it, even when its CTA was closed;
    when the condition no longer holds the row goes, and the next time it holds is a new
    occurrence."""

    __tablename__ = "cockpit_rule_occurrences"

    # Declared here to be part of the key rather than separately indexed.
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    rule_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    occurrence_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    company_id: Mapped[int | None] = mapped_column(BigInteger)
    # The CTA this occurrence opened (None when one was already open for it).
    cta_id: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
