"""Reading CTAs: the Cockpit list (one query with joins, keyset-paged) and a CTA's detail.

The list joins each CTA to its company and (when it has one) its relationship and
relationship type, selecting the company and relationship fields the admin chose
(``list_fields``), filtered by owner, status, type, priority and due date on indexed
columns, sorted, and paged by a cursor on (sort value, id). Task counts for the page
come from one grouped query over its ids; health, when a list field asks for it, from
one ``tether_entity_health`` call per entity kind with the page's ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from tether.core.plugins import TenantContext
from tether.core.store import Company, Opportunity, Relationship, RelationshipType
from tether.core.store.types import utcnow

from .config import CockpitSettings
from .models import Cta, CtaComment, CtaOpportunity, CtaTask

SORTS = ("due_date", "priority", "created_at", "updated_at", "name")
FAR_FUTURE = dt.date(9999, 12, 31)
MAX_LIMIT = 1000

c, co, r, rt = Cta.__table__, Company.__table__, Relationship.__table__, RelationshipType.__table__
PRIORITY_ORDER = case((c.c.priority == "high", 1), (c.c.priority == "medium", 2), else_=3)


def _sort_expression(name: str):
    return {"due_date": func.coalesce(c.c.due_date, FAR_FUTURE), "priority": PRIORITY_ORDER,
            "created_at": c.c.created_at, "updated_at": c.c.updated_at, "name": c.c.name}[name]


def _cursor_value(name: str, value: Any) -> Any:
    if name == "due_date":
        return dt.date.fromisoformat(value)
    if name in ("created_at", "updated_at"):
        return dt.datetime.fromisoformat(value)
    if name == "priority":
        return int(value)
    return str(value)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _field_columns(fields: Sequence[str]) -> tuple[list[Any], dict[str, tuple[str, str]]]:
    """Columns to select for the list fields, and how to read each field from a row.

    Attributes are picked out by the database (a JSON path), not by decoding each row's
    whole attribute document."""
    columns: dict[str, Any] = {}
    readers: dict[str, tuple[str, str]] = {}
    for index, field in enumerate(fields):
        entity, _, name = field.partition(".")
        table = co if entity == "company" else r
        label = f"f{index}"
        if name == "health":
            readers[field] = ("health", entity)
            continue
        if name.startswith("attributes."):
            columns[label] = table.c.attributes[name[len("attributes."):]].label(label)
        elif entity == "relationship" and name == "type":
            columns[label] = rt.c.name.label(label)
        else:
            columns[label] = table.c[name].label(label)
        readers[field] = ("column", label)
    return list(columns.values()), readers


BASE_KEYS = ("id", "name", "type", "reason", "priority", "status", "is_closed", "owner", "due_date", "source",
             "rule_key", "playbook", "created_at", "updated_at", "closed_at", "closed_by", "created_by", "company_id",
             "company_name", "relationship_id", "relationship_name", "relationship_type")


def _base_columns():
    return (c.c.id, c.c.name, c.c.type, c.c.reason, c.c.priority, c.c.status, c.c.is_closed, c.c.owner,
            c.c.due_date, c.c.source, c.c.rule_key, c.c.playbook, c.c.created_at, c.c.updated_at, c.c.closed_at,
            c.c.closed_by, c.c.created_by, c.c.company_id, co.c.name.label("company_name"), c.c.relationship_id,
            r.c.name.label("relationship_name"), rt.c.name.label("relationship_type"))


def _joined(columns):
    return (select(*columns).select_from(c)
            .join(co, and_(co.c.id == c.c.company_id, co.c.tenant_id == c.c.tenant_id))
            .outerjoin(r, and_(r.c.id == c.c.relationship_id, r.c.tenant_id == c.c.tenant_id))
            .outerjoin(rt, and_(rt.c.id == r.c.type_id, rt.c.tenant_id == r.c.tenant_id)))


def _filters(tenant_id: str, settings: CockpitSettings, query: Mapping[str, Any], username: str,
             today: dt.date) -> list[Any]:
    where = [c.c.tenant_id == tenant_id]
    owner = query.get("owner") or "me"
    if owner == "me":
        where.append(c.c.owner == username)
    elif owner != "any":
        where.append(c.c.owner == owner)
    statuses = list(query.get("status") or ["open"])
    if statuses == ["open"]:
        where.append(c.c.is_closed.is_(False))
    elif statuses == ["closed"]:
        where.append(c.c.is_closed.is_(True))
    elif statuses != ["all"]:
        where.append(c.c.status.in_(statuses))
    for key, column in (("type", c.c.type), ("priority", c.c.priority), ("source", c.c.source)):
        if query.get(key):
            where.append(column.in_(list(query[key])))
    if query.get("due_from") is not None:
        where.append(c.c.due_date >= query["due_from"])
    if query.get("due_to") is not None:
        where.append(c.c.due_date <= query["due_to"])
    if query.get("overdue"):
        where += [c.c.due_date < today, c.c.is_closed.is_(False)]
    for key, column in (("company_id", c.c.company_id), ("relationship_id", c.c.relationship_id),
                        ("rule", c.c.rule_key)):
        if query.get(key) is not None:
            where.append(column == query[key])
    if query.get("q"):
        where.append(func.lower(c.c.name).contains(query["q"].lower(), autoescape=True))
    return where


def list_ctas(tenant: TenantContext, settings: CockpitSettings, query: Mapping[str, Any], *,
              username: str) -> dict[str, Any]:
    """A page of CTAs with the chosen company and relationship fields, and the next cursor."""
    today = utcnow().date()
    sort = query.get("sort") or "due_date"
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    order = _sort_expression(name)
    limit = min(int(query.get("limit") or 50), MAX_LIMIT)
    extra, readers = _field_columns(settings.list_fields)
    where = _filters(tenant.id, settings, query, username, today)
    cursor = query.get("cursor")
    if cursor is not None:
        value, last = _cursor_value(name, cursor["v"]), int(cursor["id"])
        if descending:
            where.append(or_(order < value, and_(order == value, c.c.id < last)))
        else:
            where.append(or_(order > value, and_(order == value, c.c.id > last)))
    stmt = _joined([*_base_columns(), order.label("sort_value"), *extra]).where(*where)
    stmt = stmt.order_by(order.desc(), c.c.id.desc()) if descending else stmt.order_by(order, c.c.id)
    with tenant.session() as session:
        result = session.execute(stmt.limit(limit + 1))
        keys = list(result.keys())
        rows = result.all()
        more = len(rows) > limit
        rows = rows[:limit]
        counts = _task_counts(session, tenant.id, [row.id for row in rows])
    health = _health(tenant, rows, readers)
    items = _items(rows, keys, settings, today, counts, readers, health)
    next_cursor = {"v": _jsonable(rows[-1].sort_value), "id": rows[-1].id} if more and rows else None
    return {"items": items, "next_cursor": next_cursor, "fields": list(settings.list_fields)}


def _task_counts(session: Session, tenant_id: str, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    if not ids:
        return {}
    t = CtaTask.__table__
    return {cta_id: (total, open_) for cta_id, total, open_ in session.execute(
        select(t.c.cta_id, func.count(), func.count().filter(t.c.status == "open"))
        .where(t.c.tenant_id == tenant_id, t.c.cta_id.in_(list(ids))).group_by(t.c.cta_id))}


def _health(tenant: TenantContext, rows: Sequence[Any], readers: Mapping[str, tuple[str, str]]
            ) -> dict[str, Mapping[int, Mapping[str, Any]]]:
    wanted = {arg for kind, arg in readers.values() if kind == "health"}
    found: dict[str, Mapping[int, Mapping[str, Any]]] = {}
    for entity in wanted:
        ids = sorted({row.company_id if entity == "company" else row.relationship_id for row in rows} - {None})
        found[entity] = (tenant.hooks.tether_entity_health(entity=entity, ids=ids) or {}) if ids else {}
    return found


def _items(rows: Sequence[Any], keys: Sequence[str], settings: CockpitSettings, today: dt.date,
           counts: Mapping[int, tuple[int, int]], readers: Mapping[str, tuple[str, str]],
           health: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """List items from result rows, reading columns by position (a thousand rows per page)."""
    at = {key: position for position, key in enumerate(keys)}
    (i_id, i_name, i_type, i_reason, i_priority, i_status, i_closed, i_owner, i_due, i_source, i_rule, i_playbook,
     i_created, i_updated, i_closed_at, i_closed_by, i_created_by, i_company, i_company_name, i_relationship,
     i_relationship_name, i_relationship_type) = (at[k] for k in BASE_KEYS)
    fields = [(field, kind, at[arg] if kind == "column" else arg) for field, (kind, arg) in readers.items()]
    labels = settings.status_labels
    items = []
    for row in rows:
        cta_id, due, closed, relationship_id = row[i_id], row[i_due], bool(row[i_closed]), row[i_relationship]
        total, open_ = counts.get(cta_id, (0, 0))
        values = {}
        for field, kind, arg in fields:
            if kind == "column":
                values[field] = row[arg]
            else:
                entity_id = row[i_company] if arg == "company" else relationship_id
                state = health.get(arg, {}).get(entity_id) if entity_id is not None else None
                values[field] = None if not state else {k: state.get(k) for k in ("score", "label", "color", "trend")}
        items.append({
            "id": cta_id, "name": row[i_name], "type": row[i_type], "reason": row[i_reason],
            "priority": row[i_priority], "status": row[i_status], "status_label": labels.get(row[i_status], row[i_status]),
            "is_closed": closed, "owner": row[i_owner], "due_date": due,
            "overdue": due is not None and due < today and not closed, "source": row[i_source], "rule": row[i_rule],
            "playbook": row[i_playbook], "company": {"id": row[i_company], "name": row[i_company_name]},
            "relationship": None if relationship_id is None else {
                "id": relationship_id, "name": row[i_relationship_name], "type": row[i_relationship_type]},
            "fields": values, "tasks": {"total": total, "open": open_}, "created_by": row[i_created_by],
            "created_at": row[i_created], "updated_at": row[i_updated], "closed_at": row[i_closed_at],
            "closed_by": row[i_closed_by],
        })
    return items


# -- one CTA ----------------------------------------------------------------------------------


def cta_detail(tenant: TenantContext, settings: CockpitSettings, cta_id: int) -> dict[str, Any]:
    """A CTA with its list fields, tasks, comments and linked opportunities."""
    from .service import get_cta

    today = utcnow().date()
    extra, readers = _field_columns(settings.list_fields)
    with tenant.session() as session:
        get_cta(session, cta_id)  # 404 with a hint when it is not this tenant's
        result = session.execute(_joined([*_base_columns(), *extra]).where(c.c.tenant_id == tenant.id,
                                                                           c.c.id == cta_id))
        keys = list(result.keys())
        row = result.one()
        tasks = session.scalars(select(CtaTask).where(CtaTask.cta_id == cta_id)
                                .order_by(CtaTask.position, CtaTask.id)).all()
        comments = session.scalars(select(CtaComment).where(CtaComment.cta_id == cta_id)
                                   .order_by(CtaComment.id)).all()
        o = Opportunity
        opportunities = session.execute(
            select(o.id, o.name, o.stage, o.amount, o.currency, o.close_date, o.due_date, o.booking_type, o.is_closed,
                   o.is_won, o.target_amount, o.forecast_amount, o.owner_name, o.external_id)
            .join(CtaOpportunity, and_(CtaOpportunity.opportunity_id == o.id, CtaOpportunity.tenant_id == o.tenant_id))
            .where(CtaOpportunity.cta_id == cta_id, o.is_deleted.is_(False))
            .order_by(func.coalesce(o.due_date, o.close_date), o.id)).all()
        counts = {cta_id: (len(tasks), sum(1 for t in tasks if t.status == "open"))}
        [item] = _items([row], keys, settings, today, counts, readers, _health(tenant, [row], readers))
        item["task_list"] = [task_dict(t, today) for t in tasks]
        item["comments"] = [{"id": m.id, "author": m.author, "body": m.body, "created_at": m.created_at}
                            for m in comments]
        item["opportunities"] = [{
            "id": x.id, "name": x.name, "stage": x.stage, "amount": x.amount, "currency": x.currency,
            "close_date": x.close_date, "due_date": x.due_date, "booking_type": x.booking_type,
            "status": "open" if not x.is_closed else ("won" if x.is_won else "lost"),
            "target_amount": x.target_amount, "forecast_amount": x.forecast_amount, "owner": x.owner_name,
            "external_id": x.external_id} for x in opportunities]
    return item


def task_dict(task: CtaTask, today: dt.date | None = None) -> dict[str, Any]:
    today = today or utcnow().date()
    return {"id": task.id, "cta_id": task.cta_id, "name": task.name, "description": task.description,
            "owner": task.owner, "due_date": task.due_date, "position": task.position, "status": task.status,
            "overdue": bool(task.due_date is not None and task.due_date < today and task.status == "open"),
            "completed_at": task.completed_at, "completed_by": task.completed_by}
