"""Conflict policies, the conflict record, and resolving manual conflicts.

A conflict is one field changed on both sides, to different values, since they last
agreed (the shadow's base). Each field resolves by its policy:

- ``salesforce_wins`` (default; ``source_wins`` is the same for any connector): the
  source's value is applied here and the local change of that field is dropped;
- ``local_wins``: the local value stays and is pushed;
- ``newest_wins``: the later of the source's stamp and the time tether captured the
  local change wins (both clocks must be right: they are compared);
- ``manual``: the local value stays, its push is held, and the conflict waits in a queue
  (``tether sync conflicts TENANT``) until a person keeps one side or types a value.

Policies are set in the connector plugin's config: ``conflict_policy`` (the default) and
``conflict_policies``, keyed by object (``Opportunity``) or object and field
(``Opportunity.Amount``, or the tether field: ``Opportunity.amount``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sqlalchemy import select

from ..contracts import ChangeSet
from ..errors import DomainError, NotFound, PluginHookError
from ..store.models import OutboxEntry
from ..store.types import utcnow
from .mappings import cached_mappings
from .outbox import APPLYING_SYNC, capture_local_change
from .shadow import ATTRIBUTE_PREFIX, ENTITY_MODELS, canonical, field_types, merged_base, python_value
from .writeback_models import SyncConflict, SyncShadow

if TYPE_CHECKING:
    from ..plugins import TenantContext

POLICIES = ("salesforce_wins", "local_wins", "newest_wins", "manual")
ALIASES = {"source_wins": "salesforce_wins"}
DEFAULT_POLICY = "salesforce_wins"
OPEN_ENTRY_STATES = ("pending", "failed")


@dataclasses.dataclass(frozen=True)
class ConflictPolicies:
    """The policy of each field of a connector's objects."""

    default: str = DEFAULT_POLICY
    overrides: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def for_field(self, object_name: str, target: str, sources: Iterable[str] = ()) -> str:
        obj = object_name.lower()
        for name in (target, *sources):
            found = self.overrides.get(f"{obj}.{name.lower()}")
            if found:
                return found
        return self.overrides.get(obj, self.default)


def normalise_policy(value: Any) -> str | None:
    name = str(value or "").strip().lower().replace("-", "_")
    name = ALIASES.get(name, name)
    return name if name in POLICIES else None


def check_policy_config(config: Mapping[str, Any]) -> list[str]:
    """Problems with ``conflict_policy`` / ``conflict_policies`` in a connector plugin's config."""
    problems = []
    allowed = ", ".join(POLICIES)
    if config.get("conflict_policy") is not None and normalise_policy(config["conflict_policy"]) is None:
        problems.append(f"conflict_policy: {config['conflict_policy']!r} is not a policy (use one of {allowed})")
    overrides = config.get("conflict_policies") or {}
    if not isinstance(overrides, Mapping):
        return problems + ["conflict_policies: must map Object or Object.Field to a policy"]
    for key, value in overrides.items():
        if normalise_policy(value) is None:
            problems.append(f"conflict_policies.{key}: {value!r} is not a policy (use one of {allowed})")
        if not str(key).strip() or str(key).count(".") > 1:
            problems.append(f"conflict_policies.{key}: name an object (Opportunity) or a field (Opportunity.Amount)")
    return problems


def policies_for(tenant: "TenantContext", connector: str) -> ConflictPolicies:
    spec = cached_mappings(tenant).connectors.get(connector)
    config = tenant.config_for(spec.plugin) if spec is not None and tenant.is_enabled(spec.plugin) else {}
    default = normalise_policy(config.get("conflict_policy")) or DEFAULT_POLICY
    overrides = {str(k).strip().lower(): normalise_policy(v) or default
                 for k, v in (config.get("conflict_policies") or {}).items()}
    return ConflictPolicies(default, overrides)


# -- pending local changes --------------------------------------------------------------

