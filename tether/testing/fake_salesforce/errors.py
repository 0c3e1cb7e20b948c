"""Salesforce API errors as exceptions that know their wire shape.

REST returns a JSON array of ``{"message", "errorCode", "fields"}``; sObject Collections and
Bulk results report per-record errors with ``statusCode`` instead of ``errorCode``; Bulk API
1.0 wraps request-level errors in ``<error><exceptionCode/><exceptionMessage/></error>``.
"""

from __future__ import annotations

from typing import Any, Sequence

# HTTP status Salesforce uses for each REST error code (400 unless listed).
_STATUS_BY_CODE = {
    "INVALID_SESSION_ID": 401,
    "REQUEST_LIMIT_EXCEEDED": 403,
    "INSUFFICIENT_ACCESS": 403,
    "API_DISABLED_FOR_ORG": 403,
    "NOT_FOUND": 404,
    "ENTITY_IS_DELETED": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "UNKNOWN_EXCEPTION": 500,
    "SERVER_UNAVAILABLE": 503,
}

INVALID_ID_FIELD_MESSAGE = "Provided external ID field does not exist or is not accessible: {value}"
NOT_FOUND_MESSAGE = "The requested resource does not exist"


class SalesforceError(Exception):
    """One Salesforce error: code, message, the fields it concerns and its HTTP status."""

    def __init__(self, error_code: str, message: str, fields: Sequence[str] | None = None,
                 status: int | None = None, include_fields: bool = True) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.fields = list(fields or [])
        self.status = status or _STATUS_BY_CODE.get(error_code, 400)
        # Some REST errors (query errors, NOT_FOUND, session errors) carry no "fields" key.
        self.include_fields = include_fields

    def rest_body(self) -> list[dict[str, Any]]:
        """The REST error array."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.include_fields:
            entry["fields"] = self.fields
        return [entry]

    def record_error(self) -> dict[str, Any]:
        """Per-record error as Collections report it."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields}

    def bulk_error_text(self) -> str:
        """Per-record error as Bulk results' ``Error`` / ``sf__Error`` column shows it."""
        return f"{self.error_code}:{self.message}:{','.join(self.fields)} --"


def record_level(error: "SalesforceError", record_id: object = None) -> "SalesforceError":
    """The error a record-level API (Collections, Bulk) reports where REST would answer 404:
    a malformed id is MALFORMED_ID, an unknown one INVALID_CROSS_REFERENCE_KEY."""
    if error.error_code != "NOT_FOUND":
        return error
    from .ids import is_valid_id
    if isinstance(record_id, str) and record_id and not is_valid_id(record_id):
        return SalesforceError("MALFORMED_ID", f"malformed id {record_id}", [])
    return SalesforceError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])


class MultipleMatches(SalesforceError):
    """Upsert or lookup by external id matched more than one record (HTTP 300)."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__("MULTIPLE_RECORDS", "Multiple records found for external id", status=300)
        self.urls = urls


class QueryError(SalesforceError):
    """A SOQL error positioned in the query text, formatted like Salesforce's messages."""

    def __init__(self, error_code: str, detail: str, soql: str, position: int | None) -> None:
        self.detail = detail
        self.position = position
        super().__init__(error_code, format_query_message(soql, position, detail), include_fields=False)


def format_query_message(soql: str, position: int | None, detail: str) -> str:
    """``\\n<query line>\\n<caret>\\nERROR at Row:r:Column:c\\n<detail>`` as Salesforce writes it."""
    if position is None:
        return detail
    before = soql[:position]
    row = before.count("\n") + 1
    line_start = before.rfind("\n") + 1
    column = position - line_start + 1
    line_end = soql.find("\n", position)
    line = soql[line_start:line_end if line_end >= 0 else len(soql)]
    window_start = 0
    # Salesforce echoes a window of long queries around the error, not the whole text.
    if len(line) > 120 and column > 60:
        window_start = line.rfind(" ", 0, column - 40) + 1
    snippet = line[window_start:window_start + 120]
    caret = " " * (column - 1 - window_start) + "^"
    return f"\n{snippet}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}"


class BulkApiException(Exception):
    """A Bulk API 1.0 request-level error (``<error><exceptionCode/>...``)."""

    def __init__(self, exception_code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{exception_code}: {message}")
        self.exception_code = exception_code
        self.message = message
        self.status = status


class HangRequested(Exception):
    """Raised inside the app when a fault asks for a response that never comes."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"hang for {seconds}s")
        self.seconds = seconds
