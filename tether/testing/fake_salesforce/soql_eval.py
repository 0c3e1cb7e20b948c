"""Compiling a parsed SOQL query against the org's schema and running it over the columns.

Compilation resolves every field path (raising INVALID_FIELD / INVALID_TYPE with
Salesforce's messages), type-checks literals, and turns WHERE into a row predicate built
from closures over column lists, so a scan of a million rows stays in the hundreds of ms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter
from typing import Any, Callable, Sequence

from .clock import FakeClock, canonical_datetime
from .errors import QueryError
from .ids import is_valid_id, to18
from .schema import FieldDef, ObjectDef
from .soql_parser import BoolOp, Comparison, FieldRef, Literal, Not, Query, SelectCount, parse
from .table import Table
from .values import ID_TYPES, NUMBER_TYPES, TEXT_TYPES

Predicate = Callable[[int], bool]
_NO_SUCH_COLUMN = ("No such column '{field}' on entity '{entity}'. If you are attempting to use a custom field, be "
                   "sure to append the '__c' after the custom field name. Please reference your WSDL or the describe "
                   "call for the appropriate names.")
_BAD_RELATIONSHIP = ("Didn't understand relationship '{name}' in field path. If you are attempting to use a custom "
                     "relationship, be sure to append the '__r' after the custom relationship name. Please reference "
                     "your WSDL or the describe call for the appropriate names.")
_BAD_TYPE = ("sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
             "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
             "appropriate names.")


@dataclass
class FieldPath:
    """A resolved field path: the relationship hops, the final field and a fast row accessor."""

    names: list[str]  # canonical segments, e.g. ["Account", "Parent", "Name"]
    hops: list[FieldDef]  # reference fields walked, one per relationship segment
    field: FieldDef
    get: Callable[[int], Any]

    @property
    def label(self) -> str:
        return ".".join(self.names)


class CompiledQuery:
    """A query bound to the org's tables, ready to select rows and read values."""

    def __init__(self, query: Query, store: Any, clock: FakeClock) -> None:
        self.query = query
        self.store = store
        self.clock = clock
        definition = store.schema.get(query.sobject)
        if definition is None or not definition.queryable:
            raise QueryError("INVALID_TYPE", _BAD_TYPE.format(name=query.sobject), query.soql, query.sobject_position)
        self.definition: ObjectDef = definition
        self.table: Table = store.table(definition.name)
        self.count_only = query.is_count
        self.aggregate = any(isinstance(item, SelectCount) for item in query.select)
        if self.aggregate and len(query.select) > 1:
            raise QueryError("MALFORMED_QUERY", "Field must be grouped or aggregated: "
                             + next(i.text for i in query.select if isinstance(i, FieldRef)), query.soql,
                             next(i.position for i in query.select if isinstance(i, FieldRef)))
        self.paths: list[FieldPath] = []
        seen: set[str] = set()
        for item in query.select:
            if isinstance(item, SelectCount):
                if item.field is not None:
                    self.resolve(item.field)
                continue
            path = self.resolve(item)
            if path.label.lower() in seen:
                raise QueryError("MALFORMED_QUERY", f"duplicate field selected: {item.text}", query.soql, item.position)
            seen.add(path.label.lower())
            self.paths.append(path)
        self.predicate: Predicate | None = self._compile(query.where) if query.where is not None else None
        self.order = [(self.resolve(item.field), item) for item in query.order_by]
        if query.offset is not None and query.offset > 2000:
            raise QueryError("NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000", query.soql, None)

    # -------------------------------------------------------------- paths
    def resolve(self, ref: FieldRef) -> FieldPath:
        """Resolve ``Account.Parent.Name`` against the schema (up to 5 relationship levels)."""
        segments = list(ref.path)
        if len(segments) > 1 and segments[0].lower() == self.definition.name.lower():
            segments = segments[1:]  # "Opportunity.Name" in FROM Opportunity
        current = self.definition
        hops: list[FieldDef] = []
        names: list[str] = []
        for relationship in segments[:-1]:
            hop = current.relationship(relationship)
            if hop is None:
                raise QueryError("INVALID_FIELD", _BAD_RELATIONSHIP.format(name=relationship), self.query.soql,
                                 ref.position)
            hops.append(hop)
            names.append(hop.relationship_name)  # type: ignore[arg-type]
            target = self.store.schema.get(hop.reference_to[0])
            if len(hop.reference_to) > 1:
                # Polymorphic (What/Who): only fields every target has are addressable.
                target = _common_fields(self.store.schema, hop.reference_to)
            current = target
        if len(hops) > 5:
            raise QueryError("MALFORMED_QUERY", "SOQL statements cannot query relationships that are more than 5 "
                             "levels away from the root entity object.", self.query.soql, ref.position)
        field = current.field(segments[-1])
        if field is None:
            raise QueryError("INVALID_FIELD", _NO_SUCH_COLUMN.format(field=ref.text, entity=self.definition.name),
                             self.query.soql, ref.position)
        names.append(field.name)
        return FieldPath(names, hops, field, self._accessor(hops, field))

    def _accessor(self, hops: list[FieldDef], field: FieldDef) -> Callable[[int], Any]:
        if not hops:
            return self.table.column(field.name).__getitem__
        store = self.store
        first = self.table.column(hops[0].name)
        # Per hop: the target table when the reference has one target (a direct index lookup), or
        # None for polymorphic references (resolved by key prefix), plus the next column to read.
        plan = []
        for position, hop in enumerate(hops):
            target = store.table(hop.reference_to[0]) if len(hop.reference_to) == 1 else None
            following = hops[position + 1].name if position + 1 < len(hops) else None
            plan.append((target, following))
        name = field.name

        def follow(row: int) -> Any:
            value = first[row]
            for target, following in plan:
                if value is None:
                    return None
                if target is not None:
                    parent = target.row_of.get(value)
                    if parent is None or parent in target.deleted_at:
                        return None
                    table = target
                else:
                    located = store.locate(value)
                    if located is None or located[0].is_deleted(located[1]):
                        return None
                    table, parent = located
                column = table.columns.get(following or name)
                if column is None:
                    return None
                value = column[parent]
            return value
        return follow

    def parent_of(self, hops: Sequence[FieldDef], row: int) -> list[tuple[Table, int] | None]:
        """The (table, row) reached after each hop from a root row; None once a link is empty."""
        reached: list[tuple[Table, int] | None] = []
        table, current = self.table, row
        for hop in hops:
            value = table.columns[hop.name][current]
            located = self.store.locate(value) if value else None
            if located is not None and located[0].is_deleted(located[1]):
                located = None
            reached.append(located)
            if located is None:
                break
            table, current = located
        return reached

    # -------------------------------------------------------------- WHERE
    def _compile(self, node: Any) -> Predicate:
        if isinstance(node, BoolOp):
            parts = [self._compile(operand) for operand in node.operands]
            if node.operator == "AND":
                return lambda row: all(part(row) for part in parts)
            return lambda row: any(part(row) for part in parts)
        if isinstance(node, Not):
            inner = self._compile(node.operand)
            return lambda row: not inner(row)
        return self._comparison(node)

    def _comparison(self, node: Comparison) -> Predicate:
        path = self.resolve(node.field)
        get, field = path.get, path.field
        operator = node.operator
        # Text compares case-insensitively; ids compare exactly (18-char canonical) so ranges keep id order.
        key_of = (lambda row: _key(get(row))) if field.type in TEXT_TYPES else get
        if operator in ("IN", "NOT IN"):
            values = {self._literal_key(field, literal, operator) for literal in node.value}
            if operator == "IN":
                return lambda row: key_of(row) in values
            return lambda row: key_of(row) not in values
        literal: Literal = node.value
        if operator == "LIKE":
            if field.type not in TEXT_TYPES and field.type not in ID_TYPES:
                raise QueryError("INVALID_FIELD", f"invalid operator on {field.type} field: {field.name}",
                                 self.query.soql, literal.position)
            pattern = _like_regex(self._literal_key(field, literal, operator))
            return lambda row: (value := get(row)) is not None and pattern.match(value) is not None
        if literal.kind == "date_function":
            return self._date_range(path, operator, literal)
        target = self._literal_key(field, literal, operator)
        if target is None:
            if operator == "=":
                return lambda row: get(row) is None
            if operator == "!=":
                return lambda row: get(row) is not None
            raise QueryError("MALFORMED_QUERY", "null is only valid with = and !=", self.query.soql, literal.position)
        if operator == "=":
            return lambda row: key_of(row) == target
        if operator == "!=":
            return lambda row: key_of(row) != target
        compare = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                   ">=": lambda a, b: a >= b}[operator]
        return lambda row: (value := key_of(row)) is not None and compare(value, target)

    def _literal_key(self, field: FieldDef, literal: Literal, operator: str) -> Any:
        """Check a literal against the field's type and return its comparable form."""
        kind, soql = field.type, self.query.soql
        if literal.kind == "null":
            return None
        if kind in TEXT_TYPES:
            if literal.kind != "string":
                raise QueryError("INVALID_FIELD", f"value of filter criterion for field '{field.name}' must be of type "
                                 "string and should be enclosed in quotes", soql, literal.position)
            return literal.value.lower()
        if kind in ID_TYPES:
            if literal.kind != "string":
                raise QueryError("INVALID_FIELD", f"value of filter criterion for field '{field.name}' must be of type "
                                 "id and should be enclosed in quotes", soql, literal.position)
            if operator == "LIKE":
                return literal.value.lower()
            if not is_valid_id(literal.value):
                raise QueryError("INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}", soql,
                                 literal.position)
            return to18(literal.value)
        expected = {"boolean": "boolean", "date": "date", "datetime": "datetime", "int": "number"}.get(
            kind, "number" if kind in NUMBER_TYPES else kind)
        if literal.kind != expected:
            shown = {"datetime": "dateTime", "number": "double" if kind != "int" else "int"}.get(expected, expected)
            raise QueryError("INVALID_FIELD", f"value of filter criterion for field '{field.name}' must be of type "
                             f"{shown} and should not be enclosed in quotes", soql, literal.position)
        if kind == "datetime":
            return canonical_datetime(literal.value)
        return literal.value

    def _date_range(self, path: FieldPath, operator: str, literal: Literal) -> Predicate:
        if path.field.type not in ("date", "datetime"):
            raise QueryError("INVALID_FIELD", f"value of filter criterion for field '{path.field.name}' must be of "
                             f"type {path.field.type} and should not be enclosed in quotes", self.query.soql,
                             literal.position)
        start, end = date_function_range(literal.value, literal.n, self.clock.today())
        if path.field.type == "date":
            low, high = start.isoformat(), end.isoformat()
        else:
            low, high = start.isoformat() + "T00:00:00.000Z", end.isoformat() + "T00:00:00.000Z"
        get = path.get
        tests = {
            "=": lambda v: low <= v < high, "!=": lambda v: not low <= v < high, "<": lambda v: v < low,
            "<=": lambda v: v < high, ">": lambda v: v >= high, ">=": lambda v: v >= low,
        }
        test = tests[operator]
        if operator == "!=":
            return lambda row: (value := get(row)) is None or test(value)
        return lambda row: (value := get(row)) is not None and test(value)

    # -------------------------------------------------------------- execution
    def rows(self, include_deleted: bool = False, *, apply_limits: bool = True,
             within: range | None = None) -> list[int]:
        """Matching rows in ORDER BY order, after OFFSET and LIMIT (``within`` restricts the row range)."""
        candidates = self.table.live_rows(include_deleted)
        if within is not None:
            if isinstance(candidates, range):
                candidates = range(max(candidates.start, within.start), min(candidates.stop, within.stop))
            else:
                candidates = [row for row in candidates if within.start <= row < within.stop]
        predicate = self.predicate
        selected = list(candidates) if predicate is None else [row for row in candidates if predicate(row)]
        for path, item in reversed(self.order):
            get = path.get
            text = path.field.type in TEXT_TYPES
            null_rank = 1 if item.nulls_last else 0
            if item.descending:
                null_rank = 1 - null_rank

            def sort_key(row: int, get: Callable[[int], Any] = get, text: bool = text,
                         null_rank: int = null_rank) -> tuple[int, Any]:
                value = get(row)
                if value is None:
                    return (null_rank, None)
                return (1 - null_rank, value.lower() if text else value)
            selected.sort(key=sort_key, reverse=item.descending)
        if apply_limits:
            if self.query.offset:
                selected = selected[self.query.offset:]
            if self.query.limit is not None:
                selected = selected[:self.query.limit]
        return selected

    def values(self, path: FieldPath, rows: Sequence[int]) -> list[Any]:
        """One path's values for many rows (itemgetter fast path for own columns)."""
        if not rows:
            return []
        if not path.hops:
            column = self.table.column(path.field.name)
            if isinstance(rows, range) and rows.step == 1:
                return column[rows.start:rows.stop]
            if len(rows) == 1:
                return [column[rows[0]]]
            return list(itemgetter(*rows)(column))
        return [path.get(row) for row in rows]


