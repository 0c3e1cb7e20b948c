"""sObject Collections: ``/composite/sobjects`` create, update, upsert, delete and retrieve.

Up to 200 records a request; results come back in request order with per-record
``statusCode`` errors and HTTP 200 whenever the request itself is well formed.  With
``allOrNone`` every record is still validated, then everything is rolled back if any
failed and the others report ALL_OR_NONE_OPERATION_ROLLED_BACK.
"""

from __future__ import annotations

from typing import Any, Callable

from werkzeug.wrappers import Response

from .errors import MultipleMatches, SalesforceError, record_level
from .http_util import Call, bool_param, json_response, read_json
from .ids import is_valid_id
from .rest_render import record_json

MAX_RECORDS = 200
ROLLED_BACK = SalesforceError("ALL_OR_NONE_OPERATION_ROLLED_BACK", "Record rolled back because not all records were "
                              "valid and the request was using AllOrNone header")


class _Rollback(Exception):
    pass


class CollectionsApi:
    """Handlers for ``/services/data/vXX.X/composite/sobjects``."""

    def __init__(self, org: Any) -> None:
        self.org = org

    def _body(self, call: Call) -> tuple[bool, list[Any]]:
        body = read_json(call.request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise SalesforceError("JSON_PARSER_ERROR", "Expected a JSON object with a records array",
                                  include_fields=False)
        records = body["records"]
        _check_size(len(records))
        return bool(body.get("allOrNone", False)), records

    def _run(self, items: list[Any], all_or_none: bool, operation: Callable[[Any], dict[str, Any]]
             ) -> list[dict[str, Any]]:
        store = self.org.store
        results: list[dict[str, Any] | None] = [None] * len(items)
        failed = False
        if all_or_none:
            try:
                with store.transaction():
                    for index, item in enumerate(items):
                        results[index] = self._attempt(operation, item)
                        failed = failed or not results[index]["success"]  # type: ignore[index]
                    if failed:
                        raise _Rollback
            except _Rollback:
                return [result if not result["success"] else {"id": None, **_failure(ROLLED_BACK)}  # type: ignore[index]
                        for result in results]  # type: ignore[union-attr]
            return results  # type: ignore[return-value]
        for index, item in enumerate(items):
            with_transaction = store.transaction()
            try:
                with with_transaction:
                    outcome = self._attempt(operation, item)
                    if not outcome["success"]:
                        raise _Rollback
            except _Rollback:
                pass
            results[index] = outcome
        return results  # type: ignore[return-value]

    @staticmethod
    def _attempt(operation: Callable[[Any], dict[str, Any]], item: Any) -> dict[str, Any]:
        try:
            return operation(item)
        except MultipleMatches as matches:
            return _failure(SalesforceError("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: "
                                            + ", ".join(matches.urls)))
        except SalesforceError as error:
            record_id = item.get("Id") if isinstance(item, dict) else None
            return _failure(record_level(error, record_id), record_id)

    # -------------------------------------------------------------- operations
    def create(self, call: Call) -> Response:
        all_or_none, records = self._body(call)

        def insert(record: dict[str, Any]) -> dict[str, Any]:
            object_name = _type_of(record)
            if any(key.lower() == "id" for key in record):
                raise SalesforceError("INVALID_FIELD", "cannot specify Id in an insert call", [])
            record_id = self.org.store.create(object_name, record, user_id=call.user_id)
            return {"id": record_id, "success": True, "errors": []}
        return json_response(self._run(records, all_or_none, insert))

    def update(self, call: Call) -> Response:
        all_or_none, records = self._body(call)

        def change(record: dict[str, Any]) -> dict[str, Any]:
            object_name = _type_of(record)
            record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
            if not record_id:
                raise SalesforceError("MISSING_ARGUMENT", "Id not specified in an update call", [])
            if not is_valid_id(record_id):
                raise SalesforceError("MALFORMED_ID", f"malformed id {record_id}", [])
            values = {k: v for k, v in record.items() if k.lower() != "id"}
            self.org.store.update(object_name, record_id, values, user_id=call.user_id)
            return {"id": _canonical(record_id), "success": True, "errors": []}
        return json_response(self._run(records, all_or_none, change))

    def upsert(self, call: Call, sobject: str, field: str) -> Response:
        definition = self.org.schema.require(sobject)
        all_or_none, records = self._body(call)
        external = definition.field(field)
        if external is None or not (external.external_id or external.name == "Id"):
            raise SalesforceError("INVALID_FIELD", f"Provided external ID field does not exist or is not accessible: "
                                  f"{field}", include_fields=False)

        def put(record: dict[str, Any]) -> dict[str, Any]:
            if _type_of(record).lower() != definition.name.lower():
                raise SalesforceError("INVALID_TYPE", "Records must all be of the type in the URL", [])
            value = next((v for k, v in record.items() if k.lower() == external.name.lower()), None)
            values = {k: v for k, v in record.items() if k.lower() not in (external.name.lower(), "id")}
            if value in (None, "") and external.name != "Id":
                raise SalesforceError("MISSING_ARGUMENT", f"{external.name} not specified", [])
            record_id, created = self.org.store.upsert(definition.name, external.name, value, values,
                                                       user_id=call.user_id)
            return {"id": record_id, "success": True, "errors": [], "created": created}
        return json_response(self._run(records, all_or_none, put))

    def delete(self, call: Call) -> Response:
        ids = [i for i in (call.request.args.get("ids") or "").split(",") if i]
        _check_size(len(ids))
        all_or_none = bool_param(call.request.args.get("allOrNone"))

        def remove(record_id: str) -> dict[str, Any]:
            if not is_valid_id(record_id):
                return _failure(SalesforceError("MALFORMED_ID", f"malformed id {record_id}", []))
            try:
                self.org.store.delete(None, record_id, user_id=call.user_id)
            except SalesforceError as error:
                return {"id": _canonical(record_id), **_failure(record_level(error, record_id))}
            return {"id": _canonical(record_id), "success": True, "errors": []}
        return json_response(self._run(ids, all_or_none, remove))

    def retrieve(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        if call.request.method == "POST":
            body = read_json(call.request)
            ids, fields = body.get("ids") or [], body.get("fields") or []
        else:
            ids = [i for i in (call.request.args.get("ids") or "").split(",") if i]
            fields = [f for f in (call.request.args.get("fields") or "").split(",") if f]
        _check_size(len(ids))
        if not fields:
            raise SalesforceError("MISSING_ARGUMENT", "fields is required", include_fields=False)
        canonical = []
        for name in fields:
            field = definition.field(name)
            if field is None:
                raise SalesforceError("INVALID_FIELD", f"No such column '{name}' on sobject of type {definition.name}",
                                      include_fields=False)
            canonical.append(field.name)
        table = self.org.store.table(definition.name)
        out = []
        for record_id in ids:
            row = table.row_for_id(record_id) if is_valid_id(record_id) else None
            out.append(None if row is None or table.is_deleted(row) else
                       record_json(table, row, canonical, call.version))
        return json_response(out)


def _check_size(count: int) -> None:
    if count > MAX_RECORDS:
        raise SalesforceError("EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into "
                              "this call", include_fields=False)


def _type_of(record: Any) -> str:
    if not isinstance(record, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Each record must be a JSON object", [])
    object_type = (record.get("attributes") or {}).get("type")
    if not object_type:
        raise SalesforceError("INVALID_TYPE", "Must specify a type in the attributes of each record", [])
    return object_type


def _canonical(record_id: str) -> str:
    from .ids import to18
    return to18(record_id) if is_valid_id(record_id) else record_id


def _failure(error: SalesforceError, record_id: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"success": False, "errors": [error.record_error()]}
    if record_id is not None:
        result = {"id": _canonical(record_id), **result}
    return result
