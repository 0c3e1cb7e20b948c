"""REST endpoints for relationship types, relationships, relationship rules and Relationship 360.

Companies, the hierarchy and Company 360 are in :mod:`tether.core.api.domain_companies`.
"""

from __future__ import annotations

import logging

from .. import company360, relationship_rules, relationships
from ..contracts import ChangeSet
from ..errors import PluginHookError
from ..relationships import RelationshipTypePatchSchema, RelationshipTypeSchema
from ..sync.outbox import capture_local_change
from .domain_schemas import (
    RelationshipInputSchema,
    RelationshipPatchSchema,
    Relationship360Schema,
    RelationshipQuery,
    RelationshipSchema,
    RelationshipTypeOutSchema,
    RuleOutSchema,
    RuleRunInputSchema,
    RuleRunSchema,
    encode_cursor,
    field_errors,
    page_schema,
)
from .registry import ADMIN_ROLES, READ_ROLES, WRITE_ROLES, registry

log = logging.getLogger(__name__)

RELATIONSHIP_FIELDS = ("company_id", "type_id", "name", "arr", "mrr", "csm", "stage", "status", "attributes")


def notify(api, entity: str, *, created=(), updated=(), deleted=()) -> None:
    """Tell plugins after the transaction committed. The write stands whatever a plugin
    does with the news, so a failing plugin is logged, not answered as an error."""
    try:
        api.tenant.hooks.tether_records_changed(changes=ChangeSet(entity=entity, created=list(created),
                                                                  updated=list(updated), deleted=list(deleted),
                                                                  origin="local"))
    except PluginHookError as exc:
        log.error("%s", exc.one_line())


# -- relationship types -----------------------------------------------------------------


@registry.route("/relationship-types", roles=READ_ROLES, tag="relationships", response=RelationshipTypeOutSchema,
                many=True)
def list_relationship_types(api):
    """Relationship types: admin-defined and plugin-contributed, with how many relationships use each."""
    with api.session() as session:
        return relationships.list_types(api.tenant, session)


@registry.route("/relationship-types", methods=("POST",), roles=ADMIN_ROLES, tag="relationships",
                body=RelationshipTypeSchema, response=RelationshipTypeOutSchema, status=201)
def create_relationship_type(api):
    """Define a relationship type (name 1–40 characters, description up to 1000, typed fields)."""
    with api.transaction() as session:
        row = relationships.create_type(session, api.body)
        return _type_view(row)


@registry.route("/relationship-types/<int:type_id>", roles=READ_ROLES, tag="relationships",
                response=RelationshipTypeOutSchema)
def get_relationship_type(api, type_id: int):
    """One relationship type."""
    with api.session() as session:
        return _type_view(relationships.get_type(session, type_id))


@registry.route("/relationship-types/<int:type_id>", methods=("PATCH",), roles=ADMIN_ROLES, tag="relationships",
                body=RelationshipTypePatchSchema, response=RelationshipTypeOutSchema)
@field_errors
def update_relationship_type(api, type_id: int):
    """Change a relationship type; refused when existing relationships would not fit its new fields."""
    with api.transaction() as session:
        return _type_view(relationships.update_type(session, type_id, api.body))


@registry.route("/relationship-types/<int:type_id>", methods=("DELETE",), roles=ADMIN_ROLES, tag="relationships")
def delete_relationship_type(api, type_id: int):
    """Delete an unused relationship type."""
    with api.transaction() as session:
        relationships.delete_type(session, type_id)
    return None, 204


def _type_view(row) -> relationships.TypeView:
    return relationships.TypeView(row.id, row.name, row.description or "", list(row.fields or []), row.source)


# -- relationships ----------------------------------------------------------------------


@registry.route("/relationships", roles=READ_ROLES, tag="relationships", query=RelationshipQuery,
                response=page_schema(RelationshipSchema, "RelationshipPage"))
def list_relationships(api):
    """Relationships, filtered by company, type, CSM, stage or status; ``cursor`` pages on."""
    query = dict(api.query)
    limit, cursor = query.pop("limit"), query.pop("cursor")
    with api.session() as session:
        rows = relationships.list_relationships(session, after=cursor, limit=limit + 1, **query)
        items = [company360.relationship_summary(r) for r in rows[:limit]]
    health = company360.health_of(api.tenant, "relationship", [i["id"] for i in items])
    for item in items:
        item["health"] = health.get(item["id"])
    return {"items": items, "next_cursor": encode_cursor(items[-1]["id"]) if len(rows) > limit else None}


