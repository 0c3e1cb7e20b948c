"""Salesforce failures, classified for the sync engine.

- transient (retried with backoff): timeouts, connection errors, 5xx, ``UNABLE_TO_LOCK_ROW``,
  ``SERVER_UNAVAILABLE``, Bulk ``TooManyLockFailure``;
- quota (run stops as throttled): 403 ``REQUEST_LIMIT_EXCEEDED``, Bulk ``ExceededQuota``;
- expired session (refreshed once, then permanent): 401 ``INVALID_SESSION_ID``, Bulk
  ``InvalidSessionId``;
- everything else is permanent and carries Salesforce's own message.

Messages never include session ids: bodies are reduced to ``errorCode: message``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

import requests
from salesforce_bulk.salesforce_bulk import BulkApiError, BulkBatchFailed
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from tether.core.errors import ConnectorError, PermanentConnectorError, QuotaExceeded, TransientConnectorError

TRANSIENT_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "QUERY_TIMEOUT",
                             "TooManyLockFailure", "ServerUnavailable", "REQUEST_RUNNING_TOO_LONG"})
QUOTA_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "ExceededQuota", "TotalRequests Limit exceeded"})
SESSION_CODES = frozenset({"INVALID_SESSION_ID", "InvalidSessionId"})
_SESSION_TOKEN = re.compile(r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+")


class SessionExpired(ConnectorError):
    """The session is no longer valid; the connector logs in again once."""


def _scrub(text: str) -> str:
    return _SESSION_TOKEN.sub("<session>", text)


def _rest_errors(content: Any) -> tuple[str | None, str]:
    """(errorCode, message) of a REST error body (a JSON array of {errorCode, message})."""
    if isinstance(content, (bytes, str)):
        try:
            content = json.loads(content)
        except ValueError:
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
            return None, text.strip()[:300]
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        code = first.get("errorCode") or first.get("statusCode")
        message = first.get("message", "")
        fields = first.get("fields")
        if fields:
            message = f"{message} (fields: {', '.join(fields)})"
        return code, message
    if isinstance(content, dict):
        return content.get("error") or content.get("errorCode"), content.get("error_description") or content.get("message", "")
    return None, str(content)[:300]


def _bulk_error(text: str) -> tuple[str | None, str]:
    """(exceptionCode, exceptionMessage) of a Bulk 1.0 error body (XML or JSON)."""
    body = text.split(":", 1)[1].strip() if text.startswith("Bulk API HTTP Error result:") else text
    try:
        root = ET.fromstring(body)
        values = {child.tag.split("}")[-1]: (child.text or "") for child in root}
        return values.get("exceptionCode"), values.get("exceptionMessage", "")
    except ET.ParseError:
        pass
    try:
        data = json.loads(body)
        return data.get("exceptionCode"), data.get("exceptionMessage", "")
    except (ValueError, AttributeError):
        return None, body.strip()[:300]


def classify(exc: BaseException, *, doing: str) -> ConnectorError:
    """Turn a library exception into the engine's error types; ``doing`` says what failed."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        return PermanentConnectorError(f"Salesforce login failed while {doing}: {_scrub(str(exc))}",
                                       code=str(exc.code) if exc.code else None, status=401,
                                       hint="check the salesforce credentials in the tenant manifest")
    if isinstance(exc, SalesforceError):
        code, message = _rest_errors(exc.content)
        return _by_code(code, _scrub(message), exc.status, doing)
    if isinstance(exc, BulkBatchFailed):
        message = exc.state_message or "batch failed"
        code = message.split(":", 1)[0].strip() if ":" in message else None
        return _by_code(code, _scrub(message), None, doing)
    if isinstance(exc, BulkApiError):
        code, message = _bulk_error(str(exc.args[0]) if exc.args else "")
        return _by_code(code, _scrub(message), exc.status_code, doing)
    if isinstance(exc, requests.Timeout):
        return TransientConnectorError(f"Salesforce did not answer in time while {doing}", code="TIMEOUT")
    if isinstance(exc, requests.ConnectionError):
        return TransientConnectorError(f"cannot reach Salesforce while {doing}: {type(exc).__name__}",
                                       code="CONNECTION")
    if isinstance(exc, requests.RequestException):
        return TransientConnectorError(f"HTTP error while {doing}: {_scrub(str(exc))[:200]}", code="HTTP")
    return PermanentConnectorError(f"unexpected error while {doing}: {type(exc).__name__}: {_scrub(str(exc))[:200]}")


def _by_code(code: str | None, message: str, status: int | None, doing: str) -> ConnectorError:
    text = f"Salesforce {code + ': ' if code else ''}{message}".rstrip(": ")
    where = f" (while {doing})"
    if code in SESSION_CODES or (status == 401 and code is None):
        return SessionExpired(text + where, code=code or "INVALID_SESSION_ID", status=status)
    if code in QUOTA_CODES or (status == 403 and code and "LIMIT" in code):
        return QuotaExceeded(text + where, code=code, status=status,
                             hint="the org's daily API limit is spent; the next run continues where this one stopped")
    if code in TRANSIENT_CODES or (status is not None and status >= 500) or status == 429:
        return TransientConnectorError(text + where, code=code, status=status)
    return PermanentConnectorError(text + where, code=code, status=status,
                                   hint="fix the cause Salesforce names, then run the sync again")
