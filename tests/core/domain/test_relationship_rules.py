"""Rules that create relationships from synced opportunities, admin rules first, then plugins."""

from sqlalchemy import select

from tether.core import relationship_rules
from tether.core.contracts import RelationshipAssignment
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.store import Opportunity, Relationship
from tether.core.tenants import apply_manifest, load_context

from .conftest import PRODUCT, USERS, add_companies, add_opportunity


def test_rule_definitions_are_validated(client):
    bad = client.post("/relationship-rules", {"name": "r", "type_name": "Product", "field": "colour",
                                              "operator": "equals"})
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert "is not an opportunity field" in fields["field"][0]
    no_value = client.post("/relationship-rules", {"name": "r", "type_name": "Product", "field": "stage"})
    assert no_value.get_json()["error"]["fields"] == {"values": ["operator 'equals' takes exactly one value"]}
    template = client.post("/relationship-rules", {"name": "r", "type_name": "Product", "field": "stage",
                                                   "operator": "present", "relationship_name": "{product}"})
    assert template.get_json()["error"]["fields"] == {
        "relationship_name": ["may use only {value} and {type} as placeholders"]}
    assert client.as_user("csm@acme.example").post("/relationship-rules", {}).status_code == 403


def test_rules_link_stored_opportunities_and_create_each_relationship_once(client, acme):
    ids = add_companies(acme, [{"name": "Acme"}, {"name": "Globex"}])
    add_opportunity(acme, ids["Acme"], "a1", attributes={"product": "Analytics"})
    add_opportunity(acme, ids["Acme"], "a2", attributes={"product": "analytics "}, opportunity_type="Renewal")
    add_opportunity(acme, ids["Acme"], "a3", attributes={"product": "Core"})
    add_opportunity(acme, ids["Globex"], "g1", attributes={"product": "Analytics"})
    add_opportunity(acme, ids["Globex"], "svc", opportunity_type="Services - Onboarding")
    add_opportunity(acme, ids["Globex"], "none")
    assert client.post("/relationship-rules", {"name": "services", "type_name": "Product", "field": "opportunity_type",
                                               "operator": "contains", "values": ["services"],
                                               "relationship_name": "Professional services", "priority": 1}
                       ).status_code == 201
    assert client.post("/relationship-rules", {"name": "by product", "type_name": "Product",
                                               "field": "attributes.product", "operator": "present"}).status_code == 201
    assert [r["name"] for r in client.get("/relationship-rules").get_json()] == ["services", "by product"]

    run = client.post("/relationship-rules/apply", {}).get_json()
    assert run == {"examined": 6, "linked": 5, "relationships_created": 4}
    with acme.session() as session:
        rels = {(r.company_id, r.name): r.id for r in session.scalars(select(Relationship))}
        linked = dict(session.execute(select(Opportunity.name, Opportunity.relationship_id)).all())
    assert set(rels) == {(ids["Acme"], "Analytics"), (ids["Acme"], "Core"), (ids["Globex"], "Analytics"),
                         (ids["Globex"], "Professional services")}
    # "analytics " joins "Analytics": values are trimmed and names compared without case.
    assert linked["a1"] == linked["a2"] == rels[(ids["Acme"], "Analytics")]
    assert linked["svc"] == rels[(ids["Globex"], "Professional services")]
    assert linked["none"] is None
    assert linked["g1"] == rels[(ids["Globex"], "Analytics")]
    assert client.post("/relationship-rules/apply", {}).get_json() == {"examined": 1, "linked": 0,
                                                                       "relationships_created": 0}


class Assigner:
    """A plugin deciding relationships for what admin rules leave open."""

    TETHER_MANIFEST = {"name": "assigner", "version": "1.0.0", "description": "assigns relationships",
                       "hooks": ["tether_assign_relationships"]}

    def __init__(self):
        self.seen = []

    @hookimpl
    def tether_assign_relationships(self, tenant, entity, records):
        self.seen.append([r["name"] for r in records])
        return [RelationshipAssignment("Product", "Legacy", {"tier": "Standard", "seats": "lots"})
                if r.get("stage") == "Legacy" else None for r in records]


def test_sync_time_assignment_asks_plugins_only_for_records_no_rule_matched(tether_store):
    host = PluginHost.from_entry_points()
    plugin = Assigner()
    host.register(plugin)
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "plugins": [{"name": "assigner"}],
                "relationship_types": [PRODUCT], "users": USERS}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    tenant = load_context(tether_store, host, "acme")
    ids = add_companies(tenant, [{"name": "Acme"}])
    with tenant.transaction() as session:
        relationship_rules.create_rule(tenant, session, relationship_rules.RelationshipRuleSchema().load(
            {"name": "from source", "type_name": "Product", "field": "source.Product__c", "operator": "present"}))
    records = [
        {"name": "o1", "company_id": ids["Acme"], "_source": {"Product__c": "Mobile"}},
        {"name": "o2", "company_id": ids["Acme"], "stage": "Legacy", "_source": {}},
        {"name": "o3", "company_id": ids["Acme"], "stage": "Other", "_source": {}},
        {"name": "o4", "company_id": None, "_source": {"Product__c": "Mobile"}},
    ]
    with tenant.transaction() as session:
        assigned = relationship_rules.assign_relationships(tenant, session, "opportunity", records)
    with tenant.session() as session:
        rels = {r.name: r for r in session.scalars(select(Relationship))}
    assert plugin.seen == [["o2", "o3"]]  # one call for the batch, only the unmatched ones with a company
    assert assigned == [rels["Mobile"].id, rels["Legacy"].id, None, None]
    # The plugin's unusable value was dropped, the usable one kept.
    assert rels["Legacy"].attributes == {"tier": "Standard"}
