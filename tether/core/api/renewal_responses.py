"""Response schemas of the Renewal Center API: they document the shapes in OpenAPI.

The views hand over values already made JSON-safe (``renewal_schemas.jsonable``), so
amounts, dates and times are strings here.
"""

from __future__ import annotations

from marshmallow import Schema, fields


class RenewalFieldInfo(Schema):
    key = fields.String()
    label = fields.String()
    kind = fields.String()
    dimension = fields.Boolean()


class RenewalMeasureInfo(Schema):
    key = fields.String()
    label = fields.String()
    unit = fields.String()
    group = fields.String()
    description = fields.String()


class RenewalCallOut(Schema):
    id = fields.Integer()
    opportunity_id = fields.Integer()
    category = fields.String()
    amount = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)
    called_by = fields.String()
    called_at = fields.String()
    is_current = fields.Boolean()


class RenewalOpportunityOut(Schema):
    id = fields.Integer()
    name = fields.String()
    external_id = fields.String(allow_none=True)
    external_source = fields.String(allow_none=True)
    company_id = fields.Integer(allow_none=True)
    relationship_id = fields.Integer(allow_none=True)
    booking_type = fields.String(allow_none=True)
    family = fields.String()
    status = fields.String()
    stage = fields.String(allow_none=True)
    amount = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    target_amount = fields.String(allow_none=True)
    forecast_amount = fields.String(allow_none=True)
    final_amount = fields.String(allow_none=True)
    expected_forecast = fields.String(allow_none=True)
    change_amount = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True)
    close_date = fields.String(allow_none=True)
    probability = fields.Float(allow_none=True)
    forecast_category = fields.String()
    effective_forecast_category = fields.String()
    owner_name = fields.String(allow_none=True)
    csm = fields.String(allow_none=True)
    opportunity_type = fields.String(allow_none=True)
    forecast_call = fields.Nested(RenewalCallOut, allow_none=True)
    update_needed = fields.List(fields.String())
    likelihood = fields.Float(allow_none=True)
    attributes = fields.Dict()
    updated_at = fields.String(allow_none=True)


class RenewalOpportunityPage(Schema):
    items = fields.List(fields.Nested(RenewalOpportunityOut))
    next_cursor = fields.Raw(allow_none=True)


class RenewalFigureReport(Schema):
    tenant = fields.String()
    basis = fields.String(metadata={"description": "ARR or MRR"})
    currency = fields.String()
    today = fields.String()
    filters = fields.List(fields.Dict())
    dimension = fields.String(allow_none=True)
    scenarios = fields.Dict()
    periods = fields.List(fields.Dict(), metadata={"description": "per period: figures (and groups with a dimension)"})


class RenewalDrillPage(Schema):
    drill = fields.Dict()
    figure = fields.Dict()
    columns = fields.List(fields.String())
    items = fields.List(fields.Dict())
    next_cursor = fields.Integer(allow_none=True)


class RenewalWidgetOut(Schema):
    id = fields.Integer()
    position = fields.Integer()
    title = fields.String()
    kind = fields.String()
    measure = fields.String()
    dimension = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    grain = fields.String(allow_none=True)
    periods_before = fields.Integer()
    periods_after = fields.Integer()
    filters = fields.List(fields.Dict())


class RenewalViewOut(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    owner = fields.String()
    shared = fields.Boolean()
    period = fields.String()
    filters = fields.List(fields.Dict())
    created_at = fields.String()
    updated_at = fields.String()
    widgets = fields.List(fields.Nested(RenewalWidgetOut))


class RenewalViewData(RenewalViewOut):
    today = fields.String()
    basis = fields.String()
    currency = fields.String()
    extra_filters = fields.List(fields.Dict())
    widgets = fields.List(fields.Dict(), metadata={"description": "each widget with its figure, groups or series"})


class RenewalRiskItem(Schema):
    opportunity_id = fields.Integer()
    name = fields.String()
    company_id = fields.Integer(allow_none=True)
    company = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    csm = fields.String(allow_none=True)
    due_date = fields.String(allow_none=True)
    close_date = fields.String(allow_none=True)
    target_amount = fields.String(allow_none=True)
    forecast_amount = fields.String(allow_none=True)
    forecast_category = fields.String()
    forecast_call = fields.Dict(allow_none=True)
    likelihood = fields.Float(allow_none=True)
    factors = fields.List(fields.Dict(), metadata={"description": "feature, label, value, contribution (log-odds), effect, direction"})
    health = fields.Dict(allow_none=True)
    flags = fields.List(fields.Dict(), metadata={"description": "code, label, detail"})
    open_renewal = fields.Boolean()
    model = fields.Dict()
    inactive_rules = fields.Dict()


class RenewalRiskReport(Schema):
    tenant = fields.String()
    today = fields.String()
    basis = fields.String()
    currency = fields.String()
    periods = fields.List(fields.Dict())
    model = fields.Dict()
    inactive_rules = fields.Dict()
    open_renewals = fields.Integer()
    flagged = fields.Integer()
    flagged_target = fields.String()
    items = fields.List(fields.Nested(RenewalRiskItem))


class RenewalModelVersionOut(Schema):
    version = fields.Integer()
    status = fields.String()
    message = fields.String(allow_none=True)
    trained_at = fields.String()
    is_active = fields.Boolean()
    training_rows = fields.Integer()
    positives = fields.Integer()
    negatives = fields.Integer()
    algorithm = fields.String(allow_none=True)
    metrics = fields.Dict()
    importance = fields.List(fields.Dict())
    features = fields.List(fields.Dict())
    coefficients = fields.Dict()


class RenewalTrainOut(Schema):
    version = fields.Nested(RenewalModelVersionOut)
    scored = fields.Dict()


class RenewalSettingsOut(Schema):
    scenarios = fields.Dict()
    contract_term_months = fields.Integer()
    stale_forecast_days = fields.Integer()
    forecast_horizon_days = fields.Integer()
    no_activity_days = fields.Integer()
    red_health_below = fields.Float()
    low_likelihood_below = fields.Float()
    min_training_rows = fields.Integer()
    min_per_class = fields.Integer()
    max_training_rows = fields.Integer()
    retrain_cron = fields.String()
    currency = fields.String()
    amount_basis = fields.String()
    fiscal_year_start_month = fields.Integer()
