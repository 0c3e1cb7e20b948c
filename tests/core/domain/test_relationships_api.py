"""Relationship types and relationships over the API: validation with field-level errors, roles, typed attributes."""

from decimal import Decimal

from sqlalchemy import select

from tether.core.plugins import PluginHost
from tether.core.store import Relationship, RelationshipType

from .conftest import PRODUCT, USERS, add_companies


def test_type_names_descriptions_and_fields_are_validated_field_by_field(client):
    response = client.post("/relationship-types", {
        "name": "x" * 41,
        "description": "d" * 1001,
        "fields": [{"name": "tier", "type": "picklist"}, {"name": "seats", "type": "string", "rollup": "sum"},
                   {"name": "size", "type": "colour"}],
    })
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert error["fields"]["name"] == ["must be 1 to 40 characters"]
    assert error["fields"]["description"] == ["must be at most 1000 characters"]
    assert error["fields"]["fields"]["0"]["choices"] == ["a picklist field needs 'choices'"]
    assert error["fields"]["fields"]["1"]["rollup"] == ["only number and money fields roll up"]
    assert "type" in error["fields"]["fields"]["2"]
    assert client.post("/relationship-types", {"name": ""}).get_json()["error"]["fields"]["name"]
    twice = client.post("/relationship-types", {"name": "Project", "fields": [{"name": "a"}, {"name": "A"}]})
    assert twice.get_json()["error"]["fields"]["fields"] == ["field 'A' is defined twice"]


