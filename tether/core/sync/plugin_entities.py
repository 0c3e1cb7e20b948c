"""Entities plugins own (``tether_entity_appliers``), applied by the engine like core entities.

A plugin offers an :class:`~tether.core.contracts.EntityApplierSpec`; :func:`applier_class`
wraps it in the engine's applier interface so the poll, the webhook inbox and the nightly
reconcile drive it exactly as they drive companies and opportunities: the page and its
cursor commit in one transaction, ``tether_records_changed`` follows the commit.

Records tether itself wrote to the source (its shadow rows, see :mod:`.shadow`) are
recognised here before the plugin sees them: a version whose pushed fields all equal what
tether pushed is our own write coming back and changes nothing; otherwise only the fields
the source changed are handed over, with the local row's id, so no copy is ever created
and the local row keeps everything the source does not hold (its company, its author...).
The source wins for the fields it changed: waiting local changes of those fields are dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sqlalchemy.orm import Session

from ..contracts import EntityApplied, EntityApplierSpec, EntityPage, ObjectMapping, SyncedRecord
from ..errors import DomainError, PluginHookError, TetherError
from .apply import Outcome, Row, _dedupe
from .conflicts import drop_pending_fields, pending_entries
from .mappings import inbound_fields
from .shadow import canonical, field_types, load_shadows

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

CORE_ENTITIES = frozenset({"company", "relationship", "opportunity"})
HOOK = "tether_entity_appliers"


def entity_appliers(tenant: "TenantContext") -> dict[str, EntityApplierSpec]:
    """The plugin-owned entities of ``tenant`` by name (one hook call)."""
    if not tenant.hooks.implementers(HOOK):
        return {}
    specs: dict[str, EntityApplierSpec] = {}
    for offered in tenant.hooks.tether_entity_appliers() or []:
        for spec in offered or []:
            owner = spec.plugin or "a plugin"
            if spec.entity in CORE_ENTITIES:
                raise DomainError(f"{owner} offers an applier for {spec.entity!r}, which the core applies itself",
                                  field="entity", hint=f"fix plugin {owner!r}: it may apply only its own entities")
            if spec.entity in specs:
                raise DomainError(
                    f"entity {spec.entity!r} is applied by two plugins ({specs[spec.entity].plugin or '?'} and "
                    f"{owner}) in tenant {tenant.id!r}", field="entity", hint="disable one of them for this tenant")
            specs[spec.entity] = spec
    return specs


class PluginEntityApplier:
    """The engine's applier interface over one plugin's :class:`EntityApplierSpec`.

    Subclassed per spec and mapping by :func:`applier_class` (the engine builds appliers
    from a class and checks mapped fields on the class).
    """

    spec: EntityApplierSpec
    mapping: ObjectMapping
    entity: str = ""
    model: Any = None

    def __init__(self, session_dialect: str, tenant_id: str, source: str, targets: Iterable[str], *,
                 full_reload: bool = False, tenant: "TenantContext | None" = None) -> None:
        if tenant is None:
            raise ValueError("a plugin entity applier needs the tenant it applies for")
        self.dialect = session_dialect
        self.tenant_id = tenant_id
        self.source = source
        self.targets = list(dict.fromkeys(targets))
        self.full_reload = full_reload
        self.tenant = tenant
        self.types = field_types(self.mapping)
        self.inbound_targets = [f.target for f in inbound_fields(self.mapping)]

    @classmethod
    def check_targets(cls, targets: Iterable[str]) -> list[str]:
        known = cls.spec.fields
        return [f"{cls.entity} has no field {target!r} (fields: {', '.join(sorted(known))})"
                for target in targets if target not in known]

    def apply(self, session: Session, rows: Sequence[Row]) -> Outcome:
        outcome = Outcome()
        rows = _dedupe(rows)
        records = self._reconcile_own(session, rows, outcome)
        if not records:
            return outcome
        page = EntityPage(connector=self.source, object_name=self.mapping.object_name, records=records,
                          full_reload=self.full_reload)
        try:
            applied = self.spec.apply(self.tenant, session, page)
        except TetherError:
            raise
        except Exception as exc:  # a bug in the plugin: name it, as a hook failure would
            raise PluginHookError(plugin=self.spec.plugin or "unknown", hook=f"{HOOK} ({self.entity} apply)",
                                  tenant=self.tenant_id, cause=exc) from exc
        if not isinstance(applied, EntityApplied):
            raise PluginHookError(plugin=self.spec.plugin or "unknown", hook=f"{HOOK} ({self.entity} apply)",
                                  tenant=self.tenant_id,
                                  cause=TypeError(f"apply returned {type(applied).__name__}, not EntityApplied"))
        outcome.created.extend(applied.created)
        outcome.updated.extend(applied.updated)
        outcome.deleted.extend(applied.deleted)
        outcome.unchanged += applied.unchanged
        outcome.warnings.extend(applied.warnings)
        return outcome

    # -- records tether wrote to the source ------------------------------------------------

    def _reconcile_own(self, session: Session, rows: Sequence[Row], outcome: Outcome) -> list[SyncedRecord]:
        """Records for the plugin: others' as they are, ours reduced to what the source changed."""
        object_name = self.mapping.object_name
        shadows = {s.external_id: s for s in load_shadows(session, self.source, object_name,
                                                           external_ids=[r.external_id for r in rows])}
        if not shadows:
            return [SyncedRecord(r.external_id, r.modstamp, r.deleted, r.values) for r in rows]
        entries = pending_entries(session, self.source, object_name, [s.local_id for s in shadows.values()])
        records: list[SyncedRecord] = []
        for row in rows:
            shadow = shadows.get(row.external_id)
            if shadow is None:
                records.append(SyncedRecord(row.external_id, row.modstamp, row.deleted, row.values))
                continue
            if not self._newer(row.modstamp, shadow.base_modstamp):
                outcome.unchanged += 1  # a version older than one already taken
                continue
            waiting = entries.get(shadow.local_id, [])
            if shadow.deleted or any(e.operation == "delete" for e in waiting):
                outcome.unchanged += 1  # deleted here (pushed or waiting): an older copy does not revive it
                continue
            shadow.base_modstamp = row.modstamp or shadow.base_modstamp
            if row.deleted:
                drop_pending_fields(waiting, {k for e in waiting for k in (e.changes or {})},
                                    f"the record was deleted in {self.source}")
                shadow.deleted = True
                records.append(SyncedRecord(row.external_id, row.modstamp, True, {}, local_id=shadow.local_id))
                continue
            changed = self._changed_fields(row, shadow.base or {})
            if not changed:
                outcome.unchanged += 1  # our own push coming back
                continue
            shadow.base = {**(shadow.base or {}), **{t: canonical(self.types.get(t, "string"), row.values.get(t))
                                                      for t in changed}}
            drop_pending_fields(waiting, changed, f"changed in {self.source} after tether's change")
            values = {t: row.values.get(t) for t in changed}
            values["_source"] = row.values.get("_source")
            records.append(SyncedRecord(row.external_id, row.modstamp, False, values, local_id=shadow.local_id))
        return records

    def _changed_fields(self, row: Row, base: dict[str, Any]) -> list[str]:
        """Inbound fields tether pushed whose source value differs from what it pushed.

        Fields tether never pushed (a Task's AccountId, its owner) say nothing about the
        local row, which has its own values for them.
        """
        return [target for target in self.inbound_targets
                if target in base and target in row.values
                and canonical(self.types.get(target, "string"), row.values[target]) != base[target]]

    def _newer(self, incoming: dt.datetime | None, stored: dt.datetime | None) -> bool:
        if incoming is None or stored is None:
            return True
        return incoming >= stored if self.full_reload else incoming > stored


def applier_class(spec: EntityApplierSpec, mapping: ObjectMapping) -> type[PluginEntityApplier]:
    """An applier class for ``spec`` applying pages of ``mapping``'s object."""
    name = "".join(part.title() for part in spec.entity.split("_")) + "Applier"
    return type(name, (PluginEntityApplier,), {"spec": spec, "mapping": mapping, "entity": spec.entity,
                                               "model": spec.model})


__all__ = ["CORE_ENTITIES", "PluginEntityApplier", "applier_class", "entity_appliers"]
