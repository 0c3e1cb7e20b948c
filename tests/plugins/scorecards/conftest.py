"""Scorecards set-up: a plugin with hand-set measure values, and tenants built from a manifest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.core.domain.conftest import PRODUCT, USERS, add_companies, add_relationship
from tether.core.contracts import HealthMeasure
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.tenants import apply_manifest, load_context


class FixedMeasures:
    """A third-party plugin whose measure values the test sets by hand (None or absent = N/A)."""

    TETHER_MANIFEST = {"name": "fixed", "version": "1.0.0", "description": "hand-set measures",
                       "hooks": ["tether_health_measures"]}

    def __init__(self) -> None:
        self.values: dict[str, dict[int, Any]] = {"a": {}, "b": {}, "c": {}, "tier": {}}
        self.calls: list[tuple[str, str, int]] = []

    def _compute(self, key):
        def compute(tenant, kind, ids):
            self.calls.append((key, kind, len(ids)))
            wanted = set(ids)
            return {i: v for i, v in self.values[key].items() if i in wanted and v is not None}
        return compute

    @hookimpl
    def tether_health_measures(self, tenant):
        return [HealthMeasure(key=k, label=f"measure {k}", compute=self._compute(k), plugin="fixed")
                for k in ("a", "b", "c")] + [
            HealthMeasure(key="tier", label="tier", compute=self._compute("tier"), kind="picklist",
                          choices=("Gold", "Silver"), plugin="fixed")]



@pytest.fixture
def fixed():
    return FixedMeasures()


@pytest.fixture
def host(fixed):
    host = PluginHost.from_entry_points()
    host.register(fixed)
    return host


@pytest.fixture
def tenant_with(tether_store, host):
    """``tenant_with(scorecards=[...], **config)`` → a tenant with scorecards, fixed and timeline enabled."""

    def build(scorecards=None, tenant_id="acme", extra_plugins=("timeline",), **config):
        scorecards_config = dict(config)
        if scorecards is not None:
            scorecards_config["scorecards"] = scorecards
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                    "plugins": [{"name": "scorecards", "config": scorecards_config}, {"name": "fixed"}]
                    + [{"name": p} for p in extra_plugins],
                    "relationship_types": [PRODUCT], "users": USERS}
        apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
        return load_context(tether_store, host, tenant_id)

    return build


def card(name="Health", entity="company", measures=None, **extra) -> dict[str, Any]:
    return {"name": name, "entity": entity, "default": True, "measures": measures or [{"key": "a"}], **extra}


__all__ = ["FixedMeasures", "add_companies", "add_relationship", "card"]
