"""Shared set-up for the domain tests: a tenant with a typed relationship type, companies, an API client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from tether.core.api.tokens import issue_token
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import Company, Opportunity, Relationship, RelationshipType
from tether.webhooks.app import create_app

UTC = dt.timezone.utc
PRODUCT = {
    "name": "Product",
    "description": "One relationship per product line.",
    "fields": [
        {"name": "tier", "type": "picklist", "choices": ["Standard", "Premium", "Enterprise"]},
        {"name": "seats", "type": "number", "rollup": "sum"},
        {"name": "budget", "type": "money", "rollup": "sum"},
        {"name": "go_live", "type": "date"},
    ],
}
USERS = [
    {"username": "ops@acme.example", "role": "admin"},
    {"username": "csm@acme.example", "role": "user"},
    {"username": "exec@acme.example", "role": "viewer_analytics"},
]


@pytest.fixture
def acme(make_tenant):
    """A tenant without domain plugins: the core alone."""
    return make_tenant("acme", relationship_types=[PRODUCT], users=USERS)


def add_companies(tenant, spec: list[dict[str, Any]]) -> dict[str, int]:
    """Create companies from ``[{"name": ..., "parent": name, ...}]`` in order; returns ids by name."""
    ids: dict[str, int] = {}
    with tenant.transaction() as session:
        for item in spec:
            item = dict(item)
            parent = item.pop("parent", None)
            company = Company(parent_id=ids[parent] if parent else None, **item)
            session.add(company)
            session.flush()
            ids[company.name] = company.id
    return ids


def add_relationship(tenant, company_id: int, name: str, type_name: str = "Product", **values: Any) -> int:
    with tenant.transaction() as session:
        from sqlalchemy import select

        type_id = session.scalar(select(RelationshipType.id).where(RelationshipType.name == type_name))
        row = Relationship(company_id=company_id, type_id=type_id, name=name, **values)
        session.add(row)
        session.flush()
        return row.id


def add_opportunity(tenant, company_id: int, name: str, **values: Any) -> int:
    with tenant.transaction() as session:
        row = Opportunity(company_id=company_id, name=name, **values)
        session.add(row)
        session.flush()
        return row.id


class Client:
    """A test client that sends a user's token and JSON."""

    def __init__(self, app, store, tenant_id: str) -> None:
        self.http = app.test_client()
        self.store = store
        self.tenant_id = tenant_id
        self.tokens: dict[str, str] = {}

    def as_user(self, username: str) -> "Client":
        if username not in self.tokens:
            self.tokens[username] = issue_token(self.store, self.tenant_id, username)
        self.current = self.tokens[username]
        return self

    def call(self, method: str, path: str, json: Any = None, **query: Any):
        url = f"/api/v1/tenants/{self.tenant_id}{path}"
        return self.http.open(url, method=method, json=json, query_string=query,
                              headers={"Authorization": f"Bearer {self.current}"})

    def get(self, path, **query):
        return self.call("GET", path, **query)

    def post(self, path, json=None):
        return self.call("POST", path, json=json if json is not None else {})

    def patch(self, path, json):
        return self.call("PATCH", path, json=json)

    def put(self, path, json):
        return self.call("PUT", path, json=json)

    def delete(self, path):
        return self.call("DELETE", path)


_APPS: dict[tuple[int, int], Any] = {}


def app_for(store, host, home) -> Any:
    """One Flask app per store and host: building one (and its OpenAPI document) is the slow part."""
    key = (id(store), id(host))
    if key not in _APPS or _APPS[key][0] is not store:
        _APPS.clear()  # stores live for one test; keep only the current one
        settings = Settings.from_env({"TETHER_HOME": str(home)})
        _APPS[key] = (store, create_app(Runtime(settings, host=host, store=store)))
    return _APPS[key][1]


@pytest.fixture
def make_client(tether_store, plugin_host, tmp_path):
    def _make(tenant_id: str = "acme", host=None) -> Client:
        return Client(app_for(tether_store, host or plugin_host, tmp_path / "home"), tether_store, tenant_id)

    return _make


@pytest.fixture
def client(acme, make_client):
    return make_client("acme").as_user("ops@acme.example")


def money(text: str) -> Decimal:
    return Decimal(text)
