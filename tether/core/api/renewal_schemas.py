"""Marshmallow schemas of the Renewal Center API, and the helpers its views share.

Amounts travel as exact decimal strings ("1200.50"), dates as ISO 8601. Filters in a
query string are one JSON parameter: ``filters=[{"field":"segment","op":"eq","value":"SMB"}]``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from decimal import Decimal
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate

from ..contracts import BOOKING_TYPES
from ..errors import InvalidFields
from .app import error_response

def _not_negative(value: Decimal | None) -> None:
    # A plain callable, not validate.Range: apispec would print Range's bound of a string
    # Decimal as a string ("0.00"), which is not valid OpenAPI.
    if value is not None and value < 0:
        raise ValidationError("must not be negative")


MONEY = dict(as_string=True, places=2, allow_none=True, validate=_not_negative,
             metadata={"description": "exact amount as a decimal string, not negative"})
STRICT_LIMIT = validate.Range(1, 1000)


def jsonable(value: Any) -> Any:
    """Decimals as exact strings, dates and times as ISO 8601, recursively."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def field_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer :class:`InvalidFields` as 422 with every field's messages; JSON-safe results."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            result = view(*args, **kwargs)
        except InvalidFields as exc:
            return error_response(422, "invalid_input", exc.message, hint=exc.hint, fields=exc.errors)
        if isinstance(result, tuple):
            return jsonable(result[0]), result[1]
        if isinstance(result, (dict, list)):
            return jsonable(result)
        return result

    return wrapped


