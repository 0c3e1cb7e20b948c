"""Rolling relationship scores up to their company: the average, or weighted by ARR.

One grouped query over the current relationship scores. Relationships without a score
(N/A) do not count. ARR-weighted uses each relationship's ARR as its weight; when none
of a company's scored relationships has ARR, it falls back to the average, so a company
is never N/A only for lack of ARR.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sqlalchemy import BigInteger, and_, case, func, select, type_coerce

from tether.core.plugins import TenantContext
from tether.core.store import Relationship

from .bulk import fetch_all
from .models import HealthScore

METHODS = ("average", "arr_weighted")


def relationship_rollup(tenant: TenantContext, method: str, company_ids: Sequence[int] | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(company ids, rolled-up scores)`` for companies with at least one scored relationship."""
    if method not in METHODS:
        raise ValueError(f"unknown rollup method {method!r}; use one of {', '.join(METHODS)}")
    rel = Relationship.__table__
    scores = HealthScore.__table__
    arr = type_coerce(rel.c.arr, BigInteger)
    weighted = case((arr > 0, arr), else_=None)
    stmt = (select(rel.c.company_id, func.avg(scores.c.score), func.sum(scores.c.score * weighted), func.sum(weighted))
            .join(scores, and_(scores.c.entity_id == rel.c.id, scores.c.entity_kind == "relationship",
                               scores.c.tenant_id == tenant.id))
            .where(rel.c.tenant_id == tenant.id, rel.c.is_deleted.is_(False), scores.c.score.is_not(None))
            .group_by(rel.c.company_id))
    if company_ids is not None:
        stmt = stmt.where(rel.c.company_id.in_(list(company_ids)))
    with tenant.session() as session:
        rows = fetch_all(session.connection(), stmt)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    average = np.fromiter((float(r[1]) for r in rows), dtype=float, count=len(rows))
    if method == "average":
        return ids, average
    numerator = np.fromiter((float(r[2]) if r[2] is not None else np.nan for r in rows), dtype=float, count=len(rows))
    weights = np.fromiter((float(r[3]) if r[3] is not None else np.nan for r in rows), dtype=float, count=len(rows))
    with np.errstate(invalid="ignore", divide="ignore"):
        by_arr = numerator / weights
    return ids, np.where(np.isnan(by_arr), average, by_arr)
