"""What figures can be filtered and broken down by: opportunity, company and relationship fields.

A field is named by a key (``owner``, ``segment``, ``relationship_type``...) or an attribute
path (``attr.region`` on the opportunity, ``company.attr.tier``, ``relationship.attr.plan``).
Each knows its SQL expression and the joins it needs. Filters are validated here into
SQL conditions, with an error per bad filter naming it (``filters[1].op``).

``forecast_category`` is the *effective* category: the rep's current forecast call when
there is one, the opportunity's own otherwise (the rep's override survives stage changes).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import and_, case, func, or_
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import ColumnElement

from ..errors import InvalidFields
from ..store.models import Company, Opportunity, Relationship, RelationshipType
from .models import ForecastCall
from .vocabulary import RENEWAL_BOOKINGS, bookings_of, category_of, category_spellings

NONE_LABEL = "(none)"
OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "is_null", "not_null", "contains")
_ORDERED_OPS = ("gt", "gte", "lt", "lte")
_ATTR_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")


@dataclasses.dataclass
class Sources:
    """The tables a renewal query may reach, aliased once per query."""

    company: Any = dataclasses.field(default_factory=lambda: aliased(Company, name="co"))
    relationship: Any = dataclasses.field(default_factory=lambda: aliased(Relationship, name="rel"))
    relationship_type: Any = dataclasses.field(default_factory=lambda: aliased(RelationshipType, name="rtype"))
    call: Any = dataclasses.field(default_factory=lambda: aliased(ForecastCall, name="fcall"))

    def join(self, statement, needed: set[str], *, with_call: bool):
        """Add the outer joins ``needed`` (in dependency order) to ``statement``."""
        if "company" in needed:
            statement = statement.outerjoin(self.company, self.company.id == Opportunity.company_id)
        if "relationship" in needed or "relationship_type" in needed:
            statement = statement.outerjoin(self.relationship, self.relationship.id == Opportunity.relationship_id)
        if "relationship_type" in needed:
            statement = statement.outerjoin(self.relationship_type,
                                            self.relationship_type.id == self.relationship.type_id)
        if with_call:
            statement = statement.outerjoin(self.call, and_(self.call.opportunity_id == Opportunity.id,
                                                            self.call.is_current.is_(True)))
        return statement


@dataclasses.dataclass(frozen=True)
class Field:
    key: str
    label: str
    kind: str                       # string | money | number | date | boolean
    expr: Callable[[Sources, bool], ColumnElement]   # (sources, effective) -> expression
    joins: frozenset[str] = frozenset()
    dimension: bool = True          # can figures be broken down by it
    normalise: Callable[[Any], Any] | None = None   # stored value -> group label

    def sql(self, sources: Sources, *, effective: bool) -> ColumnElement:
        return self.expr(sources, effective)

    def group_label(self, value: Any) -> Any:
        if self.normalise is not None:
            value = self.normalise(value)
        if value is None or value == "":
            return NONE_LABEL
        return value.isoformat() if isinstance(value, dt.date) else value

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "kind": self.kind, "dimension": self.dimension}


def _company(column: str, key: str, label: str) -> Field:
    return Field(key, label, "string", lambda s, e, c=column: getattr(s.company, c), joins=frozenset({"company"}))


def _relationship(column: str, key: str, label: str) -> Field:
    return Field(key, label, "string", lambda s, e, c=column: getattr(s.relationship, c),
                 joins=frozenset({"relationship"}))


def _category_expr(sources: Sources, effective: bool) -> ColumnElement:
    if effective:
        return func.coalesce(sources.call.category, Opportunity.forecast_category)
    return Opportunity.forecast_category


def _family_expr(sources: Sources, effective: bool) -> ColumnElement:
    return case(
        (Opportunity.booking_type.in_(RENEWAL_BOOKINGS), "renewal"),
        (Opportunity.booking_type == "upsell", "upsell"),
        (Opportunity.booking_type == "downsell", "downsell"),
        (Opportunity.booking_type == "new_business", "new_business"),
        else_="other",
    )


def _status_expr(sources: Sources, effective: bool) -> ColumnElement:
    return case((Opportunity.is_closed.is_(False), "open"), (Opportunity.is_won.is_(True), "won"), else_="lost")


FIELDS: dict[str, Field] = {f.key: f for f in (
    Field("owner", "Opportunity owner", "string", lambda s, e: Opportunity.owner_name),
    Field("csm", "CSM", "string", lambda s, e: Opportunity.csm),
    Field("booking_type", "Booking type", "string", lambda s, e: Opportunity.booking_type),
    Field("family", "Booking family", "string", _family_expr),
    Field("status", "Status (open, won, lost)", "string", _status_expr),
    Field("forecast_category", "Forecast category", "string", _category_expr, normalise=category_of),
    Field("stage", "Stage", "string", lambda s, e: Opportunity.stage),
    Field("opportunity_type", "Opportunity type", "string", lambda s, e: Opportunity.opportunity_type),
    Field("currency", "Currency", "string", lambda s, e: Opportunity.currency),
    Field("target_amount", "Target amount", "money", lambda s, e: Opportunity.target_amount, dimension=False),
    Field("forecast_amount", "Forecast amount", "money", lambda s, e: Opportunity.forecast_amount, dimension=False),
    Field("final_amount", "Final amount", "money", lambda s, e: Opportunity.final_amount, dimension=False),
    Field("probability", "Probability (%)", "number", lambda s, e: Opportunity.probability, dimension=False),
    Field("due_date", "Due date", "date", lambda s, e: Opportunity.due_date, dimension=False),
    Field("close_date", "Close date", "date", lambda s, e: Opportunity.close_date, dimension=False),
    _company("name", "company", "Company"),
    _company("segment", "segment", "Segment"),
    _company("industry", "industry", "Industry"),
    _company("company_type", "company_type", "Company type"),
    _company("lifecycle_stage", "lifecycle_stage", "Company lifecycle stage"),
    _company("csm", "company_csm", "Company CSM"),
    _company("owner_name", "company_owner", "Company owner"),
    _relationship("name", "relationship", "Relationship"),
    _relationship("stage", "relationship_stage", "Relationship stage"),
    _relationship("status", "relationship_status", "Relationship status"),
    _relationship("csm", "relationship_csm", "Relationship CSM"),
    Field("relationship_type", "Relationship type", "string", lambda s, e: s.relationship_type.name,
          joins=frozenset({"relationship", "relationship_type"})),
)}

_ATTRIBUTE_PREFIXES = {
    "attr.": ("opportunity", frozenset()),
    "company.attr.": ("company", frozenset({"company"})),
    "relationship.attr.": ("relationship", frozenset({"relationship"})),
}


def field(key: str, *, where: str = "field") -> Field:
    """The field named ``key``, or an error listing what exists."""
    found = FIELDS.get(key)
    if found is not None:
        return found
    for prefix, (owner, joins) in _ATTRIBUTE_PREFIXES.items():
        if key.startswith(prefix):
            name = key[len(prefix):]
            if not _ATTR_KEY.match(name):
                raise InvalidFields("unknown field", {where: [f"attribute name {name!r} may hold only letters, digits, '_' and '-'"]})

            def expr(s: Sources, e: bool, owner=owner, name=name):
                table = {"opportunity": Opportunity, "company": s.company, "relationship": s.relationship}[owner]
                return table.attributes[name].as_string()

            return Field(key, f"{owner.capitalize()} attribute {name}", "string", expr, joins=joins)
    raise InvalidFields("unknown field", {where: [
        f"{key!r} is not a field; use one of {', '.join(sorted(FIELDS))}, or attr.NAME, company.attr.NAME, "
        "relationship.attr.NAME for attributes"]})


def dimension_field(key: str, *, where: str = "dimension") -> Field:
    found = field(key, where=where)
    if not found.dimension:
        raise InvalidFields("not a dimension", {where: [
            f"figures cannot be broken down by {key!r} ({found.kind}); filter on it instead"]})
    return found


# -- filters ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Filter:
    field: Field
    op: str
    values: tuple[Any, ...]

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"field": self.field.key, "op": self.op}
        if self.op in ("in", "not_in"):
            data["values"] = [_jsonable(v) for v in self.values]
        elif self.op not in ("is_null", "not_null"):
            data["value"] = _jsonable(self.values[0])
        return data

    def condition(self, sources: Sources, *, effective: bool) -> ColumnElement:
        column = self.field.sql(sources, effective=effective)
        if self.field.key == "forecast_category":
            return _category_condition(column, self.op, self.values)
        if self.op == "eq":
            return column == self.values[0]
        if self.op == "ne":
            return or_(column != self.values[0], column.is_(None))
        if self.op == "in":
            return column.in_(self.values)
        if self.op == "not_in":
            return or_(column.not_in(self.values), column.is_(None))
        if self.op == "gt":
            return column > self.values[0]
        if self.op == "gte":
            return column >= self.values[0]
        if self.op == "lt":
            return column < self.values[0]
        if self.op == "lte":
            return column <= self.values[0]
        if self.op == "is_null":
            return or_(column.is_(None), column == "") if self.field.kind == "string" else column.is_(None)
        if self.op == "not_null":
            return and_(column.is_not(None), column != "") if self.field.kind == "string" else column.is_not(None)
        if self.op == "contains":
            return func.lower(column).contains(str(self.values[0]).lower(), autoescape=True)
        raise AssertionError(self.op)


def _category_condition(column: ColumnElement, op: str, values: Sequence[Any]) -> ColumnElement:
    lowered = func.lower(column)
    spellings = sorted({s for value in values for s in category_spellings(category_of(value))})
    if op in ("eq", "in"):
        if "none" in {category_of(v) for v in values}:
            return or_(lowered.in_(spellings), column.is_(None), column == "")
        return lowered.in_(spellings)
    if op in ("ne", "not_in"):
        if "none" in {category_of(v) for v in values}:
            return and_(lowered.not_in(spellings), column.is_not(None), column != "")
        return or_(lowered.not_in(spellings), column.is_(None))
    if op == "is_null":
        return or_(column.is_(None), column == "")
    if op == "not_null":
        return and_(column.is_not(None), column != "")
    raise InvalidFields("invalid filter", {"op": [f"forecast_category filters take eq, ne, in, not_in, is_null, not_null, not {op!r}"]})


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _coerce(value: Any, kind: str, where: str, errors: dict[str, list[str]]) -> Any:
    try:
        if kind == "money":
            if isinstance(value, bool):
                raise ValueError
            return Decimal(str(value))
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "date":
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError
        if isinstance(value, (dict, list)):
            raise ValueError
        return str(value)
    except (ValueError, InvalidOperation, TypeError):
        expected = {"money": "an amount such as 1200.50", "number": "a number", "date": "a date such as 2025-03-31",
                    "boolean": "true or false", "string": "text"}[kind]
        errors.setdefault(where, []).append(f"{value!r} is not {expected}")
        return None


def parse_filters(raw: Any, *, where: str = "filters") -> list[Filter]:
    """Validate ``[{"field", "op", "value" | "values"}]``; raise every problem at once."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise InvalidFields("invalid filters", {where: ["must be a list of {field, op, value|values}"]})
    errors: dict[str, list[str]] = {}
    parsed: list[Filter] = []
    for index, item in enumerate(raw):
        path = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            errors.setdefault(path, []).append("must be an object with field, op and value or values")
            continue
        unknown = set(item) - {"field", "op", "value", "values"}
        if unknown:
            errors.setdefault(path, []).append(f"unknown keys {sorted(unknown)}")
        try:
            spec = field(str(item.get("field", "")), where=f"{path}.field")
        except InvalidFields as exc:
            for key, messages in exc.errors.items():
                errors.setdefault(key, []).extend(messages)
            continue
        op = item.get("op", "eq")
        if op not in OPS:
            errors.setdefault(f"{path}.op", []).append(f"{op!r} is not an operator; use one of {', '.join(OPS)}")
            continue
        if op in _ORDERED_OPS and spec.kind not in ("money", "number", "date"):
            errors.setdefault(f"{path}.op", []).append(f"{op!r} needs an amount, number or date field; {spec.key!r} is {spec.kind}")
            continue
        if op == "contains" and spec.kind != "string":
            errors.setdefault(f"{path}.op", []).append(f"'contains' needs a text field; {spec.key!r} is {spec.kind}")
            continue
        if op in ("is_null", "not_null"):
            parsed.append(Filter(spec, op, ()))
            continue
        if op in ("in", "not_in"):
            values = item.get("values")
            if not isinstance(values, list) or not values:
                errors.setdefault(f"{path}.values", []).append(f"{op!r} needs a non-empty list in 'values'")
                continue
            coerced = [_coerce(v, spec.kind, f"{path}.values[{i}]", errors) for i, v in enumerate(values)]
            parsed.append(Filter(spec, op, tuple(coerced)))
            continue
        if "value" not in item:
            errors.setdefault(f"{path}.value", []).append(f"{op!r} needs a 'value'")
            continue
        parsed.append(Filter(spec, op, (_coerce(item["value"], spec.kind, f"{path}.value", errors),)))
    if errors:
        raise InvalidFields("invalid filters", errors, hint="see GET .../renewals/fields for the fields and operators")
    return parsed