def drop_pending_fields(entries: Sequence[OutboxEntry], fields: Iterable[str], reason: str) -> None:
    """Take ``fields`` out of unpushed outbox entries; entries left empty are superseded."""
    dropped = set(fields)
    for entry in entries:
        if entry.operation != "upsert" or entry.status not in OPEN_ENTRY_STATES:
            continue
        if not dropped & set(entry.changes or {}):
            continue
        entry.changes = {k: v for k, v in entry.changes.items() if k not in dropped}
        if not entry.changes:
            entry.status = "superseded"
            entry.last_error = reason


def pending_entries(session, connector: str, object_name: str, local_ids: Sequence[int],
                    chunk: int = 900) -> dict[int, list[OutboxEntry]]:
    """Unpushed entries (pending or failed) per local id, oldest first."""
    found: dict[int, list[OutboxEntry]] = {}
    keys = sorted(set(local_ids))
    for start in range(0, len(keys), chunk):
        for entry in session.scalars(select(OutboxEntry).where(
                OutboxEntry.connector == connector, OutboxEntry.object_name == object_name,
                OutboxEntry.status.in_(OPEN_ENTRY_STATES), OutboxEntry.local_id.in_(keys[start:start + chunk]))
                .order_by(OutboxEntry.id)):
            found.setdefault(entry.local_id, []).append(entry)
    return found


def open_conflicts(session, connector: str, object_name: str, local_ids: Sequence[int],
                   chunk: int = 900) -> dict[tuple[int, str], SyncConflict]:
    found: dict[tuple[int, str], SyncConflict] = {}
    keys = sorted(set(local_ids))
    for start in range(0, len(keys), chunk):
        for conflict in session.scalars(select(SyncConflict).where(
                SyncConflict.connector == connector, SyncConflict.object_name == object_name,
                SyncConflict.status == "open", SyncConflict.local_id.in_(keys[start:start + chunk]))):
            found[(conflict.local_id, conflict.field)] = conflict
    return found


def record_conflict(session, shadow: SyncShadow, *, field: str, source_field: str | None, policy: str,
                    base: Any, local: Any, remote: Any, remote_modstamp: dt.datetime | None,
                    local_changed_at: dt.datetime | None, resolution: str | None,
                    existing: SyncConflict | None = None) -> SyncConflict:
    """An open conflict (``resolution`` None) or one the policy settled at once."""
    values = {"base": base, "local": local, "remote": remote}
    if existing is not None:  # the source changed the field again while it waits
        existing.values = values
        existing.remote_modstamp = remote_modstamp
        return existing
    now = utcnow()
    conflict = SyncConflict(
        tenant_id=shadow.tenant_id, connector=shadow.connector, object_name=shadow.object_name, entity=shadow.entity,
        local_id=shadow.local_id, external_id=shadow.external_id, field=field, source_field=source_field,
        policy=policy, values=values, remote_modstamp=remote_modstamp, local_changed_at=local_changed_at,
        status="open" if resolution is None else "resolved", resolution=resolution,
        resolved_by=None if resolution is None else f"policy {policy}", created_at=now,
        resolved_at=None if resolution is None else now)
    session.add(conflict)
    return conflict


# -- people resolving conflicts ---------------------------------------------------------

def list_conflicts(tenant: "TenantContext", *, status: str | None = "open", limit: int = 500) -> list[SyncConflict]:
    with tenant.session() as session:
        query = select(SyncConflict).order_by(SyncConflict.id.desc()).limit(limit)
        if status:
            query = query.where(SyncConflict.status == status)
        return list(session.scalars(query))


KEEP = ("local", "remote", "value")


