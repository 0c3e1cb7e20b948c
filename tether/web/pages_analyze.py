"""Renewal Center — Analyze: saved and shared views drawn as charts, global and widget
filters, drill-down from any chart element to its opportunities, CSV export."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from flask import Response, request, url_for

from . import charts, filter_forms, formatting
from .internal_api import PageApi, PageApiError
from .pages import blueprint, done, page, render, url_with

DATA_RULE = "/renewals/views/<int:view_id>/data"
DRILL_RULE = "/renewals/views/<int:view_id>/widgets/<int:widget_id>/drilldown"
FILTER_ROWS = 3

STARTER_VIEW = {
    "name": "Renewals overview",
    "description": "Forecast, what is due by forecast category, and renewals due over recent quarters.",
    "shared": True,
    "period": "current_quarter",
    "widgets": [
        {"title": "Renewal forecast", "kind": "kpi", "measure": "renewal_forecast"},
        {"title": "GRR (renewal cohort)", "kind": "kpi", "measure": "grr"},
        {"title": "Renewals due by forecast category", "kind": "breakdown", "measure": "renewals_due",
         "dimension": "forecast_category"},
        {"title": "Renewals due by quarter", "kind": "timeseries", "measure": "renewals_due", "grain": "quarter",
         "periods_before": 3, "periods_after": 2},
    ],
}


@blueprint.get("/t/<tenant>/renewals/analyze")
@page("GET", "/renewals/views")
def analyze(api: PageApi) -> Any:
    views = api.get("/renewals/views")
    return render("analyze_list.html", section="analyze", views=views,
                  can_create=api.allowed("POST", "/renewals/views"))


@blueprint.post("/t/<tenant>/renewals/analyze/starter")
@page("POST", "/renewals/views")
def create_starter_view(api: PageApi) -> Response:
    view = api.post("/renewals/views", STARTER_VIEW)
    return done(url_for("pages.analyze_view", tenant=api.tenant_id, view_id=view["id"]),
                f"Saved and shared the view {view['name']!r}.")


def _widget_rows(widget_id: int) -> list[dict[str, str]]:
    return filter_forms.rows_from_args(request.args, prefix=f"w{widget_id}")


def _drill_url(api: PageApi, view_id: int, widget_id: int, drill: dict[str, Any], filters: list[dict]) -> str:
    query = {"period": drill.get("period")}
    if drill.get("group") is not None:
        query["group"] = drill["group"]
    if filters:
        query["filters"] = json.dumps(filters, separators=(",", ":"))
    return url_for("pages.drilldown", tenant=api.tenant_id, view_id=view_id, widget_id=widget_id) + "?" + urlencode(query)


def _chart(api: PageApi, view_id: int, widget: dict[str, Any], filters: list[dict], currency: str) -> dict[str, Any]:
    unit = widget.get("unit", "money")

    def shown(value: Any) -> str:
        return formatting.figure(value, unit, currency, compact=True)

    def link(drill: dict[str, Any]) -> str:
        return _drill_url(api, view_id, widget["id"], drill, filters)

    title = widget.get("title") or widget.get("label") or widget["measure"]
    if widget["kind"] == "kpi":
        figure = widget["figure"]
        marks = [charts.mark(widget["period_info"]["label"], figure.get("value"), shown(figure.get("value")),
                             link(figure["drill"]))]
        return {"kind": "kpi", "marks": marks, "note": figure.get("note"), "svg": None}
    if widget["kind"] == "breakdown":
        marks = [charts.mark(group["group"] if group["group"] is not None else "(none)", group.get("value"),
                             shown(group.get("value")), link(group["drill"])) for group in widget.get("groups", [])]
        total = widget.get("total") or {}
        total_mark = charts.mark("Total", total.get("value"), shown(total.get("value")),
                                 link(total["drill"])) if total.get("drill") else None
        return {"kind": "breakdown", "marks": marks, "total": total_mark, "note": total.get("note"),
                "svg": charts.bar_chart(marks, title=f"{title}, by {widget.get('dimension')}")}
    marks = [charts.mark(point["period_info"]["label"], point.get("value"), shown(point.get("value")),
                         link(point["drill"])) for point in widget.get("series", [])]
    return {"kind": "timeseries", "marks": marks, "note": None,
            "svg": charts.column_chart(marks, title=f"{title}, by period")}


@blueprint.get("/t/<tenant>/renewals/analyze/<int:view_id>")
@page("GET", DATA_RULE)
def analyze_view(api: PageApi, view_id: int) -> Any:
    fields = api.get("/renewals/fields")
    labels = {f["key"]: f["label"] for f in fields}
    period = request.args.get("period", "").strip() or None
    global_rows = filter_forms.rows_from_args(request.args, prefix="f")
    global_filters = filter_forms.api_filters(global_rows)
    problem: PageApiError | None = None
    query = {"period": period, "filters": json.dumps(global_filters) if global_filters else None}
    try:
        data = api.get(DATA_RULE, query, view_id=view_id)
    except PageApiError as exc:
        if exc.status != 422:
            raise
        problem = exc
        data = api.get(DATA_RULE, {}, view_id=view_id)
        global_rows, global_filters, period = [], [], None
    widgets = []
    for widget in data["widgets"]:
        rows = _widget_rows(widget["id"])
        widget_problem = None
        extra = global_filters
        if rows:
            extra = global_filters + filter_forms.api_filters(rows)
            try:
                narrowed = api.get(DATA_RULE, {**query, "filters": json.dumps(extra)}, view_id=view_id)
                widget = next(w for w in narrowed["widgets"] if w["id"] == widget["id"])
            except PageApiError as exc:
                if exc.status != 422:
                    raise
                widget_problem, extra, rows = exc, global_filters, []
        widgets.append({"data": widget, "rows": rows, "problem": widget_problem,
                        "saved_filters": filter_forms.describe(widget.get("filters"), labels),
                        "chart": _chart(api, view_id, widget, extra, data.get("currency"))})
    return render("analyze_view.html", section="analyze", view=data, widgets=widgets, fields=fields,
                  ops=filter_forms.OPS, global_rows=global_rows + [{}] * max(0, FILTER_ROWS - len(global_rows)),
                  period=period or "", problem=problem,
                  view_filters=filter_forms.describe(data.get("filters"), labels),
                  extra_filters=filter_forms.describe(data.get("extra_filters"), labels))


@blueprint.get("/t/<tenant>/renewals/analyze/<int:view_id>/widgets/<int:widget_id>/drilldown")
@page("GET", DRILL_RULE)
def drilldown(api: PageApi, view_id: int, widget_id: int) -> Any:
    args = request.args
    query = {"period": args.get("period") or None, "group": args.get("group"),
             "filters": args.get("filters") or None, "limit": 50, "cursor": args.get("cursor") or None}
    result = api.get(DRILL_RULE, query, view_id=view_id, widget_id=widget_id)
    csv_query = {k: v for k, v in query.items() if k in ("period", "group", "filters") and v is not None}
    csv_url = (f"/api/v1/tenants/{api.tenant_id}/renewals/views/{view_id}/widgets/{widget_id}/drilldown.csv?"
               + urlencode(csv_query))
    drill = result["drill"]
    labels = {f["key"]: f["label"] for f in api.get("/renewals/fields")}
    return render("drilldown.html", section="analyze", result=result, drill=drill, view_id=view_id,
                  widget_id=widget_id, csv_url=csv_url, filters=filter_forms.describe(drill.get("filters"), labels),
                  unit=_unit(api, drill.get("measure")),
                  next_url=url_with(cursor=result["next_cursor"]) if result.get("next_cursor") else None,
                  first_url=url_with(cursor=None) if args.get("cursor") else None)


def _unit(api: PageApi, key: str | None) -> str:
    for measure in api.get("/renewals/measures"):
        if measure["key"] == key:
            return measure["unit"]
    return "money"
