"""Companies, Company 360 and Relationship 360, the timeline and its "add activity" form."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, request, url_for

from . import charts
from .internal_api import PageApi, PageApiError
from .pages import back_to, blueprint, done, page, render, url_with

PAGE_SIZE = 25
TIMELINE_SIZE = 15
SCORE_RULE = "/scores/<entity>/<int:entity_id>"


@blueprint.get("/t/<tenant>/companies")
@page("GET", "/companies")
def companies(api: PageApi) -> Any:
    args = request.args
    query = {"name": args.get("name", "").strip() or None, "csm": args.get("csm", "").strip() or None,
             "segment": args.get("segment", "").strip() or None, "top_level": args.get("top_level") == "1" or None,
             "limit": PAGE_SIZE, "cursor": args.get("cursor") or None}
    listing = api.get("/companies", query)
    return render("companies.html", section="companies", items=listing["items"], args=args,
                  next_url=url_with(cursor=listing["next_cursor"]) if listing.get("next_cursor") else None,
                  first_url=url_with(cursor=None) if args.get("cursor") else None)


def _health_detail(api: PageApi, entity: str, entity_id: int) -> tuple[dict | None, str | None]:
    """The score breakdown and its history, or why there is none."""
    try:
        return api.get(SCORE_RULE, entity=entity, entity_id=entity_id), None
    except PageApiError as exc:
        if exc.code == "plugin_not_enabled":
            return None, "Health scores come from the Scorecards plugin, which this tenant has not enabled."
        if exc.status == 404:
            return None, "Not scored yet: scores appear after the next scoring run."
        raise


def _trend(detail: dict | None) -> Any:
    history = (detail or {}).get("history") or []
    marks = [charts.mark(point["at"][:10], point.get("score"),
                         "—" if point.get("score") is None else f"{point['score']:.0f}") for point in history]
    return charts.trend_chart(marks, title="Health score over time") if marks else None


def _timeline(api: PageApi, fallback: list[dict], **about: int) -> dict[str, Any]:
    """The timeline with the page's filters, from the Timeline plugin's endpoint."""
    args = request.args
    since, until = args.get("since", "").strip(), args.get("until", "").strip()
    query = {**about, "type": args.get("type") or None, "author": args.get("author", "").strip() or None,
             "since": f"{since}T00:00:00+00:00" if since else None,
             "until": f"{until}T23:59:59+00:00" if until else None,
             "limit": TIMELINE_SIZE, "cursor": args.get("tl_cursor") or None}
    try:
        page_data = api.get("/activities", query)
        types = api.get("/activity-types")
    except PageApiError as exc:
        if exc.code == "plugin_not_enabled":
            return {"enabled": False, "items": fallback, "types": [], "problem": None, "next_url": None}
        if exc.status != 422:
            raise
        return {"enabled": True, "items": [], "types": [], "problem": exc, "next_url": None}
    return {"enabled": True, "items": page_data["items"], "types": types, "problem": None,
            "next_url": url_with(tl_cursor=page_data["next_cursor"]) + "#timeline" if page_data.get("next_cursor")
            else None,
            "first_url": url_with(tl_cursor=None) + "#timeline" if args.get("tl_cursor") else None,
            "can_log": api.allowed("POST", "/activities")}


@blueprint.get("/t/<tenant>/companies/<int:company_id>")
@page("GET", "/companies/<int:company_id>/360")
def company(api: PageApi, company_id: int) -> Any:
    data = api.get("/companies/<int:company_id>/360", company_id=company_id)
    detail, health_note = _health_detail(api, "company", company_id)
    return render("company360.html", section="companies", data=data, detail=detail, health_note=health_note,
                  trend=_trend(detail), timeline=_timeline(api, data.get("timeline", []), company_id=company_id),
                  about={"company_id": company_id}, args=request.args)


@blueprint.get("/t/<tenant>/relationships/<int:relationship_id>")
@page("GET", "/relationships/<int:relationship_id>/360")
def relationship(api: PageApi, relationship_id: int) -> Any:
    data = api.get("/relationships/<int:relationship_id>/360", relationship_id=relationship_id)
    detail, health_note = _health_detail(api, "relationship", relationship_id)
    return render("relationship360.html", section="companies", data=data, detail=detail, health_note=health_note,
                  trend=_trend(detail),
                  timeline=_timeline(api, data.get("timeline", []), relationship_id=relationship_id),
                  about={"relationship_id": relationship_id}, args=request.args)


@blueprint.post("/t/<tenant>/activities")
@page("POST", "/activities")
def log_activity(api: PageApi) -> Response:
    form = request.form
    about = {key: int(form[key]) for key in ("company_id", "relationship_id", "opportunity_id")
             if form.get(key, "").strip().isdigit()}
    default = (url_for("pages.company", tenant=api.tenant_id, company_id=about["company_id"])
               if "company_id" in about else url_for("pages.companies", tenant=api.tenant_id))
    target = back_to(default)
    body: dict[str, Any] = {"type": form.get("type", "").strip(), "subject": form.get("subject", "").strip(),
                            "notes": form.get("notes", ""), **about}
    occurred = form.get("occurred_at", "").strip()
    if occurred:
        body["occurred_at"] = _utc(occurred)
    if form.get("duration_minutes", "").strip():
        body["duration_minutes"] = form["duration_minutes"].strip()
    try:
        created = api.post("/activities", body)
    except PageApiError as exc:
        if exc.status != 422:
            raise
        return done(target + "#add-activity", "Activity not added: " + "; ".join(exc.field_messages() or [exc.message]))
    return done(target + "#timeline", f"Activity added: {created['type']} — {created['subject']}.")


def _utc(value: str) -> str:
    """``2025-03-04T14:05`` from a datetime-local field, read as UTC (the form says so)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # the API names the field and what is wrong
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.isoformat()
