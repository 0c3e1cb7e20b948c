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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..store.models import Opportunity, Relationship
from .risk_rules import ACTIVITY_FEATURE
from .sqlparts import cents, day_number, raw_fetchall
from .vocabulary import RENEWAL_BOOKINGS

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

CORE_LABELS = {
    "log_target": "renewal size (log of target)",
    "target_change": "target change vs the previous renewal",
    "first_renewal": "first renewal of this customer",
    "prior_shortfalls": "earlier renewals lost or downsold",
    "relationships": "relationships of the customer",
    "has_relationship": "renewal tied to a relationship",
    "health_score": "health score",
}


@dataclasses.dataclass
class RenewalRows:
    """The renewals a run is about, with what the model needs of each."""

    ids: np.ndarray
    company_ids: list[int | None]
    relationship_ids: list[int | None]
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


def load_renewals(session: Session, tenant_id: str, *, closed: bool, today: dt.date | None = None,
                  limit: int | None = None, ids: Sequence[int] | None = None) -> RenewalRows:
    """Closed renewals (for training, newest ``limit`` by due date) or open ones (for scoring).

    Each is compared with the same customer's renewals due before it: one fetch of a few
    integer columns for every renewal of the tenant, then one vectorised pass (sorting by
    customer and due date), which is far cheaper than a window query per run.
    """
    o = Opportunity
    statement = select(
        o.id, func.coalesce(o.company_id, -o.id), o.company_id, o.relationship_id, day_number(o.due_date),
        cents(o.target_amount), cents(o.final_amount), o.is_closed, o.is_won,
    ).where(o.tenant_id == tenant_id, o.is_deleted == False, o.booking_type.in_(RENEWAL_BOOKINGS),  # noqa: E712
            o.due_date.is_not(None))
    fetched = raw_fetchall(session, statement)
    n_all = len(fetched)
    if n_all:
        columns = list(zip(*fetched))
        all_ids = np.fromiter(columns[0], dtype=np.int64, count=n_all)
        customer = np.fromiter(columns[1], dtype=np.int64, count=n_all)
        due = np.fromiter(columns[4], dtype=np.int64, count=n_all)
        target = np.array([np.nan if v is None else v for v in columns[5]], dtype=float) / 100.0
        final = np.array([np.nan if v is None else v for v in columns[6]], dtype=float) / 100.0
        is_closed = np.fromiter((bool(v) for v in columns[7]), dtype=bool, count=n_all)
        is_won = np.fromiter((bool(v) for v in columns[8]), dtype=bool, count=n_all)
    else:
        all_ids = customer = due = np.zeros(0, dtype=np.int64)
        target = final = np.zeros(0)
        is_closed = is_won = np.zeros(0, dtype=bool)
    history = _history(customer, due, all_ids, target, final, is_closed, is_won)

    chosen = np.flatnonzero(is_closed == closed)
    if ids is not None:
        chosen = chosen[np.isin(all_ids[chosen], np.asarray(list(ids), dtype=np.int64))]
    if limit is not None:
        newest = np.lexsort((-all_ids[chosen], -due[chosen]))[:limit]
        chosen = chosen[newest]
    chosen = chosen[np.argsort(all_ids[chosen], kind="stable")]

    company_ids = [fetched[i][2] for i in chosen]
    relationship_ids = [fetched[i][3] for i in chosen]
    relationship_counts = dict(session.execute(
        select(Relationship.company_id, func.count()).where(Relationship.tenant_id == tenant_id)
        .group_by(Relationship.company_id)).all())
    picked_target = np.nan_to_num(target[chosen], nan=0.0)
    core = {
        "log_target": np.log1p(np.maximum(picked_target, 0.0)),
        "target_change": history["target_change"][chosen],
        "first_renewal": (history["prior_count"][chosen] == 0).astype(float),
        "prior_shortfalls": np.minimum(history["prior_shortfalls"][chosen], 10.0),
        "relationships": np.array([float(relationship_counts.get(c, 0)) if c else 0.0 for c in company_ids]),
        "has_relationship": np.array([1.0 if r else 0.0 for r in relationship_ids]),
    }
    return RenewalRows(ids=all_ids[chosen], company_ids=company_ids, relationship_ids=relationship_ids,
                       won=is_won[chosen].astype(float), core=core)


def _history(customer: np.ndarray, due: np.ndarray, ids: np.ndarray, target: np.ndarray, final: np.ndarray,
             is_closed: np.ndarray, is_won: np.ndarray) -> dict[str, np.ndarray]:
    """Per renewal: change of target vs the customer's previous renewal, how many renewals it
    had before, and how many of those fell short (lost, or won below target)."""
    n = len(ids)
    result = {"target_change": np.zeros(n), "prior_count": np.zeros(n), "prior_shortfalls": np.zeros(n)}
    if n == 0:
        return result
    order = np.lexsort((ids, due, customer))
    c = customer[order]
    starts = np.r_[True, c[1:] != c[:-1]]
    position = np.arange(n)
    group_start = np.maximum.accumulate(np.where(starts, position, 0))
    shortfall = (is_closed & (~is_won | (final < target)))[order].astype(float)
    running = np.cumsum(shortfall)
    prior_shortfalls = running - shortfall - (running[group_start] - shortfall[group_start])
    sorted_target = target[order]
    previous = np.r_[np.nan, sorted_target[:-1]]
    previous[starts] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where((previous > 0) & ~np.isnan(sorted_target), (sorted_target - previous) / previous, 0.0)
    change = np.clip(np.nan_to_num(change, nan=0.0), -1.0, 5.0)
    for name, values in (("target_change", change), ("prior_count", (position - group_start).astype(float)),
                         ("prior_shortfalls", prior_shortfalls)):
        out = np.empty(n)
        out[order] = values
        result[name] = out
    return result


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


def describe_value(value: float | None, name: str) -> Any:
    if value is None or math.isnan(value):
        return None
    if name == "log_target":
        return round(math.expm1(value), 2)
    return round(float(value), 4)
