"""Relationship types and relationships: validation, typed attributes, reads and writes.

A relationship type is a template (name 1–40 characters, description ≤ 1000, typed
attribute fields); a relationship is one connection point under a company (a product,
a business unit, a project…) with ARR, MRR, CSM, stage, status and attributes checked
against its type. Types come from admins (tenant manifest or API) and from plugins
(``tether_relationship_types``). The rules that create relationships from synced data
are in :mod:`tether.core.relationship_rules`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .errors import DomainError, InvalidFields, NotFound
from .manifests import AttributeFieldSchema
from .plugins import TenantContext
from .store import Company, Relationship, RelationshipType

log = logging.getLogger(__name__)

NAME_MAX = 40
DESCRIPTION_MAX = 1000
STRING_ATTRIBUTE_MAX = 1000
CENTS = Decimal("0.01")
NUMERIC_FIELD_TYPES = ("number", "money")


# -- relationship types ---------------------------------------------------------------


class TypedFieldSchema(AttributeFieldSchema):
    """One typed attribute field, with the rules that make it usable."""

    @validates_schema
    def _consistent(self, data, **kwargs):
        if data.get("type") == "picklist" and not data.get("choices"):
            raise ValidationError("a picklist field needs 'choices'", "choices")
        if data.get("type") != "picklist" and data.get("choices"):
            raise ValidationError("only picklist fields take 'choices'", "choices")
        if data.get("rollup") and data.get("type") not in NUMERIC_FIELD_TYPES:
            raise ValidationError("only number and money fields roll up", "rollup")


def _unique_field_names(values: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for value in values:
        name = value["name"].lower()
        if name in seen:
            raise ValidationError(f"field {value['name']!r} is defined twice")
        seen.add(name)


class RelationshipTypeSchema(Schema):
    """What an admin sends to define a relationship type."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX,
                         error=f"must be 1 to {NAME_MAX} characters"))
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX,
                                error=f"must be at most {DESCRIPTION_MAX} characters"))
    fields_ = fields.List(fields.Nested(TypedFieldSchema), data_key="fields", load_default=list,
                          validate=_unique_field_names)


class RelationshipTypePatchSchema(RelationshipTypeSchema):
    """A change to a type: any subset of its keys."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, partial=True, **kwargs)


def field_dicts(loaded_fields: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Typed fields in their stored form (every key present, choices a list)."""
    return [{"name": f["name"], "type": f.get("type", "string"), "required": bool(f.get("required", False)),
             "choices": list(f.get("choices") or []), "rollup": f.get("rollup")} for f in loaded_fields]


@dataclasses.dataclass(frozen=True)
class TypeView:
    """A relationship type as listed: stored, or contributed by a plugin and not stored yet."""

    id: int | None
    name: str
    description: str
    fields: list[dict[str, Any]]
    source: str
    relationships: int = 0


def contributed_types(tenant: TenantContext) -> list[Any]:
    """Plugins' relationship types that pass the same rules as an admin's (others are logged and left out)."""
    usable = []
    for spec in (spec for specs in tenant.hooks.tether_relationship_types() or [] for spec in specs or []):
        problems = spec_problems(spec)
        if problems:
            log.warning("tenant %s: relationship type %r from plugin %r is not usable: %s", tenant.id,
                        getattr(spec, "name", spec), getattr(spec, "plugin", "") or "unknown", "; ".join(problems))
            continue
        usable.append(spec)
    return usable


def spec_problems(spec: Any) -> list[str]:
    """What breaks the type rules in a plugin's :class:`RelationshipTypeSpec` (empty when fine)."""
    try:
        data = {"name": spec.name, "description": spec.description or "",
                "fields": [{k: v for k, v in dataclasses.asdict(f).items() if v not in (None, ())} for f in spec.fields]}
        RelationshipTypeSchema().load(data)
    except ValidationError as exc:
        from .manifests import flatten_errors

        return [f"{path}: {', '.join(messages)}" for path, messages in flatten_errors(exc.messages).items()]
    except (AttributeError, TypeError) as exc:
        return [f"not a RelationshipTypeSpec ({exc})"]
    return []


def list_types(tenant: TenantContext, session: Session) -> list[TypeView]:
    """Stored types with their relationship counts, plus plugin types not stored yet."""
    counts = dict(session.execute(select(Relationship.type_id, func.count()).group_by(Relationship.type_id)).all())
    rows = session.scalars(select(RelationshipType).order_by(func.lower(RelationshipType.name))).all()
    views = [TypeView(r.id, r.name, r.description or "", list(r.fields or []), r.source, counts.get(r.id, 0)) for r in rows]
    stored = {r.name.lower() for r in rows}
    for spec in contributed_types(tenant):
        if spec.name.lower() not in stored:
            stored.add(spec.name.lower())
            views.append(TypeView(None, spec.name, spec.description, _spec_fields(spec), spec.plugin or "plugin"))
    return views


def _spec_fields(spec: Any) -> list[dict[str, Any]]:
    return field_dicts(dataclasses.asdict(f) for f in spec.fields)


