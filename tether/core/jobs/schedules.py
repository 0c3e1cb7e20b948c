"""Each tenant's schedules: defaults, plugin jobs, and the manifest's overrides.

The effective schedules of a tenant are computed from its mapped objects, its plugins'
``JobSpec``s and its manifest's ``schedules`` entries (``{job, object, every | cron,
enabled}``), which override timing by job name, for one object or (without ``object``)
for every object of a per-object job; an entry for one object beats one for all. They are written to ``job_schedules``, where an
operator's pause survives restarts and manifest changes; both engines read them there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import TYPE_CHECKING, Iterable, Sequence

from sqlalchemy import delete, func, select, true, update

from ..errors import JobError, TetherError
from ..store.models import PluginInstallation, Tenant
from ..store.types import utcnow
from .base import JobRequest
from .builtin import nightly_cron
from .kinds import JobKind, job_catalog, synced_objects
from .models import JobSchedule
from .timing import describe, make_trigger, parse_duration

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

    from ..plugins import PluginHost, TenantContext
    from ..store import Store

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When one job of one tenant (maybe for one object) fires."""

    tenant_id: str
    job: str
    object_name: str | None
    connector: str | None
    every_seconds: int | None
    cron: str | None
    enabled: bool = True
    paused: bool = False
    source: str = "default"
    timezone: str = "UTC"
    lock: str | None = None

    @property
    def key(self) -> str:
        """Stable id of the schedule (the APScheduler job id, the procrastinate periodic id)."""
        return f"{self.tenant_id}|{self.job}|{self.object_name or ''}"

    @property
    def timing(self) -> str:
        return describe(self.every_seconds, self.cron)

    @property
    def active(self) -> bool:
        return self.enabled and not self.paused

    def trigger(self) -> "BaseTrigger":
        return make_trigger(every_seconds=self.every_seconds, cron=self.cron, spread_key=self.key,
                            timezone=self.timezone)

    def request(self, scheduled_for: dt.datetime | None = None) -> JobRequest:
        return JobRequest(tenant_id=self.tenant_id, job=self.job, object_name=self.object_name,
                          connector=self.connector, scheduled_for=scheduled_for, origin="schedule").with_keys(lock=self.lock)


@dataclasses.dataclass
class TenantSchedules:
    tenant_id: str
    schedules: list[Schedule]
    # Manifest entries that could not be applied, each saying why.
    problems: list[str] = dataclasses.field(default_factory=list)


def tenant_schedules(tenant: "TenantContext") -> TenantSchedules:
    """The tenant's effective schedules (``paused`` is not known here: it lives in the table)."""
    catalog = job_catalog(tenant)
    objects = synced_objects(tenant)
    timezone = str(tenant.settings.get("timezone") or "UTC")
    found: dict[tuple[str, str | None], Schedule] = {}

    def add(kind: JobKind, object_name: str | None, connector: str | None) -> None:
        cron = nightly_cron(tenant.id, kind.name, object_name) if kind.cron == "nightly" else kind.cron
        if not (kind.every_seconds or cron):
            return  # a plugin job without timing runs only when asked
        found[(kind.name, object_name)] = Schedule(
            tenant.id, kind.name, object_name, connector, kind.every_seconds, cron,
            source="default" if kind.source == "core" else kind.source, timezone=timezone, lock=kind.lock)

    for kind in catalog.values():
        if kind.per_object:
            for obj in objects:
                add(kind, obj.object_name, obj.connector)
        else:
            add(kind, None, None)

    problems: list[str] = []
    entries = list(enumerate(tenant.schedules or []))
    # An entry naming its object is more specific than one for all objects: it wins, in any order.
    entries.sort(key=lambda item: bool(item[1].get("object")))
    for index, entry in entries:
        where = f"schedules[{index}]"
        kind = catalog.get(entry.get("job", ""))
        if kind is None:
            problems.append(f"{where}: no job named {entry.get('job')!r} (jobs: {', '.join(sorted(catalog))})")
            continue
        try:
            every = parse_duration(entry["every"]) if entry.get("every") else None
        except JobError as exc:
            problems.append(f"{where}.every: {exc.message}")
            continue
        targets = _targets(kind, entry.get("object"), objects, where, problems)
        for object_name, connector in targets:
            schedule = Schedule(tenant.id, kind.name, object_name, connector, None if entry.get("cron") else every,
                                entry.get("cron") or None, enabled=bool(entry.get("enabled", True)),
                                source="manifest", timezone=timezone, lock=kind.lock)
            try:
                schedule.trigger()
            except JobError as exc:
                problems.append(f"{where}: {exc.message}")
                continue
            found[(kind.name, object_name)] = schedule
    return TenantSchedules(tenant.id, list(found.values()), problems)


def _targets(kind: JobKind, object_name: str | None, objects, where: str, problems: list[str]) -> list[tuple[str | None, str | None]]:
    if not kind.per_object:
        if object_name:
            problems.append(f"{where}.object: job {kind.name!r} does not run per object; remove 'object'")
            return []
        return [(None, None)]
    if not object_name:
        return [(o.object_name, o.connector) for o in objects]
    matches = [o for o in objects if o.object_name.lower() == object_name.lower()]
    if not matches:
        problems.append(f"{where}.object: {object_name!r} is not synced for this tenant "
                        f"(synced: {', '.join(o.object_name for o in objects) or 'none'})")
    return [(o.object_name, o.connector) for o in matches]


