"""pytest fixtures for tether and for plugin authors.

Registered through the ``pytest11`` entry point, so any project that installs tether
gets them:

- ``tether_store``: an empty, migrated store; runs once on SQLite and once more on
  PostgreSQL when ``TETHER_TEST_POSTGRES_URL`` is set.
- ``plugin_host``: a host with every installed plugin loaded from entry points.
- ``make_tenant``: ``make_tenant("acme", plugins={"salesforce": {...}})`` applies a
  manifest and returns the tenant's context.
- ``fake_clock``, ``fake_org`` (in-process under ``responses``) and ``fake_org_server``
  (HTTPS on loopback): the fake Salesforce org, see docs/fake-org.md.
- ``tether_clock``: tether's own time, frozen; every ``utcnow()`` in tether reads it and
  the test moves it with ``advance()`` / ``set()``.
- ``tether_runtime`` and ``webhook_client``: the runtime over ``tether_store`` and
  ``plugin_host``, and a Flask test client of the whole web app (API, webhooks, health).

Connector authors also get :class:`tether.testing.contract.ConnectorContract`, the
contract suite (docs/write-a-connector.md).
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any, Callable, Iterator, Mapping

import pytest

from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost, TenantContext
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import Store
from tether.core.store import types as store_types
from tether.core.tenants import apply_manifest, load_context
from tether.testing.databases import PostgresDatabase, SQLiteTemplate, postgres_url
from tether.testing.fake_salesforce.fixtures import fake_clock, fake_org, fake_org_server  # noqa: F401

BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: runs only when TETHER_TEST_POSTGRES_URL is set")


@pytest.fixture(scope="session")
def plugin_host() -> PluginHost:
    """Every plugin installed in this environment, loaded once per test session."""
    return PluginHost.from_entry_points()


@pytest.fixture(scope="session")
def _tether_sqlite_template(tmp_path_factory, plugin_host) -> SQLiteTemplate:
    return SQLiteTemplate(tmp_path_factory.mktemp("tether-db"), plugin_host.migration_locations())


@pytest.fixture(scope="session")
def _tether_postgres(plugin_host):
    url = postgres_url()
    if not url:
        yield None
        return
    database = PostgresDatabase(url, plugin_host.migration_locations())
    yield database
    database.drop()


@pytest.fixture(params=BACKENDS)
def tether_store(request) -> Store:
    """A migrated, empty store: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        store = request.getfixturevalue("_tether_sqlite_template").new_store()
        yield store
        store.dispose()
        return
    database = request.getfixturevalue("_tether_postgres")
    if database is None:
        pytest.skip("PostgreSQL tests need TETHER_TEST_POSTGRES_URL")
    yield database.new_store()


@pytest.fixture
def make_tenant(tether_store: Store, plugin_host: PluginHost) -> Callable[..., TenantContext]:
    """Apply a tenant manifest built from arguments and return the tenant's context."""

    def _make(tenant_id: str = "acme", *, plugins: Mapping[str, Mapping[str, Any]] | None = None,
              name: str | None = None, **sections: Any) -> TenantContext:
        manifest = {
            "tenant": {"id": tenant_id, "name": name or tenant_id.title()},
            "plugins": [{"name": plugin, "config": dict(config or {})} for plugin, config in (plugins or {}).items()],
            **sections,
        }
        validated = validate_tenant_manifest(manifest, plugin_host, source=f"make_tenant({tenant_id!r})")
        apply_manifest(tether_store, plugin_host, validated)
        return load_context(tether_store, plugin_host, tenant_id)

    return _make


class TetherClock:
    """tether-side time the test controls: frozen until the test moves it."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware UTC datetime")
        self._now = start.astimezone(dt.timezone.utc)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, seconds: float = 0, **units: float) -> dt.datetime:
        """Move forward by ``seconds`` plus ``minutes=``, ``hours=``, ``days=``."""
        step = dt.timedelta(seconds=seconds, **units)
        if step < dt.timedelta(0):
            raise ValueError("time does not go back; use set() to jump")
        self._now += step
        return self._now

    def set(self, when: dt.datetime | str) -> dt.datetime:
        value = dt.datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else when
        if value.tzinfo is None:
            raise ValueError("the clock needs an aware UTC datetime")
        self._now = value.astimezone(dt.timezone.utc)
        return self._now


@pytest.fixture
def tether_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[TetherClock]:
    """tether's ``utcnow()`` frozen at the real time the test starts (``set()`` to jump).

    Every tether module reads time through :func:`tether.core.store.types.utcnow`; the
    fixture points that function, and every module that imported it, at the clock.
    """
    clock = TetherClock(store_types.utcnow().replace(microsecond=0))
    original = store_types.utcnow
    for name, module in list(sys.modules.items()):
        if (name == "tether" or name.startswith("tether.")) and getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", clock.now)
    yield clock


@pytest.fixture
def tether_runtime(tether_store: Store, plugin_host: PluginHost, tmp_path) -> Iterator[Runtime]:
    """The process wiring over the test's store and plugins, with a home folder in tmp_path."""
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path / "tether-home")}), host=plugin_host,
                      store=tether_store)
    yield runtime


@pytest.fixture
def webhook_client(tether_runtime: Runtime):
    """A Flask test client of the web app (``/webhooks/...``, ``/api/v1/...``, ``/healthz``)."""
    from tether.webhooks.app import create_app

    return create_app(tether_runtime).test_client()
