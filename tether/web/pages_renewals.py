"""Renewal Center — Forecast: figures per period with scenarios, the renewals behind them
(paged on the server), inline forecast calls, risk flags and likelihood with factors."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request, url_for

from tether.core.renewals.calls import CALLABLE_CATEGORIES

from .filter_forms import ATTRIBUTE_SCOPES, ForecastFilters
from .internal_api import PageApi, PageApiError
from .pages import back_to, blueprint, done, page, render, url_with
from .risk_rows import risk_of

PAGE_SIZE = 25
MAX_AFTER = 4
STATUSES = (("open", "Open"), ("won", "Won"), ("lost", "Lost"), ("", "All"))
RISK_RULE = "/renewals/opportunities/<int:opportunity_id>/risk"
CALL_RULE = "/renewals/opportunities/<int:opportunity_id>/calls"

# Forecast rows: (label, path into a period's figures, what it means, CSS class)
FIGURE_ROWS = (
    ("Renewals due", ("due", "amount"), "Target amount of every renewal due in the period.", ""),
    ("Won", ("won", "amount"), "Won renewals at min(final, target): upsell excluded.", ""),
    ("Lost", ("lost", "amount"), "Target amount of lost renewals (churn).", ""),
    ("Open", ("open", "amount"), "Target amount of renewals still open.", ""),
    ("Renewal forecast", ("renewal_forecast",), "Won plus open at min(forecast, target), less downsell.", "total"),
    ("High scenario", ("scenarios", "high"), "", "scenario"),
    ("Medium scenario", ("scenarios", "medium"), "", "scenario"),
    ("Low scenario", ("scenarios", "low"), "", "scenario"),
    ("CRM probability", ("scenarios", "crm_probability"), "Open renewals weighted by their probability.", "scenario"),
    ("Rep calls", ("rep_call_forecast",), "Open renewals at the rep's called amount where there is a call.", ""),
    ("Upsell", ("upsell",), "Won above target plus upsell bookings.", ""),
    ("Downsell", ("downsell",), "Won below target plus downsell bookings.", ""),
)


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = (data or {}).get(key)
    return data


def _forecast_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    scenarios = report.get("scenarios") or {}
    rows = []
    for label, path, meaning, css in FIGURE_ROWS:
        if path[0] == "scenarios" and path[1] in scenarios:
            meaning = "Categories counted: " + ", ".join(c.replace("_", " ") for c in scenarios[path[1]])
        rows.append({"label": label, "meaning": meaning, "css": css,
                     "cells": [_dig(p.get("figures"), path) for p in report.get("periods", [])]})
    return rows


@blueprint.get("/t/<tenant>/renewals/forecast")
@page("GET", "/renewals/forecast")
def forecast(api: PageApi) -> Any:
    args = request.args
    period = args.get("period", "").strip() or "current_quarter"
    try:
        after = max(0, min(MAX_AFTER, int(args.get("after", 1))))
    except ValueError:
        after = 1
    status = args.get("status", "open")
    status = status if status in {s for s, _ in STATUSES} else "open"
    filters = ForecastFilters.from_args(args)
    api_filters = json.dumps(filters.api_filters()) if filters.active else None
    problem: PageApiError | None = None
    report: dict[str, Any] = {"periods": []}
    listing: dict[str, Any] = {"items": [], "next_cursor": None}
    try:
        report = api.get("/renewals/forecast", {"period": period, "after": after, "filters": api_filters})
        listing = api.get("/renewals/opportunities", {
            "period": period, "after": after, "status": status or None, "family": "renewal", "filters": api_filters,
            "limit": PAGE_SIZE, "cursor": args.get("cursor") or None})
    except PageApiError as exc:
        if exc.status != 422:
            raise
        problem = exc
    risks, model = {}, {}
    if listing["items"] and api.allowed("GET", RISK_RULE):
        risks, model = risk_of(api.runtime.context(api.tenant_id), [item["id"] for item in listing["items"]])
    next_cursor = listing.get("next_cursor")
    return render(
        "forecast.html", section="forecast", period=period, after=after, status=status, statuses=STATUSES,
        filters=filters, attribute_scopes=ATTRIBUTE_SCOPES, problem=problem, report=report,
        table=_forecast_table(report), items=listing["items"], risks=risks, model=model,
        categories=CALLABLE_CATEGORIES, can_call=api.allowed("POST", CALL_RULE),
        next_url=url_with(cursor=json.dumps(next_cursor)) if next_cursor else None,
        first_url=url_with(cursor=None) if args.get("cursor") else None, page_size=PAGE_SIZE)


@blueprint.post("/t/<tenant>/renewals/opportunities/<int:opportunity_id>/calls")
@page("POST", CALL_RULE)
def make_call(api: PageApi, opportunity_id: int) -> Response:
    form = request.form
    default = url_for("pages.forecast", tenant=api.tenant_id)
    target = back_to(default)
    body: dict[str, Any] = {"category": form.get("category", ""), "comment": form.get("comment") or None}
    if form.get("amount", "").strip():
        body["amount"] = form["amount"].strip().replace(",", "")
    try:
        call = api.post(CALL_RULE, body, opportunity_id=opportunity_id)
    except PageApiError as exc:
        if exc.status != 422:
            raise
        lines = exc.field_messages() or [exc.message]
        return done(target, "Forecast call not saved: " + "; ".join(lines))
    category = call["category"].replace("_", " ")
    return done(target, f"Forecast call saved: {category}" + (f", {call['amount']}" if call.get("amount") else "")
                + ". It is queued for Salesforce where your tenant maps the call fields.")


@blueprint.get("/t/<tenant>/renewals/opportunities/<int:opportunity_id>")
@page("GET", "/renewals/opportunities/<int:opportunity_id>")
def opportunity(api: PageApi, opportunity_id: int) -> Any:
    item = api.get("/renewals/opportunities/<int:opportunity_id>", opportunity_id=opportunity_id)
    calls = api.get(CALL_RULE, opportunity_id=opportunity_id)
    risk = api.get(RISK_RULE, opportunity_id=opportunity_id) if api.allowed("GET", RISK_RULE) else None
    return render("opportunity.html", section="forecast", item=item, calls=calls, risk=risk,
                  categories=CALLABLE_CATEGORIES, can_call=api.allowed("POST", CALL_RULE))
