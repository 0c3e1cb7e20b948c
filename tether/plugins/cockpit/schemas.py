"""The Cockpit API's request and response schemas (marshmallow; they drive the OpenAPI document too)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from tether.core.api.domain_schemas import CursorField, Money

from .config import PRIORITIES
from .listing import MAX_LIMIT, SORTS
from .playbooks import PlaybookSchema
from .rules import RuleCtaSchema, RuleSchema

__all__ = ["PlaybookSchema", "RuleSchema"]


class CsvField(fields.String):
    """``status=open,in_progress`` → ["open", "in_progress"]."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        parts = [part.strip() for part in text.split(",") if part.strip()]
        if not parts:
            raise ValidationError("name at least one value")
        return parts


class CtaListQuerySchema(Schema):
    owner = fields.String(load_default="me", validate=validate.Length(min=1, max=200),
                          metadata={"description": "me (default), any, or a username"})
    status = CsvField(load_default=lambda: ["open"],
                      metadata={"description": "open (default: every open status), closed, all, or statuses"})
    type = CsvField(load_default=None)
    priority = CsvField(load_default=None)
    source = CsvField(load_default=None)
    due_from = fields.Date(load_default=None)
    due_to = fields.Date(load_default=None)
    overdue = fields.Boolean(load_default=False)
    company_id = fields.Integer(load_default=None)
    relationship_id = fields.Integer(load_default=None)
    rule = fields.String(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=200))
    sort = fields.String(load_default="due_date", validate=validate.OneOf(SORTS + tuple(f"-{s}" for s in SORTS)))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = CursorField(load_default=None)


class TaskInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    owner = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200))
    due_date = fields.Date(load_default=None, allow_none=True)


class TaskPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=255))
    description = fields.String(validate=validate.Length(max=5000))
    owner = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    due_date = fields.Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(("open", "completed")))


class CtaInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    type = fields.String(load_default="risk", validate=validate.Length(min=1, max=40))
    reason = fields.String(load_default="", validate=validate.Length(max=5000))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    status = fields.String(load_default="open", validate=validate.Length(min=1, max=40))
    owner = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "a username; the caller when not given"})
    due_date = fields.Date(load_default=None, allow_none=True)
    company_id = fields.Integer(load_default=None, allow_none=True)
    relationship_id = fields.Integer(load_default=None, allow_none=True)
    opportunity_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=100))
    playbook = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80),
                             metadata={"description": "a playbook name, 'none', or the type's default when not given"})
    tasks = fields.List(fields.Nested(TaskInputSchema), load_default=list, validate=validate.Length(max=50))

    @validates_schema
    def _about_a_company(self, data, **kwargs):
        if data.get("company_id") is None and data.get("relationship_id") is None:
            raise ValidationError("a CTA is about a company: give company_id (or a relationship_id)", "company_id")


class CtaPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=255))
    type = fields.String(validate=validate.Length(min=1, max=40))
    reason = fields.String(validate=validate.Length(max=5000))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    status = fields.String(validate=validate.Length(min=1, max=40))
    owner = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    due_date = fields.Date(allow_none=True)
    relationship_id = fields.Integer(allow_none=True)


class CloseSchema(Schema):
    status = fields.String(load_default="closed_success", validate=validate.Length(min=1, max=40))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class ReopenSchema(Schema):
    status = fields.String(load_default="open", validate=validate.Length(min=1, max=40))


class OpportunityLinksSchema(Schema):
    opportunity_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(max=100))


class CommentInputSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class ApplyPlaybookSchema(Schema):
    playbook = fields.String(required=True, validate=validate.Length(min=1, max=80))


class RunRulesSchema(Schema):
    rules = fields.List(fields.String(), load_default=None, allow_none=True,
                        metadata={"description": "rule names; every enabled rule when not given"})


# -- responses -------------------------------------------------------------------------------


class NamedRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class RelationshipRefSchema(NamedRefSchema):
    type = fields.String(allow_none=True)


class TaskCountsSchema(Schema):
    total = fields.Integer()
    open = fields.Integer()


class CtaOutSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    type = fields.String()
    reason = fields.String()
    priority = fields.String()
    status = fields.String()
    status_label = fields.String()
    is_closed = fields.Boolean()
    owner = fields.String(allow_none=True)
    due_date = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    source = fields.String()
    rule = fields.String(allow_none=True)
    playbook = fields.String(allow_none=True)
    company = fields.Nested(NamedRefSchema)
    relationship = fields.Nested(RelationshipRefSchema, allow_none=True)
    fields_ = fields.Dict(data_key="fields", attribute="fields", keys=fields.String(), values=fields.Raw(allow_none=True))
    tasks = fields.Nested(TaskCountsSchema)
    created_by = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    closed_at = fields.AwareDateTime(allow_none=True)
    closed_by = fields.String(allow_none=True)


class CtaPageSchema(Schema):
    items = fields.List(fields.Nested(CtaOutSchema))
    next_cursor = fields.Method("_cursor", allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")

    def _cursor(self, page):
        from tether.core.api.domain_schemas import encode_cursor

        return encode_cursor(page["next_cursor"]) if page.get("next_cursor") else None


class TaskOutSchema(Schema):
    id = fields.Integer()
    cta_id = fields.Integer()
    name = fields.String()
    description = fields.String()
    owner = fields.String(allow_none=True)
    due_date = fields.Date(allow_none=True)
    position = fields.Integer()
    status = fields.String()
    overdue = fields.Boolean()
    completed_at = fields.AwareDateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class CommentOutSchema(Schema):
    id = fields.Integer()
    author = fields.String()
    body = fields.String()
    created_at = fields.AwareDateTime()


class LinkedOpportunitySchema(Schema):
    id = fields.Integer()
    name = fields.String()
    stage = fields.String(allow_none=True)
    status = fields.String()
    booking_type = fields.String(allow_none=True)
    amount = Money()
    target_amount = Money()
    forecast_amount = Money()
    currency = fields.String(allow_none=True)
    close_date = fields.Date(allow_none=True)
    due_date = fields.Date(allow_none=True)
    owner = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True)


class CtaDetailSchema(CtaOutSchema):
    task_list = fields.List(fields.Nested(TaskOutSchema))
    comments = fields.List(fields.Nested(CommentOutSchema))
    opportunities = fields.List(fields.Nested(LinkedOpportunitySchema))


class PlaybookReplaceSchema(PlaybookSchema):
    """A playbook's new definition; its name comes from the URL."""

    name = fields.String(load_default=None, validate=validate.Length(min=1, max=80))


class PlaybookOutSchema(PlaybookSchema):
    source = fields.String()


class RuleReplaceSchema(RuleSchema):
    """A rule's new definition; its name comes from the URL."""

    name = fields.String(load_default=None, validate=validate.Length(min=1, max=80))


class CockpitRuleOutSchema(RuleSchema):
    source = fields.String()
    condition_label = fields.String(allow_none=True)
    effective_params = fields.Dict(keys=fields.String())
    cta = fields.Nested(RuleCtaSchema)


class ConditionOutSchema(Schema):
    key = fields.String()
    label = fields.String()
    description = fields.String()
    plugin = fields.String()
    defaults = fields.Dict(keys=fields.String())


class StatusOutSchema(Schema):
    name = fields.String()
    label = fields.String()
    closed = fields.Boolean()


class SettingsOutSchema(Schema):
    types = fields.List(fields.String())
    built_in_types = fields.List(fields.String())
    statuses = fields.List(fields.Nested(StatusOutSchema))
    priorities = fields.List(fields.String())
    sources = fields.List(fields.String())
    list_fields = fields.List(fields.String())
    task_sync = fields.Boolean()


class CockpitRuleReportSchema(Schema):
    rule = fields.String()
    condition = fields.String()
    status = fields.String()
    occurrences = fields.Integer()
    started = fields.Integer()
    ended = fields.Integer()
    opened = fields.Integer()
    already_open = fields.Integer()
    skipped = fields.Integer()
    seconds = fields.Float()
    error = fields.String(allow_none=True)


class CockpitRunReportSchema(Schema):
    tenant = fields.String()
    rules = fields.List(fields.Nested(CockpitRuleReportSchema))
    opened = fields.Integer()
    failed = fields.Integer()
    seconds = fields.Float()
