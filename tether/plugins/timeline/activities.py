"""Logging activities: types and their scopes, the entity an activity is about, write-back.

An activity is about a company, a relationship and/or an opportunity; the company is
derived from the relationship or opportunity when not given (and must agree when it
is). Activities logged here are captured for the CRM (a Salesforce Task) in the same
transaction, through the core's outbox.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tether.core.contracts import Activity
from tether.core.errors import DomainError, InvalidFields, NotFound
from tether.core.plugins import TenantContext
from tether.core.store import Company, Opportunity, Relationship, RelationshipType, User
from tether.core.store.types import utcnow
from tether.core.sync.outbox import capture_local_change

from .models import BUILT_IN_TYPES, SCOPES, ActivityRecord, ActivityType

PLUGIN = "timeline"
WRITE_BACK_FIELDS = ("type", "subject", "notes", "occurred_at", "duration_minutes", "reporting_category",
                     "company_id", "relationship_id", "opportunity_id", "author")


def _names(max_items: int, max_length: int) -> fields.List:
    return fields.List(fields.String(validate=validate.Length(min=1, max=max_length)),
                       validate=validate.Length(max=max_items, error=f"at most {max_items} attendees"))


class ActivityInputSchema(Schema):
    type = fields.String(required=True, validate=validate.Length(min=1, max=60))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=255))
    notes = fields.String(load_default="", validate=validate.Length(max=20000))
    occurred_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=None)
    duration_minutes = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 7 * 24 * 60))
    internal_attendees = _names(100, 200)
    external_attendees = _names(200, 320)
    reporting_category = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=80))
    company_id = fields.Integer(load_default=None, allow_none=True)
    relationship_id = fields.Integer(load_default=None, allow_none=True)
    opportunity_id = fields.Integer(load_default=None, allow_none=True)

    @validates_schema
    def _about_something(self, data, partial=False, **kwargs):
        if not partial and not any(data.get(k) for k in ("company_id", "relationship_id", "opportunity_id")):
            raise ValidationError("an activity is about a company, a relationship or an opportunity: give one",
                                  "company_id")


class ActivityPatchSchema(ActivityInputSchema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


class ActivityTypeInputSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    description = fields.String(load_default="", validate=validate.Length(max=500))
    scope = fields.String(load_default="global", validate=validate.OneOf(SCOPES))
    relationship_type_id = fields.Integer(load_default=None, allow_none=True)

    @validates_schema
    def _scope_needs(self, data, **kwargs):
        if data.get("scope") == "relationship" and data.get("relationship_type_id") is None:
            raise ValidationError("a relationship-scoped type names its relationship_type_id", "relationship_type_id")
        if data.get("scope") != "relationship" and data.get("relationship_type_id") is not None:
            raise ValidationError("only relationship-scoped types take a relationship_type_id", "relationship_type_id")


# -- activity types -------------------------------------------------------------------


def list_types(session: Session) -> list[dict[str, Any]]:
    built_in = [{"id": None, "name": name, "description": "built in", "scope": "global", "relationship_type_id": None}
                for name in BUILT_IN_TYPES]
    custom = [{"id": t.id, "name": t.name, "description": t.description, "scope": t.scope,
               "relationship_type_id": t.relationship_type_id}
              for t in session.scalars(select(ActivityType).order_by(ActivityType.name))]
    return built_in + custom


def create_type(session: Session, data: Mapping[str, Any]) -> ActivityType:
    name = data["name"].strip()
    if name.lower() in {b.lower() for b in BUILT_IN_TYPES} or session.scalar(
            select(ActivityType.id).where(func.lower(ActivityType.name) == name.lower())) is not None:
        raise DomainError(f"an activity type named {name!r} already exists", field="name")
    if data.get("relationship_type_id") is not None and session.get(RelationshipType, data["relationship_type_id"]) is None:
        raise DomainError(f"no relationship type {data['relationship_type_id']}", field="relationship_type_id")
    row = ActivityType(name=name, description=data.get("description", ""), scope=data.get("scope", "global"),
                       relationship_type_id=data.get("relationship_type_id"))
    session.add(row)
    session.flush()
    return row


def delete_type(session: Session, type_id: int) -> None:
    row = session.get(ActivityType, type_id)
    if row is None:
        raise NotFound(f"no activity type {type_id}")
    used = session.scalar(select(func.count()).select_from(ActivityRecord).where(ActivityRecord.type == row.name))
    if used:
        raise DomainError(f"activity type {row.name!r} is used by {used} activities", field="type_id",
                          hint="keep it, or change those activities' type first")
    session.delete(row)
    session.flush()


# -- activities -----------------------------------------------------------------------


def _resolve_context(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Company, relationship and opportunity of an activity, derived and checked to agree."""
    errors: dict[str, list[str]] = {}
    company_id, relationship_id, opportunity_id = data.get("company_id"), data.get("relationship_id"), data.get("opportunity_id")
    relationship_type_id = None
    if relationship_id is not None:
        rel = session.get(Relationship, relationship_id)
        if rel is None or rel.is_deleted:
            errors["relationship_id"] = [f"no relationship {relationship_id}"]
        else:
            relationship_type_id = rel.type_id
            if company_id is not None and company_id != rel.company_id:
                errors["company_id"] = [f"relationship {relationship_id} belongs to company {rel.company_id}"]
            company_id = rel.company_id
    if opportunity_id is not None:
        opp = session.get(Opportunity, opportunity_id)
        if opp is None or opp.is_deleted:
            errors["opportunity_id"] = [f"no opportunity {opportunity_id}"]
        else:
            if company_id is not None and opp.company_id is not None and company_id != opp.company_id:
                errors.setdefault("opportunity_id", []).append(
                    f"opportunity {opportunity_id} belongs to company {opp.company_id}, not {company_id}")
            company_id = company_id if company_id is not None else opp.company_id
    if company_id is not None and "company_id" not in errors:
        company = session.get(Company, company_id)
        if company is None or company.is_deleted:
            errors["company_id"] = [f"no company {company_id}"]
    if errors:
        raise InvalidFields("the activity's context is not valid", errors)
    return {"company_id": company_id, "relationship_id": relationship_id, "opportunity_id": opportunity_id,
            "relationship_type_id": relationship_type_id}


