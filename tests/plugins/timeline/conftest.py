"""A tenant with the Timeline plugin, a company with a relationship and an opportunity, and API clients."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.core.domain.conftest import (PRODUCT, USERS, Client, add_companies, add_opportunity, add_relationship,
                                       app_for)

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(make_tenant):
    tenant = make_tenant("acme", plugins={"timeline": {}},
                         relationship_types=[PRODUCT, {"name": "Project"}], users=USERS)
    ids = add_companies(tenant, [{"name": "Acme"}, {"name": "Globex"}])
    ids["rel"] = add_relationship(tenant, ids["Acme"], "Analytics")
    ids["project"] = add_relationship(tenant, ids["Acme"], "Rollout", type_name="Project")
    ids["opp"] = add_opportunity(tenant, ids["Acme"], "Renewal 2026", relationship_id=ids["rel"])
    ids["globex_opp"] = add_opportunity(tenant, ids["Globex"], "Globex deal")
    return tenant, ids


def client_for(store, host, tenant_id, username, tmp_path) -> Client:
    return Client(app_for(store, host, tmp_path), store, tenant_id).as_user(username)


@pytest.fixture
def api(world, tether_store, plugin_host, tmp_path):
    return client_for(tether_store, plugin_host, "acme", "csm@acme.example", tmp_path)


def at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat()
