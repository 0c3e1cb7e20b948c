"""The Scorecards plugin's REST endpoints (contributed through ``tether_api_routes``).

They answer only for tenants that enabled the plugin. Everyone reads scores; admins
and users run scoring and set overrides; admins define scorecards.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from marshmallow import Schema, fields, validate

from tether.core.api.app import ApiError
from tether.core.api.domain_schemas import CursorField, HealthSchema, encode_cursor, field_errors
from tether.core.contracts import ApiRoute

from . import health
from .definitions import ENTITY_KINDS, PLUGIN, ScorecardSchema, delete_scorecard, effective_scorecards, save_scorecard
from .health import weight_shares
from .measures import available_measures
from .runner import run_scoring

READ = ("admin", "user", "viewer_analytics")
WRITE = ("admin", "user")
ADMIN = ("admin",)


def _with(body=None, query=None, response=None, many=False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view):
        view.body_schema, view.query_schema, view.response_schema, view.many = body, query, response, many
        return view

    return decorate


def _kind(entity: str) -> str:
    if entity not in ENTITY_KINDS:
        raise ApiError(404, "not_found", f"no such entity kind {entity!r}", hint="use company or relationship")
    return entity


class ScoreQuery(Schema):
    entity = fields.String(load_default="company", validate=validate.OneOf(ENTITY_KINDS))
    label = fields.String(load_default=None)
    scorecard = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = CursorField(load_default=None)


class ScoreRowSchema(HealthSchema):
    entity = fields.String()
    entity_id = fields.Integer()
    exception = fields.String(allow_none=True)


class ScorePageSchema(Schema):
    items = fields.List(fields.Nested(ScoreRowSchema))
    next_cursor = fields.String(allow_none=True)


class MeasureDetailSchema(Schema):
    key = fields.String()
    label = fields.String()
    group = fields.String(allow_none=True)
    weight = fields.Float()
    share = fields.Float()
    score = fields.Float(allow_none=True)
    range = fields.String(allow_none=True)
    color = fields.String(allow_none=True)


class GroupDetailSchema(Schema):
    name = fields.String()
    share = fields.Float()
    score = fields.Float(allow_none=True)
    range = fields.String(allow_none=True)


class HistoryPointSchema(Schema):
    at = fields.DateTime()
    score = fields.Float(allow_none=True)
    label = fields.String(allow_none=True)
    scorecard = fields.String()
    overridden = fields.Boolean()


class OverrideOutSchema(Schema):
    measure = fields.String(allow_none=True)
    score = fields.Float()
    note = fields.String()
    author = fields.String()
    created_at = fields.DateTime()


class ScoreDetailSchema(ScoreRowSchema):
    measures = fields.List(fields.Nested(MeasureDetailSchema))
    groups = fields.List(fields.Nested(GroupDetailSchema))
    history = fields.List(fields.Nested(HistoryPointSchema))
    overrides = fields.List(fields.Nested(OverrideOutSchema))


class OverrideInputSchema(Schema):
    measure = fields.String(load_default=None, allow_none=True)
    score = fields.Float(required=True, validate=validate.Range(0, 100))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class HistoryQuery(Schema):
    limit = fields.Integer(load_default=52, validate=validate.Range(1, 520))


class RunReportSchema(Schema):
    run_id = fields.Integer(allow_none=True)
    trigger = fields.String()
    scored = fields.Dict(keys=fields.String(), values=fields.Integer())
    not_applicable = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_scorecard = fields.Dict(keys=fields.String(), values=fields.Integer())
    missing_measures = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    snapshot = fields.Boolean()
    overrides_ended = fields.Integer()
    written = fields.Dict(keys=fields.String(), values=fields.Integer())
    seconds = fields.Float()
    phases = fields.Dict(keys=fields.String(), values=fields.Float())


class MeasureInfoSchema(Schema):
    key = fields.String()
    label = fields.String()
    kind = fields.String()
    entity_kinds = fields.List(fields.String())
    choices = fields.List(fields.String())
    higher_is_better = fields.Boolean()
    plugin = fields.String()


class ScorecardOutSchema(ScorecardSchema):
    source = fields.String()
    shares = fields.Dict(keys=fields.String(), values=fields.Float())


# -- definitions ----------------------------------------------------------------------


@_with(response=ScorecardOutSchema, many=True)
def list_scorecards(api):
    """The scorecards in force: where they are defined, and each measure's share of the overall score."""
    with api.session() as session:
        cards, source = effective_scorecards(api.tenant, session)
    return [{**card, "source": source, "shares": weight_shares(card)} for card in cards]


