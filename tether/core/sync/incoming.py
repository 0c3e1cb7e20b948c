"""Incoming source versions of records tether has changed: echoes, merges, conflicts.

Every page the poll applies and every batch of webhook notifications passes through
:func:`reconcile_incoming` before the applier, in the applying transaction. Records
tether never changed have no shadow and pass straight through (one indexed select per
page finds that out). For a record with a shadow, each inbound field is compared three
ways, against the base (what both sides last agreed on) and the local change still
waiting to be pushed, if any:

- the source's value equals the base: the source did not change it. When no field
  changed, the version is **our own push coming back** (or a touch that changed nothing
  mapped): nothing is written but the stamp, so no echo reaches local rows, plugins or
  the outbox;
- the source changed a field nobody changed here: it is applied;
- both changed it, to the same value: nothing to decide;
- both changed it, differently: a conflict, settled by the field's policy
  (:mod:`.conflicts`).

A record with a local delete waiting is not revived by a source version that predates
the delete; a source delete wins over local edits waiting to be pushed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from ..contracts import ObjectMapping
from .apply import Row
from .conflicts import ConflictPolicies, drop_pending_fields, open_conflicts, pending_entries, policies_for, record_conflict
from .mappings import inbound_fields
from .shadow import ENTITY_MODELS, canonical, field_types, load_shadows, python_value
from .writeback_models import SyncShadow

if TYPE_CHECKING:
    from ..plugins import TenantContext


@dataclasses.dataclass
class IncomingOutcome:
    rows: list[Row]
    # Source versions that carried nothing new (our own pushes coming back, among them).
    echoes: list[str] = dataclasses.field(default_factory=list)
    # Versions dropped because a local delete is waiting to be pushed.
    kept_deleted: list[str] = dataclasses.field(default_factory=list)
    conflicts: int = 0
    # Fields where the local change was kept over an older source value.
    kept_local_fields: int = 0


def reconcile_incoming(session: Session, tenant: "TenantContext", connector: str, mapping: ObjectMapping,
                       rows: Sequence[Row], *, full_reload: bool = False,
                       policies: ConflictPolicies | None = None) -> IncomingOutcome:
    """Rows to apply, after echo recognition and the three-way merge (see the module doc)."""
    rows = list(rows)
    outcome = IncomingOutcome(rows=rows)
    model = ENTITY_MODELS.get(mapping.entity)
    if not rows or model is None:
        return outcome
    shadows = {s.external_id: s for s in load_shadows(session, connector, mapping.object_name,
                                                       external_ids=[r.external_id for r in rows])}
    if not shadows:
        return outcome
    merger = _Merger(session, tenant, connector, mapping, model, shadows, full_reload,
                     policies or policies_for(tenant, connector))
    kept: list[Row] = []
    for row in rows:
        shadow = shadows.get(row.external_id)
        if shadow is None or merger.merge(row, shadow, outcome):
            kept.append(row)
    merger.write_stamps()
    outcome.rows = kept
    return outcome


class _Merger:
    def __init__(self, session: Session, tenant: "TenantContext", connector: str, mapping: ObjectMapping, model: Any,
                 shadows: dict[str, SyncShadow], full_reload: bool, policies: ConflictPolicies) -> None:
        self.session = session
        self.tenant = tenant
        self.mapping = mapping
        self.model = model
        self.full_reload = full_reload
        self.policies = policies
        self.types = field_types(mapping)
        self.sources: dict[str, list[str]] = {}
        for field in mapping.fields:
            self.sources.setdefault(field.target, []).append(field.source)
        self.targets = [f.target for f in inbound_fields(mapping)]
        local_ids = [s.local_id for s in shadows.values()]
        table = model.__table__
        self.local: dict[int, tuple[dt.datetime | None, bool]] = {}
        for start in range(0, len(local_ids), 900):
            for local_id, stamp, deleted in session.execute(
                    select(table.c.id, table.c.source_modstamp, table.c.is_deleted).where(
                        table.c.tenant_id == tenant.id, table.c.id.in_(local_ids[start:start + 900]))):
                self.local[local_id] = (stamp, deleted)
        self.entries = pending_entries(session, connector, mapping.object_name, local_ids)
        self.conflicts = open_conflicts(session, connector, mapping.object_name, local_ids)
        self.stamps: list[dict[str, Any]] = []

    def _newer(self, incoming: dt.datetime | None, stored: dt.datetime | None) -> bool:
        if incoming is None or stored is None:
            return True
        return incoming >= stored if self.full_reload else incoming > stored

    def merge(self, row: Row, shadow: SyncShadow, outcome: IncomingOutcome) -> bool:
        """Adjust ``row`` in place; False drops it (nothing to write but the stamp)."""
        local = self.local.get(shadow.local_id)
        if local is not None and not self._newer(row.modstamp, local[0]):
            return True  # older than what is stored: the applier leaves it alone
        entries = self.entries.get(shadow.local_id, [])
        if row.deleted:
            reason = f"the record was deleted in {shadow.connector}"
            drop_pending_fields(entries, {k for e in entries for k in (e.changes or {})}, reason)
            for entry in entries:
                if entry.operation == "delete":
                    entry.status, entry.last_error = "superseded", reason
            shadow.base_modstamp = row.modstamp or shadow.base_modstamp
            return True
        if any(e.operation == "delete" for e in entries):
            outcome.kept_deleted.append(row.external_id)
            return False
        shadow.deleted = False  # a live version after our delete is an undelete at the source
        pending: dict[str, tuple[Any, dt.datetime | None]] = {}
        for entry in entries:
            for name, value in (entry.changes or {}).items():
                pending[name] = (value, entry.created_at)
        base = dict(shadow.base or {})
        new_base = dict(base)
        remote_news = False
        for target in self.targets:
            if target not in row.values:
                continue
            type_name = self.types.get(target, "string")
            remote = canonical(type_name, row.values[target])
            known = target in base
            changed_remotely = not known or remote != base[target]
            waiting = self.conflicts.get((shadow.local_id, target))
            if target not in pending:
                new_base[target] = remote
                remote_news = remote_news or changed_remotely
                continue
            local_value, changed_at = pending[target]
            local_canonical = canonical(type_name, local_value)
            if not changed_remotely or remote == local_canonical:
                row.values[target] = python_value(type_name, local_canonical)
                outcome.kept_local_fields += 1
                new_base[target] = remote
                continue
            policy = self.policies.for_field(self.mapping.object_name, target, self.sources.get(target, ()))
            if policy == "newest_wins":
                remote_newer = row.modstamp is not None and changed_at is not None and row.modstamp > changed_at
                winner = "remote" if remote_newer else "local"
            else:
                winner = {"salesforce_wins": "remote", "local_wins": "local", "manual": None}[policy]
            outcome.conflicts += 1
            record_conflict(self.session, shadow, field=target, source_field=(self.sources.get(target) or [None])[0],
                            policy=policy, base=base.get(target), local=local_canonical, remote=remote,
                            remote_modstamp=row.modstamp, local_changed_at=changed_at, resolution=winner,
                            existing=waiting if winner is None else None)
            if winner == "remote":
                drop_pending_fields(entries, [target], f"conflict on {target}: {shadow.connector}'s value won ({policy})")
                new_base[target] = remote
                remote_news = True
            else:
                # Kept here: local_wins pushes it over the source's value; manual holds it.
                row.values[target] = python_value(type_name, local_canonical)
                outcome.kept_local_fields += 1
                if winner == "local":
                    new_base[target] = remote
        if new_base != base:
            shadow.base = new_base
        shadow.base_modstamp = row.modstamp or shadow.base_modstamp
        if remote_news or local is None:
            return True
        outcome.echoes.append(row.external_id)
        self.stamps.append({"row_id": shadow.local_id, "stamp": row.modstamp})
        return False

    def write_stamps(self) -> None:
        """Versions that brought nothing new still move the stored stamp forward (and
        only the stamp: the row's data and ``updated_at`` stay as they were)."""
        stamps = [s for s in self.stamps if s["stamp"] is not None]
        if not stamps:
            return
        table = self.model.__table__
        self.session.connection().execute(
            update(table).where(table.c.id == bindparam("row_id"), table.c.tenant_id == self.tenant.id)
            .values(source_modstamp=bindparam("stamp"), updated_at=table.c.updated_at), stamps)