def test_an_admin_defines_a_type_others_only_read_it(client):
    created = client.post("/relationship-types", {"name": "Business unit", "description": "A division we serve.",
                                                  "fields": [{"name": "region", "type": "picklist",
                                                              "choices": ["EMEA", "AMER"], "required": True}]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["name"] == "Business unit" and body["fields"][0]["choices"] == ["EMEA", "AMER"]
    assert client.post("/relationship-types", {"name": "business UNIT"}).get_json()["error"]["fields"] == \
        {"name": [f"a relationship type named 'business UNIT' already exists (id {body['id']})"]}
    csm = client.as_user("csm@acme.example")
    assert csm.post("/relationship-types", {"name": "Nope"}).status_code == 403
    listed = csm.get("/relationship-types").get_json()
    assert [t["name"] for t in listed] == ["Business unit", "Product"]
    assert client.as_user("exec@acme.example").get(f"/relationship-types/{body['id']}").status_code == 200


def test_relationship_attributes_are_checked_against_the_type(client, acme):
    ids = add_companies(acme, [{"name": "Acme"}])
    with acme.session() as session:
        product = session.scalar(select(RelationshipType.id).where(RelationshipType.name == "Product"))
    refused = client.post("/relationships", {
        "company_id": ids["Acme"], "type_id": product, "name": "Analytics",
        "attributes": {"tier": "Gold", "seats": "many", "budget": "12,5", "go_live": "next week", "colour": "red"},
    })
    assert refused.status_code == 422
    fields = refused.get_json()["error"]["fields"]
    assert fields == {
        "attributes.tier": ["'Gold' is not one of Standard, Premium, Enterprise"],
        "attributes.seats": ["'many' is not a number"],
        "attributes.budget": ["'12,5' is not an amount"],
        "attributes.go_live": ["'next week' is not a date (YYYY-MM-DD)"],
        "attributes.colour": ["not a field of relationship type 'Product' (fields: budget, go_live, seats, tier)"],
    }
    created = client.post("/relationships", {
        "company_id": ids["Acme"], "type_name": "product", "name": "Analytics", "arr": "1200.50", "csm": "Ann",
        "stage": "Adopting", "attributes": {"tier": "Premium", "seats": 40, "budget": 99.999, "go_live": "2026-03-01"},
    })
    assert created.status_code == 201, created.get_json()
    rel = created.get_json()
    assert rel["arr"] == "1200.50" and rel["type_name"] == "Product"
    assert rel["attributes"] == {"tier": "Premium", "seats": 40, "budget": "100.00", "go_live": "2026-03-01"}
    assert client.get(f"/relationships/{rel['id']}").get_json()["health"] is None  # no scorecards plugin here

    duplicate = client.post("/relationships", {"company_id": ids["Acme"], "type_id": product, "name": "Analytics"})
    assert duplicate.status_code == 422 and "already has a Product relationship named 'Analytics'" in \
        duplicate.get_json()["error"]["message"]

    patched = client.patch(f"/relationships/{rel['id']}", {"attributes": {"seats": 45, "go_live": None},
                                                          "status": "Active"})
    assert patched.status_code == 200
    assert patched.get_json()["attributes"] == {"tier": "Premium", "seats": 45, "budget": "100.00"}
    with acme.session() as session:
        stored = session.get(Relationship, rel["id"])
        assert (stored.arr, stored.status, stored.attributes["seats"]) == (Decimal("1200.50"), "Active", 45)


def test_negative_money_and_unknown_companies_are_refused(client, acme):
    ids = add_companies(acme, [{"name": "Acme"}])
    negative = client.post("/relationships", {"company_id": ids["Acme"], "type_name": "Product", "name": "X",
                                              "arr": "-5"})
    assert negative.get_json()["error"]["fields"] == {"arr": ["must not be negative"]}
    missing = client.post("/relationships", {"company_id": 999999, "type_name": "Product", "name": "X"})
    assert missing.status_code == 422 and missing.get_json()["error"]["fields"] == {"company_id": ["no company 999999"]}
    assert client.get("/relationships/424242").status_code == 404


def test_required_fields_and_type_changes_that_would_orphan_values(client, acme):
    ids = add_companies(acme, [{"name": "Acme"}])
    type_id = client.post("/relationship-types", {"name": "Project", "fields": [
        {"name": "phase", "type": "picklist", "choices": ["Plan", "Build"], "required": True}]}).get_json()["id"]
    missing = client.post("/relationships", {"company_id": ids["Acme"], "type_id": type_id, "name": "Rollout"})
    assert missing.get_json()["error"]["fields"] == {"attributes.phase": ["required by relationship type 'Project'"]}
    rel = client.post("/relationships", {"company_id": ids["Acme"], "type_id": type_id, "name": "Rollout",
                                         "attributes": {"phase": "Build"}}).get_json()
    narrowed = client.patch(f"/relationship-types/{type_id}", {"fields": [
        {"name": "phase", "type": "picklist", "choices": ["Plan"], "required": True}]})
    assert narrowed.status_code == 422
    assert "relationship 'Rollout'" in str(narrowed.get_json()["error"]["fields"])
    assert client.delete(f"/relationship-types/{type_id}").status_code == 422
    assert client.delete(f"/relationships/{rel['id']}").status_code == 204
    assert client.delete(f"/relationship-types/{type_id}").status_code == 204


def test_relationships_list_filters_and_pages(client, acme):
    ids = add_companies(acme, [{"name": "Acme"}, {"name": "Globex"}])
    for company in ("Acme", "Globex"):
        for name in ("A", "B", "C"):
            assert client.post("/relationships", {"company_id": ids[company], "type_name": "Product",
                                                  "name": name}).status_code == 201
    first = client.get("/relationships", company_id=ids["Acme"], limit=2).get_json()
    assert [r["name"] for r in first["items"]] == ["A", "B"] and first["next_cursor"]
    second = client.get("/relationships", company_id=ids["Acme"], limit=2, cursor=first["next_cursor"]).get_json()
    assert [r["name"] for r in second["items"]] == ["C"] and second["next_cursor"] is None
    bad = client.get("/relationships", cursor="!!!")
    assert bad.status_code == 422 and "cursor" in bad.get_json()["error"]["fields"]


class Contributor:
    """A third-party plugin contributing a relationship type."""

    TETHER_MANIFEST = {"name": "contributor", "version": "1.0.0", "description": "contributes a type",
                       "hooks": ["tether_relationship_types"]}

    @staticmethod
    def _spec():
        from tether.core.contracts import AttributeField, RelationshipTypeSpec

        return RelationshipTypeSpec(name="Subscription", description="from a plugin", plugin="contributor",
                                    fields=(AttributeField(name="plan", type="picklist", choices=("Basic", "Pro")),))

    from tether.core.hookspecs import hookimpl

    @hookimpl
    def tether_relationship_types(self, tenant):
        return [self._spec()]


def test_plugin_contributed_types_are_listed_and_usable(tether_store, make_client):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest, load_context, set_plugin_enabled

    host = PluginHost.from_entry_points()
    host.register(Contributor())
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "relationship_types": [PRODUCT], "users": USERS}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    # Enabled after the manifest was applied: its type is known through the hook, not stored yet.
    set_plugin_enabled(tether_store, host, "acme", "contributor", True)
    ids = add_companies(load_context(tether_store, host, "acme"), [{"name": "Acme"}])
    client = make_client("acme", host=host).as_user("ops@acme.example")
    listed = {t["name"]: t for t in client.get("/relationship-types").get_json()}
    assert listed["Subscription"]["source"] == "contributor" and listed["Subscription"]["id"] is None
    refused = client.post("/relationships", {"company_id": ids["Acme"], "type_name": "Subscription", "name": "Main",
                                             "attributes": {"plan": "Gold"}})
    assert refused.get_json()["error"]["fields"] == {"attributes.plan": ["'Gold' is not one of Basic, Pro"]}
    created = client.post("/relationships", {"company_id": ids["Acme"], "type_name": "Subscription", "name": "Main",
                                             "attributes": {"plan": "Pro"}})
    assert created.status_code == 201, created.get_json()
    again = {t["name"]: t for t in client.get("/relationship-types").get_json()}
    assert again["Subscription"]["id"] is not None and again["Subscription"]["relationships"] == 1


class Sloppy:
    """A plugin contributing one good and one bad relationship type."""

    TETHER_MANIFEST = {"name": "sloppy", "version": "1.0.0", "description": "contributes types",
                       "hooks": ["tether_relationship_types"]}

    from tether.core.hookspecs import hookimpl

    @hookimpl
    def tether_relationship_types(self, tenant):
        from tether.core.contracts import AttributeField, RelationshipTypeSpec

        return [RelationshipTypeSpec(name="Good", plugin="sloppy"),
                RelationshipTypeSpec(name="x" * 41, plugin="sloppy",
                                     fields=(AttributeField(name="level", type="picklist"),))]


def test_plugin_types_breaking_the_rules_are_left_out_and_logged(tether_store, make_client, caplog):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest, set_plugin_enabled

    host = PluginHost.from_entry_points()
    host.register(Sloppy())
    manifest = {"tenant": {"id": "acme", "name": "Acme"}, "users": USERS}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    set_plugin_enabled(tether_store, host, "acme", "sloppy", True)
    client = make_client("acme", host=host).as_user("ops@acme.example")
    assert [t["name"] for t in client.get("/relationship-types").get_json()] == ["Good"]
    assert "from plugin 'sloppy' is not usable: name: must be 1 to 40 characters" in caplog.text
    assert "fields[0].choices: a picklist field needs 'choices'" in caplog.text
