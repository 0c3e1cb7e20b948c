"""Features of renewals for the risk model: the core's, health, and plugins' columns.

Core features compare each renewal with the same customer's earlier renewals (see
:mod:`.history`), so a training row never sees its own or a later outcome. Health comes
from the Scorecards-style ``tether_entity_health`` hook (the relationship's score when the
renewal has one, else the company's). Every other column
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

from ..store.models import Relationship
from .risk_rules import ACTIVITY_FEATURE
from .history import live_renewals, open_renewal_history, read_renewals, renewal_columns

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
    """Closed renewals (for training, newest ``limit`` by due date) or open ones (for scoring),
    each with its history: compared with the same customer's renewals due before it (see
    :mod:`.history`)."""
    if closed or limit is not None:
        table = read_renewals(session, [select(*renewal_columns()).where(*live_renewals(tenant_id))])
        full = table.history()
        chosen = np.flatnonzero(table.is_closed == closed)
        if ids is not None:
            chosen = chosen[np.isin(table.ids[chosen], np.asarray(list(ids), dtype=np.int64))]
        if limit is not None:
            newest = np.lexsort((-table.ids[chosen], -table.due[chosen]))[:limit]
            chosen = chosen[newest]
        picked = {"ids": table.ids, "target": table.target, "won": table.is_won, **full}
        company_ids, relationship_ids = table.company_ids, table.relationship_ids
    else:
        found = open_renewal_history(session, tenant_id)
        chosen = np.arange(len(found.ids))
        if ids is not None:
            chosen = chosen[np.isin(found.ids, np.asarray(list(ids), dtype=np.int64))]
        picked = {"ids": found.ids, "target": found.target, "won": np.zeros(len(found.ids), dtype=bool),
                  "target_change": found.target_change, "prior_count": found.prior_count,
                  "prior_shortfalls": found.prior_shortfalls}
        company_ids, relationship_ids = found.company_ids, found.relationship_ids
    chosen = chosen[np.argsort(picked["ids"][chosen], kind="stable")]

    chosen_list = chosen.tolist()
    company_ids = [company_ids[i] for i in chosen_list]
    relationship_ids = [relationship_ids[i] for i in chosen_list]
    relationship_counts = dict(session.execute(
        select(Relationship.company_id, func.count()).where(Relationship.tenant_id == tenant_id)
        .group_by(Relationship.company_id)).all())
    picked_target = np.nan_to_num(picked["target"][chosen], nan=0.0)
    core = {
        "log_target": np.log1p(np.maximum(picked_target, 0.0)),
        "target_change": picked["target_change"][chosen],
        "first_renewal": (picked["prior_count"][chosen] == 0).astype(float),
        "prior_shortfalls": np.minimum(picked["prior_shortfalls"][chosen], 10.0),
        "relationships": np.array([float(relationship_counts.get(c, 0)) if c else 0.0 for c in company_ids]),
        "has_relationship": np.array([1.0 if r else 0.0 for r in relationship_ids]),
    }
    return RenewalRows(ids=picked["ids"][chosen], company_ids=company_ids, relationship_ids=relationship_ids,
                       won=picked["won"][chosen].astype(float), core=core)


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
