"""What people (and plugins) do with CTAs: open, edit, close and reopen them, link
opportunities, work their tasks, comment, apply playbooks.

Every function works in the caller's session and commits nothing. Closing a CTA logs
an activity on its timeline through ``tether_log_activities`` in the same transaction
(the Timeline plugin implements it), so the CTA is never closed without its activity.
Task changes are captured for the CRM when task sync is on (:mod:`.tasks_sync`).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tether.core.contracts import Activity
from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.plugins import TenantContext
from tether.core.store import Company, Opportunity, Relationship
from tether.core.store.types import utcnow

from .config import PLUGIN, PRIORITIES, SOURCES, CockpitSettings
from .models import Cta, CtaComment, CtaOpportunity, CtaTask
from .playbooks import default_for_type, effective_playbooks, task_rows
from .rows import insert_links, insert_tasks
from .tasks_sync import capture_new_tasks, capture_task_change, capture_task_deletes

EDITABLE = ("name", "type", "reason", "priority", "status", "owner", "due_date", "relationship_id")
TASK_EDITABLE = ("name", "description", "owner", "due_date", "status")
NO_PLAYBOOK = "none"


def get_cta(session: Session, cta_id: int) -> Cta:
    row = session.get(Cta, cta_id)
    if row is None:
        raise NotFound(f"no CTA {cta_id}", hint="list them with GET /cockpit/ctas")
    return row


def get_task(session: Session, task_id: int) -> CtaTask:
    row = session.get(CtaTask, task_id)
    if row is None:
        raise NotFound(f"no CTA task {task_id}")
    return row


def _check_vocabulary(settings: CockpitSettings, data: Mapping[str, Any], errors: dict[str, list[str]]) -> None:
    if "type" in data and data["type"] not in settings.types:
        errors["type"] = [f"{data['type']!r} is not a CTA type ({', '.join(settings.types)})"]
    if "priority" in data and data["priority"] not in PRIORITIES:
        errors["priority"] = [f"one of {', '.join(PRIORITIES)}"]
    if "status" in data and data["status"] not in settings.statuses:
        errors["status"] = [f"{data['status']!r} is not a status ({', '.join(settings.statuses)})"]


def _context(session: Session, company_id: int | None, relationship_id: int | None,
             errors: dict[str, list[str]]) -> tuple[Company | None, Relationship | None]:
    relationship = None
    if relationship_id is not None:
        relationship = session.get(Relationship, relationship_id)
        if relationship is None or relationship.is_deleted:
            errors["relationship_id"] = [f"no relationship {relationship_id}"]
            relationship = None
        elif company_id is not None and relationship.company_id != company_id:
            errors["relationship_id"] = [f"relationship {relationship_id} belongs to company {relationship.company_id}"]
        else:
            company_id = relationship.company_id
    company = None
    if company_id is None:
        errors.setdefault("company_id", ["a CTA is about a company: give company_id (or a relationship_id)"])
    else:
        company = session.get(Company, company_id)
        if company is None or company.is_deleted:
            errors["company_id"] = [f"no company {company_id}"]
            company = None
    return company, relationship


def _check_opportunities(session: Session, company_id: int, ids: Sequence[int], errors: dict[str, list[str]]) -> None:
    wanted = sorted(set(ids))
    if not wanted:
        return
    found = dict(session.execute(select(Opportunity.id, Opportunity.company_id).where(
        Opportunity.id.in_(wanted), Opportunity.is_deleted.is_(False))).all())
    problems = [f"no opportunity {i}" for i in wanted if i not in found]
    problems += [f"opportunity {i} belongs to company {found[i]}, not {company_id}" for i in wanted
                 if i in found and found[i] is not None and found[i] != company_id]
    if problems:
        errors["opportunity_ids"] = problems


def create_cta(tenant: TenantContext, session: Session, settings: CockpitSettings, data: Mapping[str, Any], *,
               created_by: str, source: str = "manual") -> Cta:
    """Open a CTA (validated input of ``CtaInputSchema``) with its playbook's tasks and its own."""
    if source not in SOURCES:
        raise DomainError(f"unknown CTA source {source!r}", field="source", hint=f"use one of {', '.join(SOURCES)}")
    errors: dict[str, list[str]] = {}
    data = {"type": "risk", "priority": "medium", "status": "open", **data}
    _check_vocabulary(settings, data, errors)
    if data["status"] in settings.statuses and settings.is_closed(data["status"]):
        errors["status"] = ["a CTA opens in an open status: close it afterwards"]
    company, relationship = _context(session, data.get("company_id"), data.get("relationship_id"), errors)
    if company is not None:
        _check_opportunities(session, company.id, data.get("opportunity_ids") or [], errors)
    playbooks = effective_playbooks(tenant, session)
    playbook_name = data.get("playbook")
    if playbook_name == NO_PLAYBOOK:
        playbook_name = None
    elif playbook_name is None:
        playbook_name = default_for_type(playbooks, data["type"])
    elif playbook_name not in playbooks:
        errors["playbook"] = [f"no playbook {playbook_name!r} ({', '.join(sorted(playbooks)) or 'none yet'})"]
    if errors:
        raise InvalidFields("the CTA is not valid", errors)
    assert company is not None
    now = utcnow()
    cta = Cta(company_id=company.id, relationship_id=relationship.id if relationship else None, name=data["name"],
              type=data["type"], reason=data.get("reason") or "", priority=data["priority"], status=data["status"],
              is_closed=False, owner=data.get("owner") or (created_by if source == "manual" else
                                                         (relationship.csm if relationship else None) or company.csm),
              due_date=data.get("due_date"), source=source,
              playbook=playbook_name, created_by=created_by, created_at=now, updated_at=now)
    session.add(cta)
    session.flush()
    tasks = []
    if playbook_name:
        tasks += task_rows(playbooks[playbook_name], owner=cta.owner, company_csm=company.csm,
                           relationship_csm=relationship.csm if relationship else None, cta_due=cta.due_date,
                           today=now.date())
    for extra in data.get("tasks") or []:
        tasks.append({"name": extra["name"], "description": extra.get("description") or "",
                      "owner": extra.get("owner") or cta.owner, "due_date": extra.get("due_date") or cta.due_date,
                      "position": len(tasks), "status": "open"})
    insert_tasks(tenant, session, settings, [t | {"tenant_id": tenant.id, "cta_id": cta.id, "created_at": now,
                                                  "updated_at": now} for t in tasks])
    insert_links(session, tenant.id, [{"tenant_id": tenant.id, "cta_id": cta.id, "opportunity_id": i}
                                      for i in sorted(set(data.get("opportunity_ids") or []))])
    return cta


