"""Marshmallow schemas of the domain API (companies, relationships, 360 read models)."""

from __future__ import annotations

import base64
import functools
import json
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate

from ..errors import InvalidFields
from .app import error_response

MONEY = {"as_string": True, "places": 2, "allow_none": True}


def _not_negative(value: Any) -> None:
    # A plain validator: validate.Range would print its bound into OpenAPI as text.
    if value is not None and value < 0:
        raise ValidationError("must not be negative")


def Money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(**{**MONEY, "validate": _not_negative, **kwargs})


def field_errors(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer :class:`InvalidFields` as 422 with every field's messages."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except InvalidFields as exc:
            return error_response(422, "invalid_input", exc.message, hint=exc.hint, fields=exc.errors)

    return wrapped


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise ValidationError("not a cursor this API returned; start again without 'cursor'") from None


class CursorField(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return decode_cursor(super()._deserialize(value, attr, data, **kwargs))


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = CursorField(load_default=None)


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "next_cursor": fields.String(allow_none=True)},
                            name=name)


# -- health and timeline (filled by plugins through hooks) ----------------------------


class HealthSchema(Schema):
    score = fields.Float(allow_none=True)
    label = fields.String(allow_none=True)
    color = fields.String(allow_none=True)
    scheme = fields.String(allow_none=True)
    scorecard = fields.String(allow_none=True)
    previous_score = fields.Float(allow_none=True)
    trend = fields.String(allow_none=True)
    computed_at = fields.DateTime(allow_none=True)
    overridden = fields.Boolean()


class ActivitySchema(Schema):
    key = fields.String()
    source = fields.String()
    type = fields.String()
    subject = fields.String()
    notes = fields.String()
    occurred_at = fields.DateTime()
    author = fields.String(allow_none=True)
    company_id = fields.Integer(allow_none=True)
    relationship_id = fields.Integer(allow_none=True)
    opportunity_id = fields.Integer(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True)
    internal_attendees = fields.List(fields.String())
    external_attendees = fields.List(fields.String())
    reporting_category = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)


# -- companies ------------------------------------------------------------------------


class CompanySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    parent_id = fields.Integer(allow_none=True)
    industry = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    company_type = fields.String(allow_none=True)
    owner_name = fields.String(allow_none=True)
    csm = fields.String(allow_none=True)
    lifecycle_stage = fields.String(allow_none=True)
    arr = Money()
    mrr = Money()
    employees = fields.Integer(allow_none=True)
    attributes = fields.Dict()
    external_source = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)
    parent_external_id = fields.String(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)


def _text(length: int) -> fields.String:
    return fields.String(allow_none=True, validate=validate.Length(max=length))


class CompanyInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    parent_id = fields.Integer(allow_none=True)
    industry = _text(120)
    segment = _text(120)
    company_type = _text(120)
    owner_name = _text(200)
    csm = _text(200)
    lifecycle_stage = _text(80)
    arr = Money()
    mrr = Money()
    employees = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    attributes = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=80)))


class CompanyPatchSchema(CompanyInputSchema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class CompanyQuery(PageQuery):
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=255))
    parent_id = fields.Integer(load_default=None)
    top_level = fields.Boolean(load_default=False)
    csm = fields.String(load_default=None)
    segment = fields.String(load_default=None)


class RollupSchema(Schema):
    companies = fields.Integer()
    arr = Money()
    mrr = Money()
    employees = fields.Integer()
    relationships = fields.Integer()
    relationship_arr = Money()
    relationship_mrr = Money()
    attributes = fields.Dict()


class CompanyRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    arr = Money()


class TreeNodeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    level = fields.Integer()
    children = fields.List(fields.Nested(lambda: TreeNodeSchema()))


class PathItemSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PathSchema(Schema):
    path = fields.List(fields.Nested(PathItemSchema))


class HierarchySchema(PathSchema):
    children = fields.List(fields.Nested(CompanyRefSchema))
    rollup = fields.Nested(RollupSchema, allow_none=True)
    tree = fields.Nested(TreeNodeSchema)


class ParentSchema(Schema):
    parent_id = fields.Integer(required=True, allow_none=True)


