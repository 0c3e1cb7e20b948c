"""Filter forms ↔ the API's filters (``[{"field", "op", "value" | "values"}]``).

Forms send plain fields (``owner=Ana``, or rows of ``f_field``/``f_op``/``f_value``);
the API gets the JSON list it documents and checks it; its field messages come back to
the page as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from werkzeug.datastructures import MultiDict

OPS = (("eq", "is"), ("ne", "is not"), ("in", "is one of (comma-separated)"), ("not_in", "is none of"),
       ("contains", "contains"), ("gt", ">"), ("gte", "≥"), ("lt", "<"), ("lte", "≤"),
       ("is_null", "is empty"), ("not_null", "is not empty"))
LIST_OPS = {"in", "not_in"}
NO_VALUE_OPS = {"is_null", "not_null"}
ATTRIBUTE_SCOPES = (("company", "Company attribute", "company.attr."),
                    ("opportunity", "Opportunity attribute", "attr."),
                    ("relationship", "Relationship attribute", "relationship.attr."))
MAX_ROWS = 6


def one_filter(field: str, op: str, value: str) -> dict[str, Any]:
    field, op, value = field.strip(), (op or "eq").strip(), (value or "").strip()
    if op in NO_VALUE_OPS:
        return {"field": field, "op": op}
    if op in LIST_OPS:
        return {"field": field, "op": op, "values": [part.strip() for part in value.split(",") if part.strip()]}
    return {"field": field, "op": op, "value": value}


@dataclasses.dataclass
class ForecastFilters:
    """The Forecast page's filters: owner, CSM, segment and one attribute."""

    owner: str = ""
    csm: str = ""
    segment: str = ""
    attr_scope: str = "company"
    attr_name: str = ""
    attr_value: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "ForecastFilters":
        scope = args.get("attr_scope", "company")
        return cls(owner=args.get("owner", "").strip(), csm=args.get("csm", "").strip(),
                   segment=args.get("segment", "").strip(),
                   attr_scope=scope if scope in {s for s, _, _ in ATTRIBUTE_SCOPES} else "company",
                   attr_name=args.get("attr_name", "").strip(), attr_value=args.get("attr_value", "").strip())

    def api_filters(self) -> list[dict[str, Any]]:
        filters = [one_filter(field, "eq", value) for field, value in
                   (("owner", self.owner), ("csm", self.csm), ("segment", self.segment)) if value]
        if self.attr_name:
            prefix = next(p for s, _, p in ATTRIBUTE_SCOPES if s == self.attr_scope)
            filters.append(one_filter(prefix + self.attr_name, "eq" if self.attr_value else "not_null",
                                      self.attr_value))
        return filters

    @property
    def active(self) -> bool:
        return bool(self.owner or self.csm or self.segment or self.attr_name)


def rows_from_args(args: MultiDict, prefix: str = "f") -> list[dict[str, str]]:
    """Rows of a repeated filter form (``f_field``, ``f_op``, ``f_value``), blank rows dropped."""
    fields = args.getlist(f"{prefix}_field")
    ops = args.getlist(f"{prefix}_op")
    values = args.getlist(f"{prefix}_value")
    rows = []
    for index, field in enumerate(fields[:MAX_ROWS]):
        if not field.strip():
            continue
        rows.append({"field": field.strip(), "op": ops[index] if index < len(ops) else "eq",
                     "value": values[index] if index < len(values) else ""})
    return rows


def api_filters(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [one_filter(row["field"], row["op"], row["value"]) for row in rows]


def describe(filters: list[dict[str, Any]], labels: Mapping[str, str] | None = None) -> list[str]:
    """``Segment is SMB`` chips for filters the API echoes or a view saved."""
    names = dict(OPS)
    out = []
    for item in filters or []:
        field = (labels or {}).get(item.get("field"), item.get("field"))
        op = names.get(item.get("op"), item.get("op"))
        if "values" in item:
            value = ", ".join(str(v) for v in item["values"] or [])
        else:
            value = "" if item.get("op") in NO_VALUE_OPS else str(item.get("value", ""))
        out.append(" ".join(part for part in (str(field), str(op), value) if part))
    return out
