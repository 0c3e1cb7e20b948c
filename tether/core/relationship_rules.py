"""Rules that decide which relationship a synced record belongs to, and creating those relationships.

An admin rule says: when an opportunity's ``field`` matches, it belongs to the
relationship of ``type`` named after the value (e.g. ``attributes.Product`` equals
"Analytics" → the "Product" relationship "Analytics" under the opportunity's company).
Admin rules are tried first, by priority; records no rule matched go to plugins through
``tether_assign_relationships``; relationships that do not exist yet are created, in
bulk, once per batch.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Iterable, Mapping, Sequence

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, bindparam, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .contracts import RelationshipAssignment
from .errors import DomainError, InvalidFields, NotFound
from .plugins import TenantContext
from .relationships import coerce_attributes, resolve_type
from .store import Opportunity, Relationship, RelationshipType
from .store.models import Base, BigId, TenantScoped, Timestamps

log = logging.getLogger(__name__)

OPERATORS = ("equals", "in", "contains", "present")
# Opportunity columns a rule may test; "attributes.X" and "source.X" (the raw synced record) too.
OPPORTUNITY_FIELDS = ("name", "stage", "opportunity_type", "record_type", "booking_type", "forecast_category",
                      "owner_name", "csm", "currency")
BATCH = 2000


class RelationshipRule(TenantScoped, Timestamps, Base):
    __tablename__ = "relationship_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    type_id: Mapped[int] = mapped_column(ForeignKey("relationship_types.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(40), default="opportunity")
    field: Mapped[str] = mapped_column(String(200))
    operator: Mapped[str] = mapped_column(String(20), default="equals")
    values: Mapped[list[Any]] = mapped_column(default=list)
    # "{value}" names the relationship after the matched value; "{type}" is the type's name.
    relationship_name: Mapped[str] = mapped_column(String(255), default="{value}")
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


def _field_path(value: str) -> None:
    head, _, rest = value.partition(".")
    if head in ("attributes", "source"):
        if not rest:
            raise ValidationError(f"{value!r} needs a name after '{head}.'")
    elif value not in OPPORTUNITY_FIELDS:
        raise ValidationError(f"{value!r} is not an opportunity field; use one of {', '.join(OPPORTUNITY_FIELDS)}, "
                              "attributes.<name> or source.<source field>")


class RelationshipRuleSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    type_id = fields.Integer(load_default=None, allow_none=True)
    type_name = fields.String(load_default=None, allow_none=True)
    entity = fields.String(load_default="opportunity", validate=validate.OneOf(["opportunity"]))
    field = fields.String(required=True, validate=_field_path)
    operator = fields.String(load_default="equals", validate=validate.OneOf(OPERATORS))
    values = fields.List(fields.String(validate=validate.Length(min=1, max=255)), load_default=list)
    relationship_name = fields.String(load_default="{value}", validate=validate.Length(min=1, max=255))
    priority = fields.Integer(load_default=100, validate=validate.Range(0, 1_000_000))
    enabled = fields.Boolean(load_default=True)

    @validates_schema
    def _complete(self, data, **kwargs):
        if data.get("type_id") is None and not data.get("type_name"):
            raise ValidationError("give type_id or type_name", "type_id")
        operator = data.get("operator", "equals")
        count = len(data.get("values") or [])
        if operator in ("equals", "contains") and count != 1:
            raise ValidationError(f"operator {operator!r} takes exactly one value", "values")
        if operator == "in" and count < 1:
            raise ValidationError("operator 'in' takes at least one value", "values")
        if operator == "present" and count:
            raise ValidationError("operator 'present' takes no values", "values")
        template = data.get("relationship_name", "{value}")
        try:
            template.format(value="x", type="y")
        except (KeyError, IndexError, ValueError):
            raise ValidationError("may use only {value} and {type} as placeholders", "relationship_name") from None


# -- rule CRUD ------------------------------------------------------------------------


def list_rules(session: Session) -> list[RelationshipRule]:
    return list(session.scalars(select(RelationshipRule).order_by(RelationshipRule.priority, RelationshipRule.id)))


def create_rule(tenant: TenantContext, session: Session, data: Mapping[str, Any]) -> RelationshipRule:
    if session.scalar(select(RelationshipRule.id).where(RelationshipRule.name == data["name"])) is not None:
        raise DomainError(f"a relationship rule named {data['name']!r} already exists", field="name")
    rel_type = resolve_type(tenant, session, type_id=data.get("type_id"), type_name=data.get("type_name"))
    row = RelationshipRule(name=data["name"], type_id=rel_type.id, entity=data["entity"], field=data["field"],
                           operator=data["operator"], values=list(data["values"]),
                           relationship_name=data["relationship_name"], priority=data["priority"],
                           enabled=data["enabled"])
    session.add(row)
    session.flush()
    return row


def delete_rule(session: Session, rule_id: int) -> None:
    row = session.get(RelationshipRule, rule_id)
    if row is None:
        raise NotFound(f"no relationship rule {rule_id}")
    session.delete(row)
    session.flush()


# -- evaluating -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CompiledRule:
    name: str
    type_name: str
    field: str
    operator: str
    values: tuple[str, ...]
    template: str

    def match(self, record: Mapping[str, Any]) -> RelationshipAssignment | None:
        value = field_value(record, self.field)
        if value is None or value == "":
            return None
        text = str(value).strip()
        folded = text.casefold()
        if self.operator == "equals" and folded != self.values[0].casefold():
            return None
        if self.operator == "in" and folded not in {v.casefold() for v in self.values}:
            return None
        if self.operator == "contains" and self.values[0].casefold() not in folded:
            return None
        name = self.template.format(value=text, type=self.type_name).strip()[:255]
        return RelationshipAssignment(type_name=self.type_name, name=name) if name else None


def field_value(record: Mapping[str, Any], path: str) -> Any:
    head, _, rest = path.partition(".")
    if head == "attributes" and rest:
        return (record.get("attributes") or {}).get(rest)
    if head == "source" and rest:
        return (record.get("_source") or {}).get(rest)
    return record.get(path)


def compile_rules(session: Session, entity: str = "opportunity") -> list[CompiledRule]:
    rows = session.execute(
        select(RelationshipRule, RelationshipType.name)
        .join(RelationshipType, RelationshipType.id == RelationshipRule.type_id)
        .where(RelationshipRule.enabled.is_(True), RelationshipRule.entity == entity)
        .order_by(RelationshipRule.priority, RelationshipRule.id)
    ).all()
    return [CompiledRule(r.name, type_name, r.field, r.operator, tuple(r.values or ()), r.relationship_name)
            for r, type_name in rows]


def evaluate_rules(rules: Sequence[CompiledRule], records: Sequence[Mapping[str, Any]]) -> list[RelationshipAssignment | None]:
    """The first matching rule's assignment per record (None where no rule matches)."""
    out: list[RelationshipAssignment | None] = []
    for record in records:
        assignment = None
        for rule in rules:
            assignment = rule.match(record)
            if assignment is not None:
                break
        out.append(assignment)
    return out


