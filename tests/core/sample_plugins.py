"""Small plugins the core tests register (each a class with its manifest inline)."""

from tether.core.contracts import RelationshipTypeSpec
from tether.core.hookspecs import hookimpl


def manifest(name, hooks, **extra):
    return {"name": name, "version": "1.0.0", "description": f"test plugin {name}", "hooks": hooks, **extra}


class Greeter:
    """Contributes a relationship type and records which tenants called it."""

    def __init__(self, name):
        self.name = name
        self.calls = []
        self.TETHER_MANIFEST = manifest(name, ["tether_relationship_types", "tether_records_changed"])

    @hookimpl
    def tether_relationship_types(self, tenant):
        self.calls.append(tenant.id)
        return [RelationshipTypeSpec(name=f"{self.name}-type", description=f"from {self.name}", plugin=self.name)]

    @hookimpl
    def tether_records_changed(self, tenant, changes):
        self.calls.append((tenant.id, changes.entity))


class Exploder:
    """Raises inside a hook, from a helper function, to test attribution."""

    TETHER_MANIFEST = manifest("exploder", ["tether_relationship_types"])

    @hookimpl
    def tether_relationship_types(self, tenant):
        return self._build(tenant)

    def _build(self, tenant):
        raise RuntimeError(f"cannot build types for {tenant.id}")


class ConfigChecker:
    """Has a config schema and refuses one value through tether_validate_config."""

    TETHER_MANIFEST = manifest(
        "checker", ["tether_validate_config"],
        config={
            "instance_url": {"type": "url", "required": True},
            "api_key": {"type": "string", "secret": True},
            "batch_size": {"type": "integer", "default": 200},
            "mode": {"type": "choice", "choices": ["fast", "safe"], "default": "safe"},
        },
    )

    @hookimpl
    def tether_validate_config(self, tenant, plugin, config):
        if plugin != "checker":
            return []
        if config.get("batch_size", 0) > 1000:
            return ["batch_size: at most 1000 records a batch"]
        return []


class NeedsChecker:
    TETHER_MANIFEST = manifest("needs-checker", [], requires=["checker"])
