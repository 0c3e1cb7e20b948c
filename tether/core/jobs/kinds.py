"""Which jobs a tenant has: the core's own kinds and its plugins' ``JobSpec``s.

Core kinds (see :mod:`tether.core.jobs.builtin`):

- ``sync`` (per object): an incremental inbound sync, every 5 minutes by default;
- ``reconcile`` (per object): hard deletes by id-set comparison and a formula refresh,
  nightly at a per-tenant minute between 02:00 and 05:00 UTC;
- ``inbox`` (per tenant): apply stored webhook notifications; queued by each received
  message, and every 5 minutes as a safety net;
- ``outbox`` (per tenant): push local changes, every minute, when the sync engine has a
  pusher and the tenant maps fields outbound.

Plugins add theirs through ``tether_scheduled_jobs``; the tenant manifest's
``schedules`` change any job's timing by name (and object).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from ..contracts import JobSpec
from ..errors import PluginHookError, TetherError, UnknownJob

if TYPE_CHECKING:
    from ..plugins import TenantContext
    from ..runtime import Runtime
    from .base import JobRequest

log = logging.getLogger(__name__)

DEFAULT_SYNC_EVERY = 300
DEFAULT_INBOX_EVERY = 300  # a safety net: each stored message queues the job at once
DEFAULT_OUTBOX_EVERY = 60


@dataclasses.dataclass(frozen=True)
class JobCall:
    """What a core job function receives."""

    tenant: "TenantContext"
    request: "JobRequest"
    attempt: int = 1


@dataclasses.dataclass(frozen=True)
class JobKind:
    """A job a tenant can run, and its default timing."""

    name: str
    run: Callable[[JobCall], Any]
    per_object: bool = False
    # "core", or "plugin:<name>" for a plugin's JobSpec.
    source: str = "core"
    every_seconds: int | None = None
    cron: str | None = None
    # A plugin's lock key, scoped to the tenant (None: the job's own name).
    lock: str | None = None
    # True when the job writes its own JobRun rows (the sync engine does).
    records_own_run: bool = False
    description: str = ""

    @property
    def plugin(self) -> str | None:
        return self.source.split(":", 1)[1] if self.source.startswith("plugin:") else None


@dataclasses.dataclass(frozen=True)
class SyncedObject:
    connector: str
    object_name: str
    entity: str
    outbound: bool


def synced_objects(tenant: "TenantContext") -> list[SyncedObject]:
    """The tenant's mapped objects, in the order the sync engine applies them."""
    from ..sync.apply import ENTITY_ORDER
    from ..sync.mappings import inbound_fields, outbound_fields, resolve_mappings

    mappings = resolve_mappings(tenant)
    found = [SyncedObject(m.connector, m.object_name, m.entity, bool(outbound_fields(m)))
             for m in mappings.objects if m.connector in mappings.connectors and inbound_fields(m)]
    return sorted(found, key=lambda o: (ENTITY_ORDER.get(o.entity, 99), o.connector, o.object_name))


def job_catalog(tenant: "TenantContext") -> dict[str, JobKind]:
    """Every job of the tenant by name: the core's, then its plugins' (a clash keeps the core's)."""
    from . import builtin

    catalog = {kind.name: kind for kind in builtin.core_kinds(tenant)}
    for spec in builtin.core_area_specs(tenant):
        catalog.setdefault(spec.name, _kind_of(spec, source="core"))
    for spec in plugin_job_specs(tenant):
        if spec.name in catalog:
            log.warning("tenant %s: plugin %r offers a job named %r, which the core already has; it is ignored",
                        tenant.id, spec.plugin, spec.name)
            continue
        catalog[spec.name] = _kind_of(spec)
    return catalog


def plugin_job_specs(tenant: "TenantContext") -> list[JobSpec]:
    specs: list[JobSpec] = []
    for batch in tenant.hooks.tether_scheduled_jobs() or []:
        for spec in batch or []:
            if not isinstance(spec, JobSpec):
                raise PluginHookError(plugin=getattr(spec, "plugin", "unknown") or "unknown", hook="tether_scheduled_jobs",
                                      tenant=tenant.id, cause=TypeError(f"returned {type(spec).__name__}, not a JobSpec"))
            specs.append(spec)
    return specs


def resolve(tenant: "TenantContext", job: str, catalog: dict[str, JobKind] | None = None) -> JobKind:
    if catalog is None and job in CORE_JOBS:  # the hot path: no plugin hooks to run for a core job
        from . import builtin

        for kind in builtin.core_kinds(tenant):
            if kind.name == job:
                return kind
    catalog = catalog if catalog is not None else job_catalog(tenant)
    try:
        return catalog[job]
    except KeyError:
        raise UnknownJob(tenant.id, job, list(catalog)) from None


def _kind_of(spec: JobSpec, source: str | None = None) -> JobKind:
    def run(call: JobCall, _spec: JobSpec = spec) -> Any:
        return _spec.run(call.tenant)

    return JobKind(name=spec.name, run=run, source=source or f"plugin:{spec.plugin or 'unknown'}",
                   every_seconds=spec.every, cron=spec.cron, lock=spec.lock_key,
                   description=(spec.run.__doc__ or "").strip().splitlines()[0] if spec.run.__doc__ else "")


CORE_JOBS = frozenset({"sync", "reconcile", "inbox", "outbox"})  # their locks need no lookup
_LOCK_CACHE: dict[tuple[int, str, str], tuple[float, str | None]] = {}
_LOCK_TTL = 60.0


def job_lock(runtime: "Runtime", tenant_id: str, job: str) -> str | None:
    """A plugin job's own lock name (cached a minute); None for core jobs and unknown ones.

    A request queued by hand or by a webhook does not carry the plugin's lock, so engines
    look it up here before queueing, and the lock key is the same whoever queued the job.
    """
    if job in CORE_JOBS:
        return None
    key = (id(runtime), tenant_id, job)
    now = time.monotonic()
    cached = _LOCK_CACHE.get(key)
    if cached is not None and now - cached[0] < _LOCK_TTL:
        return cached[1]
    try:
        kind = job_catalog(runtime.context(tenant_id)).get(job)
    except TetherError as exc:  # the job fails with this error when it runs; queue it unlocked
        log.debug("lock of %s %s unknown: %s", tenant_id, job, exc.one_line())
        return None
    lock = kind.lock if kind else None
    if len(_LOCK_CACHE) > 10_000:
        _LOCK_CACHE.clear()
    _LOCK_CACHE[key] = (now, lock)
    return lock
