"""Applying a page of source records to tether's tables, set-based.

One page is a handful of statements whatever its size: a select of the rows it touches,
multi-row ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statements keyed on
(tenant_id, external_source, external_id) (see :mod:`.upsert`), one update for
deletions, and bulk link fix-ups. A row
whose stored ``source_modstamp`` is newer than the incoming one changes nothing (in
Python, and again in the statement's WHERE so a concurrent webhook apply cannot be
overwritten by an older page); the same stamp changes nothing either, except in a full
reload, which rewrites it.

References are resolved in bulk: ``parent_external_id`` → ``parent_id`` for companies,
``account_external_id`` → ``company_id`` for opportunities. A child that lands before its
parent keeps the external id and is linked when the parent lands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from operator import itemgetter
from typing import Any, Iterable, Sequence

from sqlalchemy import Table, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..store.types import utcnow
from .upsert import UpsertWriter

# Columns the engine owns; a mapping may not target them.
ENGINE_COLUMNS = frozenset({
    "id", "tenant_id", "external_source", "external_id", "source_modstamp", "is_deleted", "deleted_at",
    "created_at", "updated_at", "attributes", "parent_id", "company_id", "relationship_id",
})
ATTRIBUTE_PREFIX = "attributes."
# The engine writes these on every upsert, ahead of the mapped columns.
ENGINE_WRITTEN = ("tenant_id", "external_source", "external_id", "source_modstamp", "is_deleted", "deleted_at",
                  "created_at", "updated_at", "attributes")
# Shared by every row of a mapping without attributes (never mutated), so it converts once.
_NO_ATTRIBUTES: dict[str, Any] = {}
# Entities are applied in this order so references usually find their target already there.
ENTITY_ORDER = {"company": 0, "relationship": 1, "opportunity": 2}
# PostgreSQL: rows written before the first ANALYZE of a table being loaded (then at each doubling).
ANALYZE_FIRST_AT = 5000
# SQLite's default limit on bound parameters is 32766; stay well inside it. Lookups pass
# their keys as one expanding parameter: a literal IN list of 900 bind objects costs more
# to build and compile than the query takes to run.
IN_CHUNK = 900


@dataclasses.dataclass
class Row:
    """One source record, mapped: ``values`` by tether column (and ``attributes.*``)."""

    external_id: str
    modstamp: dt.datetime | None
    deleted: bool = False
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Outcome:
    created: list[int] = dataclasses.field(default_factory=list)
    updated: list[int] = dataclasses.field(default_factory=list)
    deleted: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    # Records applied with something left out (a refused parent, an unknown relationship
    # type), each naming the records; kept on the run.
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def applied(self) -> int:
        return len(self.created) + len(self.updated) + len(self.deleted)


def _tuple_getter(names: Sequence[str]):
    """``values → tuple of values[name] for names`` (operator.itemgetter returns a bare value for one name)."""
    if len(names) > 1:
        return itemgetter(*names)
    if len(names) == 1:
        name = names[0]
        return lambda values: (values[name],)
    return lambda values: ()


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class EntityApplier:
    """Applies pages of one entity from one source for one tenant."""

    model: Any = None
    entity: str = ""
    # Link columns an update leaves as they are when the page has no value for them.
    keep_when_null: tuple[str, ...] = ()

    def __init__(self, session_dialect: str, tenant_id: str, source: str, targets: Iterable[str], *,
                 full_reload: bool = False, tenant: Any = None) -> None:
        self.dialect = session_dialect
        self.tenant_id = tenant_id
        # The TenantContext, for the domain rules an entity applies (relationship rules and
        # their hook); None in callers that only read the class's model.
        self.tenant = tenant
        self.source = source
        self.full_reload = full_reload
        self.table: Table = self.model.__table__
        targets = list(dict.fromkeys(targets))
        self.attribute_keys = [t[len(ATTRIBUTE_PREFIX):] for t in targets if t.startswith(ATTRIBUTE_PREFIX)]
        self.columns = [t for t in targets if not t.startswith(ATTRIBUTE_PREFIX)]
        self.columns += [c for c in self.link_columns() if c not in self.columns]
        self._required = {c.name for c in self.table.columns if not c.nullable and c.default is None
                          and c.server_default is None and not c.primary_key and c.name in self.columns}
        self._defaults = {c.name: c.default.arg for c in self.table.columns
                          if c.name in self.columns and not c.nullable and c.default is not None
                          and c.default.is_scalar}
        # NOT NULL columns the mapping does not write get their ORM default on insert.
        self._extra = [c for c in self.table.columns if not c.nullable and not c.primary_key
                       and c.server_default is None and c.default is not None
                       and c.name not in self.columns and c.name not in ENGINE_WRITTEN]
        self._getter = _tuple_getter(self.columns)
        # Only columns with a default or that are required need a look when a value is None.
        self._checked = _tuple_getter([c for c in self.columns if c in self._defaults or c in self._required])
        self.writer: UpsertWriter | None = None
        # What the entity's rules refused while applying the current page (see Outcome.warnings).
        self.warnings: list[str] = []
        self._written = 0
        self._analyze_at = ANALYZE_FIRST_AT

    # -- configuration checks -------------------------------------------------------------

    @classmethod
    def check_targets(cls, targets: Iterable[str]) -> list[str]:
        """Problems with mapped tether fields, each naming the field."""
        table = cls.model.__table__
        problems = []
        for target in targets:
            if target.startswith(ATTRIBUTE_PREFIX):
                if not target[len(ATTRIBUTE_PREFIX):]:
                    problems.append(f"{target!r} names no attribute")
                continue
            if target in ENGINE_COLUMNS:
                problems.append(f"tether field {target!r} of {cls.entity} is maintained by the sync engine and cannot be mapped")
            elif target not in table.columns:
                known = sorted(c.name for c in table.columns if c.name not in ENGINE_COLUMNS)
                problems.append(f"{cls.entity} has no field {target!r} (fields: {', '.join(known)}; "
                                f"use 'attributes.{target}' for a custom attribute)")
        return problems

    def link_columns(self) -> tuple[str, ...]:
        return ()

    # -- statements -------------------------------------------------------------------------

    # -- applying -------------------------------------------------------------------------

    def apply(self, session: Session, rows: Sequence[Row]) -> Outcome:
        outcome = Outcome()
        rows = _dedupe(rows)
        # PostgreSQL's upsert says itself which rows it inserted, so only deletions need
        # the stored state first; SQLite's cannot, so it looks every row up (cheaply).
        reports_inserts = self.dialect == "postgresql"
        looked_up = [row.external_id for row in rows if row.deleted or not reports_inserts]
        existing = self._existing(session, looked_up) if looked_up else {}
        upserts: list[Row] = []
        deletes: list[tuple[Row, int]] = []
        for row in rows:
            current = existing.get(row.external_id)
            if current is not None and not self._is_newer(row.modstamp, current[1]):
                outcome.unchanged += 1
            elif row.deleted:
                if current is None or current[2]:
                    outcome.unchanged += 1  # never synced, or already deleted here
                else:
                    deletes.append((row, current[0]))
            else:
                upserts.append(row)
        if upserts:
            self.resolve_links(session, upserts)
            written = self._upsert_rows(session, upserts)
            self._keep_statistics(session, len(written))
            created: set[str] = set()
            for row in upserts:
                result = written.get(row.external_id)
                if result is None:
                    outcome.unchanged += 1  # not newer than what is stored (the stamp rule in SQL)
                    continue
                local_id, inserted = result
                if inserted is None:
                    inserted = row.external_id not in existing
                if inserted:
                    outcome.created.append(local_id)
                    created.add(row.external_id)
                else:
                    outcome.updated.append(local_id)
            ids = {external_id: local_id for external_id, (local_id, _) in written.items()}
            self.after_upsert(session, upserts, ids, created=created)
        if deletes:
            outcome.deleted.extend(self._delete_rows(session, deletes))
        outcome.warnings.extend(self.warnings)
        self.warnings.clear()
        return outcome

    def _keep_statistics(self, session: Session, written: int) -> None:
        """On PostgreSQL, refresh the planner's statistics as a load grows the table.

        A table filled in one sync has no statistics until autovacuum gets to it; until
        then the planner treats it as tiny and looks rows up by (tenant, source) and a
        filter instead of the full unique key, which makes every page slower than the
        last. ANALYZE at each doubling of the rows written costs a few samples per load.
        """
        if self.dialect != "postgresql":
            return
        self._written += written
        if self._written >= self._analyze_at:
            session.execute(text(f"ANALYZE {self.table.name}"))
            self._analyze_at = self._written * 2

    def _is_newer(self, incoming: dt.datetime | None, stored: dt.datetime | None) -> bool:
        if incoming is None or stored is None:
            return True
        return incoming >= stored if self.full_reload else incoming > stored

    def _existing(self, session: Session, external_ids: list[str]) -> dict[str, tuple[int, dt.datetime | None, bool]]:
        table = self.table
        found: dict[str, tuple[int, dt.datetime | None, bool]] = {}
        statement = select(table.c.external_id, table.c.id, table.c.source_modstamp, table.c.is_deleted).where(
            table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
            table.c.external_id.in_(bindparam("keys", expanding=True)))
        for chunk in chunks(external_ids):
            result = session.execute(statement, {"keys": list(chunk)})
            for external_id, local_id, stamp, deleted in result:
                found[external_id] = (local_id, stamp, deleted)
        return found

    def _writer(self, session: Session) -> UpsertWriter:
        if self.writer is None:
            columns = [*ENGINE_WRITTEN, *self.columns, *(c.name for c in self._extra)]
            self.writer = UpsertWriter(session.get_bind().dialect, self.table, columns,
                                       merge_attributes=bool(self.attribute_keys), full_reload=self.full_reload,
                                       keep_when_null=self.keep_when_null)
        return self.writer

    def _tuples(self, rows: Sequence[Row], now: dt.datetime) -> list[tuple[Any, ...]]:
        """One tuple per row in the writer's column order."""
        getter, keys, tenant, source = self._getter, self.attribute_keys, self.tenant_id, self.source
        extra = tuple(c.default.arg if c.default.is_scalar else c.default.arg(None) for c in self._extra)
        checked = self._checked
        tuples = []
        for row in rows:
            values = getter(row.values)
            if None in checked(row.values):
                values = self._fill_defaults(row, values)
            attributes = {key: row.values.get(ATTRIBUTE_PREFIX + key) for key in keys} if keys else _NO_ATTRIBUTES
            tuples.append((tenant, source, row.external_id, row.modstamp, False, None, now, now, attributes)
                          + values + extra)
        return tuples

    def _fill_defaults(self, row: Row, values: tuple[Any, ...]) -> tuple[Any, ...]:
        filled = list(values)
        for index, name in enumerate(self.columns):
            if filled[index] is None:
                if name in self._defaults:
                    filled[index] = self._defaults[name]
                elif name in self._required:
                    raise DomainError(
                        f"{self.entity} {row.external_id}: required field {name!r} has no value",
                        field=name, hint=f"map a source field that is always set to {name!r}")
        return tuple(filled)

    def _upsert_rows(self, session: Session, rows: Sequence[Row]) -> dict[str, tuple[int, bool | None]]:
        writer = self._writer(session)
        cursor = session.connection().connection.cursor()
        try:
            return writer.write(cursor, self._tuples(rows, utcnow()))
        finally:
            cursor.close()

    def _delete_rows(self, session: Session, deletes: Sequence[tuple[Row, int]]) -> list[int]:
        table = self.table
        now = utcnow()
        statement = (update(table)
                     .where(table.c.id == bindparam("row_id"), table.c.tenant_id == self.tenant_id,
                            or_(table.c.source_modstamp.is_(None), bindparam("stamp").is_(None),
                                table.c.source_modstamp < bindparam("stamp")))
                     .values(is_deleted=True, deleted_at=bindparam("deleted"), source_modstamp=bindparam("stamp"),
                             updated_at=now))
        session.connection().execute(statement, [
            {"row_id": local_id, "stamp": row.modstamp, "deleted": row.modstamp or now} for row, local_id in deletes])
        return [local_id for _, local_id in deletes]

    # -- entity-specific links --------------------------------------------------------------

    def resolve_links(self, session: Session, rows: Sequence[Row]) -> None:
        """Fill link columns (ids of other rows) before the upsert."""

    def after_upsert(self, session: Session, rows: Sequence[Row], ids: dict[str, int], *, created: set[str]) -> None:
        """Link rows that waited for the ones just written."""

    def _local_ids(self, session: Session, model: Any, external_ids: Iterable[str]) -> dict[str, int]:
        table = model.__table__
        wanted = sorted({e for e in external_ids if e})
        found: dict[str, int] = {}
        statement = select(table.c.external_id, table.c.id).where(
            table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
            table.c.external_id.in_(bindparam("keys", expanding=True)))
        for chunk in chunks(wanted):
            found.update(session.execute(statement, {"keys": list(chunk)}).all())
        return found


def _dedupe(rows: Sequence[Row]) -> list[Row]:
    """One row per external id: the newest (a record changed while being paged comes twice)."""
    newest: dict[str, Row] = {}
    for row in rows:
        seen = newest.get(row.external_id)
        if seen is None or (row.modstamp is not None and (seen.modstamp is None or row.modstamp >= seen.modstamp)):
            newest[row.external_id] = row
    return list(newest.values()) if len(newest) != len(rows) else list(rows)
