"""Fixtures for the job-layer tests: a host with the probe plugin, tenants, a runtime."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.tenants import apply_manifest, load_context

from .support import RUNS, SOURCES, JobsProbe, Source


@pytest.fixture
def probe() -> JobsProbe:
    return JobsProbe()


@pytest.fixture
def jobs_host(probe) -> PluginHost:
    host = PluginHost.from_entry_points()
    host.register(probe)
    return host


@pytest.fixture
def jobs_runtime(tether_store, jobs_host, tmp_path) -> Runtime:
    settings = Settings.from_env({"TETHER_HOME": str(tmp_path), "TETHER_DATABASE_URL": tether_store.url})
    runtime = Runtime(settings, host=jobs_host, store=tether_store)
    _clear_engine_tables(tether_store)
    yield runtime
    _clear_engine_tables(tether_store)


def _clear_engine_tables(store) -> None:
    """The test database is emptied per test for tether's tables; engines' own tables too."""
    with store.engine.begin() as connection:
        if store.dialect == "postgresql":
            connection.execute(text("TRUNCATE procrastinate_jobs, procrastinate_periodic_defers, "
                                    "procrastinate_events, procrastinate_workers RESTART IDENTITY CASCADE"))
        connection.execute(text("DELETE FROM apscheduler_jobs") if _has_table(connection, "apscheduler_jobs")
                           else text("SELECT 1"))


def _has_table(connection, name: str) -> bool:
    from sqlalchemy import inspect

    return inspect(connection).has_table(name)


@pytest.fixture
def jobs_tenant(tether_store, jobs_host):
    """``jobs_tenant("acme", schedules=[...], probe={...})`` → the tenant's context (with a source)."""
    created: list[str] = []

    def make(tenant_id: str = "acme", *, probe: dict[str, Any] | None = None, **sections: Any):
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                    "plugins": [{"name": "probe", "config": dict(probe or {})}], **sections}
        apply_manifest(tether_store, jobs_host, validate_tenant_manifest(manifest, jobs_host, source="test"))
        SOURCES[tenant_id] = Source()
        created.append(tenant_id)
        return load_context(tether_store, jobs_host, tenant_id)

    RUNS.clear()
    yield make
    for tenant_id in created:
        SOURCES.pop(tenant_id, None)
    RUNS.clear()
