"""REST ``query`` / ``queryAll`` and ``query/<locator>`` paging.

A query snapshots its matching rows into a cursor; pages of 2,000 (or the
``Sforce-Query-Options: batchSize=`` value, clamped to 200..2000) follow through
``nextRecordsUrl`` = ``/services/data/vXX.X/query/<01g…>-<offset>`` — a path, as
simple-salesforce's ``query_more(identifier_is_url=True)`` expects.  queryAll's
next URL also says ``/query/``, as Salesforce's does.  Cursors expire after 15 minutes
of inactivity on the org clock (INVALID_QUERY_LOCATOR).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Sequence

from werkzeug.wrappers import Response

from .errors import SalesforceError
from .http_util import Call, json_response
from .rest_render import query_records
from .soql_eval import CompiledQuery, compile_query

DEFAULT_BATCH = 2000
CURSOR_IDLE_MS = 15 * 60_000
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Cursor:
    locator: str
    compiled: CompiledQuery
    rows: Sequence[int]
    batch_size: int
    last_used_ms: int


class QueryApi:
    """Query handlers and the open cursors of one org."""

    def __init__(self, org: Any) -> None:
        self.org = org
        self.cursors: dict[str, Cursor] = {}
        self._lock = threading.Lock()

    def query(self, call: Call, include_deleted: bool = False) -> Response:
        soql = call.request.args.get("q")
        if soql is None:
            raise SalesforceError("MALFORMED_QUERY", "A query string has to be specified", include_fields=False)
        compiled = compile_query(soql, self.org.store, self.org.clock)
        rows = compiled.rows(include_deleted)
        if compiled.count_only:
            return json_response({"totalSize": len(rows), "done": True, "records": []})
        if compiled.aggregate:
            record = {"attributes": {"type": "AggregateResult"}, "expr0": self._count(compiled, rows)}
            return json_response({"totalSize": 1, "done": True, "records": [record]})
        cursor = Cursor(self.org.ids.next_id("01g"), compiled, rows, self._batch_size(call),
                        self.org.clock.now_ms())
        return self._page(call, cursor, 0)

    @staticmethod
    def _count(compiled: CompiledQuery, rows: Sequence[int]) -> int:
        counted = next(item.field for item in compiled.query.select)
        if counted is None:
            return len(rows)
        path = compiled.resolve(counted)
        return sum(1 for row in rows if path.get(row) is not None)

    def _batch_size(self, call: Call) -> int:
        match = _BATCH_SIZE.search(call.request.headers.get("Sforce-Query-Options", ""))
        if not match:
            return DEFAULT_BATCH
        return max(200, min(DEFAULT_BATCH, int(match.group(1))))

    def query_more(self, call: Call, locator: str) -> Response:
        cursor_id, _, offset_text = locator.partition("-")
        now = self.org.clock.now_ms()
        with self._lock:
            cursor = self.cursors.get(cursor_id)
            if cursor is not None and now - cursor.last_used_ms > CURSOR_IDLE_MS:
                del self.cursors[cursor_id]
                cursor = None
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.rows):
            raise SalesforceError("INVALID_QUERY_LOCATOR", "invalid query locator", include_fields=False)
        return self._page(call, cursor, int(offset_text))

    def _page(self, call: Call, cursor: Cursor, offset: int) -> Response:
        end = min(offset + cursor.batch_size, len(cursor.rows))
        records = query_records(cursor.compiled, cursor.rows[offset:end], call.version)
        body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        with self._lock:
            if end < len(cursor.rows):
                cursor.last_used_ms = self.org.clock.now_ms()
                self.cursors[cursor.locator] = cursor
                body["nextRecordsUrl"] = f"/services/data/v{call.version}/query/{cursor.locator}-{end}"
            else:
                self.cursors.pop(cursor.locator, None)
        body["records"] = records
        return json_response(body)
