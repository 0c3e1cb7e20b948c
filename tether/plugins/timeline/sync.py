"""Activities synced from a connector: the ``activity`` entity the sync engine applies.

The Timeline plugin offers it through ``tether_entity_appliers``; the engine hands over one
page at a time, in the page's transaction. Per page:

- records are upserted by (connector, external id) in one statement; a version older than
  the stored one changes nothing (in the statement itself, so a concurrent apply cannot be
  overwritten by an older page); a deletion at the source hides the activity
  (``is_deleted``), and a later live version brings it back;
- a planned activity (``done`` false: an open task) is not on the timeline; one that was
  is hidden until it is done;
- ``company_external_id``, ``opportunity_external_id`` and ``related_external_id`` (a
  company *or* an opportunity, like a Task's ``WhatId``) become ``company_id`` and
  ``opportunity_id``; an activity on an opportunity also carries its company and its
  relationship, so it rolls up. References not synced yet are kept and linked when the
  company or opportunity lands (:func:`.sync_links.link_waiting`, from ``tether_records_changed``);
- a milestone repeating its opportunity's previous one (an opportunity saved with the same
  stage) is not a new milestone;
- records tether itself wrote to the source (``SyncedRecord.local_id``) update only the
  fields the source changed on that local activity.
"""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from tether.core.contracts import EntityApplied, EntityApplierSpec, EntityPage, SyncedRecord
from tether.core.store.types import utcnow
from tether.core.sync.upsert import UpsertWriter

from .activities import PLUGIN
from .models import BUILT_IN_TYPES, ActivityRecord, ActivityType
from .sync_links import References, chunks

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

ENTITY = "activity"
DEFAULT_TYPE = "Update"
MILESTONE = "Milestone"
NO_SUBJECT = "(no subject)"
# A date without a time is taken as noon UTC, so it shows on the same day in most timezones.
NOON = dt.time(12, 0, tzinfo=dt.timezone.utc)

FIELDS: dict[str, str] = {
    "type": "activity type: a built-in type (Update, Call, Meeting, Email, Milestone) or the tenant's own; "
            "empty or unknown falls back to subtype, then Update",
    "subtype": "the source's own kind of activity (e.g. a Task's TaskSubtype), used when type is empty or unknown",
    "subject": "the activity's subject (at most 255 characters)",
    "notes": "its notes",
    "occurred_at": "when it happened (a date alone is taken as 12:00 UTC that day, or as now when that is still to come today)",
    "logged_at": "when the source recorded it, used when occurred_at is empty",
    "duration_minutes": "how long it took",
    "author": "who did it (a name or the source's user id; the connector's name when empty)",
    "reporting_category": "the activity's reporting category",
    "company_external_id": "the source id of the company it is about",
    "opportunity_external_id": "the source id of the opportunity it is about",
    "related_external_id": "the source id of a company or an opportunity it is about (e.g. a Task's WhatId)",
    "done": "false for a planned activity (an open task): it is on the timeline only once done",
}
# Columns a page writes: every upsert writes all of them (a field the mapping does not have
# is written as its default, exactly as an insert would).
WRITTEN = ("type", "subject", "notes", "occurred_at", "duration_minutes", "author", "reporting_category",
           "company_id", "relationship_id", "opportunity_id", "company_external_id", "opportunity_external_id")
UPSERT_COLUMNS = ("tenant_id", "external_source", "external_id", "source_modstamp", "is_deleted", "deleted_at",
                  "created_at", "updated_at", *WRITTEN, "internal_attendees", "external_attendees")
_as_tuple = itemgetter(*UPSERT_COLUMNS)
# Shared by every synced row (never mutated), so the writer converts it to JSON once per page.
NO_ATTENDEES: list[str] = []


def source_of(connector: str, object_name: str) -> str:
    """A synced activity's ``external_source``: several objects of a connector feed the table,
    and ids are unique per object only."""
    return f"{connector}:{object_name}"


def applier_spec() -> EntityApplierSpec:
    return EntityApplierSpec(entity=ENTITY, apply=apply_page, fields=FIELDS, model=ActivityRecord, plugin=PLUGIN,
                             description="Timeline activities (a CRM's tasks, events, stage changes)")


# -- applying a page ----------------------------------------------------------------------

def apply_page(tenant: "TenantContext", session: Session, page: EntityPage) -> EntityApplied:
    applied = EntityApplied()
    own = [r for r in page.records if r.local_id is not None]
    others = [r for r in page.records if r.local_id is None]
    types = _type_names(session)
    if own:
        _apply_own(session, tenant.id, page.connector, own, types, applied)
    if others:
        _Page(session, tenant.id, page, others, types, applied).apply()
    return applied


