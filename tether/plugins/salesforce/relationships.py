"""Which relationship a synced opportunity belongs to: the configured rule.

``relationship_type`` names the tether relationship type and ``relationship_name_field``
the Opportunity field whose value names the relationship under the opportunity's
company (e.g. ``Product_Line__c`` = ``Analytics`` → the company's "Analytics"
relationship of type "Product Line"). The field is added to the Opportunity mapping (as
an attribute) so it is read; opportunities without a value stay unassigned.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tether.core.contracts import FieldMapping, RelationshipAssignment


def attribute_name(field: str) -> str:
    return field[:-3].lower() if field.endswith("__c") else field.lower()


def name_field_mapping(field: str) -> FieldMapping:
    return FieldMapping(source=field, target=f"attributes.{attribute_name(field)}", type="string", direction="inbound")


def assign(config: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[RelationshipAssignment | None] | None:
    type_name, field = config.get("relationship_type"), config.get("relationship_name_field")
    if not type_name or not field:
        return None
    key = f"attributes.{attribute_name(field)}"
    assignments: list[RelationshipAssignment | None] = []
    for record in records:
        value = record.get(key)
        if value is None:
            value = (record.get("_source") or {}).get(field)
        assignments.append(RelationshipAssignment(type_name=type_name, name=str(value).strip())
                           if value not in (None, "") else None)
    return assignments
