"""Turning outbox entries into one write per record (see :mod:`.push` for the rules)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..connectors import WriteOperation
from ..contracts import ObjectMapping
from ..store.models import OutboxEntry
from .coerce import format_datetime, to_bool, to_date, to_datetime
from .conflicts import open_conflicts
from .mappings import TenantMappings, outbound_fields
from .shadow import ENTITY_MODELS, canonical, field_types, load_shadows
from .writeback_models import SyncShadow

if TYPE_CHECKING:
    from ..plugins import TenantContext

Key = tuple[str, Any]


@dataclasses.dataclass
class PlannedRecord:
    """One record's coalesced segment of entries and what to do with it."""

    object_name: str
    local_id: int | None
    mapping: ObjectMapping | None
    entry_ids: list[int]
    attempts: int
    operation: WriteOperation | None = None
    # Settled without a call: "skipped", "cancelled" or "failed" (with ``message``).
    outcome: str | None = None
    message: str | None = None
    # tether field → canonical value sent, for the new base.
    pushed: dict[str, Any] = dataclasses.field(default_factory=dict)
    tether_key: str | None = None
    # Entries holding fields of an open manual conflict: their held part stays waiting.
    held: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    held_only: bool = False

    @property
    def entity(self) -> str | None:
        return self.mapping.entity if self.mapping is not None else None

    @property
    def creates(self) -> bool:
        op = self.operation
        return op is not None and op.operation == "upsert" and not op.external_id


def plan_records(tenant: "TenantContext", session: Session, connector: str, mappings: TenantMappings,
                 entries: Sequence[OutboxEntry], *, blocked: set[Key], now: dt.datetime,
                 limit: int | None = None) -> list[PlannedRecord]:
    groups: dict[Key, list[OutboxEntry]] = {}
    for entry in entries:
        key: Key = (entry.object_name, entry.local_id if entry.local_id is not None else ("external", entry.external_id))
        groups.setdefault(key, []).append(entry)
    segments: list[tuple[Key, list[OutboxEntry]]] = []
    for key, group in groups.items():
        if key in blocked:
            continue
        if group[0].next_attempt_at is not None and group[0].next_attempt_at > now:
            blocked.add(key)  # its later changes wait behind it, in order
            continue
        segment = []
        for entry in group:
            segment.append(entry)
            if entry.operation == "delete":
                blocked.add(key)  # changes after a delete wait for the next run
                break
        segments.append((key, segment))
        if limit is not None and len(segments) >= limit:
            break
    by_object: dict[str, list[tuple[Key, list[OutboxEntry]]]] = {}
    for key, segment in segments:
        by_object.setdefault(key[0], []).append((key, segment))
    planned: list[PlannedRecord] = []
    for object_name, items in by_object.items():
        mapping = mappings.for_object(connector, object_name)
        planned += _ObjectPlanner(tenant, session, connector, object_name, mapping, items).plan()
    return planned


