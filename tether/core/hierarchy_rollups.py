"""Rollups of the company hierarchy: number and currency fields added up the tree.

For each company, over itself and every live company below it: companies, ARR, MRR,
employees; its relationships' count, ARR and MRR; and every number or money attribute
whose relationship type declares a rollup (sum, avg, min or max). A whole tenant is
added up in the database over a closure of the tree (a recursive CTE, bounded at five
levels so cyclic stored data cannot loop); a few companies read their subtrees by index
and add up in Python.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from decimal import Decimal
from typing import Any, Sequence

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from .hierarchy import MAX_LEVELS, _tenant
from .store import Company, Relationship, RelationshipType

def _closure(session: Session, roots: Sequence[int] | None):
    """(ancestor, descendant) for every live company and each of its descendants, itself included."""
    tenant_id = _tenant(session)
    table = Company.__table__
    anchor = select(table.c.id.label("ancestor"), table.c.id.label("descendant"), literal(0).label("depth")) \
        .where(table.c.tenant_id == tenant_id, table.c.is_deleted.is_(False))
    if roots is not None:
        anchor = anchor.where(table.c.id.in_(list(roots)))
    closure = anchor.cte("closure", recursive=True)
    child = table.alias("child")
    closure = closure.union_all(
        select(closure.c.ancestor, child.c.id, (closure.c.depth + 1).label("depth"))
        .where(child.c.parent_id == closure.c.descendant, child.c.tenant_id == tenant_id,
               child.c.is_deleted.is_(False), closure.c.depth < MAX_LEVELS)
    )
    # DISTINCT: on cyclic stored data the walk meets a company again; count it once.
    return select(closure.c.ancestor, closure.c.descendant).distinct().subquery("pairs")


@dataclasses.dataclass
class Rollup:
    """A company's figures summed over itself and every company below it."""

    companies: int = 0
    arr: Decimal = Decimal("0.00")
    mrr: Decimal = Decimal("0.00")
    employees: int = 0
    relationships: int = 0
    relationship_arr: Decimal = Decimal("0.00")
    relationship_mrr: Decimal = Decimal("0.00")
    # "<type>.<field>" → rolled-up value, for number and money fields declaring a rollup.
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def rollups(session: Session, company_ids: Sequence[int] | None = None) -> dict[int, Rollup]:
    """Rollups for ``company_ids`` (default: every company of the tenant).

    A few companies (a 360, a hierarchy view) read their subtrees by index and add up in
    Python; a whole tenant is added up by the database in grouped joins."""
    if company_ids is not None and len(company_ids) <= SMALL_ROLLUP:
        return _rollups_of_few(session, list(company_ids))
    closure = _closure(session, company_ids)
    company = Company.__table__
    result: dict[int, Rollup] = defaultdict(Rollup)
    for row in session.execute(
        select(closure.c.ancestor, func.count(), func.sum(company.c.arr), func.sum(company.c.mrr),
               func.sum(company.c.employees))
        .join(company, company.c.id == closure.c.descendant).group_by(closure.c.ancestor)
    ):
        ancestor, count, arr, mrr, employees = row
        result[ancestor] = Rollup(companies=count, arr=_money(arr), mrr=_money(mrr), employees=int(employees or 0))
    rel = Relationship.__table__
    for ancestor, count, arr, mrr in session.execute(
        select(closure.c.ancestor, func.count(), func.sum(rel.c.arr), func.sum(rel.c.mrr))
        .join(rel, and_(rel.c.company_id == closure.c.descendant, rel.c.tenant_id == _tenant(session),
                        rel.c.is_deleted.is_(False)))
        .group_by(closure.c.ancestor)
    ):
        target = result[ancestor]
        target.relationships, target.relationship_arr, target.relationship_mrr = count, _money(arr), _money(mrr)
    specs = _rollup_fields(session)
    if specs:
        rows = session.execute(
            select(closure.c.ancestor, rel.c.type_id, rel.c.attributes)
            .join(rel, and_(rel.c.company_id == closure.c.descendant, rel.c.tenant_id == _tenant(session),
                            rel.c.is_deleted.is_(False), rel.c.type_id.in_(list(specs))))
        )
        _add_attributes(result, specs, rows)
    return dict(result)


