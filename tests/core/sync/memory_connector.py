"""A small in-memory source and connector plugin, to test the engine without Salesforce.

Objects ``Org`` (→ company) and ``Deal`` (→ opportunity). Records carry ``Id``,
``Modstamp`` (the cursor field) and ``IsDeleted``; reads are keyset pages ordered by
(Modstamp, Id) with the cursor ``"<stamp>|<id>"``. Faults can be injected per call.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Callable, Iterator, Sequence

from tether.core.connectors import Catalog, ConnectorSpec, FieldSchema, ObjectSchema, Page, ReadRequest, WriteOperation, WriteResult
from tether.core.contracts import FieldMapping, ObjectMapping, RelationshipAssignment
from tether.core.errors import PermanentConnectorError
from tether.core.hookspecs import hookimpl

UTC = dt.timezone.utc
SOURCES: dict[str, "MemorySource"] = {}

FIELDS = {
    "Org": ("Id", "Modstamp", "IsDeleted", "Name", "ParentId", "Industry", "Size"),
    "Deal": ("Id", "Modstamp", "IsDeleted", "Name", "OrgId", "Amount", "Close", "Stage", "Kind", "Line"),
    # Mapped by tests that need a plugin-owned entity (e.g. → Timeline's "activity").
    "Note": ("Id", "Modstamp", "IsDeleted", "Subject", "When", "OrgId", "DealId", "Kind", "Done"),
}


def stamp_text(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@dataclasses.dataclass
class MemorySource:
    now: dt.datetime = dt.datetime(2024, 1, 1, tzinfo=UTC)
    records: dict[str, dict[str, dict[str, Any]]] = dataclasses.field(
        default_factory=lambda: {"Org": {}, "Deal": {}, "Note": {}})
    calls: int = 0
    limit: int = 100_000
    # Called with the call number before each call; may raise to inject a fault.
    fault: Callable[[int], None] | None = None

    def tick(self, seconds: float = 1) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def put(self, object_name: str, record_id: str, **fields: Any) -> dict[str, Any]:
        record = self.records[object_name].setdefault(record_id, {"Id": record_id, "IsDeleted": False})
        record.update(fields)
        record["Modstamp"] = stamp_text(self.now)
        return record

    def delete(self, object_name: str, record_id: str) -> None:
        self.put(object_name, record_id, IsDeleted=True)

    def undelete(self, object_name: str, record_id: str) -> None:
        self.put(object_name, record_id, IsDeleted=False)

    def call(self) -> None:
        self.calls += 1
        if self.fault is not None:
            self.fault(self.calls)


def _key(record: dict[str, Any]) -> tuple[str, str]:
    return (record["Modstamp"], record["Id"])


class MemoryConnector:
    name = "memory"

    def __init__(self, source: MemorySource) -> None:
        self.source = source
        self.closed = False

    @property
    def api_calls_made(self) -> int:
        return self.source.calls

    def discover(self) -> Catalog:
        self.source.call()
        types = {"Amount": "money", "Close": "date", "Modstamp": "datetime", "IsDeleted": "boolean", "Size": "integer",
                 "When": "datetime", "Done": "boolean"}
        return Catalog(tuple(
            ObjectSchema(name=name, fields=tuple(FieldSchema(f, types.get(f, "string")) for f in fields),
                         cursor_field="Modstamp", supports_deletes=True, writable=True)
            for name, fields in FIELDS.items()))

    def _selected(self, request: ReadRequest) -> list[dict[str, Any]]:
        records = sorted(self.source.records[request.object_name].values(), key=_key)
        if request.cursor:
            stamp, _, last_id = request.cursor.partition("|")
            records = [r for r in records if _key(r) > (stamp, last_id)]
        if not request.include_deleted:
            records = [r for r in records if not r["IsDeleted"]]
        return records

    def count(self, request: ReadRequest) -> int:
        self.source.call()
        return len(self._selected(request))

    def read(self, request: ReadRequest) -> Iterator[Page]:
        selected = self._selected(request)
        for start in range(0, len(selected), request.page_size):
            self.source.call()
            chunk = [dict(r) for r in selected[start:start + request.page_size]]
            last = chunk[-1]
            yield Page(records=[{k: r.get(k) for k in request.fields} for r in chunk],
                       cursor=f"{last['Modstamp']}|{last['Id']}",
                       deleted_ids=[r["Id"] for r in chunk if r["IsDeleted"]], api_calls=1)

    def write(self, operations: Sequence[WriteOperation]) -> list[WriteResult]:
        self.source.call()
        results = []
        for op in operations:
            if op.operation == "delete":
                self.source.delete(op.object_name, op.external_id)
            else:
                self.source.put(op.object_name, op.external_id, **op.values)
            results.append(WriteResult(local_id=op.local_id, success=True, external_id=op.external_id))
        return results

    def api_usage(self) -> tuple[int, int]:
        return (self.source.calls, self.source.limit)

    def close(self) -> None:
        self.closed = True


def _f(source: str, target: str, type_: str = "string") -> FieldMapping:
    return FieldMapping(source=source, target=target, type=type_, direction="both")  # type: ignore[arg-type]


MAPPINGS = (
    ObjectMapping(connector="memory", object_name="Org", entity="company",
                  fields=(_f("Name", "name"), _f("ParentId", "parent_external_id", "reference"),
                          _f("Industry", "industry"), _f("Size", "employees", "integer"))),
    ObjectMapping(connector="memory", object_name="Deal", entity="opportunity",
                  fields=(_f("Name", "name"), _f("OrgId", "account_external_id", "reference"),
                          _f("Amount", "amount", "money"), _f("Close", "close_date", "date"),
                          _f("Stage", "stage", "picklist"), _f("Kind", "opportunity_type", "picklist"),
                          _f("Line", "attributes.product_line"))),
)


class MemoryPlugin:
    """Connector plugin over :data:`SOURCES` (one source per tenant id), recording hook calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def tether_connectors(self, tenant) -> list[ConnectorSpec]:
        def factory(context):
            source = SOURCES.get(context.id)
            if source is None:
                raise PermanentConnectorError(f"no memory source for tenant {context.id}")
            return MemoryConnector(source)
        return [ConnectorSpec(name="memory", plugin="memory", factory=factory, objects=("Org", "Deal"))]

    @hookimpl
    def tether_object_mappings(self, tenant, connector: str) -> list[ObjectMapping]:
        return list(MAPPINGS) if connector == "memory" else []

    @hookimpl
    def tether_transform_records(self, tenant, connector, object_name, direction, records) -> None:
        self.calls.append(("transform", (tenant.id, object_name, direction, len(records))))
        for record in records:
            if record.get("name") == "SKIP ME":
                record["_skip"] = True

    @hookimpl
    def tether_booking_types(self, tenant, records):
        self.calls.append(("booking", len(records)))
        return ["renewal" if r.get("opportunity_type") == "Renewal" else "new_business" for r in records]

    @hookimpl
    def tether_assign_relationships(self, tenant, entity, records):
        self.calls.append(("relationships", len(records)))
        return [RelationshipAssignment(type_name="Product", name=r["attributes.product_line"])
                if r.get("attributes.product_line") else None for r in records]

    @hookimpl
    def tether_records_changed(self, tenant, changes) -> None:
        self.calls.append(("changed", changes))

    def changes(self) -> list[Any]:
        return [value for kind, value in self.calls if kind == "changed"]

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.calls if k == kind)


MANIFEST = {
    "name": "memory", "version": "1.0.0", "description": "In-memory test connector",
    "hooks": ["tether_connectors", "tether_object_mappings", "tether_transform_records", "tether_booking_types",
              "tether_assign_relationships", "tether_records_changed"],
}

ZERO = Decimal("0.00")
