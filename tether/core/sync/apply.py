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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..store.models import Company, Opportunity, Relationship, RelationshipType
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
# PostgreSQL: rows written before the first ANALYZE of a table being loaded (then at each doubling).
ANALYZE_FIRST_AT = 5000
# SQLite's default limit on bound parameters is 32766; stay well inside it.
IN_CHUNK = 900


@dataclasses.dataclass
class Row:
    """One source record, mapped: ``values`` by tether column (and ``attributes.*``)."""

    external_id: str
    modstamp: dt.datetime | None
    deleted: bool = False
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    relationship: Any = None  # RelationshipAssignment from tether_assign_relationships


@dataclasses.dataclass
class Outcome:
    created: list[int] = dataclasses.field(default_factory=list)
    updated: list[int] = dataclasses.field(default_factory=list)
    deleted: list[int] = dataclasses.field(default_factory=list)
    unchanged: int = 0

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


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class EntityApplier:
    """Applies pages of one entity from one source for one tenant."""

    model: Any = None
    entity: str = ""

    def __init__(self, session_dialect: str, tenant_id: str, source: str, targets: Iterable[str], *,
                 full_reload: bool = False) -> None:
        self.dialect = session_dialect
        self.tenant_id = tenant_id
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
        for chunk in _chunks(external_ids):
            result = session.execute(
                select(table.c.external_id, table.c.id, table.c.source_modstamp, table.c.is_deleted).where(
                    table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                    table.c.external_id.in_(chunk)))
            for external_id, local_id, stamp, deleted in result:
                found[external_id] = (local_id, stamp, deleted)
        return found

    def _writer(self, session: Session) -> UpsertWriter:
        if self.writer is None:
            columns = [*ENGINE_WRITTEN, *self.columns, *(c.name for c in self._extra)]
            self.writer = UpsertWriter(session.get_bind().dialect, self.table, columns,
                                       merge_attributes=bool(self.attribute_keys), full_reload=self.full_reload)
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
        for chunk in _chunks(wanted):
            found.update(session.execute(select(table.c.external_id, table.c.id).where(
                table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                table.c.external_id.in_(chunk))).all())
        return found


class CompanyApplier(EntityApplier):
    model = Company
    entity = "company"

    def link_columns(self) -> tuple[str, ...]:
        return ("parent_id",) if "parent_external_id" in self.columns else ()

    def resolve_links(self, session: Session, rows: Sequence[Row]) -> None:
        if "parent_external_id" not in self.columns:
            return
        parents = self._local_ids(session, Company, (r.values.get("parent_external_id") for r in rows))
        for row in rows:
            parent = row.values.get("parent_external_id")
            row.values["parent_id"] = parents.get(parent) if parent else None

    def after_upsert(self, session: Session, rows: Sequence[Row], ids: dict[str, int], *, created: set[str]) -> None:
        table = self.table
        connection = session.connection()
        if "parent_external_id" in self.columns:
            # Rows of this page whose parent is in this page too, or whose parent is new.
            late = [{"row_id": ids[r.external_id], "parent": ids[r.values["parent_external_id"]]}
                    for r in rows if r.external_id in ids and r.values.get("parent_id") is None
                    and r.values.get("parent_external_id") in ids]
            if late:
                connection.execute(update(table).where(table.c.id == bindparam("row_id"))
                                   .values(parent_id=bindparam("parent")), late)
            # Children that arrived before these (new) parents: find them first, in bulk, so
            # an initial load does not run one UPDATE per company for nothing.
            waiting_for = self._waiting(session, table, table.c.parent_external_id, table.c.parent_id, created, ids)
            if waiting_for:
                connection.execute(
                    update(table).where(table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                                        table.c.parent_external_id == bindparam("ext"), table.c.parent_id.is_(None))
                    .values(parent_id=bindparam("parent")),
                    [{"ext": e, "parent": ids[e]} for e in waiting_for])
        # Opportunities that arrived before their (new) account.
        opportunities = Opportunity.__table__
        waiting_for = self._waiting(session, opportunities, opportunities.c.account_external_id,
                                    opportunities.c.company_id, created, ids)
        if waiting_for:
            connection.execute(
                update(opportunities).where(
                    opportunities.c.tenant_id == self.tenant_id, opportunities.c.external_source == self.source,
                    opportunities.c.account_external_id == bindparam("ext"), opportunities.c.company_id.is_(None))
                .values(company_id=bindparam("company")), [{"ext": e, "company": ids[e]} for e in waiting_for])

    def _waiting(self, session: Session, table: Table, reference, link, created: set[str],
                 ids: dict[str, int]) -> list[str]:
        """External ids among ``created`` that unlinked rows of ``table`` refer to."""
        wanted = sorted(e for e in created if e in ids)
        found: list[str] = []
        for chunk in _chunks(wanted):
            found += session.scalars(select(reference).distinct().where(
                table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                link.is_(None), reference.in_(chunk))).all()
        return found