def open_ctas(tenant: TenantContext, items: Sequence[Mapping[str, Any]], *, plugin: str) -> list[int]:
    """For other plugins: open CTAs (each as ``POST /cockpit/ctas`` takes it) with source
    ``plugin``, in one transaction; returns their ids."""
    from .config import settings_of

    settings = settings_of(tenant)
    with tenant.transaction() as session:
        return [create_cta(tenant, session, settings, item, created_by=plugin, source="plugin").id for item in items]


def update_cta(tenant: TenantContext, session: Session, settings: CockpitSettings, cta_id: int,
               changes: Mapping[str, Any], *, by: str) -> tuple[Cta, list[str]]:
    cta = get_cta(session, cta_id)
    errors: dict[str, list[str]] = {}
    _check_vocabulary(settings, changes, errors)
    if "relationship_id" in changes and changes["relationship_id"] is not None:
        _context(session, cta.company_id, changes["relationship_id"], errors)
    if errors:
        raise InvalidFields("the CTA change is not valid", errors)
    changed = []
    status = changes.get("status", cta.status)
    for key in EDITABLE:
        if key in changes and key != "status" and getattr(cta, key) != changes[key]:
            setattr(cta, key, changes[key])
            changed.append(key)
    if status != cta.status:
        if settings.is_closed(status) and not cta.is_closed:
            close_cta(tenant, session, settings, cta, status=status, by=by)
        elif not settings.is_closed(status) and cta.is_closed:
            reopen_cta(session, settings, cta, status=status)
        else:
            cta.status = status
        changed.append("status")
    if "priority" in changed and settings.task_sync:
        session.flush()
        for task in session.scalars(select(CtaTask).where(CtaTask.cta_id == cta.id)).all():
            capture_task_change(tenant, session, task, ["priority"])  # a Task's priority is its CTA's
    if changed:
        cta.updated_at = utcnow()
    session.flush()
    return cta, changed


