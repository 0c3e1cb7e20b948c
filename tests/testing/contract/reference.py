"""A small correct connector over an in-memory source, and switches that each break one rule.

``MemoConnector`` keeps the contract; ``MemoPlugin(breaks={"..."})`` offers one that breaks
the named rules, so the suite's own tests can show each check failing for the right reason.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
from typing import Any, Iterator, Sequence

from tether.core.connectors import Catalog, ConnectorSpec, FieldSchema, ObjectSchema, Page, ReadRequest, WriteOperation, WriteResult
from tether.core.errors import PermanentConnectorError, TransientConnectorError
from tether.core.hookspecs import hookimpl
from tether.testing.contract import ConnectorContract

UTC = dt.timezone.utc
SOURCES: dict[str, "MemoSource"] = {}
_names = itertools.count(1)

# Every way the reference connector can be broken, each named for what it gets wrong.
BREAKS = frozenset({
    "manifest_reads", "wrong_name", "pk_not_a_field", "drops_field", "unsorted", "count_wrong", "cursor_past_now",
    "ignores_unknown_cursor", "volatile_field", "skips_on_resume", "destructive_cursor", "write_lost",
    "upsert_duplicates", "raw_errors", "transient_as_permanent", "swallows_errors", "permanent_as_transient",
    "hook_per_record", "call_per_record", "write_call_per_record",
})


class SourceTimeout(Exception):
    """What the source's client library raises on a timeout."""


class SourceRefused(Exception):
    """What the source's client library raises when a request is refused."""