def get_type(session: Session, type_id: int) -> RelationshipType:
    row = session.get(RelationshipType, type_id)
    if row is None:
        raise NotFound(f"no relationship type {type_id}", hint="list them with GET /relationship-types")
    return row


def resolve_type(tenant: TenantContext, session: Session, *, type_id: int | None = None,
                 type_name: str | None = None) -> RelationshipType:
    """The stored type by id or name; a plugin-contributed type is stored on first use."""
    if type_id is not None:
        return get_type(session, type_id)
    if not type_name:
        raise DomainError("a relationship needs a type", field="type_id", hint="give type_id or type_name")
    row = session.scalar(select(RelationshipType).where(func.lower(RelationshipType.name) == type_name.lower()))
    if row is not None:
        return row
    for spec in contributed_types(tenant):
        if spec.name.lower() == type_name.lower():
            row = RelationshipType(name=spec.name, description=spec.description, fields=_spec_fields(spec),
                                   source=spec.plugin or "plugin")
            session.add(row)
            session.flush()
            return row
    raise NotFound(f"no relationship type named {type_name!r}", hint="list them with GET /relationship-types")


def create_type(session: Session, data: Mapping[str, Any]) -> RelationshipType:
    """Define a type from loaded :class:`RelationshipTypeSchema` data (admin)."""
    _refuse_duplicate_name(session, data["name"])
    row = RelationshipType(name=data["name"], description=data.get("description", ""),
                           fields=field_dicts(data.get("fields_", [])), source="admin")
    session.add(row)
    session.flush()
    return row


def update_type(session: Session, type_id: int, data: Mapping[str, Any]) -> RelationshipType:
    """Change a type; refused when existing relationships would no longer fit its fields."""
    row = get_type(session, type_id)
    if "name" in data and data["name"].lower() != row.name.lower():
        _refuse_duplicate_name(session, data["name"])
    if "fields_" in data:
        new_fields = field_dicts(data["fields_"])
        problems: dict[str, list[str]] = {}
        for rel in session.execute(select(Relationship.id, Relationship.name, Relationship.attributes)
                                   .where(Relationship.type_id == row.id)):
            try:
                coerce_attributes(new_fields, rel.attributes or {}, type_name=row.name)
            except InvalidFields as exc:
                for path, messages in exc.errors.items():
                    problems.setdefault(f"fields ({path})", []).append(
                        f"relationship {rel.name!r} (id {rel.id}): {'; '.join(messages)}")
        if problems:
            raise InvalidFields(f"{sum(map(len, problems.values()))} existing relationships of type {row.name!r} "
                                "would not fit the new fields", problems,
                                hint="update those relationships first, or make the new fields optional")
        row.fields = new_fields
    if "name" in data:
        row.name = data["name"]
    if "description" in data:
        row.description = data["description"]
    row.source = "admin"
    session.flush()
    return row


def delete_type(session: Session, type_id: int) -> None:
    row = get_type(session, type_id)
    in_use = session.scalar(select(func.count()).select_from(Relationship).where(Relationship.type_id == row.id))
    if in_use:
        raise DomainError(f"relationship type {row.name!r} is used by {in_use} relationships", field="type_id",
                          hint="delete or move those relationships first")
    session.delete(row)
    session.flush()


def _refuse_duplicate_name(session: Session, name: str) -> None:
    clash = session.scalar(select(RelationshipType.id).where(func.lower(RelationshipType.name) == name.lower()))
    if clash is not None:
        raise DomainError(f"a relationship type named {name!r} already exists (id {clash})", field="name",
                          hint="choose another name or change the existing type")


# -- typed attributes -----------------------------------------------------------------


