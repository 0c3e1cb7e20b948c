"""Record-by-record processing of Bulk ingest data, shared by Bulk API 1.0 and 2.0.

Each record is its own transaction, as in Bulk: one failure doesn't roll back the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .errors import MultipleMatches, SalesforceError, record_level


@dataclass
class IngestResult:
    record_id: str | None
    success: bool
    created: bool
    error: SalesforceError | None
    source: Mapping[str, Any]


def _pop_id(values: dict[str, Any]) -> str | None:
    for key in list(values):
        if key.lower() == "id":
            return values.pop(key)
    return None


def run_ingest(org: Any, operation: str, object_name: str, external_id_field: str | None,
               records: Sequence[Mapping[str, Any]], user_id: str, *, from_text: bool) -> list[IngestResult]:
    """Apply one operation to every record; never raises for a record-level error."""
    store = org.store
    results = []
    with org.lock:
        for source in records:
            values = dict(source)
            record_id = None
            created = False
            try:
                with store.transaction():
                    if operation == "insert":
                        if _pop_id(values):
                            raise SalesforceError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert "
                                                  "call", ["Id"])
                        record_id = store.create(object_name, values, user_id=user_id, from_text=from_text)
                        created = True
                    elif operation in ("update", "delete", "hardDelete"):
                        record_id = _pop_id(values)
                        if not record_id:
                            raise SalesforceError("MISSING_ARGUMENT", f"Id not specified in an {operation} call", [])
                        if operation == "update":
                            store.update(object_name, record_id, values, user_id=user_id, from_text=from_text)
                        elif operation == "delete":
                            store.delete(object_name, record_id, user_id=user_id)
                        else:
                            store.hard_delete(record_id, user_id=user_id)
                    elif operation == "upsert":
                        field = external_id_field or "Id"
                        key = next((k for k in values if k.lower() == field.lower()), None)
                        value = values.pop(key) if key else None
                        if field.lower() != "id":
                            _pop_id(values)
                        record_id, created = store.upsert(object_name, field, value, values, user_id=user_id,
                                                          from_text=from_text)
                    else:
                        raise SalesforceError("INVALID_OPERATION", f"unsupported operation {operation}", [])
                results.append(IngestResult(_canonical(record_id), True, created, None, source))
            except MultipleMatches as matches:
                error = SalesforceError("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: "
                                        + ", ".join(matches.urls), [external_id_field or "Id"])
                results.append(IngestResult(None, False, False, error, source))
            except SalesforceError as error:
                if operation in ("update", "delete", "hardDelete"):
                    error = record_level(error, record_id)
                results.append(IngestResult(_canonical(record_id) if operation != "insert" else None, False, False,
                                            error, source))
    return results


def _canonical(record_id: str | None) -> str | None:
    from .ids import is_valid_id, to18
    return to18(record_id) if record_id and is_valid_id(record_id) else record_id