def _key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "%_":
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _common_fields(schema: Any, names: Sequence[str]) -> ObjectDef:
    objects = [schema.get(name) for name in names]
    shared = [f for f in objects[0].fields.values() if all(o.field(f.name) for o in objects[1:])]
    return ObjectDef("Name", "000", fields={f.name: f for f in shared})


def date_function_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """[start, end) dates a date literal covers, for an org in UTC with Sunday-start weeks."""
    def month_start(d: date, shift: int) -> date:
        month_index = d.year * 12 + d.month - 1 + shift
        return date(month_index // 12, month_index % 12 + 1, 1)

    week_start = today - timedelta(days=(today.weekday() + 1) % 7)
    quarter_start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    one = timedelta(days=1)
    n = n or 0
    ranges = {
        "YESTERDAY": (today - one, today), "TODAY": (today, today + one), "TOMORROW": (today + one, today + 2 * one),
        "LAST_WEEK": (week_start - 7 * one, week_start), "THIS_WEEK": (week_start, week_start + 7 * one),
        "NEXT_WEEK": (week_start + 7 * one, week_start + 14 * one),
        "LAST_MONTH": (month_start(today, -1), month_start(today, 0)),
        "THIS_MONTH": (month_start(today, 0), month_start(today, 1)),
        "NEXT_MONTH": (month_start(today, 1), month_start(today, 2)),
        "LAST_90_DAYS": (today - 90 * one, today + one), "NEXT_90_DAYS": (today + one, today + 91 * one),
        "THIS_QUARTER": (quarter_start, month_start(quarter_start, 3)),
        "LAST_QUARTER": (month_start(quarter_start, -3), quarter_start),
        "NEXT_QUARTER": (month_start(quarter_start, 3), month_start(quarter_start, 6)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        # LAST_N_DAYS:n covers the n days before today and today itself.
        "LAST_N_DAYS": (today - n * one, today + one), "NEXT_N_DAYS": (today + one, today + (n + 1) * one),
        "N_DAYS_AGO": (today - n * one, today - (n - 1) * one),
        "LAST_N_WEEKS": (week_start - 7 * n * one, week_start), "NEXT_N_WEEKS": (week_start + 7 * one,
                                                                                 week_start + 7 * (n + 1) * one),
        "LAST_N_MONTHS": (month_start(today, -n), month_start(today, 0)),
        "NEXT_N_MONTHS": (month_start(today, 1), month_start(today, n + 1)),
        "LAST_N_YEARS": (date(today.year - n, 1, 1), date(today.year, 1, 1)),
        "NEXT_N_YEARS": (date(today.year + 1, 1, 1), date(today.year + n + 1, 1, 1)),
    }
    return ranges[name]


def compile_query(soql: str, store: Any, clock: FakeClock) -> CompiledQuery:
    """Parse and compile SOQL (raises QueryError with Salesforce's code and message)."""
    return CompiledQuery(parse(soql), store, clock)

