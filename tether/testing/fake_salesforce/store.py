"""The org's records: validated writes, system fields, recycle bin, history and change events.

Every write goes through :class:`RecordStore` so the REST, Collections and Bulk paths apply
the same rules (unknown/read-only fields, required fields, references, validation-rule and
lock faults, stage derivation, audit fields) and produce the same change events, which
Outbound Message rules listen to.  Callers hold the org lock.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, Iterator, Mapping

from .clock import FakeClock, format_ms
from .derive import DERIVERS, history_row
from .errors import SalesforceError
from .ids import IdFactory, is_valid_id
from .schema import ObjectDef, Schema
from .table import Table
from .validation import check_references, check_required, normalize
from .values import coerce

SYSTEM_WRITE_FIELDS = ("Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById",
                       "SystemModstamp")


@dataclass
class Change:
    """One committed record change, delivered to listeners after the transaction."""

    object_name: str
    record_id: str
    kind: str  # create | update | delete | undelete
    user_id: str
    fields: set[str] = dataclass_field(default_factory=set)
    old: dict[str, Any] | None = None  # values before an update


WriteCheck = Callable[[ObjectDef, "str | None", Mapping[str, Any], str, str], None]


class RecordStore:
    """Tables of one org plus the write path shared by every API."""

    def __init__(self, schema: Schema, ids: IdFactory, clock: FakeClock) -> None:
        self.schema = schema
        self.ids = ids
        self.clock = clock
        self.tables: dict[str, Table] = {}
        self.listeners: list[Callable[[Change], None]] = []
        self.write_checks: list[WriteCheck] = []
        self.deleted_log: dict[str, list[tuple[str, int]]] = {}
        self._undo: list[Callable[[], None]] | None = None
        self._pending: list[Change] = []
        self._stages: dict[str, dict[str, Any]] | None = None
        self._cascades: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ lookup
    def table(self, object_name: str) -> Table:
        """The table of an object (created on first use)."""
        definition = self.schema.get(object_name)
        if definition is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        table = self.tables.get(definition.name)
        if table is None:
            table = self.tables[definition.name] = Table(definition)
        elif len(table.columns) != len(definition.fields):
            table.sync_columns()
        return table

    def locate(self, record_id: str) -> tuple[Table, int] | None:
        """(table, row) of any id, found by key prefix; None if unknown or purged."""
        if not is_valid_id(record_id):
            return None
        definition = self.schema.by_prefix(record_id[:3])
        if definition is None:
            return None
        table = self.table(definition.name)
        row = table.row_for_id(record_id)
        return None if row is None else (table, row)

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        """OpportunityStage rows by ApiName (what drives Probability, IsClosed, IsWon…)."""
        if self._stages is None:
            table = self.table("OpportunityStage")
            self._stages = {table.columns["ApiName"][row]: table.record(row) for row in table.live_rows()
                            if table.columns["IsActive"][row]}
        return self._stages

    def set_stages(self, stages: list[Mapping[str, Any]], user_id: str) -> None:
        """Replace the OpportunityStage table (it is setup data: not writable through the API)."""
        table = self.table("OpportunityStage")
        for row in list(table.live_rows(include_deleted=True)):
            table.purge(row)
        now = format_ms(self.clock.tick())
        for order, stage in enumerate(stages, start=1):
            values = {"IsActive": True, "SortOrder": order, "Description": None, **stage}
            values.setdefault("MasterLabel", values["ApiName"])
            from .standard_objects import FORECAST_CATEGORY
            values["ForecastCategory"] = FORECAST_CATEGORY.get(values.get("ForecastCategoryName"))
            table.append(self._system_values(table, values, user_id, now))
        self._stages = None

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing block: on error every write inside is undone and no events fire."""
        if self._undo is not None:
            yield
            return
        self._undo, self._pending = [], []
        try:
            yield
        except BaseException:
            for undo in reversed(self._undo):
                undo()
            self._undo, self._pending = None, []
            raise
        pending = self._pending
        self._undo, self._pending = None, []
        for change in pending:
            for listener in self.listeners:
                listener(change)

    def _record_undo(self, action: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(action)

    def _emit(self, change: Change) -> None:
        if self._undo is not None:
            self._pending.append(change)
        else:
            for listener in self.listeners:
                listener(change)

    def _set(self, table: Table, row: int, name: str, value: Any) -> None:
        previous = table.columns[name][row]
        if previous is value:
            return
        table.set(row, name, value)
        self._record_undo(lambda: table.set(row, name, previous))

    # ------------------------------------------------------------------ input checks
    def normalize(self, definition: ObjectDef, values: Mapping[str, Any], *, creating: bool,
                  from_text: bool = False, allow: tuple[str, ...] = ()) -> dict[str, Any]:
        """API input → canonical names and stored values (see :func:`validation.normalize`)."""
        return normalize(definition, values, creating=creating, from_text=from_text, allow=allow)

    def _check_references(self, definition: ObjectDef, values: Mapping[str, Any]) -> None:
        check_references(self, definition, values)

    def _check_required(self, definition: ObjectDef, record: Mapping[str, Any]) -> None:
        check_required(definition, record)

    def _run_checks(self, definition: ObjectDef, record_id: str | None, record: Mapping[str, Any], user_id: str,
                    operation: str) -> None:
        for check in self.write_checks:
            check(definition, record_id, record, user_id, operation)

    def _system_values(self, table: Table, values: dict[str, Any], user_id: str, now: str) -> dict[str, Any]:
        definition = table.definition
        values.setdefault("Id", self.ids.next_id(definition.key_prefix))
        values.update(IsDeleted=False, CreatedDate=now, LastModifiedDate=now, SystemModstamp=now,
                      CreatedById=user_id, LastModifiedById=user_id)
        if "OwnerId" in definition.fields and values.get("OwnerId") is None:
            values["OwnerId"] = user_id
        return values

    # ------------------------------------------------------------------ writes
    def create(self, object_name: str, values: Mapping[str, Any], *, user_id: str, from_text: bool = False,
               normalized: bool = False) -> str:
        """Insert one record; returns its 18-character id."""
        table = self.table(object_name)
        definition = table.definition
        if not definition.createable:
            raise SalesforceError("INVALID_TYPE", f"sObject type '{definition.name}' is not supported.",
                                  include_fields=False)
        written = dict(values) if normalized else self.normalize(definition, values, creating=True, from_text=from_text)
        record: dict[str, Any] = {f.name: f.default for f in definition.fields.values()
                                  if f.default is not None and not callable(f.default)}
        record.update(written)
        now_ms = self.clock.tick()
        deriver = DERIVERS.get(definition.name)
        if deriver:
            deriver(self, record, set(written), None, now_ms)
        self._check_required(definition, record)
        self._check_references(definition, written)
        self._system_values(table, record, user_id, format_ms(now_ms))
        self._run_checks(definition, None, record, user_id, "create")
        table.append(record)
        self._record_undo(table.pop_last)
        self._after_save(table, record, None, user_id)
        self._emit(Change(definition.name, record["Id"], "create", user_id, set(written)))
        return record["Id"]

    def update(self, object_name: str | None, record_id: str, values: Mapping[str, Any], *, user_id: str,
               from_text: bool = False, normalized: bool = False, system: bool = False) -> str:
        """Update one record by id.  ``system=True`` mimics automation: only SystemModstamp moves."""
        table, row = self._existing(object_name, record_id)
        definition = table.definition
        written = dict(values) if normalized or system else self.normalize(definition, values, creating=False,
                                                                           from_text=from_text)
        old = table.record(row)
        record = {**old, **written}
        now_ms = self.clock.tick()
        deriver = DERIVERS.get(definition.name)
        if deriver:
            deriver(self, record, set(written), old, now_ms)
        self._check_required(definition, record)
        self._check_references(definition, written)
        self._run_checks(definition, old["Id"], record, user_id, "update")
        now = format_ms(now_ms)
        record["SystemModstamp"] = now
        if not system:
            record["LastModifiedDate"], record["LastModifiedById"] = now, user_id
        for name, value in record.items():
            if value != old.get(name) or type(value) is not type(old.get(name)):
                self._set(table, row, name, value)
        self._after_save(table, record, old, user_id)
        changed = {name for name in written if record.get(name) != old.get(name)}
        self._emit(Change(definition.name, old["Id"], "update", user_id, changed, old))
        return old["Id"]

    def _existing(self, object_name: str | None, record_id: str) -> tuple[Table, int]:
        located = self.locate(record_id) if isinstance(record_id, str) else None
        if located is None or (object_name and located[0].name.lower() != object_name.lower()):
            if object_name and isinstance(record_id, str) and is_valid_id(record_id):
                definition = self.schema.get(object_name)
                if definition and record_id[:3] != definition.key_prefix:
                    raise SalesforceError("MALFORMED_ID", f"{definition.label} ID: id value of incorrect type: {record_id}",
                                          ["Id"])
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        table, row = located
        if table.is_deleted(row):
            raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", [])
        return table, row

    def _after_save(self, table: Table, record: Mapping[str, Any], old: Mapping[str, Any] | None, user_id: str) -> None:
        if table.name == "Opportunity":
            history = history_row(record, old)
            if history is not None:
                history_table = self.table("OpportunityHistory")
                history_table.append(self._system_values(history_table, history, user_id, record["SystemModstamp"]))
                self._record_undo(history_table.pop_last)

    def upsert(self, object_name: str, external_field: str, external_value: Any, values: Mapping[str, Any], *,
               user_id: str, from_text: bool = False, update_only: bool = False) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created).  Raises MultipleMatches on >1 match."""
        table = self.table(object_name)
        rows = self.match_external(table, external_field, external_value)
        if len(rows) > 1:
            from .errors import MultipleMatches
            raise MultipleMatches([table.columns["Id"][r] for r in rows])
        field = table.definition.field(external_field)
        if rows:
            return self.update(table.name, table.columns["Id"][rows[0]], values, user_id=user_id,
                               from_text=from_text), False
        if update_only:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", include_fields=False)
        payload = dict(values)
        if field.name != "Id" and external_value not in (None, ""):
            payload[field.name] = external_value
        return self.create(table.name, payload, user_id=user_id, from_text=from_text), True

    def match_external(self, table: Table, external_field: str, value: Any) -> list[int]:
        """Live rows whose external-id field equals ``value`` (case-insensitive for text)."""
        field = table.definition.field(external_field)
        if field is None or not (field.external_id or field.name == "Id" or field.type == "id"):
            raise SalesforceError("NOT_FOUND", f"Provided external ID field does not exist or is not accessible: "
                                  f"{external_field}", include_fields=False)
        if value in (None, ""):
            return []
        if field.name == "Id":
            row = table.row_for_id(value) if is_valid_id(value) else None
            return [] if row is None or table.is_deleted(row) else [row]
        stored = coerce(field, value, from_text=isinstance(value, str))
        rows = table.external_index(field.name).get(Table._key(stored), [])
        return [r for r in rows if not table.is_deleted(r)]

    def delete(self, object_name: str | None, record_id: str, *, user_id: str, cascade_root: str | None = None) -> str:
        """Soft-delete into the recycle bin, cascading to children as Salesforce does."""
        table, row = self._existing(object_name, record_id)
        record_id = table.columns["Id"][row]
        self._run_checks(table.definition, record_id, table.record(row), user_id, "delete")
        now_ms = self.clock.tick()
        now = format_ms(now_ms)
        self._set(table, row, "IsDeleted", True)
        self._set(table, row, "SystemModstamp", now)
        self._set(table, row, "LastModifiedDate", now)
        self._set(table, row, "LastModifiedById", user_id)
        table.deleted_at[row] = now_ms
        self._record_undo(lambda: table.deleted_at.pop(row, None))
        log = self.deleted_log.setdefault(table.name, [])
        log.append((record_id, now_ms))
        self._record_undo(log.pop)
        self._emit(Change(table.name, record_id, "delete", user_id))
        children = self._cascade_children(table.name, record_id)
        for child_id in children:
            self.delete(None, child_id, user_id=user_id, cascade_root=record_id)
        if children:
            self._cascades[record_id] = children
        return record_id

    def _cascade_children(self, object_name: str, record_id: str) -> list[str]:
        cascades = {"Account": (("Opportunity", "AccountId"), ("Contact", "AccountId"), ("Task", "WhatId"),
                                ("Event", "WhatId")),
                    "Opportunity": (("Task", "WhatId"), ("Event", "WhatId"))}.get(object_name, ())
        children: list[str] = []
        for child_object, reference in cascades:
            child = self.table(child_object)
            column = child.columns[reference]
            children += [child.columns["Id"][r] for r in child.live_rows() if column[r] == record_id]
        return children

    def undelete(self, record_id: str, *, user_id: str) -> str:
        """Restore a record (and whatever its deletion cascaded to) from the recycle bin."""
        located = self.locate(record_id)
        if located is None or not located[0].is_deleted(located[1]):
            raise SalesforceError("UNDELETE_FAILED", "Entity is not in the recycle bin", [])
        table, row = located
        now = format_ms(self.clock.tick())
        table.deleted_at.pop(row, None)
        for name, value in (("IsDeleted", False), ("SystemModstamp", now), ("LastModifiedDate", now),
                            ("LastModifiedById", user_id)):
            table.set(row, name, value)
        record_id = table.columns["Id"][row]
        self._emit(Change(table.name, record_id, "undelete", user_id))
        for child_id in self._cascades.pop(record_id, []):
            self.undelete(child_id, user_id=user_id)
        return record_id

    def hard_delete(self, record_id: str, *, user_id: str) -> str:
        """Delete bypassing the recycle bin (Bulk ``hardDelete``)."""
        table, row = self._existing(None, record_id)
        self.delete(table.name, record_id, user_id=user_id)
        table.purge(row)
        return table.columns["Id"][row]

    def empty_recycle_bin(self, older_than_ms: int | None = None) -> int:
        """Purge recycle-bin rows deleted before ``older_than_ms`` (all when None); returns the count."""
        purged = 0
        for table in self.tables.values():
            for row, deleted_ms in list(table.deleted_at.items()):
                if older_than_ms is None or deleted_ms < older_than_ms:
                    table.purge(row)
                    purged += 1
        return purged

    def insert_setup_record(self, object_name: str, values: Mapping[str, Any], *, user_id: str) -> str:
        """Insert setup data (users, record types, the Organization row) without API checks or events."""
        table = self.table(object_name)
        record = dict(values)
        now_ms = self.clock.tick()
        deriver = DERIVERS.get(table.name)
        if deriver:
            deriver(self, record, set(values), None, now_ms)
        for field in table.definition.fields.values():
            if record.get(field.name) is None and field.default is not None and not callable(field.default):
                record[field.name] = field.default
        table.append(self._system_values(table, record, user_id, format_ms(now_ms)))
        return record["Id"]

    def load_columns(self, object_name: str, columns: Mapping[str, list[Any]]) -> range:
        """Seeding fast path: append whole columns of already-stored values, no validation or events."""
        table = self.table(object_name)
        rows = table.extend(columns)
        if table.name == "OpportunityStage":
            self._stages = None
        return rows