def stamp(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclasses.dataclass
class MemoSource:
    now: dt.datetime = dt.datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    records: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    calls: int = 0
    fault: str | None = None
    served_cursors: set[str] = dataclasses.field(default_factory=set)
    ids: Iterator[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def call(self) -> None:
        self.calls += 1
        if self.fault == "transient":
            raise SourceTimeout("the source did not answer within 30 s")
        if self.fault == "permanent":
            raise SourceRefused("400 Bad Request: unknown object Item")

    def put(self, record_id: str | None, **values: Any) -> str:
        record_id = record_id or f"I{next(self.ids):04d}"
        record = self.records.setdefault(record_id, {"Id": record_id, "IsDeleted": False, "Amount": None})
        record.update(values)
        record["Modstamp"] = stamp(self.now)
        return record_id


class MemoConnector:
    def __init__(self, source: MemoSource, tenant: Any, breaks: frozenset[str]) -> None:
        self.source = source
        self.tenant = tenant
        self.breaks = breaks
        self.name = "other" if "wrong_name" in breaks else "memo"

    def _call(self) -> None:
        try:
            self.source.call()
        except SourceTimeout as exc:
            if "raw_errors" in self.breaks:
                raise
            if "transient_as_permanent" in self.breaks:
                raise PermanentConnectorError(f"memo: {exc}") from None
            raise TransientConnectorError(f"memo: {exc}", hint="retried with backoff") from None
        except SourceRefused as exc:
            if "permanent_as_transient" in self.breaks:
                raise TransientConnectorError(f"memo: {exc}") from None
            raise PermanentConnectorError(f"memo: {exc}", hint="check the object name") from None

    def discover(self) -> Catalog:
        fields = (FieldSchema("Id", "id"), FieldSchema("Name"), FieldSchema("Amount", "money"),
                  FieldSchema("Modstamp", "datetime"), FieldSchema("IsDeleted", "boolean"))
        pk = "Key" if "pk_not_a_field" in self.breaks else "Id"
        return Catalog((ObjectSchema("Item", fields, primary_key=pk, cursor_field="Modstamp", supports_deletes=True,
                                     writable=True),))

    def _selected(self, request: ReadRequest) -> list[dict[str, Any]]:
        records = sorted(self.source.records.values(), key=lambda r: (r["Modstamp"], r["Id"]))
        if request.cursor:
            if "destructive_cursor" in self.breaks:
                if request.cursor in self.source.served_cursors:
                    return []
                self.source.served_cursors.add(request.cursor)
            position, _, last_id = request.cursor.partition("|")
            if not last_id and "ignores_unknown_cursor" in self.breaks:
                position = ""
            records = [r for r in records if (r["Modstamp"], r["Id"]) > (position, last_id)]
        if not request.include_deleted:
            records = [r for r in records if not r["IsDeleted"]]
        return records

    def count(self, request: ReadRequest) -> int:
        self._call()
        return 0 if "count_wrong" in self.breaks else len(self._selected(request))

    def read(self, request: ReadRequest) -> Iterator[Page]:
        if self.source.fault and "swallows_errors" in self.breaks:
            return  # the bug: an error becomes an empty read
        self._call()
        selected = self._selected(request)
        if "unsorted" in self.breaks:
            selected.sort(key=lambda r: r["Id"])
        size = request.page_size
        for start in range(0, len(selected), size):
            if start:
                self._call()
            chunk = selected[start:start + size]
            last = chunk[-1]
            cursor = f"{last['Modstamp']}|{last['Id']}"
            final = start + size >= len(selected)
            if "skips_on_resume" in self.breaks and not final:
                following = selected[start + size]
                cursor = f"{following['Modstamp']}|{following['Id']}"
            if "cursor_past_now" in self.breaks and final:
                cursor = stamp(self.source.now + dt.timedelta(hours=1)) + "|~"
            records = []
            for record in chunk:
                if "hook_per_record" in self.breaks:
                    self.tenant.hooks.tether_transform_records(connector="memo", object_name="Item",
                                                               direction="inbound", records=[record])
                if "call_per_record" in self.breaks:
                    self.source.call()
                row = {name: record.get(name) for name in request.fields}
                if "drops_field" in self.breaks:
                    row.pop("Amount", None)
                if "volatile_field" in self.breaks:
                    self.source.calls += 1
                    row["Name"] = f"{record.get('Name')} (read {self.source.calls})"
                records.append(row)
            yield Page(records=records, cursor=cursor, api_calls=1,
                       deleted_ids=[r["Id"] for r in chunk if r["IsDeleted"]])

    def write(self, operations: Sequence[WriteOperation]) -> list[WriteResult]:
        self._call()
        results = []
        for op in operations:
            if "write_call_per_record" in self.breaks:
                self.source.call()
            if op.operation == "delete":
                self.source.put(op.external_id, IsDeleted=True)
                results.append(WriteResult(op.local_id, True, external_id=op.external_id))
                continue
            if not op.values.get("Name"):
                results.append(WriteResult(op.local_id, False, op.external_id, error_kind="permanent",
                                           error_code="REQUIRED_FIELD_MISSING", error_message="Name is required"))
                continue
            target = None if "upsert_duplicates" in self.breaks else op.external_id
            if "write_lost" in self.breaks:
                record_id = target or f"I{next(self.source.ids):04d}"
            else:
                record_id = self.source.put(target, **op.values)
            results.append(WriteResult(op.local_id, True, external_id=record_id, created=target is None))
        return results

    def api_usage(self) -> tuple[int, int]:
        return (self.source.calls, 100_000)

    def close(self) -> None:
        pass


class MemoPlugin:
    """The plugin offering the memo connector, broken as asked."""

    def __init__(self, breaks: frozenset[str] | set[str] = frozenset()) -> None:
        unknown = set(breaks) - BREAKS
        assert not unknown, f"unknown breaks {unknown}"
        self.breaks = frozenset(breaks)
        self.TETHER_MANIFEST = {
            "name": "memo", "version": "1.0.0", "description": "In-memory reference connector",
            "hooks": ["tether_connectors"], "config": {"source": {"type": "string", "required": True}},
            "objects": {"reads": [] if "manifest_reads" in self.breaks else ["Item"], "writes": ["Item"]},
        }

    @hookimpl
    def tether_connectors(self, tenant) -> list[ConnectorSpec]:
        def factory(context: Any) -> MemoConnector:
            return MemoConnector(SOURCES[context.config_for("memo")["source"]], context, self.breaks)

        return [ConnectorSpec(name="memo", plugin="memo", factory=factory, objects=("Item",))]


class MemoHarness(ConnectorContract):
    """The harness of the reference connector (used by the suite's own tests)."""

    plugin = connector = "memo"
    object_name = "Item"
    page_size = 3
    plugin_object: Any = MemoPlugin()

    def plugin_config(self, source: MemoSource) -> dict[str, Any]:
        name = next(name for name, known in SOURCES.items() if known is source)
        return {"source": name}

    def add_records(self, source: MemoSource, count: int) -> list[str]:
        return [source.put(None, Name=f"Item {len(source.records) + 1}", Amount="10.50") for _ in range(count)]

    def change_records(self, source: MemoSource, ids: Sequence[str]) -> None:
        for record_id in ids:
            source.put(record_id, Name=f"{source.records[record_id]['Name']} (changed)")

    def advance(self, source: MemoSource, seconds: float) -> None:
        source.now += dt.timedelta(seconds=seconds)

    @contextlib.contextmanager
    def fault(self, source: MemoSource, kind: str) -> Iterator[None]:
        source.fault = kind
        try:
            yield
        finally:
            source.fault = None

    def write_values(self, index: int) -> dict[str, Any]:
        return {"Name": f"Written {index}", "Amount": f"{index}.25"}

    def invalid_values(self) -> dict[str, Any]:
        return {"Name": "", "Amount": "1"}

    def source_calls(self, source: MemoSource) -> int:
        return source.calls


def new_source() -> MemoSource:
    name = f"memo-{next(_names)}"
    source = SOURCES[name] = MemoSource()
    return source