def _check_type(session: Session, name: str, context: Mapping[str, Any]) -> str:
    for built_in in BUILT_IN_TYPES:
        if built_in.lower() == name.lower():
            return built_in
    row = session.scalar(select(ActivityType).where(func.lower(ActivityType.name) == name.lower()))
    if row is None:
        known = ", ".join(BUILT_IN_TYPES + tuple(session.scalars(select(ActivityType.name).order_by(ActivityType.name))))
        raise InvalidFields("unknown activity type", {"type": [f"{name!r} is not an activity type ({known})"]})
    if row.scope == "company" and (context["relationship_id"] is not None or context["company_id"] is None):
        raise InvalidFields("activity type used out of scope", {
            "type": [f"{row.name!r} is a company activity type: log it on a company, not a relationship"]})
    if row.scope == "relationship" and context["relationship_type_id"] != row.relationship_type_id:
        rel_type = session.get(RelationshipType, row.relationship_type_id)
        raise InvalidFields("activity type used out of scope", {
            "type": [f"{row.name!r} is for relationships of type {rel_type.name if rel_type else '?'!r}"]})
    return row.name


def _check_attendees(session: Session, usernames: list[str]) -> None:
    if not usernames:
        return
    known = set(session.scalars(select(User.username).where(User.username.in_(usernames))))
    unknown = [u for u in usernames if u not in known]
    if unknown:
        raise InvalidFields("unknown internal attendees", {
            "internal_attendees": [f"not users of this tenant: {', '.join(unknown)}"]})


