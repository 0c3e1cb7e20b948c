"""Shared set-up for the Salesforce sync tests: the fake org's fixtures and a tenant on it.

Test modules import the fixtures they use from here (``from .fake_org_setup import ...``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tether.core.sync.engine import SyncOptions
from tether.core.sync.retry import Backoff
from tether.testing.fake_salesforce.fixtures import fake_clock, fake_org, fake_org_server  # noqa: F401 (fixtures)
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

__all__ = ["fake_clock", "fake_org", "fake_org_server", "sf_tenant", "sf_config", "fast_options", "LOOKBACK"]

LOOKBACK = 120


def sf_config(instance_url: str, **overrides: Any) -> dict[str, Any]:
    config = {"instance_url": instance_url, "username": INTEGRATION_USERNAME,
              "password": {"$env": "FAKE_SF_PASSWORD"}, "security_token": {"$env": "FAKE_SF_TOKEN"},
              "bulk_poll_seconds": 0, "lookback_seconds": LOOKBACK}
    config.update(overrides)
    return config


def fast_options(**kwargs: Any) -> SyncOptions:
    """Sync options whose retries do not sleep."""
    waits: list[float] = []
    return SyncOptions(backoff=Backoff(max_attempts=kwargs.pop("max_attempts", 4), sleep=waits.append), **kwargs)


@pytest.fixture
def sf_tenant(fake_org, make_tenant, monkeypatch):
    """``sf_tenant(**config)`` → a tenant whose salesforce plugin talks to ``fake_org``."""
    monkeypatch.setenv("FAKE_SF_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("FAKE_SF_TOKEN", DEFAULT_TOKEN)

    def make(tenant_id: str = "acme", *, relationship_types: list | None = None, mappings: list | None = None,
             **config: Any):
        sections: dict[str, Any] = {}
        if relationship_types:
            sections["relationship_types"] = relationship_types
        if mappings:
            sections["mappings"] = mappings
        return make_tenant(tenant_id, plugins={"salesforce": sf_config(fake_org.instance_url, **config)}, **sections)

    return make
