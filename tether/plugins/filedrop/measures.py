"""Usage metrics as health measures Scorecards can weigh.

Each configured measure (or, without configuration, each metric seen: its latest value)
is computed for a whole batch of companies with one grouped query over the window:

- ``latest``: the value of the most recent day in the window (several accounts of one
  company on that day add up);
- ``sum``, ``average``, ``max``, ``min``: over every value in the window.

A company without values in the window has no data (N/A), which Scorecards redistributes.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sqlalchemy import func, select

from tether.core.contracts import HealthMeasure
from tether.core.store.types import utcnow

from .config import PLUGIN, FileDropSettings, MeasureSpec
from .models import UsageValue

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

# Above this many ids a query reads every company of the tenant and picks, instead of a long IN list.
IN_LIST_LIMIT = 1000
AGGREGATES = {"sum": func.sum, "average": func.avg, "max": func.max, "min": func.min}


def compute(tenant: "TenantContext", spec: MeasureSpec, ids: Sequence[int]) -> dict[int, float]:
    table = UsageValue.__table__
    since = utcnow().date() - dt.timedelta(days=spec.window_days - 1)
    scope = [table.c.tenant_id == tenant.id, table.c.metric == spec.metric, table.c.period >= since,
             table.c.company_id.is_not(None)]
    if len(ids) <= IN_LIST_LIMIT:
        scope.append(table.c.company_id.in_(list(ids)))
    if spec.aggregate == "latest":
        last = (select(table.c.company_id, func.max(table.c.period).label("period"))
                .where(*scope).group_by(table.c.company_id).subquery())
        stmt = (select(table.c.company_id, func.sum(table.c.value))
                .join(last, (last.c.company_id == table.c.company_id) & (last.c.period == table.c.period))
                .where(table.c.tenant_id == tenant.id, table.c.metric == spec.metric)
                .group_by(table.c.company_id))
    else:
        stmt = select(table.c.company_id, AGGREGATES[spec.aggregate](table.c.value)).where(*scope) \
            .group_by(table.c.company_id)
    wanted = set(ids)
    with tenant.session() as session:
        return {company: float(value) for company, value in session.execute(stmt)
                if company in wanted and value is not None}


def _measure(spec: MeasureSpec) -> HealthMeasure:
    def compute_batch(tenant: Any, entity_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
        return compute(tenant, spec, ids) if entity_kind == "company" else {}

    window = "latest" if spec.aggregate == "latest" else f"{spec.aggregate} over {spec.window_days} days"
    return HealthMeasure(key=spec.key, label=f"{spec.label} ({window})", compute=compute_batch,
                         entity_kinds=("company",), higher_is_better=spec.higher_is_better, plugin=PLUGIN)


def health_measures(tenant: "TenantContext") -> list[HealthMeasure]:
    settings = FileDropSettings.from_config(tenant.config_for(PLUGIN))
    specs = list(settings.measures)
    if not specs:
        with tenant.session() as session:
            metrics = session.scalars(select(UsageValue.metric).distinct().order_by(UsageValue.metric)).all()
        specs = [MeasureSpec(metric=m, label=m.replace("_", " ").capitalize()) for m in metrics]
    return [_measure(spec) for spec in specs]