def close_cta(tenant: TenantContext, session: Session, settings: CockpitSettings, cta: Cta | int, *,
              status: str = "closed_success", note: str | None = None, by: str) -> Cta:
    """Close a CTA in a closed status and log the closing on its timeline."""
    cta = get_cta(session, cta) if isinstance(cta, int) else cta
    if status not in settings.statuses or not settings.is_closed(status):
        raise DomainError(f"{status!r} is not a closed status ({', '.join(settings.closed_statuses)})", field="status")
    if cta.is_closed:
        raise DomainError(f"CTA {cta.id} is already closed ({cta.status})", field="status",
                          hint="reopen it first to close it another way")
    now = utcnow()
    cta.status, cta.is_closed, cta.closed_at, cta.closed_by, cta.updated_at = status, True, now, by, now
    if note:
        session.add(CtaComment(tenant_id=tenant.id, cta_id=cta.id, author=by, body=note, created_at=now))
    session.flush()
    tenant.hooks.tether_log_activities(session=session, activities=[closing_activity(session, settings, cta, note)])
    return cta


def closing_activity(session: Session, settings: CockpitSettings, cta: Cta, note: str | None) -> Activity:
    total, done = session.execute(select(func.count(), func.count().filter(CtaTask.status == "completed"))
                                  .where(CtaTask.cta_id == cta.id)).one()
    opportunities = list(session.scalars(select(CtaOpportunity.opportunity_id).where(CtaOpportunity.cta_id == cta.id)))
    outcome = settings.status_labels.get(cta.status, cta.status)
    lines = [f"{outcome}: {cta.type} CTA #{cta.id} closed by {cta.closed_by}."]
    if cta.reason:
        lines.append(f"Reason: {cta.reason}")
    if total:
        lines.append(f"Tasks: {done} of {total} completed.")
    if note:
        lines.append(f"Note: {note}")
    return Activity(type=settings.closing_activity_type, subject=f"CTA closed ({outcome.lower()}): {cta.name}",
                    occurred_at=cta.closed_at or utcnow(), source=PLUGIN, key=f"cta/{cta.id}", notes="\n".join(lines),
                    author=cta.closed_by, company_id=cta.company_id, relationship_id=cta.relationship_id,
                    opportunity_id=opportunities[0] if len(opportunities) == 1 else None,
                    reporting_category="Cockpit")


def reopen_cta(session: Session, settings: CockpitSettings, cta: Cta, *, status: str = "open") -> Cta:
    if not cta.is_closed:
        raise DomainError(f"CTA {cta.id} is open", field="status")
    if status not in settings.statuses or settings.is_closed(status):
        raise DomainError(f"{status!r} is not an open status ({', '.join(settings.open_statuses)})", field="status")
    if cta.rule_key is not None:
        other = session.scalar(select(Cta.id).where(Cta.rule_key == cta.rule_key,
                                                    Cta.occurrence_key == cta.occurrence_key,
                                                    Cta.is_closed.is_(False), Cta.id != cta.id))
        if other is not None:
            raise DomainError(f"CTA {other} is already open for the same rule and occurrence", field="status",
                              hint=f"work on CTA {other} instead")
    cta.status, cta.is_closed, cta.closed_at, cta.closed_by, cta.updated_at = status, False, None, None, utcnow()
    session.flush()
    return cta