SMALL_ROLLUP = 50
CHUNK = 500


def _rollups_of_few(session: Session, company_ids: list[int]) -> dict[int, Rollup]:
    closure = _closure(session, company_ids)
    pairs = session.execute(select(closure.c.ancestor, closure.c.descendant)).all()
    below: dict[int, list[int]] = defaultdict(list)
    for ancestor, descendant in pairs:
        below[ancestor].append(descendant)
    members = sorted({d for _, d in pairs})
    tenant_id = _tenant(session)
    company, rel = Company.__table__, Relationship.__table__
    figures: dict[int, tuple] = {}
    relationships: dict[int, list[tuple]] = defaultdict(list)
    for start in range(0, len(members), CHUNK):
        chunk = members[start:start + CHUNK]
        for row in session.execute(select(company.c.id, company.c.arr, company.c.mrr, company.c.employees)
                                   .where(company.c.tenant_id == tenant_id, company.c.id.in_(chunk))):
            figures[row.id] = (row.arr, row.mrr, row.employees)
        for row in session.execute(select(rel.c.company_id, rel.c.type_id, rel.c.arr, rel.c.mrr, rel.c.attributes)
                                   .where(rel.c.tenant_id == tenant_id, rel.c.company_id.in_(chunk),
                                          rel.c.is_deleted.is_(False))):
            relationships[row.company_id].append(row)
    specs = _rollup_fields(session)
    result: dict[int, Rollup] = {}
    for ancestor, descendants in below.items():
        mine = [figures[d] for d in descendants if d in figures]
        rels = [r for d in descendants for r in relationships.get(d, ())]
        result[ancestor] = Rollup(
            companies=len(mine), arr=_total(f[0] for f in mine), mrr=_total(f[1] for f in mine),
            employees=sum(f[2] or 0 for f in mine), relationships=len(rels),
            relationship_arr=_total(r.arr for r in rels), relationship_mrr=_total(r.mrr for r in rels))
        if specs:
            _add_attributes(result, specs, ((ancestor, r.type_id, r.attributes) for r in rels if r.type_id in specs))
    return result


def _total(amounts) -> Decimal:
    return sum((a for a in amounts if a is not None), Decimal("0.00"))


def _money(cents: Any) -> Decimal:
    # func.sum keeps the Money type, so values arrive as Decimal already.
    return cents if isinstance(cents, Decimal) else Decimal("0.00")


def _rollup_fields(session: Session) -> dict[int, list[tuple[str, str, str, str]]]:
    """Number and money attribute fields whose type declares a rollup, by type id."""
    specs: dict[int, list[tuple[str, str, str, str]]] = {}
    for type_id, type_name, type_fields in session.execute(select(RelationshipType.id, RelationshipType.name,
                                                                  RelationshipType.fields)):
        chosen = [(f["name"], f.get("type", "number"), f["rollup"], f"{type_name}.{f['name']}")
                  for f in type_fields or [] if f.get("rollup") and f.get("type") in ("number", "money")]
        if chosen:
            specs[type_id] = chosen
    return specs


def _add_attributes(result: dict[int, Rollup], specs, rows) -> None:
    """Roll ``(ancestor, type id, attributes)`` rows up with each field's sum, avg, min or max."""
    values: dict[tuple[int, str], list[Decimal]] = defaultdict(list)
    kinds: dict[str, tuple[str, str]] = {}
    for ancestor, type_id, attributes in rows:
        for name, kind, how, label in specs[type_id]:
            kinds[label] = (kind, how)
            number = _decimal((attributes or {}).get(name))
            if number is not None:
                values[(ancestor, label)].append(number)
    for (ancestor, label), numbers in values.items():
        kind, how = kinds[label]
        result[ancestor].attributes[label] = _aggregate(numbers, kind, how)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None


def _aggregate(numbers: list[Decimal], kind: str, how: str) -> Any:
    if how == "sum":
        value = sum(numbers, Decimal(0))
    elif how == "min":
        value = min(numbers)
    elif how == "max":
        value = max(numbers)
    else:
        value = sum(numbers, Decimal(0)) / len(numbers)
    if kind == "money":
        return str(value.quantize(Decimal("0.01")))
    return float(value) if value != value.to_integral_value() else int(value)
