"""Fixtures for engine tests: a plugin host with the in-memory connector plugin."""

from __future__ import annotations

from typing import Any

import pytest

from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.sync.retry import Backoff
from tether.core.tenants import apply_manifest, load_context

from .memory_connector import MANIFEST, SOURCES, MemoryPlugin, MemorySource


@pytest.fixture
def memory_plugin() -> MemoryPlugin:
    return MemoryPlugin()


@pytest.fixture
def memory_host(memory_plugin) -> PluginHost:
    host = PluginHost.from_entry_points()
    host.register(memory_plugin, manifest=MANIFEST)
    return host


@pytest.fixture
def memory_tenant(tether_store, memory_host):
    """``memory_tenant("acme", relationship_types=[...])`` → (context, source)."""
    created: list[str] = []

    def make(tenant_id: str = "acme", **sections: Any):
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                    "plugins": [{"name": "memory"}], **sections}
        apply_manifest(tether_store, memory_host, validate_tenant_manifest(manifest, memory_host, source="test"))
        source = SOURCES[tenant_id] = MemorySource()
        created.append(tenant_id)
        return load_context(tether_store, memory_host, tenant_id), source

    yield make
    for tenant_id in created:
        SOURCES.pop(tenant_id, None)


@pytest.fixture
def no_sleep() -> Backoff:
    """A backoff that records its waits instead of sleeping."""
    waits: list[float] = []
    backoff = Backoff(base=0.5, cap=30, max_attempts=4, sleep=waits.append)
    backoff.waits = waits  # type: ignore[attr-defined]
    return backoff
