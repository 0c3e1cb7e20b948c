"""CTA tasks as Salesforce Tasks: written through the core's outbox, completions polled back.

Optional per tenant (``task_sync: true``). The core maps one tether entity per connector
object, and the Timeline plugin already maps its activities to Salesforce's ``Task``, so
CTA tasks travel on a connector of their own: ``cockpit_tasks``, which opens the
tenant's Salesforce connector (``task_sync_connector``) and maps ``Task`` to the
``cta_task`` entity, outbound only. Every local change of a task is captured in the
outbox in the transaction that makes it; the core's pusher coalesces and writes them
and keeps each Task's Salesforce id in its shadow rows.

Coming back: the ``cockpit_task_status`` job reads the open synced tasks' Tasks by id
(one query per 200, the connector's ``fetch``) and completes in tether the ones
completed in Salesforce. Tasks with a change still waiting in the outbox are left
alone, so a local reopen is not undone by the Task's old state. A completion that
comes back is not captured again (no echo).
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from tether.core.connectors import ConnectorSpec
from tether.core.contracts import FieldMapping, ObjectMapping
from tether.core.errors import ConfigurationError
from tether.core.plugins import TenantContext
from tether.core.store import Company, OutboxEntry
from tether.core.store.types import utcnow
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.writeback_models import SyncShadow

from .config import PLUGIN, settings_of
from .models import Cta, CtaTask

CONNECTOR = "cockpit_tasks"
ENTITY = "cta_task"
OBJECT = "Task"
FIELDS = ("subject", "description", "due_date", "status", "priority", "what_id")
STATUS_TO_CRM = {"open": "Not Started", "completed": "Completed"}
PRIORITY_TO_CRM = {"high": "High", "medium": "Normal", "low": "Low"}
IDS_PER_FETCH = 2000
COMPLETED_BY_CRM = "salesforce"

log = logging.getLogger(__name__)


def _f(source: str, target: str, type_: str = "string") -> FieldMapping:
    return FieldMapping(source=source, target=target, type=type_, direction="outbound")  # type: ignore[arg-type]


TASK_MAPPING = ObjectMapping(
    connector=CONNECTOR, object_name=OBJECT, entity=ENTITY,  # type: ignore[arg-type]
    fields=(_f("Subject", "subject"), _f("Description", "description", "text"), _f("ActivityDate", "due_date", "date"),
            _f("Status", "status", "picklist"), _f("Priority", "priority", "picklist"),
            _f("WhatId", "what_id", "reference")),
)


def connector_specs(tenant: TenantContext) -> list[ConnectorSpec]:
    if not settings_of(tenant).task_sync:
        return []
    target = settings_of(tenant).task_sync_connector
    return [ConnectorSpec(name=CONNECTOR, plugin=PLUGIN, factory=open_connector, objects=(OBJECT,),
                          description=f"Cockpit CTA tasks as {OBJECT}s, through the {target} connector")]


def object_mappings(tenant: TenantContext, connector: str) -> list[ObjectMapping]:
    return [TASK_MAPPING] if connector == CONNECTOR and settings_of(tenant).task_sync else []


def open_connector(tenant: TenantContext) -> Any:
    """The tenant's connector that reaches the CRM (Salesforce's, by default)."""
    target = settings_of(tenant).task_sync_connector
    for offered in tenant.hooks.tether_connectors() or []:
        for spec in offered or []:
            if spec.name == target and spec.name != CONNECTOR:
                return spec.factory(tenant)
    raise ConfigurationError(
        f"tenant {tenant.id!r}: Cockpit task sync writes through connector {target!r}, which no enabled plugin offers",
        hint="enable the salesforce plugin, or set plugins: cockpit: config: task_sync: false")


# -- capturing local changes -----------------------------------------------------------------


def _values(task: Any, cta: Any, account_id: str | None) -> dict[str, Any]:
    notes = [task.description] if task.description else []
    notes.append(f"Cockpit CTA #{cta.id}: {cta.name}")
    if task.owner:
        notes.append(f"Owner in tether: {task.owner}")
    return {"subject": task.name, "description": "\n\n".join(notes), "due_date": task.due_date,
            "status": STATUS_TO_CRM.get(task.status, "Not Started"),
            "priority": PRIORITY_TO_CRM.get(cta.priority, "Normal"), "what_id": account_id}


def _context(tenant: TenantContext, session: Session, task_ids: Sequence[int]) -> list[tuple[Any, Any, str | None]]:
    target = settings_of(tenant).task_sync_connector
    rows = []
    for start in range(0, len(task_ids), 900):
        part = list(task_ids[start:start + 900])
        rows += session.execute(
            select(CtaTask, Cta, Company.external_source, Company.external_id)
            .join(Cta, and_(Cta.id == CtaTask.cta_id, Cta.tenant_id == CtaTask.tenant_id))
            .join(Company, and_(Company.id == Cta.company_id, Company.tenant_id == Cta.tenant_id))
            .where(CtaTask.tenant_id == tenant.id, CtaTask.id.in_(part)).order_by(CtaTask.id)).all()
    return [(task, cta, external_id if source == target else None) for task, cta, source, external_id in rows]


def capture_new_tasks(tenant: TenantContext, session: Session, task_ids: Sequence[int]) -> None:
    """Queue newly created tasks for the CRM (in the caller's transaction)."""
    if not settings_of(tenant).task_sync or not task_ids:
        return
    for task, cta, account_id in _context(tenant, session, task_ids):
        capture_local_change(tenant, session, entity=ENTITY, local_id=task.id, changes=_values(task, cta, account_id))


def capture_task_change(tenant: TenantContext, session: Session, task: CtaTask, changed: Sequence[str]) -> None:
    """Queue a changed task's changed CRM fields."""
    if not settings_of(tenant).task_sync:
        return
    crm = {"name": "subject", "description": "description", "owner": "description", "due_date": "due_date",
           "status": "status", "priority": "priority"}
    keys = {crm[name] for name in changed if name in crm}
    if not keys:
        return
    [(task, cta, account_id)] = _context(tenant, session, [task.id])
    values = _values(task, cta, account_id)
    capture_local_change(tenant, session, entity=ENTITY, local_id=task.id, changes={k: values[k] for k in keys})


def capture_task_deletes(tenant: TenantContext, session: Session, task_ids: Sequence[int]) -> None:
    if not settings_of(tenant).task_sync:
        return
    for task_id in task_ids:
        capture_local_change(tenant, session, entity=ENTITY, local_id=task_id, changes={}, operation="delete")


# -- completions coming back ---------------------------------------------------------------------


def poll_task_status(tenant: TenantContext) -> dict[str, Any]:
    """Complete in tether the synced open tasks whose Task was completed in the CRM."""
    if not settings_of(tenant).task_sync:
        return {"status": "off", "checked": 0, "completed": 0}
    with tenant.session() as session:
        synced = dict(session.execute(
            select(SyncShadow.external_id, CtaTask.id)
            .join(CtaTask, and_(CtaTask.id == SyncShadow.local_id, CtaTask.tenant_id == SyncShadow.tenant_id))
            .where(SyncShadow.tenant_id == tenant.id, SyncShadow.connector == CONNECTOR,
                   SyncShadow.entity == ENTITY, SyncShadow.external_id.is_not(None), SyncShadow.deleted.is_(False),
                   CtaTask.status == "open")).all())
        waiting = set()
        ids = list(synced.values())
        for start in range(0, len(ids), 900):
            waiting.update(session.scalars(select(OutboxEntry.local_id).where(
                OutboxEntry.tenant_id == tenant.id, OutboxEntry.connector == CONNECTOR,
                OutboxEntry.status.in_(("pending", "failed")), OutboxEntry.local_id.in_(ids[start:start + 900]))))
    candidates = {external_id: task_id for external_id, task_id in synced.items() if task_id not in waiting}
    if not candidates:
        return {"status": "success", "checked": 0, "completed": 0}
    by_prefix = {external_id[:15]: task_id for external_id, task_id in candidates.items()}
    connector = open_connector(tenant)
    try:
        fetch = getattr(connector, "fetch", None)
        if fetch is None:
            raise ConfigurationError(f"connector {settings_of(tenant).task_sync_connector!r} cannot read records by id",
                                     hint="task completions come back only from a connector with fetch()")
        records: list[dict[str, Any]] = []
        external_ids = list(candidates)
        for start in range(0, len(external_ids), IDS_PER_FETCH):
            records += fetch(OBJECT, external_ids[start:start + IDS_PER_FETCH], ["Status", "IsClosed"])
    finally:
        connector.close()
    done = sorted({by_prefix[str(r.get("Id", ""))[:15]] for r in records
                   if str(r.get("Id", ""))[:15] in by_prefix and not r.get("IsDeleted")
                   and (r.get("IsClosed") is True or r.get("Status") == "Completed")})
    if done:
        now = utcnow()
        with tenant.transaction() as session:
            for start in range(0, len(done), 900):
                session.execute(update(CtaTask.__table__).where(
                    CtaTask.__table__.c.tenant_id == tenant.id, CtaTask.__table__.c.id.in_(done[start:start + 900]),
                    CtaTask.__table__.c.status == "open")
                    .values(status="completed", completed_at=now, completed_by=COMPLETED_BY_CRM, updated_at=now))
        log.info("tenant %s: %d cockpit tasks completed in the CRM", tenant.id, len(done))
    return {"status": "success", "checked": len(candidates), "completed": len(done)}
