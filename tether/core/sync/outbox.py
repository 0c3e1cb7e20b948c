"""Capturing local changes for the pusher, inside the transaction that makes them.

Every local edit path (API, CLI, plugins) that changes a synced entity calls
:func:`capture_local_change` with the same session, before it commits: the change and
its outbox entry commit together or not at all. The sync engine's own writes never call
it, and sessions the engine applies pages in are marked so that a stray call from a
hook during an apply captures nothing (half of echo suppression; the pusher recognising
its own pushes coming back is the other half).

``changes`` uses tether field names; they are stored as JSON (Decimal as text, times as
ISO-8601 UTC) and mapped to source fields when pushed, so a mapping fixed in between
still applies.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import DomainError
from ..store.models import Company, Opportunity, OutboxEntry, Relationship
from .coerce import to_jsonable
from .mappings import cached_mappings, outbound_fields
from .shadow import remember_base

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

OPERATIONS = ("upsert", "delete")
# Set in ``session.info`` while the sync engine applies source data in that session.
APPLYING_SYNC = "tether.sync.applying"

# Entities with a core table: their external id is looked up when the caller has none.
ENTITY_TABLES = {"company": Company, "opportunity": Opportunity, "relationship": Relationship}


def capture_local_change(tenant: "TenantContext", session: Session, *, entity: str, local_id: int,
                         changes: dict[str, Any], operation: str = "upsert",
                         external_id: str | None = None) -> int | None:
    """Record a local change of ``entity`` row ``local_id`` for pushing to its source.

    Call it in the transaction that makes the change, with tether field names in
    ``changes`` (for a delete, ``changes`` may be empty). Fields no enabled connector
    maps outbound are left out; when nothing is left to push, or no enabled connector
    maps ``entity``, nothing is written and the result is None. Otherwise one outbox
    entry is added per mapping connector and the id of the first is returned.

    ``external_id`` is the source's id of the record when the caller knows it; for
    companies, opportunities and relationships it is looked up from the row.
    """
    if operation not in OPERATIONS:
        raise DomainError(f"unknown outbox operation {operation!r}", field="operation",
                          hint=f"use one of {', '.join(OPERATIONS)}")
    if session.info.get(APPLYING_SYNC):
        return None  # a write made while applying source data is never echoed back
    tenant_of_session = session.info.get("tenant_id")
    if tenant_of_session is not None and tenant_of_session != tenant.id:
        raise DomainError(f"capture for tenant {tenant.id!r} in a session of tenant {tenant_of_session!r}")

    first_id: int | None = None
    for mapping in cached_mappings(tenant).for_entity(entity):
        pushable = {f.target for f in outbound_fields(mapping)}
        if operation == "upsert":
            values = {name: to_jsonable(value) for name, value in changes.items() if name in pushable}
            if not values:
                continue
        else:
            values = {}
        source_id = external_id or _external_id(session, entity, local_id, mapping.connector)
        if operation == "delete" and source_id is None:
            source_id = _pushed_id(session, mapping, local_id)
            if source_id is None:
                # Never reached the source: nothing to delete there, and a create still
                # waiting must not reach it either (the "re-inserted record" anomaly).
                _cancel_waiting(session, mapping, local_id)
                continue
        # The values both sides last agreed on, taken before this change (for the merge).
        remember_base(session, tenant.id, mapping, entity=entity, local_id=local_id, external_id=source_id)
        entry = OutboxEntry(tenant_id=tenant.id, connector=mapping.connector, object_name=mapping.object_name,
                            local_id=local_id, external_id=source_id, operation=operation, changes=values)
        session.add(entry)
        session.flush([entry])
        log.debug("captured %s of %s %s for %s.%s", operation, entity, local_id, mapping.connector, mapping.object_name)
        if first_id is None:
            first_id = entry.id
    return first_id


def _pushed_id(session: Session, mapping, local_id: int) -> str | None:
    """The source id the pusher recorded for a record tether created there."""
    from .writeback_models import SyncShadow

    return session.scalar(select(SyncShadow.external_id).where(
        SyncShadow.connector == mapping.connector, SyncShadow.object_name == mapping.object_name,
        SyncShadow.local_id == local_id))


def _cancel_waiting(session: Session, mapping, local_id: int) -> None:
    session.execute(update(OutboxEntry).where(
        OutboxEntry.connector == mapping.connector, OutboxEntry.object_name == mapping.object_name,
        OutboxEntry.local_id == local_id, OutboxEntry.status.in_(("pending", "failed")))
        .values(status="cancelled", last_error="deleted locally before it was pushed")
        .execution_options(synchronize_session=False))


def _external_id(session: Session, entity: str, local_id: int, connector: str) -> str | None:
    table = ENTITY_TABLES.get(entity)
    if table is None:
        return None
    row = session.get(table, local_id)  # the caller's row is usually in the session already: no query
    if row is None or row.external_source != connector:
        return None
    return row.external_id