class LinkReportSchema(Schema):
    linked = fields.Integer()
    unlinked = fields.Integer()
    waiting = fields.Integer()
    refused = fields.List(fields.String())


# -- relationships --------------------------------------------------------------------


class TypeFieldSchema(Schema):
    name = fields.String()
    type = fields.String()
    required = fields.Boolean()
    choices = fields.List(fields.String())
    rollup = fields.String(allow_none=True)


class RelationshipTypeOutSchema(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String()
    description = fields.String()
    fields_ = fields.List(fields.Nested(TypeFieldSchema), data_key="fields", attribute="fields")
    source = fields.String()
    relationships = fields.Integer()


class RelationshipSchema(Schema):
    id = fields.Integer()
    company_id = fields.Integer()
    type_id = fields.Integer()
    type_name = fields.String()
    name = fields.String()
    arr = Money()
    mrr = Money()
    csm = fields.String(allow_none=True)
    stage = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    attributes = fields.Dict()
    updated_at = fields.DateTime(allow_none=True)
    health = fields.Nested(HealthSchema, allow_none=True)


class RelationshipInputSchema(Schema):
    company_id = fields.Integer(required=True)
    type_id = fields.Integer(load_default=None, allow_none=True)
    type_name = fields.String(load_default=None, allow_none=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    arr = Money()
    mrr = Money()
    csm = _text(200)
    stage = _text(80)
    status = _text(80)
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class RelationshipPatchSchema(Schema):
    company_id = fields.Integer()
    type_id = fields.Integer()
    name = fields.String(validate=validate.Length(min=1, max=255))
    arr = Money()
    mrr = Money()
    csm = _text(200)
    stage = _text(80)
    status = _text(80)
    attributes = fields.Dict(keys=fields.String())


class RelationshipQuery(PageQuery):
    company_id = fields.Integer(load_default=None)
    type_id = fields.Integer(load_default=None)
    csm = fields.String(load_default=None)
    stage = fields.String(load_default=None)
    status = fields.String(load_default=None)


class RuleOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    type_id = fields.Integer()
    entity = fields.String()
    field = fields.String()
    operator = fields.String()
    values = fields.List(fields.String())
    relationship_name = fields.String()
    priority = fields.Integer()
    enabled = fields.Boolean()


class RuleRunSchema(Schema):
    examined = fields.Integer()
    linked = fields.Integer()
    relationships_created = fields.Integer()


class RuleRunInputSchema(Schema):
    reassign = fields.Boolean(load_default=False)


# -- 360 read models ------------------------------------------------------------------


class OpportunitySummarySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    stage = fields.String(allow_none=True)
    amount = Money()
    currency = fields.String(allow_none=True)
    close_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    booking_type = fields.String(allow_none=True)
    forecast_category = fields.String(allow_none=True)
    probability = fields.Float(allow_none=True)
    is_closed = fields.Boolean()
    is_won = fields.Boolean()
    target_amount = Money()
    forecast_amount = Money()
    final_amount = Money()
    relationship_id = fields.Integer(allow_none=True)
    owner_name = fields.String(allow_none=True)
    csm = fields.String(allow_none=True)


class OpportunityGroupsSchema(Schema):
    open = fields.List(fields.Nested(OpportunitySummarySchema))
    closed = fields.List(fields.Nested(OpportunitySummarySchema))
    closed_total = fields.Integer()


class Company360Schema(Schema):
    company = fields.Nested(CompanySchema)
    health = fields.Nested(HealthSchema, allow_none=True)
    hierarchy = fields.Nested(HierarchySchema)
    relationships = fields.List(fields.Nested(RelationshipSchema))
    opportunities = fields.Nested(OpportunityGroupsSchema)
    timeline = fields.List(fields.Nested(ActivitySchema))


class Relationship360Schema(Schema):
    relationship = fields.Nested(RelationshipSchema)
    type = fields.Nested(RelationshipTypeOutSchema)
    company = fields.Nested(CompanyRefSchema)
    health = fields.Nested(HealthSchema, allow_none=True)
    hierarchy = fields.Nested(PathSchema)
    opportunities = fields.Nested(OpportunityGroupsSchema)
    timeline = fields.List(fields.Nested(ActivitySchema))