class JsonList(fields.String):
    """A query parameter holding a JSON list (filters)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValidationError('must be JSON, e.g. [{"field": "segment", "op": "eq", "value": "SMB"}]') from None
        if not isinstance(parsed, list):
            raise ValidationError("must be a JSON list of {field, op, value|values}")
        return parsed


# -- queries -----------------------------------------------------------------------------


class RenewalFigureQuery(Schema):
    period = fields.String(load_default="current_quarter",
                           metadata={"description": "2025-03, FY2025-Q2, FY2025, current_quarter, next_quarter+1, or 'all'"})
    grain = fields.String(load_default=None, validate=validate.OneOf(["month", "quarter", "fiscal_year"]))
    before = fields.Integer(load_default=0, validate=validate.Range(0, 60))
    after = fields.Integer(load_default=0, validate=validate.Range(0, 60))
    dimension = fields.String(load_default=None, metadata={"description": "owner, csm, segment, company.attr.NAME ..."})
    filters = JsonList(load_default=None)


class RenewalMetricsQuery(RenewalFigureQuery):
    family = fields.String(load_default=None, validate=validate.OneOf(["renewal_cohort", "arr_cohort"]),
                           metadata={"description": "one family only; both when omitted"})


class RenewalOpportunityListQuery(Schema):
    period = fields.String(load_default=None)
    before = fields.Integer(load_default=0, validate=validate.Range(0, 60))
    after = fields.Integer(load_default=0, validate=validate.Range(0, 60))
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "won", "lost"]))
    family = fields.String(load_default="renewal",
                           validate=validate.OneOf(["renewal", "upsell", "downsell", "new_business", "other", "any"]))
    filters = JsonList(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = JsonList(load_default=None, metadata={"description": "next_cursor of the previous page"})


class RenewalRiskQuery(Schema):
    period = fields.String(load_default="current_quarter")
    before = fields.Integer(load_default=0, validate=validate.Range(0, 60))
    after = fields.Integer(load_default=1, validate=validate.Range(0, 60))
    filters = JsonList(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 1000))


class RenewalDrillQuery(Schema):
    measure = fields.String(required=True)
    period = fields.String(load_default="current_quarter")
    dimension = fields.String(load_default=None)
    group = fields.String(load_default=None, metadata={"description": "the breakdown group, as the figure names it"})
    filters = JsonList(load_default=None)
    limit = fields.Integer(load_default=100, validate=STRICT_LIMIT)
    cursor = fields.Integer(load_default=None, metadata={"description": "next_cursor of the previous page"})


class RenewalExportQuery(Schema):
    measure = fields.String(required=True)
    period = fields.String(load_default="current_quarter")
    dimension = fields.String(load_default=None)
    group = fields.String(load_default=None)
    filters = JsonList(load_default=None)


class RenewalViewDataQuery(Schema):
    period = fields.String(load_default=None, metadata={"description": "look at another period than the view's"})
    filters = JsonList(load_default=None, metadata={"description": "narrow every widget; never saved"})


class RenewalWidgetDrillQuery(Schema):
    period = fields.String(load_default=None)
    group = fields.String(load_default=None)
    filters = JsonList(load_default=None)
    limit = fields.Integer(load_default=100, validate=STRICT_LIMIT)
    cursor = fields.Integer(load_default=None)


class RenewalWidgetExportQuery(Schema):
    period = fields.String(load_default=None)
    group = fields.String(load_default=None)
    filters = JsonList(load_default=None)


# -- bodies ------------------------------------------------------------------------------


class RenewalOpportunityBody(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 255))
    booking_type = fields.String(required=True, validate=validate.OneOf(BOOKING_TYPES))
    company_id = fields.Integer(allow_none=True)
    relationship_id = fields.Integer(allow_none=True)
    stage = fields.String(allow_none=True, validate=validate.Length(max=120))
    amount = fields.Decimal(**MONEY)
    currency = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    close_date = fields.Date(allow_none=True)
    opportunity_type = fields.String(allow_none=True, validate=validate.Length(max=120))
    probability = fields.Float(allow_none=True, validate=validate.Range(0, 100))
    forecast_category = fields.String(allow_none=True, validate=validate.Length(max=40))
    owner_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    csm = fields.String(allow_none=True, validate=validate.Length(max=200))
    target_amount = fields.Decimal(**MONEY)
    forecast_amount = fields.Decimal(**MONEY)
    final_amount = fields.Decimal(**MONEY)
    due_date = fields.Date(allow_none=True)
    attributes = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True))


class RenewalOpportunityPatch(RenewalOpportunityBody):
    name = fields.String(validate=validate.Length(1, 255))
    booking_type = fields.String(validate=validate.OneOf(BOOKING_TYPES))


def _callable_category(value: str) -> None:
    from ..renewals.calls import CALLABLE_CATEGORIES
    from ..renewals.vocabulary import category_of

    if category_of(value) not in CALLABLE_CATEGORIES:
        raise ValidationError(f"{value!r} is not a forecast category; use one of {', '.join(CALLABLE_CATEGORIES)}")


class RenewalCallBody(Schema):
    category = fields.String(required=True, validate=_callable_category,
                             metadata={"description": "pipeline, best_case, commit, most_likely, omitted, closed "
                                                      "(Salesforce spellings such as 'Best Case' or 'Forecast' too)"})
    amount = fields.Decimal(**MONEY)
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))


class RenewalWidgetBody(Schema):
    title = fields.String()
    kind = fields.String(required=True, validate=validate.OneOf(["kpi", "breakdown", "timeseries"]))
    measure = fields.String(required=True)
    dimension = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    grain = fields.String(allow_none=True)
    periods_before = fields.Integer()
    periods_after = fields.Integer()
    filters = fields.List(fields.Dict())


class RenewalViewBody(Schema):
    name = fields.String(required=True)
    description = fields.String(allow_none=True, validate=validate.Length(max=1000))
    shared = fields.Boolean(load_default=False)
    period = fields.String(load_default="current_quarter")
    filters = fields.List(fields.Dict(), load_default=list)
    widgets = fields.List(fields.Nested(RenewalWidgetBody), load_default=list)


class RenewalViewPatch(Schema):
    name = fields.String()
    description = fields.String(allow_none=True, validate=validate.Length(max=1000))
    shared = fields.Boolean()
    period = fields.String()
    filters = fields.List(fields.Dict())
    widgets = fields.List(fields.Nested(RenewalWidgetBody))


class RenewalSettingsBody(Schema):
    """Any of the renewal settings; see ``tether.core.renewals.config.RenewalConfigSchema``."""

    class Meta:
        unknown = "include"