class _ObjectPlanner:
    def __init__(self, tenant: "TenantContext", session: Session, connector: str, object_name: str,
                 mapping: ObjectMapping | None, items: list[tuple[Key, list[OutboxEntry]]]) -> None:
        self.tenant = tenant
        self.session = session
        self.connector = connector
        self.object_name = object_name
        self.mapping = mapping
        self.items = items
        local_ids = [key[1] for key, _ in items if not isinstance(key[1], tuple)]
        self.local_ids = local_ids
        self.shadows: dict[int, SyncShadow] = {s.local_id: s for s in load_shadows(
            session, connector, object_name, local_ids=local_ids)} if local_ids else {}
        self.held: dict[int, set[str]] = {}
        for local_id, field in (open_conflicts(session, connector, object_name, local_ids) if local_ids else {}):
            self.held.setdefault(local_id, set()).add(field)

    def plan(self) -> list[PlannedRecord]:
        if self.mapping is None:
            return [PlannedRecord(self.object_name, key[1] if not isinstance(key[1], tuple) else None, None,
                                  [e.id for e in segment], max(e.attempts for e in segment), outcome="failed",
                                  message=f"tenant {self.tenant.id!r} no longer maps {self.connector} {self.object_name}")
                    for key, segment in self.items]
        mapping = self.mapping
        self.types = field_types(mapping)
        self.outbound: dict[str, list[tuple[str, str]]] = {}
        for field in outbound_fields(mapping):
            self.outbound.setdefault(field.target, []).append((field.source, field.type))
        creating = [key[1] for key, segment in self.items
                    if not isinstance(key[1], tuple) and segment[-1].operation == "upsert"
                    and not self._external_id(key[1], segment)]
        self.earlier_failures = self._failed_entries(creating)
        self.local_rows = self._local_rows(creating)
        planned = [self._plan_record(key, segment) for key, segment in self.items]
        self._transform([p for p in planned if p.operation is not None and p.operation.operation == "upsert"])
        return planned

    def _external_id(self, local_id: Any, segment: Sequence[OutboxEntry]) -> str | None:
        for entry in reversed(segment):
            if entry.external_id:
                return entry.external_id
        shadow = self.shadows.get(local_id) if not isinstance(local_id, tuple) else None
        return shadow.external_id if shadow is not None else None

    def _failed_entries(self, local_ids: Sequence[int]) -> dict[int, list[OutboxEntry]]:
        """Failed changes of records not yet at the source: a create must carry them too."""
        found: dict[int, list[OutboxEntry]] = {}
        for start in range(0, len(local_ids), 900):
            for entry in self.session.scalars(select(OutboxEntry).where(
                    OutboxEntry.connector == self.connector, OutboxEntry.object_name == self.object_name,
                    OutboxEntry.status == "failed", OutboxEntry.operation == "upsert",
                    OutboxEntry.local_id.in_(local_ids[start:start + 900])).order_by(OutboxEntry.id)):
                found.setdefault(entry.local_id, []).append(entry)
        return found

    def _local_rows(self, local_ids: Sequence[int]) -> dict[int, tuple[bool, str | None]]:
        model = ENTITY_MODELS.get(self.mapping.entity) if self.mapping is not None else None
        if model is None or not local_ids:
            return {}
        table = model.__table__
        rows: dict[int, tuple[bool, str | None]] = {}
        for start in range(0, len(local_ids), 900):
            for local_id, deleted, external_id, source in self.session.execute(
                    select(table.c.id, table.c.is_deleted, table.c.external_id, table.c.external_source).where(
                        table.c.tenant_id == self.tenant.id, table.c.id.in_(local_ids[start:start + 900]))):
                rows[local_id] = (bool(deleted), external_id if source == self.connector else None)
        return rows

    def _plan_record(self, key: Key, segment: list[OutboxEntry]) -> PlannedRecord:
        mapping = self.mapping
        assert mapping is not None
        local_id = key[1] if not isinstance(key[1], tuple) else None
        record = PlannedRecord(self.object_name, local_id, mapping, [e.id for e in segment],
                               max(e.attempts for e in segment))
        external_id = self._external_id(local_id if local_id is not None else key[1], segment)
        if segment[-1].operation == "delete":
            if not external_id:
                record.outcome, record.message = "cancelled", "never reached the source: nothing to delete"
                return record
            record.operation = WriteOperation(object_name=self.object_name, operation="delete", values={},
                                              local_id=local_id, external_id=external_id)
            return record
        creating = not external_id
        if creating and local_id is not None and ENTITY_MODELS.get(mapping.entity) is not None:
            row = self.local_rows.get(local_id)
            if row is None or row[0]:
                record.outcome, record.message = "cancelled", "deleted locally before it was pushed"
                return record
            if row[1]:
                external_id, creating = row[1], False
        changes: dict[str, Any] = {}
        sources = list(segment)
        if creating and local_id is not None:
            earlier = self.earlier_failures.get(local_id, [])
            sources = earlier + sources
            record.entry_ids = [e.id for e in earlier] + record.entry_ids
        for entry in sources:
            changes.update(entry.changes or {})
        held_fields = self.held.get(local_id, set()) if local_id is not None else set()
        if held_fields:
            for entry in segment:
                held_part = {k: v for k, v in (entry.changes or {}).items() if k in held_fields}
                if held_part:
                    record.held[entry.id] = held_part
            changes = {k: v for k, v in changes.items() if k not in held_fields}
        shadow = self.shadows.get(local_id) if local_id is not None else None
        base = shadow.base if shadow is not None and not creating else {}
        pushed: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for target, value in changes.items():
            targets = self.outbound.get(target)
            if not targets:
                continue
            comparable = canonical(self.types.get(target, "string"), value)
            if target in base and base[target] == comparable:
                continue  # the source already holds it
            pushed[target] = comparable
            for source, type_name in targets:
                values[source] = wire_value(type_name, value)
        if not values:
            if held_fields and record.held:
                record.held_only = True
                record.outcome = "held"
                return record
            record.outcome, record.message = "skipped", "no value differs from what the source holds"
            return record
        record.pushed = pushed
        if creating and mapping.external_id_field:
            record.tether_key = (shadow.tether_key if shadow is not None and shadow.tether_key else
                                 f"{self.tenant.id}:{mapping.entity}:{local_id}")
            values[mapping.external_id_field] = record.tether_key
        record.operation = WriteOperation(
            object_name=self.object_name, operation="upsert", values=values, local_id=local_id,
            external_id=external_id, external_id_field=mapping.external_id_field if creating else None)
        return record

    def _transform(self, records: list[PlannedRecord]) -> None:
        """The plugins' outbound transforms, once for the whole batch of this object."""
        if not records:
            return
        values = [r.operation.values for r in records]  # type: ignore[union-attr]
        self.tenant.hooks.tether_transform_records(connector=self.connector, object_name=self.object_name,
                                                   direction="outbound", records=values)
        for record, changed in zip(records, values):
            if changed.pop("_skip", False):
                record.operation = None
                record.outcome, record.message = "skipped", "a plugin's outbound transform skipped it"
                continue
            for name in [k for k in changed if k.startswith("_")]:
                del changed[name]


def wire_value(type_name: str, value: Any) -> Any:
    """An outbox (JSON) value as the source's JSON expects it."""
    if value is None or value == "":
        return None
    if type_name in ("money", "float", "percent"):
        return float(Decimal(str(value)))
    if type_name == "integer":
        return int(Decimal(str(value)))
    if type_name == "boolean":
        return to_bool(value)
    if type_name == "date":
        return to_date(value).isoformat()  # type: ignore[union-attr]
    if type_name == "datetime":
        return format_datetime(to_datetime(value))  # type: ignore[arg-type]
    return value

