"""Applying tenant manifests: all or nothing, idempotent, updates in one transaction."""

import pytest
from sqlalchemy import select

from tether.core.errors import ManifestError, PluginHookError
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.store import PluginInstallation, RelationshipType, Tenant, User
from tether.core.tenants import apply_manifest, load_context, set_plugin_enabled

from .sample_plugins import ConfigChecker, Exploder, Greeter


@pytest.fixture
def host():
    host = PluginHost()
    host.register(Greeter("one"))
    host.register(Greeter("two"))
    host.register(ConfigChecker())
    return host


def manifest_data(**overrides):
    data = {
        "tenant": {"id": "acme", "name": "Acme"},
        "plugins": [{"name": "one"}, {"name": "checker", "config": {"instance_url": "https://acme.example"}}],
        "relationship_types": [{"name": "Product", "fields": [{"name": "seats", "type": "number", "rollup": "sum"}]}],
        "users": [{"username": "ops@acme.example", "role": "admin"}],
    }
    data.update(overrides)
    return data


def apply(store, host, data):
    return apply_manifest(store, host, validate_tenant_manifest(data, host, source="acme.yaml"))


def snapshot(store):
    with store.admin_session() as session:
        return {
            "tenants": [(t.id, t.name, t.updated_at) for t in session.scalars(select(Tenant))],
            "plugins": sorted((p.tenant_id, p.plugin_name, p.enabled, str(p.config), p.updated_at)
                              for p in session.scalars(select(PluginInstallation))),
            "types": sorted((t.name, t.source, t.description) for t in session.scalars(select(RelationshipType))),
            "users": sorted((u.username, u.role) for u in session.scalars(select(User))),
        }


def test_apply_creates_the_tenant_with_plugins_types_and_users(tether_store, host):
    result = apply(tether_store, host, manifest_data())

    assert result.created
    state = snapshot(tether_store)
    assert [(p[1], p[2]) for p in state["plugins"]] == [("checker", True), ("one", True)]
    # Admin types and plugin-contributed types alike.
    assert state["types"] == [("Product", "manifest", ""), ("one-type", "one", "from one")]
    assert state["users"] == [("ops@acme.example", "admin")]
    context = load_context(tether_store, host, "acme")
    assert sorted(context.enabled_plugins) == ["checker", "one"]
    assert context.config_for("checker")["batch_size"] == 200


def test_applying_the_same_manifest_twice_changes_nothing(tether_store, host):
    apply(tether_store, host, manifest_data())
    before = snapshot(tether_store)
    result = apply(tether_store, host, manifest_data())
    assert result.changes == []
    assert snapshot(tether_store) == before


def test_a_changed_manifest_enables_disables_and_reconfigures(tether_store, host):
    apply(tether_store, host, manifest_data())
    result = apply(tether_store, host, manifest_data(plugins=[
        {"name": "two"},
        {"name": "checker", "config": {"instance_url": "https://acme.example", "mode": "fast"}},
    ]))
    assert sorted(result.changes) == sorted([
        "installed plugin 'two'", "reconfigured plugin 'checker'",
        "disabled plugin 'one' (no longer in the manifest)",
        "added relationship type 'two-type'", "removed relationship type 'one-type'",
    ])
    context = load_context(tether_store, host, "acme")
    assert sorted(context.enabled_plugins) == ["checker", "two"]
    assert context.config_for("checker")["mode"] == "fast"


def test_a_plugin_refusing_its_config_refuses_the_whole_manifest(tether_store, host):
    apply(tether_store, host, manifest_data())
    before = snapshot(tether_store)
    bad = manifest_data(plugins=[{"name": "two"}, {"name": "checker", "config": {"instance_url": "https://acme.example", "batch_size": 5000}}],
                        users=[{"username": "new@acme.example"}])
    with pytest.raises(ManifestError) as caught:
        apply(tether_store, host, bad)
    assert caught.value.errors == {"plugins[1].config.batch_size": ["at most 1000 records a batch"]}
    assert snapshot(tether_store) == before


def test_a_failure_midway_leaves_nothing_half_applied(tether_store, host):
    apply(tether_store, host, manifest_data())
    host.register(Exploder())
    before = snapshot(tether_store)
    with pytest.raises(PluginHookError, match="exploder"):
        apply(tether_store, host, manifest_data(plugins=[{"name": "two"}, {"name": "exploder"}]))
    assert snapshot(tether_store) == before


def test_enable_and_disable_one_plugin(tether_store, host):
    apply(tether_store, host, manifest_data())
    assert set_plugin_enabled(tether_store, host, "acme", "one", False) is True
    assert set_plugin_enabled(tether_store, host, "acme", "one", False) is False
    assert "one" not in load_context(tether_store, host, "acme").enabled_plugins
    assert set_plugin_enabled(tether_store, host, "acme", "two", True) is True
    assert "two" in load_context(tether_store, host, "acme").enabled_plugins


def test_types_created_through_the_api_survive_a_manifest_apply(tether_store, host):
    apply(tether_store, host, manifest_data())
    with tether_store.tenant_transaction("acme") as session:
        session.add(RelationshipType(name="Project", description="made in the API", source="admin"))
    result = apply(tether_store, host, manifest_data(relationship_types=[]))
    assert "removed relationship type 'Product'" in result.changes
    assert ("Project", "admin", "made in the API") in snapshot(tether_store)["types"]


def test_mappings_must_name_an_entity_the_tenant_can_apply(tether_store, plugin_host):
    base = {"tenant": {"id": "acme", "name": "Acme"}, "plugins": [
        {"name": "salesforce", "config": {"instance_url": "https://acme.my.salesforce.com"}}]}
    mapping = {"connector": "salesforce", "object": "Task", "entity": "activity", "fields": []}
    with pytest.raises(ManifestError) as caught:
        apply(tether_store, plugin_host, {**base, "mappings": [mapping]})
    assert "no enabled plugin applies entity 'activity'" in caught.value.errors["mappings[0].entity"][0]
    with_timeline = {**base, "plugins": base["plugins"] + [{"name": "timeline"}], "mappings": [mapping]}
    assert apply(tether_store, plugin_host, with_timeline).created