def assign_relationships(tenant: TenantContext, session: Session, entity: str,
                         records: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """Relationship ids for a batch of mapped records (each with ``company_id``).

    Admin rules first; records no rule matched are offered to plugins through
    ``tether_assign_relationships`` (one call per batch); missing relationships are
    created. Records without a company get None. Call it inside the transaction that
    writes the records.
    """
    assignments = evaluate_rules(compile_rules(session, entity), records)
    pending = [i for i, a in enumerate(assignments) if a is None and records[i].get("company_id") is not None]
    if pending:
        offered = [records[i] for i in pending]
        answered = tenant.hooks.tether_assign_relationships(entity=entity, records=offered)
        if answered is not None:
            if len(answered) != len(offered):
                raise DomainError(f"tether_assign_relationships returned {len(answered)} assignments for "
                                  f"{len(offered)} records", hint="a plugin must return one entry per record")
            for index, assignment in zip(pending, answered):
                assignments[index] = assignment
    ids, _ = materialise(tenant, session, [r.get("company_id") for r in records], assignments)
    return ids


def materialise(tenant: TenantContext, session: Session, company_ids: Sequence[int | None],
                assignments: Sequence[RelationshipAssignment | None]) -> tuple[list[int | None], int]:
    """Find or create the relationship of each assignment; returns aligned ids and how many were created."""
    types: dict[str, RelationshipType | None] = {}
    for assignment in assignments:
        if assignment is not None and assignment.type_name.lower() not in types:
            try:
                types[assignment.type_name.lower()] = resolve_type(tenant, session, type_name=assignment.type_name)
            except NotFound:
                log.warning("tenant %s: relationship type %r named by a rule or plugin does not exist; "
                            "records assigned to it stay unlinked", tenant.id, assignment.type_name)
                types[assignment.type_name.lower()] = None
    # Names match case-insensitively ("analytics" joins "Analytics"); a new one keeps its first spelling.
    keys: list[tuple[int, int, str] | None] = []
    for company_id, assignment in zip(company_ids, assignments):
        rel_type = types.get(assignment.type_name.lower()) if assignment is not None else None
        keys.append((company_id, rel_type.id, assignment.name.casefold())
                    if rel_type is not None and company_id is not None else None)
    wanted = {key for key in keys if key is not None}
    existing = _existing_relationships(session, {key[0] for key in wanted})
    created = 0
    new_rows: dict[tuple[int, int, str], Relationship] = {}
    for index, key in enumerate(keys):
        if key is None or key in existing or key in new_rows:
            continue
        rel_type = types[assignments[index].type_name.lower()]
        new_rows[key] = Relationship(company_id=key[0], type_id=key[1], name=assignments[index].name,
                                     attributes=_usable_attributes(rel_type, assignments[index].attributes))
    if new_rows:
        session.add_all(new_rows.values())
        session.flush()
        created = len(new_rows)
        existing.update({key: row.id for key, row in new_rows.items()})
    return [existing.get(key) if key is not None else None for key in keys], created


def _existing_relationships(session: Session, company_ids: Iterable[int]) -> dict[tuple[int, int, str], int]:
    found: dict[tuple[int, int, str], int] = {}
    ids = sorted(company_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(select(Relationship.id, Relationship.company_id, Relationship.type_id, Relationship.name)
                               .where(Relationship.company_id.in_(ids[start:start + 500])))
        for r in rows:
            found.setdefault((r.company_id, r.type_id, r.name.casefold()), r.id)
    return found


def _usable_attributes(rel_type: RelationshipType, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes a rule or plugin supplied, minus those that do not fit the type (logged)."""
    usable: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        try:
            usable.update(coerce_attributes(rel_type.fields or [], {key: value}, type_name=rel_type.name))
        except InvalidFields as exc:
            if f"attributes.{key}" in exc.errors:
                log.warning("relationship type %r: attribute %r dropped: %s", rel_type.name, key,
                            "; ".join(exc.errors[f"attributes.{key}"]))
            else:  # only a required field is missing: the value itself fits
                usable[key] = value
    return usable


# -- backfill over stored opportunities -----------------------------------------------


@dataclasses.dataclass
class RuleRun:
    examined: int = 0
    linked: int = 0
    relationships_created: int = 0


def apply_rules_to_opportunities(tenant: TenantContext, *, reassign: bool = False) -> RuleRun:
    """Run the admin rules over stored opportunities, in batches of 2,000, one transaction each.

    Only opportunities without a relationship are considered unless ``reassign``. (The
    raw source record is not stored, so ``source.*`` rules apply only during a sync.)
    """
    run = RuleRun()
    after = 0
    columns = [getattr(Opportunity, name) for name in OPPORTUNITY_FIELDS]
    while True:
        with tenant.transaction() as session:
            rules = compile_rules(session)
            if not rules:
                return run
            query = (select(Opportunity.id, Opportunity.company_id, Opportunity.relationship_id, Opportunity.attributes,
                            *columns)
                     .where(Opportunity.is_deleted.is_(False), Opportunity.company_id.is_not(None), Opportunity.id > after)
                     .order_by(Opportunity.id).limit(BATCH))
            if not reassign:
                query = query.where(Opportunity.relationship_id.is_(None))
            rows = [dict(row._mapping) for row in session.execute(query)]
            if not rows:
                return run
            after = rows[-1]["id"]
            run.examined += len(rows)
            ids, created = materialise(tenant, session, [r["company_id"] for r in rows], evaluate_rules(rules, rows))
            run.relationships_created += created
            changes = [{"oid": row["id"], "rid": rid} for row, rid in zip(rows, ids)
                       if rid is not None and rid != row["relationship_id"]]
            if changes:
                table = Opportunity.__table__
                session.execute(update(table).where(table.c.tenant_id == tenant.id, table.c.id == bindparam("oid"))
                                .values(relationship_id=bindparam("rid")), changes)
                run.linked += len(changes)
