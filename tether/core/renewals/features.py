"""Features of renewals for the risk model: the core's, health, and plugins' columns.

Core features come from one windowed query over the tenant's renewals (each compared with
the same customer's earlier renewals, so a training row never sees its own or a later
outcome). Health comes from the Scorecards-style ``tether_entity_health`` hook (the
relationship's score when the renewal has one, else the company's). Every other column
comes from plugins through ``tether_renewal_features``, called once per run with every
opportunity in it. Missing values are NaN; the model imputes them.

Caveat, stated in the docs: health and plugin columns describe the customer *now*; for
closed renewals in training that is after the outcome, which can flatter a model that
relies on them. Plugins that can answer as of the due date should.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ..store.models import Opportunity, Relationship
from .risk_rules import ACTIVITY_FEATURE
from .sqlparts import cents
from .vocabulary import RENEWAL_BOOKINGS

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

CORE_LABELS = {
    "log_target": "renewal size (log of target)",
    "target_change": "target change vs the previous renewal",
    "first_renewal": "first renewal of this customer",
    "prior_shortfalls": "earlier renewals lost or downsold",
    "days_to_due": "days between decision and due date",
    "relationships": "relationships of the customer",
    "has_relationship": "renewal tied to a relationship",
    "health_score": "health score",
}


@dataclasses.dataclass
class RenewalRows:
    """The renewals a run is about, with what the rules and the model need of each."""

    ids: np.ndarray
    company_ids: list[int | None]
    relationship_ids: list[int | None]
    due_dates: list[dt.date | None]
    close_dates: list[dt.date | None]
    targets: list[float | None]          # currency units
    forecasts: list[float | None]
    won: np.ndarray                      # 1 renewed, 0 lost (closed rows only)
    core: dict[str, np.ndarray]          # core feature columns


@dataclasses.dataclass
class FeatureSet:
    ids: np.ndarray
    names: list[str]
    labels: dict[str, str]
    matrix: np.ndarray                   # float64, NaN where unknown
    health_color: list[str | None]
    health_score: list[float | None]
    sources: dict[str, str]              # feature → "core" | "health" | "plugin"

    def column(self, name: str) -> np.ndarray | None:
        if name not in self.names:
            return None
        return self.matrix[:, self.names.index(name)]


def load_renewals(session: Session, tenant_id: str, *, closed: bool, today: dt.date,
                  limit: int | None = None, ids: Sequence[int] | None = None) -> RenewalRows:
    """Closed renewals (for training, newest ``limit`` by due date) or open ones (for scoring)."""
    o = Opportunity
    live = and_(o.tenant_id == tenant_id, o.is_deleted == False, o.booking_type.in_(RENEWAL_BOOKINGS),  # noqa: E712
                o.due_date.is_not(None))
    customer = func.coalesce(o.company_id, -o.id)
    window = {"partition_by": customer, "order_by": (o.due_date, o.id)}
    shortfall = case((and_(o.is_closed.is_(True), _fell_short(o)), 1), else_=0)
    inner = select(
        o.id, o.company_id, o.relationship_id, o.booking_type, cents(o.target_amount).label("target"),
        cents(o.forecast_amount).label("forecast"), o.due_date, o.close_date, o.is_closed, o.is_won,
        func.lag(cents(o.target_amount)).over(**window).label("prev_target"),
        func.sum(shortfall).over(**window, rows=(None, -1)).label("prior_shortfalls"),
        func.count().over(**window, rows=(None, -1)).label("prior_count"),
    ).where(live).subquery()
    statement = select(inner).where(inner.c.is_closed == closed)
    if ids is not None:
        statement = statement.where(inner.c.id.in_(list(ids)))
    if limit is not None:
        statement = statement.order_by(inner.c.due_date.desc(), inner.c.id.desc()).limit(limit)
    else:
        statement = statement.order_by(inner.c.id)
    rows = session.execute(statement).all()
    n = len(rows)
    relationship_counts = dict(session.execute(
        select(Relationship.company_id, func.count()).where(Relationship.tenant_id == tenant_id)
        .group_by(Relationship.company_id)).all())
    core = {name: np.zeros(n) for name in ("log_target", "target_change", "first_renewal", "prior_shortfalls",
                                            "days_to_due", "relationships", "has_relationship")}
    won = np.zeros(n)
    for i, row in enumerate(rows):
        target = (row.target or 0) / 100.0
        core["log_target"][i] = math.log1p(max(target, 0.0))
        if row.prev_target:
            core["target_change"][i] = min(max((target - row.prev_target / 100.0) / (row.prev_target / 100.0), -1.0), 5.0)
        core["first_renewal"][i] = 1.0 if not row.prior_count else 0.0
        core["prior_shortfalls"][i] = min(float(row.prior_shortfalls or 0), 10.0)
        reference = (row.close_date or row.due_date) if closed else today
        core["days_to_due"][i] = float(min(max((row.due_date - reference).days, -365), 730))
        core["relationships"][i] = float(relationship_counts.get(row.company_id, 0)) if row.company_id else 0.0
        core["has_relationship"][i] = 1.0 if row.relationship_id else 0.0
        won[i] = 1.0 if row.is_won else 0.0
    return RenewalRows(
        ids=np.array([row.id for row in rows], dtype=np.int64),
        company_ids=[row.company_id for row in rows], relationship_ids=[row.relationship_id for row in rows],
        due_dates=[row.due_date for row in rows], close_dates=[row.close_date for row in rows],
        targets=[row.target / 100.0 if row.target is not None else None for row in rows],
        forecasts=[row.forecast / 100.0 if row.forecast is not None else None for row in rows],
        won=won, core=core,
    )


def _fell_short(o):
    """A closed renewal that fell short: lost, or won below its target."""
    return or_(o.is_won.is_(False), cents(o.final_amount) < cents(o.target_amount))


def entity_health(tenant: "TenantContext", rows: RenewalRows) -> tuple[list[float | None], list[str | None], bool]:
    """Each renewal's current health (relationship first, then company) from the health hook."""
    n = len(rows.ids)
    scores: list[float | None] = [None] * n
    colors: list[str | None] = [None] * n
    if not tenant.hooks.implementers("tether_entity_health"):
        return scores, colors, False
    relationship_ids = sorted({r for r in rows.relationship_ids if r})
    company_ids = sorted({c for c in rows.company_ids if c})
    by_relationship = (tenant.hooks.tether_entity_health(entity="relationship", ids=relationship_ids) or {}) if relationship_ids else {}
    by_company = (tenant.hooks.tether_entity_health(entity="company", ids=company_ids) or {}) if company_ids else {}
    for i in range(n):
        health = by_relationship.get(rows.relationship_ids[i]) if rows.relationship_ids[i] else None
        if not health or health.get("score") is None:
            health = by_company.get(rows.company_ids[i]) if rows.company_ids[i] else None
        if health:
            scores[i] = float(health["score"]) if health.get("score") is not None else None
            colors[i] = health.get("color")
    return scores, colors, True


