"""Rolling relationship scores up to their company: the average, or weighted by ARR.

Relationships without a score (N/A) do not count. ARR-weighted uses each relationship's
ARR as its weight; when none of a company's scored relationships has ARR, it falls back
to the average, so a company is never N/A only for lack of ARR.

:func:`rollup_scores` does the arithmetic on arrays, in relationship id order, so a full
scoring run (which has every relationship's new score in memory) and a partial one (which
reads the stored scores of a few companies' relationships) give the same numbers.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sqlalchemy import BigInteger, and_, select, type_coerce

from tether.core.plugins import TenantContext
from tether.core.store import Relationship

from .bulk import fetch_all
from .models import HealthScore

METHODS = ("average", "arr_weighted")
CHUNK = 500


def rollup_scores(company_ids: np.ndarray, scores: np.ndarray, arr_cents: np.ndarray, method: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(company ids, rolled-up scores)`` from each relationship's company, score (NaN = N/A) and
    ARR (cents, NaN = none), for companies with at least one scored relationship."""
    if method not in METHODS:
        raise ValueError(f"unknown rollup method {method!r}; use one of {', '.join(METHODS)}")
    scored = ~np.isnan(scores)
    companies, index = np.unique(company_ids[scored], return_inverse=True)
    values = scores[scored]
    count = np.bincount(index, minlength=len(companies))
    average = np.bincount(index, weights=values, minlength=len(companies)) / np.maximum(count, 1)
    if method == "average":
        return companies, average
    arr = arr_cents[scored]
    weight = np.where(arr > 0, arr, 0.0)  # NaN (no ARR) compares false
    numerator = np.bincount(index, weights=values * weight, minlength=len(companies))
    total = np.bincount(index, weights=weight, minlength=len(companies))
    with np.errstate(invalid="ignore", divide="ignore"):
        return companies, np.where(total > 0, numerator / np.where(total > 0, total, 1.0), average)


def relationship_rollup(tenant: TenantContext, method: str, company_ids: Sequence[int] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rollup_scores` over the stored scores of live relationships (of ``company_ids`` only, if given)."""
    if method not in METHODS:
        raise ValueError(f"unknown rollup method {method!r}; use one of {', '.join(METHODS)}")
    rel = Relationship.__table__
    scores = HealthScore.__table__
    stmt = (select(rel.c.id, rel.c.company_id, scores.c.score, type_coerce(rel.c.arr, BigInteger))
            .join(scores, and_(scores.c.entity_id == rel.c.id, scores.c.entity_kind == "relationship",
                               scores.c.tenant_id == tenant.id))
            .where(rel.c.tenant_id == tenant.id, rel.c.is_deleted.is_(False), scores.c.score.is_not(None)))
    rows: list[Any] = []
    with tenant.session() as session:
        connection = session.connection()
        if company_ids is None:
            rows = fetch_all(connection, stmt)
        else:
            wanted = list(company_ids)
            for start in range(0, len(wanted), CHUNK):
                rows += fetch_all(connection, stmt.where(rel.c.company_id.in_(wanted[start:start + CHUNK])))
    rows.sort()  # relationship id order: the sums add up in the same order as in a full run
    columns: list[Sequence[Any]] = list(zip(*rows)) if rows else [()] * 4
    return rollup_scores(np.array(columns[1], dtype=np.int64), np.array(columns[2], dtype=float),
                         np.array([np.nan if v is None else v for v in columns[3]], dtype=float), method)
