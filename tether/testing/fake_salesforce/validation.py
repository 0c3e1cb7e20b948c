"""Input validation shared by every write path: field names, writability, types, references,
required fields — with the error codes and messages Salesforce uses."""

from __future__ import annotations

from typing import Any, Mapping

from .errors import SalesforceError
from .schema import ObjectDef
from .values import coerce


def normalize(definition: ObjectDef, values: Mapping[str, Any], *, creating: bool,
              from_text: bool = False, allow: tuple[str, ...] = ()) -> dict[str, Any]:
    """API input → canonical names and stored values, refusing unknown and read-only fields."""
    result: dict[str, Any] = {}
    read_only: list[str] = []
    for key, value in values.items():
        if key == "attributes" or key in allow:
            continue
        field = definition.field(key)
        if field is None:
            if isinstance(value, dict) and definition.relationship(key) is not None:
                raise SalesforceError("INVALID_FIELD", f"Cannot reference a foreign key field {key} in an insert or "
                                      "update; use the external id field instead", include_fields=False)
            raise SalesforceError("INVALID_FIELD", f"No such column '{key}' on sobject of type {definition.name}",
                                  include_fields=False)
        if not (field.createable if creating else field.updateable):
            read_only.append(field.name)
            continue
        result[field.name] = coerce(field, value, from_text=from_text)
    if read_only:
        raise SalesforceError(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {', '.join(read_only)}. Please check the security settings of this "
            "field and verify that it is read/write for your profile or permission set.", read_only)
    return result


def check_references(store: Any, definition: ObjectDef, values: Mapping[str, Any]) -> None:
    """Reference fields must point at an existing, live record of an allowed type."""
    for name, value in values.items():
        field = definition.fields[name]
        if field.type != "reference" or value is None:
            continue
        target = store.schema.by_prefix(value[:3])
        if target is None or target.name not in field.reference_to:
            raise SalesforceError("FIELD_INTEGRITY_EXCEPTION",
                                  f"{field.label}: id value of incorrect type: {value}", [name])
        located = store.locate(value)
        if located is None:
            raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])
        if located[0].is_deleted(located[1]):
            raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", [])


def check_required(definition: ObjectDef, record: Mapping[str, Any]) -> None:
    """REQUIRED_FIELD_MISSING for every required field left empty."""
    missing = [f.name for f in definition.fields.values() if f.required and record.get(f.name) in (None, "")]
    if missing:
        raise SalesforceError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]",
                              missing)