def log_activity(tenant: TenantContext, session: Session, data: Mapping[str, Any], author: str) -> ActivityRecord:
    """Log an activity (validated by :class:`ActivityInputSchema`) and capture it for write-back."""
    context = _resolve_context(session, data)
    type_name = _check_type(session, data["type"], context)
    _check_attendees(session, data.get("internal_attendees") or [])
    row = ActivityRecord(
        type=type_name, subject=data["subject"], notes=data.get("notes") or "",
        occurred_at=data.get("occurred_at") or utcnow(), duration_minutes=data.get("duration_minutes"),
        author=author, internal_attendees=list(data.get("internal_attendees") or []),
        external_attendees=list(data.get("external_attendees") or []),
        reporting_category=data.get("reporting_category"), company_id=context["company_id"],
        relationship_id=context["relationship_id"], opportunity_id=context["opportunity_id"],
    )
    session.add(row)
    session.flush()
    _write_back(tenant, session, row, WRITE_BACK_FIELDS)
    return row


def log_activities(tenant: TenantContext, session: Session, activities: Sequence[Activity]) -> list[int]:
    """Log activities another plugin records (``tether_log_activities``), in its transaction,
    with the same checks and write-back as activities logged through the API."""
    ids = []
    for activity in activities:
        data = {"type": activity.type, "subject": activity.subject[:255], "notes": activity.notes,
                "occurred_at": activity.occurred_at, "duration_minutes": activity.duration_minutes,
                "internal_attendees": list(activity.internal_attendees),
                "external_attendees": list(activity.external_attendees),
                "reporting_category": activity.reporting_category, "company_id": activity.company_id,
                "relationship_id": activity.relationship_id, "opportunity_id": activity.opportunity_id}
        ids.append(log_activity(tenant, session, data, author=activity.author or activity.source).id)
    return ids


def update_activity(tenant: TenantContext, session: Session, activity_id: int, changes: Mapping[str, Any]) -> tuple[ActivityRecord, list[str]]:
    row = get_activity(session, activity_id)
    merged = {k: getattr(row, k) for k in ("company_id", "relationship_id", "opportunity_id")}
    if any(k in changes for k in merged):
        merged.update({k: changes[k] for k in merged if k in changes})
        if not any(merged.values()):
            raise InvalidFields("the activity's context is not valid", {"company_id": ["an activity needs a context"]})
    context = _resolve_context(session, merged)
    type_name = _check_type(session, changes.get("type", row.type), context)
    if "internal_attendees" in changes:
        _check_attendees(session, changes["internal_attendees"] or [])
    updates = {k: v for k, v in changes.items() if k not in ("company_id", "relationship_id", "opportunity_id")}
    updates.update({"type": type_name, **{k: context[k] for k in ("company_id", "relationship_id", "opportunity_id")}})
    changed = []
    for key, value in updates.items():
        if key == "occurred_at" and value is None:
            continue
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed.append(key)
    session.flush()
    if changed:
        _write_back(tenant, session, row, changed)
    return row, changed


def delete_activity(tenant: TenantContext, session: Session, activity_id: int) -> None:
    row = get_activity(session, activity_id)
    if _write_back_enabled(tenant):
        capture_local_change(tenant, session, entity="activity", local_id=row.id, changes={}, operation="delete",
                             external_id=row.external_id)
    if row.external_source is not None:
        # A synced activity stays as a tombstone, so an older copy from the source cannot revive it.
        row.is_deleted, row.deleted_at = True, utcnow()
    else:
        session.delete(row)
    session.flush()


def get_activity(session: Session, activity_id: int) -> ActivityRecord:
    row = session.get(ActivityRecord, activity_id)
    if row is None or row.is_deleted:
        raise NotFound(f"no activity {activity_id}", hint="list them with GET /activities")
    return row


def _write_back_enabled(tenant: TenantContext) -> bool:
    return bool(tenant.config_for(PLUGIN).get("writeback", True))


def _write_back(tenant: TenantContext, session: Session, row: ActivityRecord, keys) -> None:
    if _write_back_enabled(tenant):
        capture_local_change(tenant, session, entity="activity", local_id=row.id,
                             changes={k: getattr(row, k) for k in keys}, external_id=row.external_id)


def activity_key(activity_id: int) -> str:
    # Zero-padded so the feed's (time, source, key) order equals id order within a second.
    return f"activity/{activity_id:012d}"

