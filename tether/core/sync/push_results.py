"""Recording what each pushed record's write did, in one transaction per slice.

Entries change state only while still ``pending`` or ``failed``: an entry the inbound
merge superseded while its write was in flight keeps that decision. Statements are
set-shaped: one executemany for the entries, one for new source ids on local rows,
and the shadows of the slice loaded and flushed together.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from ..connectors import WriteResult
from ..store.models import OutboxEntry
from .push_plan import PlannedRecord
from .shadow import ENTITY_MODELS, load_shadows
from .writeback_models import SyncShadow

if TYPE_CHECKING:
    from ..plugins import TenantContext
    from .push import PushOptions, PushResult

OPEN = ("pending", "failed")


def record_results(tenant: "TenantContext", session: Session, connector: str, records: Sequence[PlannedRecord],
                   results: Sequence[WriteResult | None], *, now: dt.datetime, options: "PushOptions",
                   result: "PushResult") -> None:
    entry_rows: list[dict[str, Any]] = []
    successes: list[tuple[PlannedRecord, WriteResult]] = []

    def settle(record: PlannedRecord, status: str, *, error: str | None = None, attempts: int | None = None,
               next_at: dt.datetime | None = None, pushed_at: dt.datetime | None = None) -> None:
        for entry_id in record.entry_ids:
            if entry_id in record.held:
                continue  # rewritten below: only its held part keeps waiting
            entry_rows.append({"eid": entry_id, "st": status, "err": error, "att": attempts or record.attempts,
                               "nxt": next_at, "pat": pushed_at})

    for record, outcome in zip(records, results):
        if record.operation is None:
            if record.outcome == "held":
                continue
            if record.outcome == "skipped":
                result.skipped += 1
            elif record.outcome == "cancelled":
                result.cancelled += 1
            else:
                result.failed += 1
            settle(record, {"skipped": "skipped", "cancelled": "cancelled"}.get(record.outcome or "", "failed"),
                   error=record.message)
            continue
        assert outcome is not None
        if outcome.success:
            successes.append((record, outcome))
            settle(record, "pushed", attempts=record.attempts + 1, pushed_at=now)
            if record.operation.operation == "delete":
                result.records_deleted += 1
            else:
                result.records_applied += 1
        elif outcome.error_kind == "transient" and record.attempts + 1 < options.max_attempts:
            attempts = record.attempts + 1
            delay = min(options.retry_cap_seconds, options.retry_base_seconds * 2 ** (attempts - 1))
            settle(record, "pending", error=_message(outcome), attempts=attempts,
                   next_at=now + dt.timedelta(seconds=delay * random.uniform(0.5, 1.0)))
            result.retrying += 1
        else:
            attempts = record.attempts + 1
            message = _message(outcome)
            if outcome.error_kind == "transient":
                message = f"gave up after {attempts} attempts: {message}"
            settle(record, "failed", error=message, attempts=attempts)
            result.failed += 1
    table = OutboxEntry.__table__
    if entry_rows:
        session.connection().execute(
            update(table).where(table.c.id == bindparam("eid"), table.c.tenant_id == tenant.id,
                                or_(table.c.status == OPEN[0], table.c.status == OPEN[1]))
            .values(status=bindparam("st"), last_error=bindparam("err"), attempts=bindparam("att"),
                    next_attempt_at=bindparam("nxt"), pushed_at=bindparam("pat")), entry_rows)
    held_rows = [{"eid": entry_id, "chg": changes} for record, _ in successes
                 for entry_id, changes in record.held.items()]
    if held_rows:
        session.connection().execute(
            update(table).where(table.c.id == bindparam("eid"), table.c.tenant_id == tenant.id)
            .values(changes=bindparam("chg")), held_rows)
    if successes:
        _after_success(tenant, session, connector, successes, now)


def _message(outcome: WriteResult) -> str:
    code = f"{outcome.error_code}: " if outcome.error_code else ""
    return f"{code}{outcome.error_message or 'failed'}"


def _after_success(tenant: "TenantContext", session: Session, connector: str,
                   successes: Sequence[tuple[PlannedRecord, WriteResult]], now: dt.datetime) -> None:
    by_object: dict[str, list[tuple[PlannedRecord, WriteResult]]] = {}
    for record, outcome in successes:
        by_object.setdefault(record.object_name, []).append((record, outcome))
    for object_name, items in by_object.items():
        local_ids = [r.local_id for r, _ in items if r.local_id is not None]
        shadows = {s.local_id: s for s in load_shadows(session, connector, object_name, local_ids=local_ids)}
        for record, outcome in items:
            if record.local_id is None or record.mapping is None:
                continue
            shadow = shadows.get(record.local_id)
            if shadow is None:
                shadow = shadows[record.local_id] = SyncShadow(
                    tenant_id=tenant.id, connector=connector, object_name=object_name, entity=record.mapping.entity,
                    local_id=record.local_id, base={})
                session.add(shadow)
            if outcome.external_id:
                shadow.external_id = outcome.external_id
            if record.tether_key:
                shadow.tether_key = record.tether_key
            shadow.pushed_at = now
            if record.operation is not None and record.operation.operation == "delete":
                shadow.deleted = True
            elif record.pushed:
                shadow.base = {**(shadow.base or {}), **record.pushed}
        session.flush()
        _supersede_covered_failures(session, connector, object_name, items)
        _link_created(tenant, session, connector, items, now)


def _supersede_covered_failures(session: Session, connector: str, object_name: str,
                                items: Sequence[tuple[PlannedRecord, WriteResult]]) -> None:
    """Older failed changes of fields a later change just pushed are moot: retrying them
    would put the older value back."""
    pushed = {r.local_id: (set(r.pushed), min(r.entry_ids)) for r, _ in items
              if r.local_id is not None and r.pushed and r.entry_ids}
    if not pushed:
        return
    ids = sorted(pushed)
    for start in range(0, len(ids), 900):
        for entry in session.scalars(select(OutboxEntry).where(
                OutboxEntry.connector == connector, OutboxEntry.object_name == object_name,
                OutboxEntry.status == "failed", OutboxEntry.operation == "upsert",
                OutboxEntry.local_id.in_(ids[start:start + 900]))):
            fields, first = pushed[entry.local_id]
            if entry.id >= first or not fields & set(entry.changes or {}):
                continue
            entry.changes = {k: v for k, v in entry.changes.items() if k not in fields}
            if not entry.changes:
                entry.status = "superseded"
                entry.last_error = "a later change of the same fields was pushed"


def _link_created(tenant: "TenantContext", session: Session, connector: str,
                  items: Sequence[tuple[PlannedRecord, WriteResult]], now: dt.datetime) -> None:
    """Records tether created at the source get their source id locally; one deleted
    here while its create was in flight is deleted there too."""
    created = [(r, o) for r, o in items if r.creates and r.local_id is not None and o.external_id]
    if not created:
        return
    entity = created[0][0].entity
    model = ENTITY_MODELS.get(entity or "")
    if model is None:
        return
    table = model.__table__
    _retire_copies(tenant, session, table, connector, created, now)
    session.connection().execute(
        update(table).where(table.c.id == bindparam("row_id"), table.c.tenant_id == tenant.id,
                            table.c.external_id.is_(None))
        .values(external_source=connector, external_id=bindparam("ext"), updated_at=table.c.updated_at),
        [{"row_id": r.local_id, "ext": o.external_id} for r, o in created])
    ids = [r.local_id for r, _ in created]
    live = set()
    for start in range(0, len(ids), 900):
        live.update(session.scalars(select(table.c.id).where(
            table.c.tenant_id == tenant.id, table.c.id.in_(ids[start:start + 900]), table.c.is_deleted.is_(False))))
    for record, outcome in created:
        if record.local_id not in live:
            session.add(OutboxEntry(tenant_id=tenant.id, connector=connector, object_name=record.object_name,
                                    local_id=record.local_id, external_id=outcome.external_id, operation="delete",
                                    changes={}, created_at=now))


def _retire_copies(tenant: "TenantContext", session: Session, table: Any, connector: str,
                   created: Sequence[tuple[PlannedRecord, WriteResult]], now: dt.datetime) -> None:
    """A poll or a message may have brought a record tether created before its answer was
    recorded (after a crash, say), as a second local row. tether's own row keeps the
    source id; the copy is marked deleted and lets go of it."""
    ours = {r.local_id for r, _ in created}
    source_ids = [o.external_id for _, o in created]
    copies = []
    for start in range(0, len(source_ids), 900):
        copies += [row_id for row_id in session.scalars(select(table.c.id).where(
            table.c.tenant_id == tenant.id, table.c.external_source == connector,
            table.c.external_id.in_(source_ids[start:start + 900]))) if row_id not in ours]
    if copies:
        session.connection().execute(
            update(table).where(table.c.tenant_id == tenant.id, table.c.id.in_(copies))
            .values(external_id=None, is_deleted=True, deleted_at=now, updated_at=now))
