"""REST API: versions, describe, sObject CRUD, upsert by external id, updated/deleted, limits."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from .clock import format_ms, parse_datetime_ms, rest_datetime
from .errors import INVALID_ID_FIELD_MESSAGE, SalesforceError
from .http_util import Call, bool_param, json_response, no_content, read_json
from .ids import is_valid_id
from .rest_render import record_json

API_VERSIONS = [("Winter '23", "56.0"), ("Spring '23", "57.0"), ("Summer '23", "58.0"), ("Winter '24", "59.0"),
                ("Spring '24", "60.0"), ("Summer '24", "61.0"), ("Winter '25", "62.0")]
_MINUTE = 60_000


class RestApi:
    """Handlers for ``/services/data/vXX.X/...`` except query, collections and jobs."""

    def __init__(self, org: Any) -> None:
        self.org = org

    # -------------------------------------------------------------- discovery
    def versions(self) -> Response:
        return json_response([{"label": label, "url": f"/services/data/v{version}", "version": version}
                              for label, version in API_VERSIONS])

    def resources(self, call: Call) -> Response:
        base = f"/services/data/v{call.version}"
        names = ["sobjects", "query", "queryAll", "composite", "jobs", "limits", "search", "tooling"]
        return json_response({name: f"{base}/{name}" for name in names})

    def limits(self, call: Call) -> Response:
        return json_response(self.org.limits.body())

    def describe_global(self, call: Call) -> Response:
        return json_response({"encoding": "UTF-8", "maxBatchSize": 200,
                              "sobjects": [o.summary(call.version) for o in self.org.schema.objects]})

    def sobject_info(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        table = self.org.store.table(definition.name)
        recent = [record_json(table, row, ["Id", *(["Name"] if "Name" in table.columns else [])], call.version)
                  for row in list(table.live_rows())[-5:]]
        return json_response({"objectDescribe": definition.summary(call.version), "recentItems": recent})

    def describe(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        return json_response(definition.describe(self.org.schema, call.version))

    # -------------------------------------------------------------- CRUD
    def create(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        body = read_json(call.request)
        if not isinstance(body, dict):
            raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY",
                                  include_fields=False)
        with self.org.store.transaction():
            record_id = self.org.store.create(definition.name, _strip_id(body, "create"), user_id=call.user_id)
        return json_response({"id": record_id, "success": True, "errors": []}, status=201)

    def retrieve(self, call: Call, sobject: str, record_id: str) -> Response:
        definition = self.org.schema.require(sobject)
        table = self.org.store.table(definition.name)
        row = table.row_for_id(record_id) if is_valid_id(record_id) else None
        if row is None and not is_valid_id(record_id):
            raise SalesforceError("NOT_FOUND", INVALID_ID_FIELD_MESSAGE.format(value=record_id), include_fields=False)
        if row is None or table.is_deleted(row):
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        return json_response(record_json(table, row, self._fields_param(call, definition), call.version))

    def _fields_param(self, call: Call, definition: Any) -> list[str]:
        requested = call.request.args.get("fields")
        if not requested:
            return list(definition.fields)
        names = []
        for name in requested.split(","):
            field = definition.field(name.strip())
            if field is None:
                raise SalesforceError("INVALID_FIELD", f"No such column '{name.strip()}' on sobject of type "
                                      f"{definition.name}", include_fields=False)
            names.append(field.name)
        return names

    def update(self, call: Call, sobject: str, record_id: str) -> Response:
        definition = self.org.schema.require(sobject)
        body = read_json(call.request)
        if not is_valid_id(record_id):
            raise SalesforceError("NOT_FOUND", INVALID_ID_FIELD_MESSAGE.format(value=record_id), include_fields=False)
        with self.org.store.transaction():
            self.org.store.update(definition.name, record_id, _strip_id(body, "update"), user_id=call.user_id)
        return no_content()

    def delete(self, call: Call, sobject: str, record_id: str) -> Response:
        definition = self.org.schema.require(sobject)
        if not is_valid_id(record_id):
            raise SalesforceError("NOT_FOUND", INVALID_ID_FIELD_MESSAGE.format(value=record_id), include_fields=False)
        with self.org.store.transaction():
            self.org.store.delete(definition.name, record_id, user_id=call.user_id)
        return no_content()

    # -------------------------------------------------------------- external ids
    def by_external_id(self, call: Call, sobject: str, field: str, value: str) -> Response:
        definition = self.org.schema.require(sobject)
        table = self.org.store.table(definition.name)
        rows = self.org.store.match_external(table, field, value)
        if len(rows) > 1:
            from .errors import MultipleMatches
            raise MultipleMatches([f"/services/data/v{call.version}/sobjects/{definition.name}/"
                                   f"{table.columns['Id'][row]}" for row in rows])
        if not rows:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        return json_response(record_json(table, rows[0], self._fields_param(call, definition), call.version))

    def upsert(self, call: Call, sobject: str, field: str, value: str) -> Response:
        definition = self.org.schema.require(sobject)
        body = read_json(call.request)
        if isinstance(body, dict) and any(key.lower() == "id" for key in body):
            raise SalesforceError("INVALID_FIELD", "The Id field should not be specified in the sobject data.",
                                  include_fields=False)
        external = definition.field(field)
        if external is not None and isinstance(body, dict):
            given = next((v for k, v in body.items() if k.lower() == external.name.lower()), None)
            if given is not None and str(given).lower() != value.lower():
                raise SalesforceError("INVALID_FIELD", f"The value of {external.name} in the URL and in the body "
                                      "do not match", include_fields=False)
        update_only = bool_param(call.request.args.get("updateOnly"))
        from .errors import MultipleMatches
        try:
            with self.org.store.transaction():
                record_id, created = self.org.store.upsert(definition.name, field, value, body, user_id=call.user_id,
                                                           update_only=update_only)
        except MultipleMatches as matches:
            raise MultipleMatches([f"/services/data/v{call.version}/sobjects/{definition.name}/{record}"
                                   for record in matches.urls]) from None
        if call.version_float >= 46.0:
            return json_response({"id": record_id, "success": True, "errors": [], "created": created},
                                 status=201 if created else 200)
        if created:
            return json_response({"id": record_id, "success": True, "errors": []}, status=201)
        return no_content()

    def delete_by_external_id(self, call: Call, sobject: str, field: str, value: str) -> Response:
        definition = self.org.schema.require(sobject)
        table = self.org.store.table(definition.name)
        rows = self.org.store.match_external(table, field, value)
        if len(rows) != 1:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        with self.org.store.transaction():
            self.org.store.delete(definition.name, table.columns["Id"][rows[0]], user_id=call.user_id)
        return no_content()

    # -------------------------------------------------------------- replication
    def _window(self, call: Call, max_days: int) -> tuple[int, int]:
        start_text, end_text = call.request.args.get("start"), call.request.args.get("end")
        if not start_text or not end_text:
            raise SalesforceError("MISSING_ARGUMENT", "start and end are required", include_fields=False)
        try:
            start = parse_datetime_ms(start_text) // _MINUTE * _MINUTE
            end = parse_datetime_ms(end_text) // _MINUTE * _MINUTE
        except ValueError:
            raise SalesforceError("INVALID_REPLICATION_DATE", "Invalid date format", include_fields=False) from None
        now = self.org.clock.now_ms()
        if end < start:
            raise SalesforceError("INVALID_REPLICATION_DATE", "EndDate before StartDate", include_fields=False)
        if start < now - max_days * 86_400_000:
            raise SalesforceError("INVALID_REPLICATION_DATE", f"startDate cannot be more than {max_days} days ago",
                                  include_fields=False)
        return start, min(end, now // _MINUTE * _MINUTE)

    def updated(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        start, end = self._window(call, 30)
        low, high = format_ms(start), format_ms(end)
        table = self.org.store.table(definition.name)
        stamps, ids = table.columns["SystemModstamp"], table.columns["Id"]
        found = [ids[row] for row in table.live_rows() if low <= stamps[row] < high]
        if len(found) >= 600_000:
            raise SalesforceError("EXCEEDED_ID_LIMIT", "too many ids", include_fields=False)
        return json_response({"ids": found, "latestDateCovered": rest_datetime(high)})

    def deleted(self, call: Call, sobject: str) -> Response:
        definition = self.org.schema.require(sobject)
        start, end = self._window(call, 15)
        entries = [{"id": record_id, "deletedDate": rest_datetime(format_ms(deleted_ms))}
                   for record_id, deleted_ms in self.org.store.deleted_log.get(definition.name, [])
                   if start <= deleted_ms < end]
        earliest = self.org.recycle_bin_purged_ms // _MINUTE * _MINUTE
        return json_response({"deletedRecords": entries, "earliestDateAvailable": rest_datetime(format_ms(earliest)),
                              "latestDateCovered": rest_datetime(format_ms(end))})


def _strip_id(body: Any, operation: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SalesforceError("JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from START_ARRAY",
                              include_fields=False)
    if operation == "create" and any(key.lower() == "id" for key in body):
        raise SalesforceError("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"])
    return {key: value for key, value in body.items() if key.lower() != "id" or operation == "create"}
