"""Test plugins feeding the risk model and rules through their hooks, and a tenant maker for them."""

from __future__ import annotations

from typing import Any, Mapping

from tether.core.contracts import RenewalFeatures
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.tenants import apply_manifest, load_context


def _manifest(name: str, hooks: list[str]) -> dict[str, Any]:
    return {"name": name, "version": "1.0.0", "description": f"renewal test plugin {name}", "hooks": hooks}


class PlantedFeatures:
    """Contributes per-opportunity columns (by opportunity id) through tether_renewal_features."""

    def __init__(self, name: str = "planted") -> None:
        self.TETHER_MANIFEST = _manifest(name, ["tether_renewal_features"])
        self.values: dict[int, dict[str, float | None]] = {}
        self.calls: list[int] = []

    @hookimpl
    def tether_renewal_features(self, tenant, opportunity_ids):
        self.calls.append(len(opportunity_ids))
        names = sorted({key for row in self.values.values() for key in row})
        columns = {name: [self.values.get(i, {}).get(name) for i in opportunity_ids] for name in names}
        return RenewalFeatures(opportunity_ids=list(opportunity_ids), columns=columns,
                               labels={"engagement": "product engagement", "support_escalations": "support escalations"})


class FixedHealth:
    """Answers tether_entity_health from a table of company id → health."""

    def __init__(self, health: Mapping[int, dict[str, Any]] | None = None) -> None:
        self.TETHER_MANIFEST = _manifest("fixedhealth", ["tether_entity_health"])
        self.health = dict(health or {})

    @hookimpl
    def tether_entity_health(self, tenant, entity, ids):
        if entity != "company":
            return {}
        return {i: self.health[i] for i in ids if i in self.health}


def tenant_with(store, *plugins, tenant_id: str = "acme", settings: Mapping[str, Any] | None = None):
    """A tenant on ``store`` whose host knows the given plugin objects (and enables them)."""
    host = PluginHost.from_entry_points()
    for plugin in plugins:
        host.register(plugin)
    manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                "plugins": [{"name": p.TETHER_MANIFEST["name"]} for p in plugins]}
    if settings:
        manifest["settings"] = dict(settings)
    apply_manifest(store, host, validate_tenant_manifest(manifest, host, source="test"))
    return load_context(store, host, tenant_id)
