"""Renewal Center tables: settings, forecast calls, saved views, risk models and scores.

Opportunities themselves live in the core store (``tether.core.store.models.Opportunity``);
this area adds what the renewal team creates on top of them. Every table is tenant-owned.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..store.models import Base, BigId, Opportunity, TenantScoped, Timestamps
from ..store.types import Money, UTCDateTime, utcnow

# Forecast and metric figures are sums over live opportunities grouped by due date (the
# period driver), booking type, status and category. This index holds exactly those columns
# in that order, so SQLite streams the GROUP BY from the index without sorting or touching
# the table (1M opportunities in about half a second); it also serves due-date ranges.
OPPORTUNITY_ROLLUP_INDEX = Index(
    "ix_opportunities_renewal_rollup",
    Opportunity.tenant_id, Opportunity.is_deleted, Opportunity.due_date, Opportunity.booking_type, Opportunity.is_closed,
    Opportunity.is_won, Opportunity.forecast_category, Opportunity.target_amount,
    Opportunity.forecast_amount, Opportunity.final_amount, Opportunity.probability,
)

# Risk scoring compares each open renewal with its customer's closed ones: one row per
# customer aggregated over this index, in customer and due-date order (id as the
# tie-break), so SQLite groups without sorting; it reads the open renewals from it too,
# never touching the table.
OPPORTUNITY_HISTORY_INDEX = Index(
    "ix_opportunities_renewal_history",
    Opportunity.tenant_id, Opportunity.company_id, Opportunity.due_date, Opportunity.id, Opportunity.is_deleted,
    Opportunity.booking_type, Opportunity.is_closed, Opportunity.is_won, Opportunity.target_amount,
    Opportunity.final_amount, Opportunity.relationship_id,
)


class RenewalSettings(TenantScoped, Timestamps, Base):
    """The admin's Renewal Center configuration (scenarios, thresholds, model limits)."""

    __tablename__ = "renewal_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("tenant_id"),)


class ForecastCall(TenantScoped, Base):
    """A rep's forecast call on one opportunity; the newest row is current, older ones are history."""

    __tablename__ = "renewal_forecast_calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    comment: Mapped[str | None] = mapped_column(Text)
    called_by: Mapped[str] = mapped_column(String(200))
    called_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        Index("ix_renewal_forecast_calls_current", "tenant_id", "opportunity_id", "is_current"),
    )


class SavedView(TenantScoped, Timestamps, Base):
    """An Analyze view: a default period, global filters and an ordered list of widgets."""

    __tablename__ = "renewal_views"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(String(1000))
    owner: Mapped[str] = mapped_column(String(200))
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    period: Mapped[str] = mapped_column(String(40), default="current_quarter")
    filters: Mapped[list[Any]] = mapped_column(default=list)

    widgets: Mapped[list["ViewWidget"]] = relationship(
        back_populates="view", cascade="all, delete-orphan", order_by="ViewWidget.position")

    __table_args__ = (Index("ix_renewal_views_tenant_owner", "tenant_id", "owner"),)


class ViewWidget(TenantScoped, Base):
    """One widget of a view: a KPI, a breakdown by a dimension, or a time series."""

    __tablename__ = "renewal_view_widgets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    view_id: Mapped[int] = mapped_column(ForeignKey("renewal_views.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))  # kpi | breakdown | timeseries
    measure: Mapped[str] = mapped_column(String(60))
    dimension: Mapped[str | None] = mapped_column(String(120))
    # A period overriding the view's (e.g. the same KPI for next quarter), and for time
    # series the grain and how many periods before/after it.
    period: Mapped[str | None] = mapped_column(String(40))
    grain: Mapped[str | None] = mapped_column(String(20))
    periods_before: Mapped[int] = mapped_column(Integer, default=0)
    periods_after: Mapped[int] = mapped_column(Integer, default=0)
    filters: Mapped[list[Any]] = mapped_column(default=list)

    view: Mapped[SavedView] = relationship(back_populates="widgets")


class RiskModelVersion(TenantScoped, Base):
    """One training run of a tenant's renewal-likelihood model, with its holdout metrics."""

    __tablename__ = "renewal_model_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # trained | insufficient_data | failed
    status: Mapped[str] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(Text)
    algorithm: Mapped[str | None] = mapped_column(String(200))
    training_rows: Mapped[int] = mapped_column(Integer, default=0)
    positives: Mapped[int] = mapped_column(Integer, default=0)
    negatives: Mapped[int] = mapped_column(Integer, default=0)
    # roc_auc, pr_auc, brier and the same for the prevalence baseline, on the holdout
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    features: Mapped[list[Any]] = mapped_column(default=list)
    # Standardisation, coefficients and calibration, readable without unpickling
    coefficients: Mapped[dict[str, Any]] = mapped_column(default=dict)
    importance: Mapped[list[Any]] = mapped_column(default=list)
    # The fitted scikit-learn objects (joblib), to score with exactly what was evaluated
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (UniqueConstraint("tenant_id", "version"),)


class RiskScore(TenantScoped, Base):
    """The latest likelihood to renew of one open renewal and the factors behind it."""

    __tablename__ = "renewal_risk_scores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No foreign key: scores are rewritten wholesale on every scoring run, and a per-row
    # key check doubled the cost of writing 100,000 of them; readers join to live
    # opportunities, so a score of a hard-deleted one is never shown and goes next run.
    opportunity_id: Mapped[int] = mapped_column(BigId)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("renewal_model_versions.id", ondelete="CASCADE"), index=True)
    likelihood: Mapped[float] = mapped_column(Float)
    # [{"feature", "label", "value", "contribution"}] strongest first; log-odds units
    factors: Mapped[list[Any]] = mapped_column(default=list)
    scored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("tenant_id", "opportunity_id"),
        Index("ix_renewal_risk_scores_tenant_likelihood", "tenant_id", "likelihood"),
    )
