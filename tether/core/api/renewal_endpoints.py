"""Renewal Center API: opportunities, forecast calls, forecast, metrics, settings, catalog.

Roles: admins configure (settings, model training); users forecast, edit opportunities and
build views; Viewer+Analytics users only reach Analyze through shared views (see
``renewal_views``) and the catalogs, never the forecast page or opportunities.
"""

from __future__ import annotations

from ..renewals import analytics, calls, opportunities
from ..renewals.analytics import Selection
from ..renewals.catalog import catalog
from ..renewals.config import load_config, update_config
from ..renewals.measures import MEASURES
from ..renewals.metrics import FAMILIES
from .registry import ADMIN_ROLES, READ_ROLES, WRITE_ROLES, registry
from .renewal_responses import (
    RenewalCallOut, RenewalFieldInfo, RenewalFigureReport, RenewalMeasureInfo, RenewalOpportunityOut,
    RenewalOpportunityPage, RenewalSettingsOut,
)
from .renewal_schemas import (
    RenewalCallBody, RenewalFigureQuery, RenewalMetricsQuery, RenewalOpportunityBody,
    RenewalOpportunityListQuery, RenewalOpportunityPatch, RenewalSettingsBody, field_errors,
)

TAG = "renewals"


def _selection(query: dict, *, period_default: str | None = "current_quarter") -> Selection:
    return Selection.parse(period=query.get("period") or period_default, grain=query.get("grain"),
                           before=query.get("before", 0), after=query.get("after", 0),
                           filters=query.get("filters"), dimension=query.get("dimension"))


# -- catalogs --------------------------------------------------------------------------------


@registry.route("/renewals/fields", roles=READ_ROLES, tag=TAG, response=RenewalFieldInfo, many=True)
def renewal_fields(api):
    """Fields figures can be filtered and broken down by."""
    return catalog()


@registry.route("/renewals/measures", roles=READ_ROLES, tag=TAG, response=RenewalMeasureInfo, many=True)
def renewal_measures(api):
    """Every figure (forecast, renewal-cohort and ARR-cohort rates) with its definition."""
    return [measure.describe() for measure in MEASURES.values()]


# -- settings --------------------------------------------------------------------------------


@registry.route("/renewals/settings", roles=WRITE_ROLES, tag=TAG, response=RenewalSettingsOut)
def renewal_settings(api):
    """The tenant's Renewal Center settings (scenarios, risk thresholds, model limits)."""
    config = load_config(api.tenant)
    return {**config.admin_dict(), "currency": config.currency, "amount_basis": config.amount_basis,
            "fiscal_year_start_month": config.fiscal_year_start_month}


@registry.route("/renewals/settings", methods=("PUT",), roles=ADMIN_ROLES, tag=TAG, body=RenewalSettingsBody,
                response=RenewalSettingsOut)
@field_errors
def change_renewal_settings(api):
    """Change Renewal Center settings; fields not given keep their value."""
    config = update_config(api.tenant, api.body, by=api.principal.username)
    return {**config.admin_dict(), "currency": config.currency, "amount_basis": config.amount_basis,
            "fiscal_year_start_month": config.fiscal_year_start_month}


# -- forecast and metrics --------------------------------------------------------------------


@registry.route("/renewals/forecast", roles=WRITE_ROLES, tag=TAG, query=RenewalFigureQuery, response=RenewalFigureReport)
@field_errors
def renewal_forecast(api):
    """Forecast per period: due, won, lost, open, scenarios, rep calls (by a dimension if asked)."""
    return analytics.forecast(api.tenant, _selection(api.query))


@registry.route("/renewals/metrics", roles=WRITE_ROLES, tag=TAG, query=RenewalMetricsQuery, response=RenewalFigureReport)
@field_errors
def renewal_metrics(api):
    """GRR and NRR per period in both families, each labelled (renewal cohort and ARR cohort)."""
    families = (api.query["family"],) if api.query.get("family") else tuple(FAMILIES)
    return analytics.metrics(api.tenant, _selection(api.query), families=families)


# -- opportunities ---------------------------------------------------------------------------


@registry.route("/renewals/opportunities", roles=WRITE_ROLES, tag=TAG, query=RenewalOpportunityListQuery,
                response=RenewalOpportunityPage)
@field_errors
def list_renewal_opportunities(api):
    """Opportunities by due date, with calls, likelihood and update-needed flags; paged."""
    query = api.query
    selection = _selection(query, period_default=None)
    return opportunities.list_opportunities(
        api.tenant, selection, status=query.get("status"),
        family=None if query.get("family") == "any" else query.get("family"),
        limit=query["limit"], cursor=query.get("cursor"), period_filter=query.get("period") is not None)


@registry.route("/renewals/opportunities", methods=("POST",), roles=WRITE_ROLES, tag=TAG, body=RenewalOpportunityBody,
                response=RenewalOpportunityOut, status=201)
@field_errors
def create_renewal_opportunity(api):
    """Create an opportunity; it is queued for Salesforce in the same transaction."""
    return opportunities.create_opportunity(api.tenant, api.body, by=api.principal.username), 201


@registry.route("/renewals/opportunities/<int:opportunity_id>", roles=WRITE_ROLES, tag=TAG, response=RenewalOpportunityOut)
@field_errors
def get_renewal_opportunity(api, opportunity_id):
    """One opportunity with its current call, likelihood and update-needed flags."""
    return opportunities.get_opportunity(api.tenant, opportunity_id)


@registry.route("/renewals/opportunities/<int:opportunity_id>", methods=("PATCH",), roles=WRITE_ROLES, tag=TAG,
                body=RenewalOpportunityPatch, response=RenewalOpportunityOut)
@field_errors
def update_renewal_opportunity(api, opportunity_id):
    """Edit an opportunity; changed fields are queued for Salesforce in the same transaction."""
    return opportunities.update_opportunity(api.tenant, opportunity_id, api.body, by=api.principal.username)


@registry.route("/renewals/opportunities/<int:opportunity_id>/calls", roles=WRITE_ROLES, tag=TAG,
                response=RenewalCallOut, many=True)
@field_errors
def list_forecast_calls(api, opportunity_id):
    """The opportunity's forecast calls, newest (current) first."""
    return calls.call_history(api.tenant, opportunity_id)


@registry.route("/renewals/opportunities/<int:opportunity_id>/calls", methods=("POST",), roles=WRITE_ROLES, tag=TAG,
                body=RenewalCallBody, response=RenewalCallOut, status=201)
@field_errors
def make_forecast_call(api, opportunity_id):
    """Enter a forecast call (category, amount, comment); written back when mapped to Salesforce."""
    body = api.body
    return calls.record_call(api.tenant, opportunity_id, category=body["category"], amount=body.get("amount"),
                             comment=body.get("comment"), by=api.principal.username), 201
