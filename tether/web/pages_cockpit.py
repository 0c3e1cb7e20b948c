"""Cockpit: the CSM's list of calls to action (filters, the admin's company and relationship
fields, server-side paging) and a CTA with its linked opportunities, tasks and comments,
built on the Cockpit plugin's API endpoints (``/cockpit/...``)."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from .internal_api import PageApi, PageApiError
from .pages import back_to, blueprint, done, page, render, url_with

PAGE_SIZE = 25
LIST_RULE = "/cockpit/ctas"
CTA_RULE = "/cockpit/ctas/<int:cta_id>"
TASK_RULE = "/cockpit/tasks/<int:task_id>"
OWNERS = (("me", "Mine"), ("any", "Anyone's"))
SORTS = (("due_date", "Due date"), ("priority", "Priority"), ("-updated_at", "Recently changed"), ("name", "Name"))
STATUS_CHOICES = (("open", "Open"), ("closed", "Closed"), ("all", "All"))


def _field_label(field: str) -> str:
    entity, _, name = field.partition(".")
    name = name.removeprefix("attributes.")
    words = {"arr": "ARR", "mrr": "MRR", "csm": "CSM"}.get(name, name.replace("_", " "))
    return f"{entity.capitalize()} {words}"


@blueprint.get("/t/<tenant>/cockpit")
@page("GET", LIST_RULE)
def cockpit(api: PageApi) -> Any:
    args = request.args
    owner = args.get("owner", "").strip() or "me"
    query = {"owner": owner, "status": args.get("status") or "open", "type": args.get("type") or None,
             "priority": args.get("priority") or None, "due_from": args.get("due_from") or None,
             "due_to": args.get("due_to") or None, "overdue": args.get("overdue") == "1" or None,
             "q": args.get("q", "").strip() or None, "sort": args.get("sort") or "due_date", "limit": PAGE_SIZE,
             "cursor": args.get("cursor") or None}
    settings = api.get("/cockpit/settings")
    problem: PageApiError | None = None
    listing: dict[str, Any] = {"items": [], "next_cursor": None, "fields": settings["list_fields"]}
    try:
        listing = api.get(LIST_RULE, query)
    except PageApiError as exc:
        if exc.status != 422:
            raise
        problem = exc
    statuses = list(STATUS_CHOICES) + [(s["name"], s["label"]) for s in settings["statuses"]]
    return render("cockpit.html", section="cockpit", items=listing["items"], fields=listing["fields"],
                  field_label=_field_label, settings=settings, statuses=statuses, owners=OWNERS, sorts=SORTS,
                  owner=owner, args=args, problem=problem,
                  next_url=url_with(cursor=listing["next_cursor"]) if listing.get("next_cursor") else None,
                  first_url=url_with(cursor=None) if args.get("cursor") else None)


@blueprint.get("/t/<tenant>/cockpit/ctas/<int:cta_id>")
@page("GET", CTA_RULE)
def cta(api: PageApi, cta_id: int) -> Any:
    item = api.get(CTA_RULE, cta_id=cta_id)
    settings = api.get("/cockpit/settings")
    closed = [s for s in settings["statuses"] if s["closed"]]
    return render("cockpit_cta.html", section="cockpit", item=item, field_label=_field_label, closed_statuses=closed,
                  can_edit=api.allowed("PATCH", CTA_RULE),
                  can_close=api.allowed("POST", CTA_RULE + "/close") and not item["is_closed"],
                  can_reopen=api.allowed("POST", CTA_RULE + "/reopen") and item["is_closed"],
                  can_work_tasks=api.allowed("PATCH", TASK_RULE),
                  can_comment=api.allowed("POST", CTA_RULE + "/comments"),
                  opportunity_links=api.allowed("GET", "/renewals/opportunities/<int:opportunity_id>"))


def _back(api: PageApi, cta_id: int) -> str:
    return back_to(url_for("pages.cta", tenant=api.tenant_id, cta_id=cta_id))


def _refused(target: str, what: str, exc: PageApiError) -> Response:
    if exc.status != 422:
        raise exc
    return done(target, f"{what}: " + "; ".join(exc.field_messages() or [exc.message]))


@blueprint.post("/t/<tenant>/cockpit/ctas/<int:cta_id>/close")
@page("POST", CTA_RULE + "/close")
def close_cta(api: PageApi, cta_id: int) -> Response:
    target = _back(api, cta_id)
    body = {"status": request.form.get("status") or "closed_success", "note": request.form.get("note", "").strip()
            or None}
    try:
        closed = api.post(CTA_RULE + "/close", body, cta_id=cta_id)
    except PageApiError as exc:
        return _refused(target, "Not closed", exc)
    return done(target, f"Closed ({closed['status_label'].lower()}); the closing is on the timeline.")


@blueprint.post("/t/<tenant>/cockpit/ctas/<int:cta_id>/reopen")
@page("POST", CTA_RULE + "/reopen")
def reopen_cta(api: PageApi, cta_id: int) -> Response:
    target = _back(api, cta_id)
    try:
        api.post(CTA_RULE + "/reopen", {}, cta_id=cta_id)
    except PageApiError as exc:
        return _refused(target, "Not reopened", exc)
    return done(target, "Reopened.")


@blueprint.post("/t/<tenant>/cockpit/tasks/<int:task_id>")
@page("PATCH", TASK_RULE)
def work_task(api: PageApi, task_id: int) -> Response:
    cta_id = int(request.form.get("cta_id", "0") or 0)
    target = _back(api, cta_id)
    status = "completed" if request.form.get("status") == "completed" else "open"
    try:
        task = api.call("PATCH", TASK_RULE, body={"status": status}, task_id=task_id)
    except PageApiError as exc:
        return _refused(target, "Task not changed", exc)
    return done(target + "#tasks", f"Task {'completed' if status == 'completed' else 'reopened'}: {task['name']}.")


@blueprint.post("/t/<tenant>/cockpit/ctas/<int:cta_id>/comments")
@page("POST", CTA_RULE + "/comments")
def comment(api: PageApi, cta_id: int) -> Response:
    target = _back(api, cta_id)
    try:
        api.post(CTA_RULE + "/comments", {"body": request.form.get("body", "").strip()}, cta_id=cta_id)
    except PageApiError as exc:
        return _refused(target + "#comments", "Comment not added", exc)
    return done(target + "#comments", "Comment added.")
