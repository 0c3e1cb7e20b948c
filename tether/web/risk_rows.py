"""Risk of the renewals one page lists: flags, likelihood and top factors, in one batch.

It is what ``GET .../renewals/opportunities/{id}/risk`` computes (the same
``tether.core.renewals.risk`` functions), for the ids of one page at once: one query and
one call of each plugin hook for the page instead of one per row. The page checks the
caller may read that endpoint before calling this.
"""

from __future__ import annotations

from typing import Any, Sequence

from tether.core.plugins import TenantContext
from tether.core.renewals.analytics import Selection
from tether.core.renewals.config import load_config, today_utc
from tether.core.renewals.risk import _open_renewals, assess, model_status
from tether.core.renewals.scoring import active_version, factor_labels
from tether.core.api.renewal_schemas import jsonable


def risk_of(tenant: TenantContext, opportunity_ids: Sequence[int]) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """``({opportunity id: risk item}, model status)`` for the open renewals among the ids."""
    ids = [int(i) for i in opportunity_ids]
    if not ids:
        return {}, {}
    today = today_utc()
    with tenant.session() as session:
        config = load_config(tenant, session)
        records = _open_renewals(session, tenant.id, Selection(), config, today, ids=ids)
        status = model_status(session)
        if not records:
            return {}, jsonable(status)
        items, _ = assess(tenant, config, records, today, factor_labels(active_version(session)))
    return {item["opportunity_id"]: jsonable(item) for item in items}, jsonable(status)