# -- the job_schedules table -------------------------------------------------------------


def save_schedules(store: "Store", computed: TenantSchedules) -> list[Schedule]:
    """Make the tenant's rows match ``computed``, keeping operators' pauses; return them."""
    with store.tenant_transaction(computed.tenant_id) as session:
        rows = {(r.job, r.object_name): r for r in session.scalars(select(JobSchedule))}
        wanted = {(s.job, s.object_name or ""): s for s in computed.schedules}
        for key, row in rows.items():
            if key not in wanted:
                session.delete(row)
        result: list[Schedule] = []
        for key, schedule in wanted.items():
            row = rows.get(key)
            if row is None:
                row = JobSchedule(job=schedule.job, object_name=key[1])
                session.add(row)
            values = {"connector": schedule.connector, "every_seconds": schedule.every_seconds, "cron": schedule.cron,
                      "source": schedule.source, "enabled": schedule.enabled, "lock": schedule.lock,
                      "timezone": schedule.timezone}
            timing_changed = ((row.every_seconds, row.cron, row.timezone)
                              != (schedule.every_seconds, schedule.cron, schedule.timezone))
            for name, value in values.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
            if timing_changed:
                row.next_run_at = None  # the engine computes it from the new timing
            result.append(dataclasses.replace(schedule, paused=bool(row.paused)))
    return result


def load_schedules(store: "Store", tenant_ids: Iterable[str] | None = None) -> list[JobSchedule]:
    with store.admin_session() as session:
        query = select(JobSchedule).order_by(JobSchedule.tenant_id, JobSchedule.job, JobSchedule.object_name)
        if tenant_ids is not None:
            query = query.where(JobSchedule.tenant_id.in_(list(tenant_ids)))
        return list(session.scalars(query))


def set_paused(store: "Store", tenant_id: str, paused: bool, *, job: str | None = None,
               object_name: str | None = None) -> int:
    """Pause or resume a tenant's schedules (all, one job, or one job's object); rows changed."""
    with store.tenant_transaction(tenant_id) as session:
        query = update(JobSchedule).where(JobSchedule.tenant_id == tenant_id, JobSchedule.paused != paused)
        if job:
            query = query.where(JobSchedule.job == job)
        if object_name:
            query = query.where(func.lower(JobSchedule.object_name) == object_name.lower())
        changed = session.execute(query.values(paused=paused, updated_at=utcnow()).execution_options(
            synchronize_session=False)).rowcount
        if not changed:
            exists = select(func.count()).select_from(JobSchedule).where(JobSchedule.tenant_id == tenant_id)
            if job:
                exists = exists.where(JobSchedule.job == job)
            if object_name:
                exists = exists.where(func.lower(JobSchedule.object_name) == object_name.lower())
            if not session.scalar(exists):
                what = " ".join(filter(None, [job, object_name])) or "any job"
                raise JobError(f"tenant {tenant_id!r} has no schedule for {what}",
                               hint="see them with `tether jobs list --tenant " + tenant_id + "`")
    return changed


def to_schedule(row: JobSchedule) -> Schedule:
    return Schedule(row.tenant_id, row.job, row.object_name or None, row.connector, row.every_seconds, row.cron,
                    enabled=row.enabled, paused=row.paused, source=row.source, timezone=row.timezone or "UTC",
                    lock=row.lock)


def tenants_fingerprint(store: "Store") -> tuple:
    """Changes whenever a tenant, its plugins or its schedules change (cheap to poll)."""
    with store.admin_session() as session:
        tenants = session.execute(select(func.count(), func.max(Tenant.updated_at))).one()
        plugins = session.execute(select(func.count(), func.max(PluginInstallation.updated_at))).one()
        schedules = session.execute(select(func.count(), func.max(JobSchedule.updated_at))).one()
    return tuple(tenants) + tuple(plugins) + tuple(schedules)


def refresh_all(store: "Store", host: "PluginHost", tenant_ids: Sequence[str] | None = None) -> dict[str, TenantSchedules]:
    """Recompute and save the schedules of every tenant (or those named).

    A tenant whose plugins fail while listing jobs keeps its previous schedules and the
    failure is reported in its ``problems``; other tenants are unaffected.
    """
    from ..tenants import list_tenants, load_context

    ids = list(tenant_ids) if tenant_ids is not None else [t.id for t in list_tenants(store)]
    results: dict[str, TenantSchedules] = {}
    for tenant_id in ids:
        try:
            context = load_context(store, host, tenant_id)
            computed = tenant_schedules(context)
            saved = save_schedules(store, computed)
            results[tenant_id] = TenantSchedules(tenant_id, saved, computed.problems)
        except TetherError as exc:
            log.error("schedules of tenant %s not refreshed: %s", tenant_id, exc.one_line())
            kept = [to_schedule(r) for r in load_schedules(store, [tenant_id])]
            results[tenant_id] = TenantSchedules(tenant_id, kept, [exc.one_line()])
        for problem in results[tenant_id].problems:
            log.warning("tenant %s: %s", tenant_id, problem)
    if tenant_ids is None:
        with store.admin_session() as session, session.begin():
            session.execute(delete(JobSchedule).where(JobSchedule.tenant_id.not_in(ids) if ids else true()))
    return results