def plugin_features(tenant: "TenantContext", ids: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, str]]:
    """Columns every enabled plugin contributes, aligned with ``ids`` (names must be unique)."""
    columns: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    sources: dict[str, str] = {}
    if not tenant.hooks.implementers("tether_renewal_features") or len(ids) == 0:
        return columns, labels, sources
    position = {int(opportunity_id): i for i, opportunity_id in enumerate(ids)}
    for result in tenant.hooks.tether_renewal_features(opportunity_ids=[int(i) for i in ids]) or []:
        if result is None:
            continue
        for name, values in result.columns.items():
            if name in columns:
                log.warning("renewal feature %r is provided by two plugins; the second is ignored", name)
                continue
            column = np.full(len(ids), np.nan)
            for opportunity_id, value in zip(result.opportunity_ids, values):
                index = position.get(int(opportunity_id))
                if index is not None and value is not None:
                    try:
                        column[index] = float(value)
                    except (TypeError, ValueError):
                        continue
            columns[name] = column
            sources[name] = "plugin"
            if name in result.labels:
                labels[name] = result.labels[name]
    return columns, labels, sources


def build_features(tenant: "TenantContext", rows: RenewalRows) -> FeatureSet:
    """Core, health and plugin columns for ``rows`` (one hook call each)."""
    names = list(rows.core)
    matrix_columns = [rows.core[name] for name in names]
    labels = dict(CORE_LABELS)
    sources = {name: "core" for name in names}
    scores, colors, has_health = entity_health(tenant, rows)
    if has_health:
        names.append("health_score")
        matrix_columns.append(np.array([np.nan if s is None else s for s in scores], dtype=float))
        sources["health_score"] = "health"
    extra, extra_labels, extra_sources = plugin_features(tenant, rows.ids)
    for name, column in extra.items():
        if name in sources:
            if name == "health_score":    # a plugin's own health column is the better-informed one
                index = names.index(name)
                matrix_columns[index] = column
                sources[name] = extra_sources[name]
                continue
            log.warning("renewal feature %r from a plugin clashes with a core feature and is ignored", name)
            continue
        names.append(name)
        matrix_columns.append(column)
        sources[name] = extra_sources[name]
    labels.update(extra_labels)
    for name in names:
        labels.setdefault(name, name.replace("_", " "))
    matrix = np.column_stack(matrix_columns) if matrix_columns and len(rows.ids) else np.zeros((len(rows.ids), len(names)))
    return FeatureSet(ids=rows.ids, names=names, labels={n: labels[n] for n in names}, matrix=matrix.astype(float),
                      health_color=colors, health_score=scores, sources=sources)


def has_activity_feature(features: FeatureSet) -> bool:
    return ACTIVITY_FEATURE in features.names


def describe_value(value: float, name: str) -> Any:
    if math.isnan(value):
        return None
    if name == "log_target":
        return round(math.expm1(value), 2)
    return round(float(value), 4)