def coerce_attributes(type_fields: Sequence[Mapping[str, Any]], attributes: Mapping[str, Any], *,
                      type_name: str, existing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Check attributes against a type's fields and return them in stored form.

    ``existing`` (for updates) is merged under ``attributes``, where a None value removes
    an attribute; the merged whole is checked, so a relationship moved to another type
    must fit that type. Every problem is collected and raised at once as
    :class:`InvalidFields` keyed ``attributes.<name>``.
    """
    by_name = {f["name"]: f for f in type_fields}
    merged = dict(existing or {})
    for key, value in attributes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {}
    for key, value in merged.items():
        spec = by_name.get(key)
        if spec is None:
            known = ", ".join(sorted(by_name)) or "none"
            errors[f"attributes.{key}"] = [f"not a field of relationship type {type_name!r} (fields: {known})"]
            continue
        try:
            result[key] = coerce_value(spec, value)
        except ValueError as exc:
            errors[f"attributes.{key}"] = [str(exc)]
    for spec in type_fields:
        if spec.get("required") and result.get(spec["name"]) in (None, "") and f"attributes.{spec['name']}" not in errors:
            errors[f"attributes.{spec['name']}"] = [f"required by relationship type {type_name!r}"]
    if errors:
        raise InvalidFields(f"attributes do not fit relationship type {type_name!r}", errors,
                            hint="send values of the types the relationship type defines; null removes a value")
    return result


def coerce_value(spec: Mapping[str, Any], value: Any) -> Any:
    """One attribute value in stored form; ValueError says what is wrong."""
    kind = spec.get("type", "string")
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError("must be text")
        if len(value) > STRING_ATTRIBUTE_MAX:
            raise ValueError(f"must be at most {STRING_ATTRIBUTE_MAX} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number")
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return int(number) if isinstance(number, float) and number.is_integer() and isinstance(value, str) else number
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise ValueError("must be an amount such as \"1250.00\"")
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
        if not amount.is_finite():
            raise ValueError("must be a finite amount")
        # Stored as text so the cents stay exact in JSON.
        return str(amount.quantize(CENTS, rounding=ROUND_HALF_EVEN))
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if kind == "picklist":
        choices = list(spec.get("choices") or [])
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(str, choices))}")
        return value
    raise ValueError(f"field type {kind!r} is unknown")


# -- relationships --------------------------------------------------------------------


def get_relationship(session: Session, relationship_id: int) -> Relationship:
    row = session.get(Relationship, relationship_id)
    if row is None or row.is_deleted:
        raise NotFound(f"no relationship {relationship_id}", hint="list them with GET /relationships")
    return row


def _live_company(session: Session, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None or company.is_deleted:
        raise DomainError(f"no company {company_id}", field="company_id", hint="list companies with GET /companies")
    return company


def create_relationship(tenant: TenantContext, session: Session, data: Mapping[str, Any]) -> Relationship:
    """Create a relationship by hand. ``data``: company_id, type_id or type_name, name, and optional
    arr, mrr, csm, stage, status, attributes."""
    company = _live_company(session, data["company_id"])
    rel_type = resolve_type(tenant, session, type_id=data.get("type_id"), type_name=data.get("type_name"))
    _refuse_duplicate_relationship(session, company, rel_type, data["name"])
    attributes = coerce_attributes(rel_type.fields or [], data.get("attributes") or {}, type_name=rel_type.name)
    row = Relationship(company_id=company.id, type_id=rel_type.id, name=data["name"], arr=data.get("arr"),
                       mrr=data.get("mrr"), csm=data.get("csm"), stage=data.get("stage"), status=data.get("status"),
                       attributes=attributes)
    session.add(row)
    session.flush()
    return row


def update_relationship(tenant: TenantContext, session: Session, relationship_id: int,
                        changes: Mapping[str, Any]) -> tuple[Relationship, list[str]]:
    """Apply ``changes``; returns the relationship and the names of the fields that changed."""
    row = get_relationship(session, relationship_id)
    changed: list[str] = []
    company = row.company
    if "company_id" in changes and changes["company_id"] != row.company_id:
        company = _live_company(session, changes["company_id"])
    rel_type = row.type
    if changes.get("type_id") is not None and changes["type_id"] != row.type_id:
        rel_type = get_type(session, changes["type_id"])
    name = changes.get("name", row.name)
    if (company.id, rel_type.id, name) != (row.company_id, row.type_id, row.name):
        _refuse_duplicate_relationship(session, company, rel_type, name, ignore_id=row.id)
    attributes = coerce_attributes(rel_type.fields or [], changes.get("attributes") or {}, type_name=rel_type.name,
                                   existing=row.attributes or {})
    updates = {"company_id": company.id, "type_id": rel_type.id, "name": name, "attributes": attributes}
    for key in ("arr", "mrr", "csm", "stage", "status"):
        if key in changes:
            updates[key] = changes[key]
    for key, value in updates.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed.append(key)
    session.flush()
    return row, changed


def delete_relationship(session: Session, relationship_id: int) -> None:
    session.delete(get_relationship(session, relationship_id))
    session.flush()


def list_relationships(session: Session, *, company_id: int | None = None, type_id: int | None = None,
                       csm: str | None = None, stage: str | None = None, status: str | None = None,
                       after: int | None = None, limit: int = 50) -> list[Relationship]:
    """Relationships in id order, ``limit`` at most, after id ``after`` (keyset pagination)."""
    query = select(Relationship).where(Relationship.is_deleted.is_(False))
    for column, value in ((Relationship.company_id, company_id), (Relationship.type_id, type_id),
                          (Relationship.csm, csm), (Relationship.stage, stage), (Relationship.status, status)):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(Relationship.id > after)
    return list(session.scalars(query.order_by(Relationship.id).limit(limit)))


def _refuse_duplicate_relationship(session: Session, company: Company, rel_type: RelationshipType, name: str,
                                   ignore_id: int | None = None) -> None:
    query = select(Relationship.id).where(Relationship.company_id == company.id, Relationship.type_id == rel_type.id,
                                          Relationship.name == name)
    if ignore_id is not None:
        query = query.where(Relationship.id != ignore_id)
    clash = session.scalar(query)
    if clash is not None:
        raise DomainError(f"company {company.name!r} already has a {rel_type.name} relationship named {name!r} "
                          f"(id {clash})", field="name", hint="choose another name or update that relationship")