def set_opportunities(session: Session, cta: Cta, ids: Sequence[int]) -> list[int]:
    errors: dict[str, list[str]] = {}
    _check_opportunities(session, cta.company_id, ids, errors)
    if errors:
        raise InvalidFields("the linked opportunities are not valid", errors)
    session.execute(delete(CtaOpportunity).where(CtaOpportunity.cta_id == cta.id)
                    .execution_options(synchronize_session=False))
    insert_links(session, cta.tenant_id, [{"tenant_id": cta.tenant_id, "cta_id": cta.id, "opportunity_id": i}
                                          for i in sorted(set(ids))])
    cta.updated_at = utcnow()
    session.flush()
    return sorted(set(ids))


def apply_playbook(tenant: TenantContext, session: Session, settings: CockpitSettings, cta: Cta, name: str) -> int:
    """Add a playbook's tasks to an existing CTA; returns how many were added."""
    playbooks = effective_playbooks(tenant, session)
    if name not in playbooks:
        raise DomainError(f"no playbook {name!r} ({', '.join(sorted(playbooks)) or 'none yet'})", field="playbook")
    company = session.get(Company, cta.company_id)
    relationship = session.get(Relationship, cta.relationship_id) if cta.relationship_id else None
    start = session.scalar(select(func.coalesce(func.max(CtaTask.position) + 1, 0)).where(CtaTask.cta_id == cta.id))
    now = utcnow()
    rows = task_rows(playbooks[name], owner=cta.owner, company_csm=company.csm if company else None,
                     relationship_csm=relationship.csm if relationship else None, cta_due=cta.due_date,
                     today=now.date(), start_position=start or 0)
    insert_tasks(tenant, session, settings, [r | {"tenant_id": tenant.id, "cta_id": cta.id, "created_at": now,
                                                  "updated_at": now} for r in rows])
    cta.playbook, cta.updated_at = cta.playbook or name, now
    session.flush()
    return len(rows)


def delete_cta(tenant: TenantContext, session: Session, cta_id: int) -> None:
    cta = get_cta(session, cta_id)
    tasks = list(session.scalars(select(CtaTask.id).where(CtaTask.cta_id == cta.id)))
    capture_task_deletes(tenant, session, tasks)
    session.delete(cta)
    session.flush()


# -- tasks and comments ---------------------------------------------------------------------


def add_task(tenant: TenantContext, session: Session, settings: CockpitSettings, cta_id: int,
             data: Mapping[str, Any]) -> CtaTask:
    cta = get_cta(session, cta_id)
    position = session.scalar(select(func.coalesce(func.max(CtaTask.position) + 1, 0)).where(CtaTask.cta_id == cta.id))
    now = utcnow()
    task = CtaTask(cta_id=cta.id, name=data["name"], description=data.get("description") or "",
                   owner=data.get("owner") or cta.owner, due_date=data.get("due_date") or cta.due_date,
                   position=position or 0, status="open", created_at=now, updated_at=now)
    session.add(task)
    session.flush()
    capture_new_tasks(tenant, session, [task.id])
    return task


def update_task(tenant: TenantContext, session: Session, task_id: int, changes: Mapping[str, Any], *,
                by: str) -> tuple[CtaTask, list[str]]:
    task = get_task(session, task_id)
    changed = []
    for key in TASK_EDITABLE:
        if key in changes and getattr(task, key) != changes[key]:
            setattr(task, key, changes[key])
            changed.append(key)
    if "status" in changed:
        done = task.status == "completed"
        task.completed_at, task.completed_by = (utcnow(), by) if done else (None, None)
    if changed:
        task.updated_at = utcnow()
        session.flush()
        capture_task_change(tenant, session, task, changed)
    return task, changed


def delete_task(tenant: TenantContext, session: Session, task_id: int) -> None:
    task = get_task(session, task_id)
    capture_task_deletes(tenant, session, [task.id])
    session.delete(task)
    session.flush()


def add_comment(session: Session, cta_id: int, body: str, *, author: str) -> CtaComment:
    cta = get_cta(session, cta_id)
    comment = CtaComment(cta_id=cta.id, author=author, body=body, created_at=utcnow())
    session.add(comment)
    cta.updated_at = comment.created_at
    session.flush()
    return comment