@registry.route("/relationships", methods=("POST",), roles=WRITE_ROLES, tag="relationships",
                body=RelationshipInputSchema, response=RelationshipSchema, status=201)
@field_errors
def create_relationship(api):
    """Create a relationship under a company (attributes are checked against its type)."""
    with api.transaction() as session:
        row = relationships.create_relationship(api.tenant, session, api.body)
        summary = company360.relationship_summary(row)
        capture_local_change(api.tenant, session, entity="relationship", local_id=row.id,
                             changes={k: summary[k] for k in RELATIONSHIP_FIELDS})
    notify(api, "relationship", created=[row.id])
    return summary


@registry.route("/relationships/<int:relationship_id>", roles=READ_ROLES, tag="relationships",
                response=RelationshipSchema)
def get_relationship(api, relationship_id: int):
    """One relationship with its current health."""
    with api.session() as session:
        summary = company360.relationship_summary(relationships.get_relationship(session, relationship_id))
    summary["health"] = company360.health_of(api.tenant, "relationship", [relationship_id]).get(relationship_id)
    return summary


@registry.route("/relationships/<int:relationship_id>", methods=("PATCH",), roles=WRITE_ROLES, tag="relationships",
                body=RelationshipPatchSchema, response=RelationshipSchema)
@field_errors
def update_relationship(api, relationship_id: int):
    """Change a relationship; attributes are merged (null removes one) and checked against its type."""
    with api.transaction() as session:
        row, changed = relationships.update_relationship(api.tenant, session, relationship_id, api.body)
        summary = company360.relationship_summary(row)
        if changed:
            capture_local_change(api.tenant, session, entity="relationship", local_id=row.id,
                                 changes={k: summary[k] for k in changed})
    if changed:
        notify(api, "relationship", updated=[relationship_id])
    return summary


@registry.route("/relationships/<int:relationship_id>", methods=("DELETE",), roles=WRITE_ROLES, tag="relationships")
def delete_relationship(api, relationship_id: int):
    """Delete a relationship (its opportunities stay, unlinked)."""
    with api.transaction() as session:
        relationships.get_relationship(session, relationship_id)
        # Captured first: the delete needs the row's external id, gone once it is deleted.
        capture_local_change(api.tenant, session, entity="relationship", local_id=relationship_id, changes={},
                             operation="delete")
        relationships.delete_relationship(session, relationship_id)
    notify(api, "relationship", deleted=[relationship_id])
    return None, 204


@registry.route("/relationships/<int:relationship_id>/360", roles=READ_ROLES, tag="relationships",
                response=Relationship360Schema)
def relationship_360(api, relationship_id: int):
    """Relationship 360: attributes, type, company, hierarchy path, opportunities, health, recent timeline."""
    return company360.relationship_360(api.tenant, relationship_id)


# -- rules ------------------------------------------------------------------------------


@registry.route("/relationship-rules", roles=READ_ROLES, tag="relationships", response=RuleOutSchema, many=True)
def list_relationship_rules(api):
    """Rules that link synced opportunities to relationships, in the order they are tried."""
    with api.session() as session:
        return relationship_rules.list_rules(session)


@registry.route("/relationship-rules", methods=("POST",), roles=ADMIN_ROLES, tag="relationships",
                body=relationship_rules.RelationshipRuleSchema, response=RuleOutSchema, status=201)
def create_relationship_rule(api):
    """Add a rule: when an opportunity field matches, link it to the relationship named after the value."""
    with api.transaction() as session:
        return relationship_rules.create_rule(api.tenant, session, api.body)


@registry.route("/relationship-rules/<int:rule_id>", methods=("DELETE",), roles=ADMIN_ROLES, tag="relationships")
def delete_relationship_rule(api, rule_id: int):
    """Delete a rule (relationships it created stay)."""
    with api.transaction() as session:
        relationship_rules.delete_rule(session, rule_id)
    return None, 204


@registry.route("/relationship-rules/apply", methods=("POST",), roles=ADMIN_ROLES, tag="relationships",
                body=RuleRunInputSchema, response=RuleRunSchema)
def apply_relationship_rules(api):
    """Run the rules over stored opportunities now (unlinked ones, or all with ``reassign``)."""
    return relationship_rules.apply_rules_to_opportunities(api.tenant, reassign=api.body["reassign"])
