"""Faults a test scripts: row locks, validation rules, 5xx, slow or hanging responses, and
shortcuts for session expiry and quota exhaustion.

Request faults are matched on method and path before authentication (a 503 from a load
balancer doesn't care about your session); write faults are checked inside the store's
write path, so REST, Collections and Bulk all see them.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, Mapping

from .errors import SalesforceError

RecordPredicate = Callable[[Mapping[str, Any]], bool]
_ANY = object()
_UNKNOWN_EXCEPTION = ("An unexpected error occurred. Please include this ErrorId if you contact support: "
                      "1907329158-35786 (-1189477473)")


@dataclass
class Fault:
    """One scripted fault; ``hits`` counts how often it fired, ``times`` caps it (None = always)."""

    kind: str
    times: int | None = None
    hits: int = 0
    method: str | None = None
    path: re.Pattern[str] | None = None
    object_name: str | None = None
    record_ids: set[str] | None = None
    when: RecordPredicate | None = None
    operations: tuple[str, ...] = ("create", "update", "delete")
    status: int = 500
    body: bytes | None = None
    content_type: str | None = None
    seconds: float = 0.0
    message: str = ""
    error_field: str | None = None
    release: threading.Event = dataclass_field(default_factory=threading.Event)

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches_request(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method.upper()) and \
            (self.path is None or self.path.search(path) is not None)

    def matches_record(self, object_name: str, record_id: str | None, record: Mapping[str, Any],
                       operation: str) -> bool:
        if operation not in self.operations:
            return False
        if self.object_name and self.object_name.lower() != object_name.lower():
            return False
        if self.record_ids is not None and (record_id is None or record_id[:15] not in self.record_ids):
            return False
        return self.when is None or bool(self.when(record))


@dataclass
class RequestAction:
    """What the app must do before routing a request."""

    kind: str  # error | slow | hang
    fault: Fault


class FaultPlan:
    """The faults scripted on one org."""

    def __init__(self, org: Any) -> None:
        self._org = org
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def _add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    @staticmethod
    def _pattern(path: str | None) -> re.Pattern[str] | None:
        return re.compile(path) if path else None

    # -------------------------------------------------------------- scripting
    def lock_row(self, object_name: str | None = None, *, ids: list[str] | None = None,
                 when: RecordPredicate | None = None, times: int | None = 1,
                 operations: tuple[str, ...] = ("create", "update", "delete")) -> Fault:
        """Make matching writes fail with UNABLE_TO_LOCK_ROW (the next ``times`` of them)."""
        return self._add(Fault("lock", times=times, object_name=object_name, when=when, operations=operations,
                               record_ids={i[:15] for i in ids} if ids is not None else None))

    def validation_rule(self, object_name: str, *, field: str | None = None, value: Any = _ANY,
                        when: RecordPredicate | None = None, message: str = "Validation failed",
                        error_field: str | None = None, times: int | None = None) -> Fault:
        """A validation rule: saves where ``field == value`` (or ``when(record)``) fail with
        FIELD_CUSTOM_VALIDATION_EXCEPTION, reported on ``error_field`` (or at the top of the page)."""
        if when is None:
            if field is None:
                raise ValueError("give field/value or when")
            when = (lambda record: record.get(field) is not None) if value is _ANY else \
                (lambda record: record.get(field) == value)
        return self._add(Fault("validation", times=times, object_name=object_name, when=when,
                               operations=("create", "update"), message=message, error_field=error_field))

    def server_error(self, status: int = 500, *, path: str | None = None, method: str | None = None,
                     times: int | None = 1, body: bytes | str | None = None, content_type: str | None = None) -> Fault:
        """Answer matching requests with a 5xx (default body: Salesforce's UNKNOWN_EXCEPTION / SERVER_UNAVAILABLE)."""
        raw = body.encode() if isinstance(body, str) else body
        return self._add(Fault("error", times=times, method=method, path=self._pattern(path), status=status,
                               body=raw, content_type=content_type))

    def slow(self, seconds: float, *, path: str | None = None, method: str | None = None,
             times: int | None = None) -> Fault:
        """Delay matching responses by real ``seconds``."""
        return self._add(Fault("slow", times=times, method=method, path=self._pattern(path), seconds=seconds))

    def hang(self, *, path: str | None = None, method: str | None = None, times: int | None = 1,
             seconds: float = 30.0) -> Fault:
        """Never answer matching requests: the server holds them until :meth:`release` or ``seconds``
        (then closes the connection); in-process the client sees ``requests.ReadTimeout`` at once."""
        return self._add(Fault("hang", times=times, method=method, path=self._pattern(path), seconds=seconds))

    def expire_sessions(self) -> None:
        """Invalidate every session: the next call gets 401 INVALID_SESSION_ID."""
        self._org.auth.expire_all()

    def exhaust_quota(self) -> None:
        """Spend the daily API budget: the next call gets 403 REQUEST_LIMIT_EXCEEDED."""
        self._org.limits.exhaust()

    def release(self) -> None:
        """Let hanging requests go."""
        for fault in self.faults:
            fault.release.set()

    def clear(self) -> None:
        """Remove every scripted fault (and release hanging requests)."""
        self.release()
        with self._lock:
            self.faults.clear()

    # -------------------------------------------------------------- hooks
    def before_request(self, method: str, path: str) -> RequestAction | None:
        """The first live request fault matching this request, consumed."""
        with self._lock:
            for fault in self.faults:
                if fault.kind in ("error", "slow", "hang") and not fault.spent and fault.matches_request(method, path):
                    fault.hits += 1
                    return RequestAction(fault.kind, fault)
        return None

    def check_write(self, definition: Any, record_id: str | None, record: Mapping[str, Any], user_id: str,
                    operation: str) -> None:
        """Store write hook: raise the scripted error for a matching write."""
        with self._lock:
            for fault in self.faults:
                if fault.kind not in ("lock", "validation") or fault.spent:
                    continue
                if fault.matches_record(definition.name, record_id, record, operation):
                    fault.hits += 1
                    if fault.kind == "lock":
                        raise SalesforceError("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record",
                                              [])
                    raise SalesforceError("FIELD_CUSTOM_VALIDATION_EXCEPTION", fault.message,
                                          [fault.error_field] if fault.error_field else [])


def default_error_body(status: int, bulk_v1: bool) -> tuple[bytes, str]:
    """Salesforce's body for a 5xx on a REST or Bulk 1.0 path."""
    code = "SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION"
    message = "Server unavailable, please retry later." if status == 503 else _UNKNOWN_EXCEPTION
    if bulk_v1:
        from .bulk_xml import error_xml
        return error_xml(code, message), "application/xml"
    import json
    return json.dumps([{"errorCode": code, "message": message}]).encode(), "application/json;charset=UTF-8"