class OpportunityApplier(EntityApplier):
    model = Opportunity
    entity = "opportunity"

    def link_columns(self) -> tuple[str, ...]:
        links = ("company_id",) if "account_external_id" in self.columns else ()
        return links + ("relationship_id",)

    def resolve_links(self, session: Session, rows: Sequence[Row]) -> None:
        if "account_external_id" in self.columns:
            companies = self._local_ids(session, Company, (r.values.get("account_external_id") for r in rows))
            for row in rows:
                account = row.values.get("account_external_id")
                row.values["company_id"] = companies.get(account) if account else None
        self._resolve_relationships(session, rows)

    def _resolve_relationships(self, session: Session, rows: Sequence[Row]) -> None:
        assigned = [r for r in rows if r.relationship is not None and r.values.get("company_id")]
        for row in rows:
            row.values["relationship_id"] = None
        if not assigned:
            return
        types = dict(session.execute(select(RelationshipType.__table__.c.name, RelationshipType.__table__.c.id).where(
            RelationshipType.__table__.c.tenant_id == self.tenant_id)).all())
        by_lower = {name.lower(): type_id for name, type_id in types.items()}
        wanted: dict[tuple[int, int, str], dict[str, Any]] = {}
        for row in assigned:
            type_id = by_lower.get(row.relationship.type_name.lower())
            if type_id is None:
                raise DomainError(
                    f"opportunity {row.external_id}: relationship type {row.relationship.type_name!r} does not exist",
                    field="relationship_type",
                    hint="declare it in the tenant manifest's relationship_types, or fix the relationship rule")
            wanted.setdefault((row.values["company_id"], type_id, row.relationship.name), dict(row.relationship.attributes))
        table = Relationship.__table__
        found: dict[tuple[int, int, str], int] = {}
        keys = list(wanted)
        for chunk in _chunks(sorted({k[0] for k in keys})):
            for rel_id, company_id, type_id, name in session.execute(
                    select(table.c.id, table.c.company_id, table.c.type_id, table.c.name).where(
                        table.c.tenant_id == self.tenant_id, table.c.company_id.in_(chunk))):
                found[(company_id, type_id, name)] = rel_id
        missing = [k for k in keys if k not in found]
        if missing:
            now = utcnow()
            result = session.execute(self._insert_relationships(), [
                {"tenant_id": self.tenant_id, "company_id": c, "type_id": t, "name": n, "attributes": wanted[(c, t, n)],
                 "is_deleted": False, "created_at": now, "updated_at": now} for c, t, n in missing])
            for rel_id, company_id, type_id, name in result:
                found[(company_id, type_id, name)] = rel_id
        for row in assigned:
            type_id = by_lower[row.relationship.type_name.lower()]
            row.values["relationship_id"] = found.get((row.values["company_id"], type_id, row.relationship.name))

    def _insert_relationships(self):
        table = Relationship.__table__
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table).returning(
            table.c.id, table.c.company_id, table.c.type_id, table.c.name)


APPLIERS: dict[str, type[EntityApplier]] = {"company": CompanyApplier, "opportunity": OpportunityApplier}
# Entities are applied in this order so references usually find their target already there.
ENTITY_ORDER = {"company": 0, "relationship": 1, "opportunity": 2}


def applier_for(entity: str) -> type[EntityApplier]:
    try:
        return APPLIERS[entity]
    except KeyError:
        raise DomainError(
            f"entity {entity!r} cannot be synced inbound: tether applies only {', '.join(sorted(APPLIERS))}",
            field="entity", hint="map the object outbound only, or to one of those entities") from None


def _dedupe(rows: Sequence[Row]) -> list[Row]:
    """One row per external id: the newest (a record changed while being paged comes twice)."""
    newest: dict[str, Row] = {}
    for row in rows:
        seen = newest.get(row.external_id)
        if seen is None or (row.modstamp is not None and (seen.modstamp is None or row.modstamp >= seen.modstamp)):
            newest[row.external_id] = row
    return list(newest.values()) if len(newest) != len(rows) else list(rows)
