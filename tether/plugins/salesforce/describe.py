"""Salesforce ``describe`` results as the engine's catalog types."""

from __future__ import annotations

from typing import Any, Mapping

from tether.core.connectors import FieldSchema, ObjectSchema

from .cursor import STAMP

# Salesforce field types → tether field types.
FIELD_TYPES = {
    "id": "id", "reference": "reference", "string": "string", "textarea": "text", "email": "string",
    "phone": "string", "url": "string", "combobox": "string", "encryptedstring": "string",
    "picklist": "picklist", "multipicklist": "picklist", "boolean": "boolean", "int": "integer", "long": "integer",
    "double": "float", "currency": "money", "percent": "percent", "date": "date", "datetime": "datetime",
    "time": "string", "address": "json", "location": "json", "base64": "string", "anyType": "string",
}


def object_schema(describe: Mapping[str, Any]) -> ObjectSchema:
    fields = []
    for field in describe.get("fields", []):
        fields.append(FieldSchema(
            name=field["name"], type=FIELD_TYPES.get(field.get("type", "string"), "string"),  # type: ignore[arg-type]
            label=field.get("label"), nullable=bool(field.get("nillable", True)),
            createable=bool(field.get("createable", False)), updateable=bool(field.get("updateable", False)),
            external_id=bool(field.get("externalId", False)),
            picklist_values=tuple(v["value"] for v in field.get("picklistValues") or () if v.get("active", True)),
            reference_to=tuple(field.get("referenceTo") or ()),
        ))
    names = {f.name for f in fields}
    return ObjectSchema(
        name=describe["name"], fields=tuple(fields), primary_key="Id",
        cursor_field=STAMP if STAMP in names else None,
        supports_deletes="IsDeleted" in names and bool(describe.get("queryable", True)),
        writable=bool(describe.get("createable") or describe.get("updateable")),
    )
