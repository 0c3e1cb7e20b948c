"""Measures the Scorecards plugin contributes, and lining measure values up with entities.

Contributed through ``tether_health_measures`` like any plugin's:

- ``field:<column>`` and ``field:attributes.<name>``: any numeric or picklist field of a
  company or relationship (relationship-type attributes of type number, money or
  picklist are offered automatically; company attributes are declared in the plugin
  config's ``field_measures``);
- ``renewal_at_risk``: "yes" when an open renewal due within the horizon has no
  forecast, a forecast below target, or a close date after its due date; "no" when its
  open renewals are fine; N/A without one;
- ``relationship_health``: a company's relationships' scores rolled up (average or
  ARR-weighted, per the plugin config).

Each computes a whole batch with one query and answers with a :class:`MeasureColumn`
(a read-only mapping backed by numpy arrays), so lining values up with a scorecard's
entities is an array operation.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from sqlalchemy import BigInteger, and_, case, func, or_, select, type_coerce

from tether.core.contracts import HealthMeasure
from tether.core.plugins import TenantContext
from tether.core.store import Company, Opportunity, Relationship, RelationshipType

from .definitions import PLUGIN
from .bulk import fetch_all
from .rollup import relationship_rollup

log = logging.getLogger(__name__)

IN_LIST_LIMIT = 1000
RENEWAL_BOOKINGS = ("renewal", "renewal_upsell", "renewal_downsell")
TABLES = {"company": Company, "relationship": Relationship}
MONEY_COLUMNS = {"arr", "mrr"}
NUMERIC_COLUMNS = {"company": ("arr", "mrr", "employees"), "relationship": ("arr", "mrr")}
PICKLIST_COLUMNS = {"company": ("industry", "segment", "company_type", "lifecycle_stage", "csm"),
                    "relationship": ("stage", "status", "csm")}
LABELS = {"arr": "ARR", "mrr": "MRR", "employees": "Employees", "industry": "Industry", "segment": "Segment",
          "company_type": "Company type", "lifecycle_stage": "Lifecycle stage", "csm": "CSM", "stage": "Stage",
          "status": "Status"}


class MeasureColumn(Mapping[int, Any]):
    """``{entity_id: value}`` backed by sorted id and value arrays (NaN or None = no data)."""

    def __init__(self, ids: np.ndarray, values: np.ndarray, *, ordered: bool = False) -> None:
        if ordered:  # the caller vouches that ids ascend
            self.ids, self.values = ids, values
        else:
            order = np.argsort(ids, kind="stable")
            self.ids, self.values = ids[order], values[order]
        self._present = _present(self.values)

    def __getitem__(self, key: int) -> Any:
        pos = int(np.searchsorted(self.ids, key))
        if pos < len(self.ids) and self.ids[pos] == key and self._present[pos]:
            value = self.values[pos]
            return value.item() if isinstance(value, np.generic) else value
        raise KeyError(key)

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids[self._present].tolist())

    def __len__(self) -> int:
        return int(self._present.sum())


def _present(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.not_equal(values, None)
    return ~np.isnan(values)


def align(result: Mapping[int, Any] | None, ids: np.ndarray, kind: str) -> np.ndarray:
    """Values of ``result`` for ``ids``, in order: float with NaN (numeric) or object with None (picklist).

    Any mapping with sorted ``ids`` and aligned ``values`` numpy arrays (like
    :class:`MeasureColumn`) is lined up with array operations; other mappings are read
    item by item."""
    picklist = kind == "picklist"
    empty = np.full(len(ids), None, dtype=object) if picklist else np.full(len(ids), np.nan)
    if not result:
        return empty
    if not (isinstance(getattr(result, "ids", None), np.ndarray) and isinstance(getattr(result, "values", None),
                                                                                  np.ndarray)):
        keys = np.fromiter(result.keys(), dtype=np.int64, count=len(result))
        values = np.array(list(result.values()), dtype=object) if picklist \
            else numbers([None if isinstance(v, bool) else v for v in result.values()])
        result = MeasureColumn(keys, values)
    known, values = result.ids, result.values  # type: ignore[union-attr]
    if known is ids or (len(known) == len(ids) and np.array_equal(known, ids)):  # read with these very entities
        if picklist:
            return values if values.dtype == object else values.astype(object)
        return values.astype(float)
    pos = np.minimum(np.searchsorted(known, ids), max(len(known) - 1, 0))
    hit = known[pos] == ids if len(known) else np.zeros(len(ids), dtype=bool)
    if picklist:
        source = values if values.dtype == object else values.astype(object)
        empty[hit] = source[pos[hit]]
        return empty
    empty[hit] = values[pos[hit]].astype(float)
    return empty


def _float(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _restrict(stmt, column, ids: Sequence[int]):
    return stmt.where(column.in_(list(ids))) if len(ids) <= IN_LIST_LIMIT else stmt


# -- field measures -------------------------------------------------------------------


def field_measure(entity_kind: str, field: str, kind: str, label: str, choices: Sequence[str] = ()) -> HealthMeasure:
    def compute(tenant: TenantContext, asked_kind: str, ids: Sequence[int]) -> Mapping[int, Any]:
        return load_fields(tenant, asked_kind, {f"field:{field}": (field, kind)}, ids)[f"field:{field}"]

    return HealthMeasure(key=f"field:{field}", label=label, compute=compute, kind=kind,  # type: ignore[arg-type]
                         entity_kinds=(entity_kind,), choices=tuple(choices), plugin=PLUGIN)


def load_fields(tenant: TenantContext, entity_kind: str, wanted: Mapping[str, tuple[str, str]],
                ids: Sequence[int]) -> dict[str, MeasureColumn]:
    """Several field measures of one entity kind in one query: ``{key: (field, kind)}`` → ``{key: column}``."""
    table = TABLES[entity_kind].__table__
    keys = list(wanted)
    columns = [field_column(table, wanted[key][0]) for key in keys]
    stmt = select(table.c.id, *columns).where(table.c.tenant_id == tenant.id, table.c.is_deleted.is_(False))
    stmt = _restrict(stmt, table.c.id, ids)
    with tenant.session() as session:
        rows = fetch_all(session.connection(), stmt)
    transposed = list(zip(*rows)) if rows else [()] * (len(columns) + 1)
    entity_ids = np.array(transposed[0], dtype=np.int64)
    return {key: MeasureColumn(entity_ids, field_values(*wanted[key], transposed[position]))
            for position, key in enumerate(keys, start=1)}


def field_column(table, field: str):
    """The column (or JSON attribute, as text) a field measure reads; money as integer cents."""
    head, _, name = field.partition(".")
    if head == "attributes":
        return table.c.attributes[name].as_string()
    if field in MONEY_COLUMNS:
        return type_coerce(table.c[field], BigInteger)  # cents, without a Decimal per row
    return table.c[field]


def field_values(field: str, kind: str, values: Sequence[Any]) -> np.ndarray:
    """A field measure's values as read by :func:`field_column`: objects (None = no data) for
    picklists, floats (NaN = no data) for numbers, money in currency units."""
    if kind == "picklist":
        if isinstance(values, np.ndarray) and values.dtype == object:
            return values
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    out = numbers(values)
    return out / 100.0 if field in MONEY_COLUMNS else out


def numbers(values: Sequence[Any]) -> np.ndarray:
    """Floats with NaN for missing values; text that is not a number counts as missing."""
    try:
        return np.asarray(values).astype(float) if isinstance(values, np.ndarray) else np.array(values, dtype=float)
    except (TypeError, ValueError):
        return np.fromiter((_float(v) for v in values), dtype=float, count=len(values))


def field_measures(tenant: TenantContext) -> list[HealthMeasure]:
    measures: list[HealthMeasure] = []
    for entity_kind in ("company", "relationship"):
        for column in NUMERIC_COLUMNS[entity_kind]:
            measures.append(field_measure(entity_kind, column, "numeric", f"{entity_kind.title()} {LABELS[column]}"))
        for column in PICKLIST_COLUMNS[entity_kind]:
            measures.append(field_measure(entity_kind, column, "picklist", f"{entity_kind.title()} {LABELS[column]}"))
    with tenant.session() as session:
        type_fields = session.execute(select(RelationshipType.name, RelationshipType.fields)).all()
    seen: set[str] = set()
    for type_name, fields in type_fields:
        for spec in fields or []:
            kind = {"number": "numeric", "money": "numeric", "picklist": "picklist"}.get(spec.get("type"))
            if kind and spec["name"] not in seen:
                seen.add(spec["name"])
                measures.append(field_measure("relationship", f"attributes.{spec['name']}", kind,
                                              f"{type_name} {spec['name']}", spec.get("choices") or ()))
    for spec in tenant.config_for(PLUGIN).get("field_measures") or []:
        field = spec["field"] if "." in spec["field"] else f"attributes.{spec['field']}"
        if any(m.key == f"field:{field}" and spec.get("entity", "company") in m.entity_kinds for m in measures):
            continue
        measures.append(field_measure(spec.get("entity", "company"), field, spec.get("kind", "numeric"),
                                      spec.get("label") or field, spec.get("choices") or ()))
    return _merge_kinds(measures)


def _merge_kinds(measures: list[HealthMeasure]) -> list[HealthMeasure]:
    """``field:arr`` of companies and of relationships become one measure for both kinds."""
    import dataclasses

    merged: dict[str, HealthMeasure] = {}
    for measure in measures:
        known = merged.get(measure.key)
        if known is None:
            merged[measure.key] = measure
        elif known.kind == measure.kind:
            merged[measure.key] = dataclasses.replace(known, entity_kinds=known.entity_kinds + measure.entity_kinds,
                                                      label=LABELS.get(measure.key[6:], known.label))
    return list(merged.values())


# -- renewal at risk ------------------------------------------------------------------


def renewal_at_risk(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> MeasureColumn:
    horizon = int(tenant.config_for(PLUGIN).get("renewal_horizon_days") or 180)
    today = dt.datetime.now(dt.timezone.utc).date()
    opp = Opportunity.__table__
    column = opp.c.relationship_id if entity_kind == "relationship" else opp.c.company_id
    due = func.coalesce(opp.c.due_date, opp.c.close_date)
    target = type_coerce(opp.c.target_amount, BigInteger)
    forecast = type_coerce(opp.c.forecast_amount, BigInteger)
    risky = or_(opp.c.forecast_amount.is_(None), forecast < target,
                and_(opp.c.due_date.is_not(None), opp.c.close_date > opp.c.due_date))
    stmt = (select(column, func.count(), func.sum(case((risky, 1), else_=0)))
            .where(opp.c.tenant_id == tenant.id, opp.c.is_deleted.is_(False), opp.c.is_closed.is_(False),
                   column.is_not(None), opp.c.booking_type.in_(RENEWAL_BOOKINGS),
                   due <= today + dt.timedelta(days=horizon))
            .group_by(column))
    with tenant.session() as session:
        rows = fetch_all(session.connection(), _restrict(stmt, column, ids))
    entity_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    values = np.array(["yes" if (r[2] or 0) > 0 else "no" for r in rows], dtype=object)
    return MeasureColumn(entity_ids, values)


def relationship_health(tenant: TenantContext, entity_kind: str, ids: Sequence[int]) -> MeasureColumn:
    method = tenant.config_for(PLUGIN).get("relationship_rollup") or "average"
    company_ids, scores = relationship_rollup(tenant, method, ids if len(ids) <= IN_LIST_LIMIT else None)
    return MeasureColumn(company_ids, scores)


def built_in_measures(tenant: TenantContext) -> list[HealthMeasure]:
    return field_measures(tenant) + [
        HealthMeasure(key="renewal_at_risk", label="Renewal at risk", compute=renewal_at_risk, kind="picklist",
                      choices=("yes", "no"), plugin=PLUGIN),
        HealthMeasure(key="relationship_health", label="Health of the company's relationships",
                      compute=relationship_health, entity_kinds=("company",), plugin=PLUGIN),
    ]


def available_measures(tenant: TenantContext) -> dict[str, HealthMeasure]:
    """Every measure the tenant's plugins offer, by key (one hook call)."""
    found: dict[str, HealthMeasure] = {}
    for measures in tenant.hooks.tether_health_measures() or []:
        for measure in measures or []:
            if measure.key in found:
                log.warning("tenant %s: health measure %r is offered by %s and %s; using the first", tenant.id,
                            measure.key, found[measure.key].plugin or "a plugin", measure.plugin or "a plugin")
                continue
            found[measure.key] = measure
    return found