class _Page:
    def __init__(self, session: Session, tenant_id: str, page: EntityPage, records: Sequence[SyncedRecord],
                 types: Mapping[str, str], applied: EntityApplied) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.connector = page.connector
        self.source = source_of(page.connector, page.object_name)
        self.full_reload = page.full_reload
        self.records = records
        self.types = types
        self.applied = applied
        self.table = ActivityRecord.__table__
        self._writer: UpsertWriter | None = None

    def apply(self) -> None:
        stored = self._stored([r.external_id for r in self.records])
        live: list[SyncedRecord] = []
        hide: list[tuple[SyncedRecord, int]] = []
        for record in self.records:
            current = stored.get(record.external_id)
            if current is not None and not self._newer(record.modstamp, current[1]):
                self.applied.unchanged += 1
            elif record.deleted or record.values.get("done") is False:
                if current is None or current[2]:
                    self.applied.unchanged += 1  # never on the timeline, or already hidden
                else:
                    hide.append((record, current[0]))
            else:
                live.append(record)
        rows = self._rows(live)
        rows = self._without_repeated_milestones(rows, stored)
        if rows:
            written = self._upsert(rows)
            for row in rows:
                local_id = written.get(row["external_id"])
                if local_id is None:
                    self.applied.unchanged += 1  # not newer than what is stored (the stamp rule in SQL)
                elif row["external_id"] in stored:
                    self.applied.updated.append(local_id)
                else:
                    self.applied.created.append(local_id)
        if hide:
            self.applied.deleted.extend(self._hide(hide))

    def _newer(self, incoming: dt.datetime | None, stored: dt.datetime | None) -> bool:
        if incoming is None or stored is None:
            return True
        return incoming >= stored if self.full_reload else incoming > stored

    def _stored(self, external_ids: list[str]) -> dict[str, tuple[int, dt.datetime | None, bool]]:
        table = self.table
        found: dict[str, tuple[int, dt.datetime | None, bool]] = {}
        for chunk in chunks(external_ids):
            for external_id, local_id, stamp, deleted in self.session.execute(
                    select(table.c.external_id, table.c.id, table.c.source_modstamp, table.c.is_deleted).where(
                        table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                        table.c.external_id.in_(chunk))):
                found[external_id] = (local_id, stamp, deleted)
        return found

    def _rows(self, records: Sequence[SyncedRecord]) -> list[dict[str, Any]]:
        links = References(self.session, self.tenant_id, self.connector, records)
        now = utcnow()
        rows = []
        for record in records:
            values = record.values
            company_id, relationship_id, opportunity_id, company_ref, opportunity_ref = links.resolve(values)
            rows.append({
                "tenant_id": self.tenant_id, "external_source": self.source, "external_id": record.external_id,
                "source_modstamp": record.modstamp, "is_deleted": False, "deleted_at": None,
                "type": activity_type(values, self.types), "subject": _subject(values.get("subject")),
                "notes": _text(values.get("notes")),
                "occurred_at": occurred_at(values.get("occurred_at")) or occurred_at(values.get("logged_at"))
                or record.modstamp or now,
                "duration_minutes": _minutes(values.get("duration_minutes")),
                "author": (_text(values.get("author")) or self.connector)[:200],
                "reporting_category": (_text(values.get("reporting_category")) or None),
                "company_id": company_id, "relationship_id": relationship_id, "opportunity_id": opportunity_id,
                "company_external_id": company_ref, "opportunity_external_id": opportunity_ref,
                "internal_attendees": NO_ATTENDEES, "external_attendees": NO_ATTENDEES, "created_at": now,
                "updated_at": now,
            })
        return rows

    def _without_repeated_milestones(self, rows: list[dict[str, Any]],
                                     stored: Mapping[str, tuple[int, dt.datetime | None, bool]]) -> list[dict[str, Any]]:
        """New milestones that repeat their opportunity's previous milestone are left out."""
        new = [r for r in rows if r["type"] == MILESTONE and r["external_id"] not in stored
               and (r["opportunity_id"] or r["opportunity_external_id"])]
        if not new:
            return rows
        table = self.table
        timeline: dict[Any, list[tuple[dt.datetime, int, str]]] = {}
        opportunity_ids = sorted({r["opportunity_id"] for r in new if r["opportunity_id"]})
        for chunk in chunks(opportunity_ids):
            for opportunity_id, when, subject in self.session.execute(
                    select(table.c.opportunity_id, table.c.occurred_at, table.c.subject).where(
                        table.c.tenant_id == self.tenant_id, table.c.external_source == self.source,
                        table.c.type == MILESTONE, table.c.is_deleted.is_(False),
                        table.c.opportunity_id.in_(chunk))):
                timeline.setdefault(opportunity_id, []).append((when, 0, subject))
        for order, row in enumerate(new, start=1):
            key = row["opportunity_id"] or ("ref", row["opportunity_external_id"])
            timeline.setdefault(key, []).append((row["occurred_at"], order, row["subject"]))
        repeated: set[int] = set()
        by_order = {order: row for order, row in enumerate(new, start=1)}
        for entries in timeline.values():
            entries.sort(key=lambda e: (e[0], e[1]))
            for previous, entry in zip(entries, entries[1:]):
                if entry[1] and entry[2] == previous[2]:
                    repeated.add(id(by_order[entry[1]]))
        if not repeated:
            return rows
        self.applied.unchanged += len(repeated)
        return [r for r in rows if id(r) not in repeated]

    def _upsert(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """The core sync's own upsert statement (multi-row on SQLite, pipelined on PostgreSQL),
        keyed on (tenant, source, id), with the stamp rule in its WHERE."""
        if self._writer is None:
            self._writer = UpsertWriter(self.session.get_bind().dialect, self.table, UPSERT_COLUMNS,
                                        merge_attributes=False, full_reload=self.full_reload)
        cursor = self.session.connection().connection.cursor()
        try:
            written = self._writer.write(cursor, [_as_tuple(row) for row in rows])
        finally:
            cursor.close()
        return {external_id: local_id for external_id, (local_id, _) in written.items()}

    def _hide(self, hide: Sequence[tuple[SyncedRecord, int]]) -> list[int]:
        table = self.table
        now = utcnow()
        self.session.connection().execute(
            update(table).where(table.c.tenant_id == self.tenant_id, table.c.id == bindparam("row_id"))
            .values(is_deleted=True, deleted_at=bindparam("gone"), source_modstamp=bindparam("stamp"), updated_at=now),
            [{"row_id": local_id, "gone": record.modstamp or now, "stamp": record.modstamp} for record, local_id in hide])
        return [local_id for _, local_id in hide]


def _apply_own(session: Session, tenant_id: str, source: str, records: Sequence[SyncedRecord],
               types: Mapping[str, str], applied: EntityApplied) -> None:
    """Activities logged here and written back: only the fields changed at the source."""
    now = utcnow()
    table = ActivityRecord.__table__
    for record in records:
        if record.deleted:
            session.execute(update(table).where(table.c.tenant_id == tenant_id, table.c.id == record.local_id)
                            .values(is_deleted=True, deleted_at=record.modstamp or now, updated_at=now))
            applied.deleted.append(record.local_id)
            continue
        values = record.values
        changes: dict[str, Any] = {}
        if "type" in values or "subtype" in values:
            changes["type"] = activity_type(values, types)
        if "subject" in values:
            changes["subject"] = _subject(values["subject"])
        if "notes" in values:
            changes["notes"] = _text(values["notes"])
        if values.get("occurred_at") is not None:
            changes["occurred_at"] = occurred_at(values["occurred_at"])
        if "duration_minutes" in values:
            changes["duration_minutes"] = _minutes(values["duration_minutes"])
        if not changes:
            applied.unchanged += 1
            continue
        session.execute(update(table).where(table.c.tenant_id == tenant_id, table.c.id == record.local_id)
                        .values(**changes, updated_at=now))
        applied.updated.append(record.local_id)


# -- values -------------------------------------------------------------------------------

def _type_names(session: Session) -> dict[str, str]:
    names = {name.lower(): name for name in BUILT_IN_TYPES}
    for name in session.scalars(select(ActivityType.name)):
        names.setdefault(name.lower(), name)
    return names


def activity_type(values: Mapping[str, Any], types: Mapping[str, str]) -> str:
    for candidate in (values.get("type"), values.get("subtype")):
        if candidate:
            found = types.get(str(candidate).strip().lower())
            if found is not None:
                return found
    return DEFAULT_TYPE


def occurred_at(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        # A task done today and dated today happened already, even before noon UTC: were it
        # stored as later than now, it would count as planned until noon.
        noon, now = dt.datetime.combine(value, NOON), utcnow()
        return now if value == now.date() and noon > now else noon
    raise ValueError(f"occurred_at must be a date or a time, not {value!r}: map it with type date or datetime")


def _subject(value: Any) -> str:
    text = _text(value).strip()
    return text[:255] if text else NO_SUBJECT


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _minutes(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return max(0, int(value))


__all__ = ["ENTITY", "FIELDS", "applier_spec", "apply_page", "source_of"]