def resolve_conflict(tenant: "TenantContext", conflict_id: int, *, keep: str, value: Any = None,
                     by: str = "cli") -> SyncConflict:
    """Settle an open conflict: keep the local value, the source's, or a new ``value``.

    Keeping the source's value writes it locally (never captured for pushing); keeping
    the local value or a new one pushes it on the next push run.
    """
    if keep not in KEEP:
        raise DomainError(f"cannot keep {keep!r}", field="keep", hint=f"keep one of {', '.join(KEEP)}")
    changed_locally = False
    with tenant.transaction() as session:
        conflict = session.get(SyncConflict, conflict_id)
        if conflict is None:
            raise NotFound(f"no conflict {conflict_id} in tenant {tenant.id!r}",
                           hint=f"list them with `tether sync conflicts {tenant.id}`")
        if conflict.status != "open":
            raise DomainError(f"conflict {conflict_id} is already {conflict.status} ({conflict.resolution})",
                              hint="only open conflicts can be resolved")
        mapping = cached_mappings(tenant).for_object(conflict.connector, conflict.object_name)
        if mapping is None:
            raise DomainError(f"tenant {tenant.id!r} no longer maps {conflict.connector} {conflict.object_name}")
        type_name = field_types(mapping).get(conflict.field, "string")
        shadow = session.scalar(select(SyncShadow).where(
            SyncShadow.connector == conflict.connector, SyncShadow.object_name == conflict.object_name,
            SyncShadow.local_id == conflict.local_id))
        remote = conflict.values.get("remote")
        if keep == "value":
            try:
                chosen = canonical(type_name, python_value(type_name, value))
            except (ValueError, TypeError, ArithmeticError):
                raise DomainError(f"{value!r} is not a valid {type_name} for {conflict.field}", field="value") from None
        else:
            chosen = conflict.values.get(keep)
        entries = pending_entries(session, conflict.connector, conflict.object_name, [conflict.local_id]).get(
            conflict.local_id, [])
        if shadow is not None:
            merged_base(shadow, {conflict.field: remote})  # what the source holds now
        if keep == "remote":
            _set_local(session, conflict.entity, conflict.local_id, conflict.field, python_value(type_name, remote))
            drop_pending_fields(entries, [conflict.field], f"conflict {conflict.id}: kept the source's value")
            changed_locally = True
        else:
            if keep == "value":
                _set_local(session, conflict.entity, conflict.local_id, conflict.field, python_value(type_name, chosen))
                changed_locally = True
                drop_pending_fields(entries, [conflict.field], f"conflict {conflict.id}: replaced by a new value")
                entries = []
            if not any(conflict.field in (e.changes or {}) for e in entries if e.operation == "upsert"):
                capture_local_change(tenant, session, entity=conflict.entity, local_id=conflict.local_id,
                                     changes={conflict.field: python_value(type_name, chosen)},
                                     external_id=conflict.external_id)
        conflict.status = "resolved"
        conflict.resolution = keep
        conflict.resolved_by = by
        conflict.resolved_at = utcnow()
        if keep == "value":
            conflict.values = {**conflict.values, "chosen": chosen}
    if changed_locally:
        try:
            tenant.hooks.tether_records_changed(changes=ChangeSet(entity=conflict.entity, updated=[conflict.local_id],
                                                                  origin="sync" if keep == "remote" else "local",
                                                                  connector=conflict.connector))
        except PluginHookError:
            pass  # committed; a plugin's trouble is its own
    return conflict


def _set_local(session, entity: str, local_id: int, field: str, value: Any) -> None:
    model = ENTITY_MODELS.get(entity)
    if model is None:
        return  # outbound-only entities keep no synced copy here
    row = session.get(model, local_id)
    if row is None:
        return
    previous = session.info.get(APPLYING_SYNC)
    session.info[APPLYING_SYNC] = True
    try:
        if field.startswith(ATTRIBUTE_PREFIX):
            row.attributes = {**(row.attributes or {}), field[len(ATTRIBUTE_PREFIX):]: value}
        else:
            setattr(row, field, value)
        session.flush([row])
    finally:
        session.info[APPLYING_SYNC] = previous
