"""Renewal Center API, Analyze: saved views, their figures, drill-downs and CSV exports.

Everyone may read shared views, look at them with extra filters, drill into any figure
and export it (Viewer+Analytics included); creating, editing and sharing views takes the
user or admin role. Ad-hoc drill-downs outside a view are for users and admins.
"""

from __future__ import annotations

from flask import Response, stream_with_context

from ..renewals import drilldown
from ..renewals.analytics import Selection, build_rollup
from ..renewals.catalog import dimension_field, parse_filters
from ..renewals.config import load_config, today_utc
from ..renewals.drilldown import Drill
from ..renewals.export import csv_chunks, filename
from ..renewals.measures import measure
from ..renewals.views import (
    Viewer, create_view, delete_view, evaluate_view, get_view, list_views, update_view, widget_drill,
)
from .registry import READ_ROLES, WRITE_ROLES, registry
from .renewal_responses import RenewalDrillPage, RenewalViewData, RenewalViewOut
from .renewal_schemas import (
    RenewalDrillQuery, RenewalExportQuery, RenewalViewBody, RenewalViewDataQuery, RenewalViewPatch,
    RenewalWidgetDrillQuery, RenewalWidgetExportQuery, field_errors,
)

TAG = "renewals"


def _viewer(api) -> Viewer:
    return Viewer(api.principal.username, api.role)


def _figure(api, drill: Drill, config) -> dict:
    """The figure a drill-down explains, as the rollup computes it (it equals the rows' sum)."""
    with api.session() as session:
        rollup = build_rollup(session, api.tenant.id, config, Selection(filters=drill.filters, dimension=drill.dimension),
                              [drill.period], arr_window=True)
    return rollup.figure(drill.measure.key, drill.period, drill.group if drill.dimension is not None else None)


def _page(api, drill: Drill, config) -> dict:
    query = api.query
    with api.session() as session:
        page = drilldown.page(session, drill, api.tenant.id, config, limit=query["limit"], after_id=query.get("cursor"))
    return {"drill": drill.describe(), "figure": _figure(api, drill, config), "columns": drill.header(), **page}


def _csv(api, drill: Drill, config) -> Response:
    response = Response(stream_with_context(csv_chunks(api.tenant, drill, config)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename(api.tenant.id, drill)}"'
    return response


# -- views -----------------------------------------------------------------------------------


@registry.route("/renewals/views", roles=READ_ROLES, tag=TAG, response=RenewalViewOut, many=True)
@field_errors
def list_renewal_views(api):
    """Views the caller may see: shared ones, and their own (Viewer+Analytics: shared only)."""
    return list_views(api.tenant, _viewer(api))


@registry.route("/renewals/views", methods=("POST",), roles=WRITE_ROLES, tag=TAG, body=RenewalViewBody, response=RenewalViewOut,
                status=201)
@field_errors
def create_renewal_view(api):
    """Save a view: period, global filters, widgets; private unless shared."""
    return create_view(api.tenant, api.body, _viewer(api)), 201


@registry.route("/renewals/views/<int:view_id>", roles=READ_ROLES, tag=TAG, response=RenewalViewOut)
@field_errors
def get_renewal_view(api, view_id):
    """One view's definition."""
    return get_view(api.tenant, view_id, _viewer(api))


@registry.route("/renewals/views/<int:view_id>", methods=("PATCH",), roles=WRITE_ROLES, tag=TAG, body=RenewalViewPatch,
                response=RenewalViewOut)
@field_errors
def update_renewal_view(api, view_id):
    """Change a view (its owner; an admin for shared views); only the owner shares or unshares."""
    return update_view(api.tenant, view_id, api.body, _viewer(api))


@registry.route("/renewals/views/<int:view_id>", methods=("DELETE",), roles=WRITE_ROLES, tag=TAG, status=204)
@field_errors
def delete_renewal_view(api, view_id):
    """Delete a view (its owner; an admin for shared views)."""
    delete_view(api.tenant, view_id, _viewer(api))
    return None


@registry.route("/renewals/views/<int:view_id>/data", roles=READ_ROLES, tag=TAG, query=RenewalViewDataQuery,
                response=RenewalViewData)
@field_errors
def renewal_view_data(api, view_id):
    """Every widget's figures; ``filters`` narrow them for this look only."""
    return evaluate_view(api.tenant, view_id, _viewer(api), extra_filters=api.query.get("filters"),
                         period=api.query.get("period"))


@registry.route("/renewals/views/<int:view_id>/widgets/<int:widget_id>/drilldown", roles=READ_ROLES, tag=TAG,
                query=RenewalWidgetDrillQuery, response=RenewalDrillPage)
@field_errors
def renewal_widget_drilldown(api, view_id, widget_id):
    """The opportunities behind a widget's figure, with each one's contribution; paged by id."""
    drill, config = widget_drill(api.tenant, view_id, widget_id, _viewer(api), period=api.query.get("period"),
                                 group=api.query.get("group"), extra_filters=api.query.get("filters"))
    return _page(api, drill, config)


@registry.route("/renewals/views/<int:view_id>/widgets/<int:widget_id>/drilldown.csv", roles=READ_ROLES, tag=TAG,
                query=RenewalWidgetExportQuery, streams="text/csv")
@field_errors
def export_renewal_widget_drilldown(api, view_id, widget_id):
    """The same drill-down as CSV, streamed (any size, constant memory)."""
    drill, config = widget_drill(api.tenant, view_id, widget_id, _viewer(api), period=api.query.get("period"),
                                 group=api.query.get("group"), extra_filters=api.query.get("filters"))
    return _csv(api, drill, config)


# -- ad-hoc drill-down (outside views) -------------------------------------------------------


def _adhoc(api) -> tuple[Drill, object]:
    query = api.query
    config = load_config(api.tenant)
    period = config.calendar.parse(query.get("period") or "current_quarter", today_utc())
    dimension = dimension_field(query["dimension"]) if query.get("dimension") else None
    group = query.get("group")
    if group is None:
        dimension = None
    return Drill(measure(query["measure"]), period, tuple(parse_filters(query.get("filters"))), dimension, group), config


@registry.route("/renewals/drilldown", roles=WRITE_ROLES, tag=TAG, query=RenewalDrillQuery, response=RenewalDrillPage)
@field_errors
def renewal_drilldown(api):
    """The opportunities behind any figure (measure, period, filters, group), with contributions."""
    drill, config = _adhoc(api)
    return _page(api, drill, config)


@registry.route("/renewals/drilldown.csv", roles=WRITE_ROLES, tag=TAG, query=RenewalExportQuery, streams="text/csv")
@field_errors
def export_renewal_drilldown(api):
    """Any figure's drill-down as CSV, streamed."""
    drill, config = _adhoc(api)
    return _csv(api, drill, config)