@_with(body=ScorecardSchema, response=ScorecardOutSchema)
@field_errors
def create_scorecard(api):
    """Define a scorecard (tenants whose manifest lists scorecards edit them there)."""
    measures = available_measures(api.tenant)
    with api.transaction() as session:
        card = save_scorecard(api.tenant, session, api.body, measures)
    return {**card, "source": "api", "shares": weight_shares(card)}, 201


@_with(body=ScorecardSchema, response=ScorecardOutSchema)
@field_errors
def replace_scorecard(api, name: str):
    """Replace a scorecard's definition."""
    measures = available_measures(api.tenant)
    with api.transaction() as session:
        card = save_scorecard(api.tenant, session, api.body, measures, replace=name)
    return {**card, "source": "api", "shares": weight_shares(card)}


def remove_scorecard(api, name: str):
    """Delete a scorecard (not the default while others of its kind remain)."""
    with api.transaction() as session:
        delete_scorecard(api.tenant, session, name)
    return None, 204


@_with(response=MeasureInfoSchema, many=True)
def list_measures(api):
    """Measures scorecards can use, from every plugin the tenant enabled."""
    return [{"key": m.key, "label": m.label, "kind": m.kind, "entity_kinds": list(m.entity_kinds),
             "choices": list(m.choices), "higher_is_better": m.higher_is_better, "plugin": m.plugin}
            for m in sorted(available_measures(api.tenant).values(), key=lambda m: m.key)]


# -- scores ---------------------------------------------------------------------------


@_with(response=RunReportSchema)
def run_now(api):
    """Score every company and relationship now (the scheduled run does the same)."""
    return dataclasses.asdict(run_scoring(api.tenant, trigger="on_demand"))


@_with(query=ScoreQuery, response=ScorePageSchema)
def list_scores(api):
    """Current scores of companies or relationships, filtered by range label or scorecard."""
    q = api.query
    rows = health.list_scores(api.tenant, q["entity"], label=q["label"], scorecard=q["scorecard"],
                              after=q["cursor"], limit=q["limit"] + 1)
    items = rows[:q["limit"]]
    return {"items": items, "next_cursor": encode_cursor(items[-1]["entity_id"]) if len(rows) > q["limit"] else None}


@_with(response=ScoreDetailSchema)
def score_detail(api, entity: str, entity_id: int):
    """One entity's score: measures with their share and range, groups, history and active overrides."""
    return health.score_detail(api.tenant, _kind(entity), entity_id)


@_with(query=HistoryQuery, response=HistoryPointSchema, many=True)
def score_history(api, entity: str, entity_id: int):
    """Score snapshots over time, oldest first."""
    return health.history_of(api.tenant, _kind(entity), entity_id, api.query["limit"])


@_with(body=OverrideInputSchema, response=ScoreDetailSchema)
def override_score(api, entity: str, entity_id: int):
    """Set a measure's (or the overall) score by hand; it holds until the next scoring run."""
    kind = _kind(entity)
    body = api.body
    health.set_override(api.tenant, kind, entity_id, measure=body["measure"], score=body["score"], note=body["note"],
                        author=api.principal.username)
    return health.score_detail(api.tenant, kind, entity_id), 201


def routes() -> list[ApiRoute]:
    def route(rule, view, methods=("GET",), roles=READ):
        return ApiRoute(plugin=PLUGIN, rule=rule, view=view, methods=methods, roles=roles)

    return [
        route("/scorecards", list_scorecards),
        route("/scorecards", create_scorecard, ("POST",), ADMIN),
        route("/scorecards/<name>", replace_scorecard, ("PUT",), ADMIN),
        route("/scorecards/<name>", remove_scorecard, ("DELETE",), ADMIN),
        route("/health-measures", list_measures),
        route("/scores", list_scores),
        route("/scores/run", run_now, ("POST",), WRITE),
        route("/scores/<entity>/<int:entity_id>", score_detail),
        route("/scores/<entity>/<int:entity_id>/history", score_history),
        route("/scores/<entity>/<int:entity_id>/overrides", override_score, ("POST",), WRITE),
    ]
