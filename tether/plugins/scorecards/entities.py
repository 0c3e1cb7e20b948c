"""The entities a scoring run scores, read once: ids, what scorecard criteria test, this
plugin's field measures, and what the relationship rollup needs, all from one query.

Reading a kind's table once for everything saves a second scan of hundreds of thousands
of rows; values come back as plain DBAPI tuples and become numpy columns aligned with the
ids (ascending), so measures need no lining up afterwards.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
from sqlalchemy import BigInteger, select, type_coerce

from tether.core.plugins import TenantContext
from tether.core.store import Company, Relationship, RelationshipType

from .bulk import fetch_table
from .measures import MONEY_COLUMNS, MeasureColumn, field_column, field_values, numbers
from .scoring import condition_mask

CHUNK = 500


@dataclasses.dataclass
class Entities:
    ids: np.ndarray                                  # live entity ids, ascending
    criteria: dict[str, np.ndarray]                  # columns the scorecards' criteria test
    fields: dict[str, MeasureColumn]                 # field measures, by key, aligned with ids
    company_ids: np.ndarray | None = None            # relationships: each one's company
    arr_cents: np.ndarray | None = None              # relationships: ARR in cents, NaN without


def companies_of(tenant: TenantContext, relationship_ids: Sequence[int]) -> set[int]:
    with tenant.session() as session:
        found: set[int] = set()
        for start in range(0, len(relationship_ids), CHUNK):
            chunk = list(relationship_ids[start:start + CHUNK])
            found.update(session.scalars(select(Relationship.company_id).where(Relationship.id.in_(chunk))))
        return found


def load_entities(tenant: TenantContext, kind: str, cards: Sequence[Mapping[str, Any]], only: Sequence[int] | None,
                  fields: Mapping[str, tuple[str, str]], *, for_rollup: bool = False) -> Entities:
    """Live entities of ``kind`` (or only those of ``only``) with the columns the scorecards'
    criteria test, the field measures ``{key: (field, kind)}``, and, with ``for_rollup``,
    each relationship's company and ARR."""
    table = (Company if kind == "company" else Relationship).__table__
    criteria = sorted({c["field"] for card in cards for c in card.get("criteria", [])})
    selected = [_criterion_column(table, name) for name in criteria]
    keys = list(fields)
    # A field read twice (ARR as a measure and for the rollup) is selected once.
    read_fields = list(dict.fromkeys([fields[key][0] for key in keys] + (["arr"] if for_rollup else [])))
    selected += [field_column(table, name) for name in read_fields]
    if for_rollup:
        selected.append(table.c.company_id)
    stmt = select(table.c.id, *selected).where(table.c.tenant_id == tenant.id, table.c.is_deleted.is_(False)) \
        .order_by(table.c.id)
    width = len(selected) + 1
    with tenant.session() as session:
        connection = session.connection()
        if only is None:
            table_rows = fetch_table(connection, stmt, width)
        else:
            parts = [fetch_table(connection, stmt.where(table.c.id.in_(list(only[start:start + CHUNK]))), width)
                     for start in range(0, len(only), CHUNK)]
            table_rows = np.concatenate(parts) if parts else np.empty((0, width), dtype=object)
    ids = table_rows[:, 0].astype(np.int64)
    if not _ascending(ids):
        order = np.argsort(ids, kind="stable")
        ids, table_rows = ids[order], table_rows[order]
    found = Entities(ids, {}, {})
    position = 1
    for name in criteria:
        found.criteria[name] = _criterion_values(name, table_rows[:, position])
        position += 1
    column_of = {name: position + offset for offset, name in enumerate(read_fields)}
    for key in keys:
        field, measure_kind = fields[key]
        found.fields[key] = MeasureColumn(ids, field_values(field, measure_kind, table_rows[:, column_of[field]]),
                                          ordered=True)
    if for_rollup:
        found.company_ids = table_rows[:, position + len(read_fields)].astype(np.int64)
        found.arr_cents = numbers(table_rows[:, column_of["arr"]])  # field_column reads money as cents
    return found


def _ascending(ids: np.ndarray) -> bool:
    return bool(len(ids) < 2 or (ids[1:] > ids[:-1]).all())


def _criterion_column(table, name: str):
    head, _, rest = name.partition(".")
    if head == "attributes":
        return table.c.attributes[rest].as_string()
    if name == "type":
        types = RelationshipType.__table__
        return select(types.c.name).where(types.c.id == table.c.type_id).scalar_subquery()
    if name in MONEY_COLUMNS:
        return type_coerce(table.c[name], BigInteger)
    return table.c[name]


def _criterion_values(name: str, values: np.ndarray) -> np.ndarray:
    if name in MONEY_COLUMNS:
        return values.astype(float) / 100.0
    if name == "employees":
        return values.astype(float)
    return values.copy()


def assign(cards: Sequence[Mapping[str, Any]], ids: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Index into ``cards`` of each entity's one scorecard: first matching by priority, else the default."""
    choice = np.full(len(ids), -1)
    ranked = sorted((i for i, c in enumerate(cards) if not c.get("default")),
                    key=lambda i: (cards[i].get("priority", 100), cards[i]["name"]))
    for index in ranked:
        mask = choice == -1
        for criterion in cards[index]["criteria"]:
            mask &= condition_mask({"on": "value", **criterion}, columns[criterion["field"]],
                                   np.empty(0), None)  # type: ignore[arg-type]
        choice[mask] = index
    default = next((i for i, c in enumerate(cards) if c.get("default")), None)
    if default is not None:
        choice[choice == -1] = default
    return choice
