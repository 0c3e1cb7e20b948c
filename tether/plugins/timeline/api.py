"""The Timeline plugin's REST endpoints (contributed through ``tether_api_routes``).

Everyone may read and log activities (Gainsight's Viewer+Analytics users log and read
Timeline entries too); only an activity's author edits it; its author or an admin
deletes it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from marshmallow import Schema, ValidationError, fields, validate

from tether.core.api.app import ApiError
from tether.core.api.domain_schemas import ActivitySchema, CursorField, encode_cursor, field_errors
from tether.core.contracts import ApiRoute, TimelineQuery

from . import activities
from .activities import PLUGIN, ActivityInputSchema, ActivityPatchSchema, ActivityTypeInputSchema
from .feed import SOURCE, Cursor, crm_ids, timeline_page, to_activity

ALL = ("admin", "user", "viewer_analytics")


def _with(body=None, query=None, response=None, many=False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach the schemas the API reads from a plugin view."""

    def decorate(view):
        view.body_schema, view.query_schema, view.response_schema, view.many = body, query, response, many
        return view

    return decorate


class TypesField(fields.String):
    """``type=Call,Meeting`` → ("Call", "Meeting")."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        names = tuple(part.strip() for part in text.split(",") if part.strip())
        if not names:
            raise ValidationError("name at least one activity type")
        return names


class TimelineQuerySchema(Schema):
    company_id = fields.Integer(load_default=None)
    relationship_id = fields.Integer(load_default=None)
    opportunity_id = fields.Integer(load_default=None)
    type = TypesField(load_default=())
    since = fields.AwareDateTime(load_default=None, default_timezone=None)
    until = fields.AwareDateTime(load_default=None, default_timezone=None)
    author = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = CursorField(load_default=None)


class ActivityOutSchema(ActivitySchema):
    id = fields.Integer(allow_none=True)


class TimelinePageSchema(Schema):
    items = fields.List(fields.Nested(ActivityOutSchema))
    next_cursor = fields.String(allow_none=True)


class ActivityTypeOutSchema(Schema):
    id = fields.Integer(allow_none=True)
    name = fields.String()
    description = fields.String()
    scope = fields.String()
    relationship_type_id = fields.Integer(allow_none=True)


def _out(activity) -> dict[str, Any]:
    data = dataclasses.asdict(activity)
    data["id"] = int(activity.key.rsplit("/", 1)[1]) if activity.source == SOURCE else None
    return data


def _notify(api, **ids) -> None:
    from tether.core.api.domain_endpoints import notify

    notify(api, "activity", **ids)


@_with(query=TimelineQuerySchema, response=TimelinePageSchema)
def list_activities(api):
    """The timeline: activities from tether and every plugin feed, newest first, filtered and paged."""
    q = dict(api.query)
    cursor_data, types = q.pop("cursor"), q.pop("type")
    try:
        cursor = Cursor.from_json(cursor_data) if cursor_data is not None else None
    except ValueError as exc:
        raise ApiError(422, "invalid_input", "the request query is invalid", fields={"cursor": [str(exc)]}) from None
    page = timeline_page(api.tenant, TimelineQuery(types=types, **q), cursor)
    return {"items": [_out(a) for a in page.items],
            "next_cursor": encode_cursor(page.next_cursor.as_json()) if page.next_cursor else None}


@_with(body=ActivityInputSchema, response=ActivityOutSchema)
@field_errors
def log_activity(api):
    """Log an activity on a company, relationship and/or opportunity (written back to the CRM as a Task)."""
    with api.transaction() as session:
        row = activities.log_activity(api.tenant, session, api.body, author=api.principal.username)
        created = _out(to_activity(row))
    _notify(api, created=[row.id])
    return created, 201


@_with(response=ActivityOutSchema)
def get_activity(api, activity_id: int):
    """One activity logged in tether."""
    with api.session() as session:
        row = activities.get_activity(session, activity_id)
        pushed = crm_ids(session, [row.id] if row.external_id is None else [])
        activity = to_activity(row)
    return _out(dataclasses.replace(activity, external_id=pushed[row.id]) if pushed else activity)


@_with(body=ActivityPatchSchema, response=ActivityOutSchema)
@field_errors
def update_activity(api, activity_id: int):
    """Change an activity; only its author may."""
    with api.transaction() as session:
        row = activities.get_activity(session, activity_id)
        if row.author != api.principal.username:
            raise ApiError(403, "forbidden", f"only the author ({row.author}) edits an activity")
        row, changed = activities.update_activity(api.tenant, session, activity_id, api.body)
        updated = _out(to_activity(row))
    if changed:
        _notify(api, updated=[activity_id])
    return updated


def delete_activity(api, activity_id: int):
    """Delete an activity: its author or an admin may."""
    with api.transaction() as session:
        row = activities.get_activity(session, activity_id)
        if row.author != api.principal.username and api.role != "admin":
            raise ApiError(403, "forbidden", f"only the author ({row.author}) or an admin deletes an activity")
        activities.delete_activity(api.tenant, session, activity_id)
    _notify(api, deleted=[activity_id])
    return None, 204


@_with(response=ActivityTypeOutSchema, many=True)
def list_activity_types(api):
    """Activity types: the built-in five and the tenant's own, with their scope."""
    with api.session() as session:
        return activities.list_types(session)


@_with(body=ActivityTypeInputSchema, response=ActivityTypeOutSchema)
def create_activity_type(api):
    """Add a custom activity type: global, per company, or per relationship type."""
    with api.transaction() as session:
        row = activities.create_type(session, api.body)
        return {"id": row.id, "name": row.name, "description": row.description, "scope": row.scope,
                "relationship_type_id": row.relationship_type_id}, 201


def delete_activity_type(api, type_id: int):
    """Delete an unused custom activity type."""
    with api.transaction() as session:
        activities.delete_type(session, type_id)
    return None, 204


def routes() -> list[ApiRoute]:
    def route(rule, view, methods=("GET",), roles=ALL):
        return ApiRoute(plugin=PLUGIN, rule=rule, view=view, methods=methods, roles=roles)

    return [
        route("/activities", list_activities),
        route("/activities", log_activity, ("POST",)),
        route("/activities/<int:activity_id>", get_activity),
        route("/activities/<int:activity_id>", update_activity, ("PATCH",)),
        route("/activities/<int:activity_id>", delete_activity, ("DELETE",)),
        route("/activity-types", list_activity_types),
        route("/activity-types", create_activity_type, ("POST",), ("admin",)),
        route("/activity-types/<int:type_id>", delete_activity_type, ("DELETE",), ("admin",)),
    ]
