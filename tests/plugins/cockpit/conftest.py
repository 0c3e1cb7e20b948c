"""Cockpit set-up: a test kit plugin (hand-set health, a contributed condition), tenants, API clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from tests.core.domain.conftest import PRODUCT, Client, add_companies, add_opportunity, add_relationship
from tether.core.contracts import CtaCondition
from tether.core.hookspecs import hookimpl
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.tenants import apply_manifest, load_context
from tether.plugins.cockpit.models import Cta, CtaTask
from tether.webhooks.app import create_app

UTC = dt.timezone.utc
USERS = [
    {"username": "boss", "role": "admin"},
    {"username": "ana", "role": "user"},
    {"username": "bob", "role": "user"},
    {"username": "viewer", "role": "viewer_analytics"},
]


class Kit:
    """A third-party plugin the test drives by hand: health per entity, and a condition of its own."""

    TETHER_MANIFEST = {"name": "kit", "version": "1.0.0", "description": "hand-set health and a churn signal",
                       "hooks": ["tether_entity_health", "tether_cta_conditions"]}

    def __init__(self) -> None:
        self.health: dict[tuple[str, int], dict[str, Any]] = {}
        self.signals: list[dict[str, Any]] = []
        self.fail = False
        self.health_calls: list[tuple[str, int]] = []

    def reset(self) -> None:
        self.__init__()

    def set_health(self, entity: str, entity_id: int, score: float | None, label: str | None = None,
                   previous: float | None = None) -> None:
        self.health[(entity, entity_id)] = {"score": score, "label": label, "color": None, "previous_score": previous,
                                            "trend": None, "scheme": "colour", "scorecard": "kit"}

    @hookimpl
    def tether_entity_health(self, tenant, entity, ids):
        self.health_calls.append((entity, len(ids)))
        return {i: self.health[(entity, i)] for i in ids if (entity, i) in self.health}

    def _evaluate(self, tenant, params):
        if self.fail:
            raise RuntimeError("the churn model is down")
        return [s for s in self.signals if s.get("weight", 1) >= params["min_weight"]]

    @hookimpl
    def tether_cta_conditions(self, tenant):
        return [CtaCondition(key="churn_signal", label="Churn signal", evaluate=self._evaluate, plugin="kit",
                             description="a signal from the kit", defaults={"min_weight": 1},
                             check=lambda p: [] if isinstance(p.get("min_weight"), int) else
                             ["min_weight: a whole number"])]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()


@pytest.fixture(scope="session")
def kit_host(kit) -> PluginHost:
    host = PluginHost.from_entry_points()
    host.register(kit)
    return host


@pytest.fixture
def make_cockpit(tether_store, kit_host, kit):
    """``make_cockpit(config, plugins=...)`` → a tenant with the Cockpit (and timeline, kit by default)."""
    kit.reset()

    def build(config: dict[str, Any] | None = None, *, tenant_id: str = "acme", plugins: dict[str, Any] | None = None,
              **sections: Any):
        enabled = {"cockpit": dict(config or {}), "timeline": {}, "kit": {}} if plugins is None else plugins
        manifest = {"tenant": {"id": tenant_id, "name": tenant_id.title()},
                    "plugins": [{"name": name, "config": dict(conf or {})} for name, conf in enabled.items()],
                    "relationship_types": [PRODUCT], "users": USERS, **sections}
        apply_manifest(tether_store, kit_host, validate_tenant_manifest(manifest, kit_host, source="cockpit tests"))
        return load_context(tether_store, kit_host, tenant_id)

    return build


@pytest.fixture
def world(make_cockpit):
    """Acme (CSM ana) with two product relationships and a renewal, Globex (CSM bob)."""
    tenant = make_cockpit()
    ids = add_companies(tenant, [{"name": "Acme", "csm": "ana", "segment": "Enterprise", "arr": Decimal("120000"),
                                  "attributes": {"tier": "Gold"}},
                                 {"name": "Globex", "csm": "bob", "segment": "SMB", "arr": Decimal("9000")}])
    ids["analytics"] = add_relationship(tenant, ids["Acme"], "Analytics", csm="carol", stage="Adopting",
                                        arr=Decimal("80000"), attributes={"seats": 40})
    ids["crm"] = add_relationship(tenant, ids["Acme"], "CRM", stage="Launched")
    ids["renewal"] = add_opportunity(tenant, ids["Acme"], "Acme renewal 2026", relationship_id=ids["analytics"],
                                     booking_type="renewal", target_amount=Decimal("80000"),
                                     forecast_amount=Decimal("60000"), due_date=today() + dt.timedelta(days=40),
                                     close_date=today() + dt.timedelta(days=40), stage="Negotiation")
    ids["globex_deal"] = add_opportunity(tenant, ids["Globex"], "Globex upsell", booking_type="upsell")
    return tenant, ids


_APPS: dict[int, Any] = {}


@pytest.fixture
def client(tether_store, kit_host, tmp_path):
    """``client(username)`` → an API client of tenant acme signed in as that user."""
    key = id(tether_store)
    if key not in _APPS or _APPS[key][0] is not tether_store:
        _APPS.clear()  # one store per test: keep only the current one
        runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path / "home")}), host=kit_host, store=tether_store)
        _APPS[key] = (tether_store, create_app(runtime))
    app = _APPS[key][1]

    def make(username: str = "ana", tenant_id: str = "acme") -> Client:
        return Client(app, tether_store, tenant_id).as_user(username)

    return make


def today() -> dt.date:
    return dt.datetime.now(UTC).date()


def ctas(tenant, **where: Any) -> list[Cta]:
    with tenant.session() as session:
        query = select(Cta).order_by(Cta.id)
        for key, value in where.items():
            query = query.where(getattr(Cta, key) == value)
        return list(session.scalars(query))


def tasks_of(tenant, cta_id: int) -> list[CtaTask]:
    with tenant.session() as session:
        return list(session.scalars(select(CtaTask).where(CtaTask.cta_id == cta_id).order_by(CtaTask.position)))