def group_condition(dimension: Field, value: Any, sources: Sources, *, effective: bool) -> ColumnElement:
    """Rows whose ``dimension`` has the (normalised) group label ``value``."""
    column = dimension.sql(sources, effective=effective)
    if dimension.key == "forecast_category":
        category = category_of(None if value == NONE_LABEL else value)
        return _category_condition(column, "eq", [None if category == "none" else category])
    if value in (None, NONE_LABEL):
        return or_(column.is_(None), column == "") if dimension.kind == "string" else column.is_(None)
    return column == value


def needed_joins(filters: Sequence[Filter], dimension: Field | None) -> set[str]:
    needed: set[str] = set()
    for item in filters:
        needed |= item.field.joins
    if dimension is not None:
        needed |= dimension.joins
    return needed


def uses_call(filters: Sequence[Filter], dimension: Field | None) -> bool:
    return any(f.field.key == "forecast_category" for f in filters) or (
        dimension is not None and dimension.key == "forecast_category")


def family_condition(family: str) -> ColumnElement:
    if family == "other":
        known = [b for fam in ("renewal", "upsell", "downsell", "new_business") for b in bookings_of(fam)]
        return or_(Opportunity.booking_type.is_(None), Opportunity.booking_type.not_in(known))
    return Opportunity.booking_type.in_(bookings_of(family))


def catalog() -> list[dict[str, Any]]:
    """Every field, for clients building filters and breakdowns."""
    return [f.describe() for f in FIELDS.values()] + [
        {"key": "attr.NAME", "label": "Opportunity attribute NAME", "kind": "string", "dimension": True},
        {"key": "company.attr.NAME", "label": "Company attribute NAME", "kind": "string", "dimension": True},
        {"key": "relationship.attr.NAME", "label": "Relationship attribute NAME", "kind": "string", "dimension": True},
    ]
