"""An HTTP client for the API tests: one token per user, requests as that user."""

from __future__ import annotations

from typing import Any

import pytest

from tether.core.api.tokens import issue_token
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.webhooks.app import create_app

USERS = [{"username": "boss", "role": "admin"}, {"username": "ana", "role": "user"},
         {"username": "bob", "role": "user"}, {"username": "analyst", "role": "viewer_analytics"}]


class Client:
    def __init__(self, app, store, tenant_id: str) -> None:
        self.http = app.test_client()
        self.store = store
        self.tenant_id = tenant_id
        self.tokens: dict[tuple[str, str], str] = {}
        self.current: str | None = None

    def as_user(self, username: str, tenant_id: str | None = None) -> "Client":
        key = (tenant_id or self.tenant_id, username)
        if key not in self.tokens:
            self.tokens[key] = issue_token(self.store, key[0], username)
        self.current = self.tokens[key]
        return self

    def call(self, method: str, path: str, json: Any = None, tenant: str | None = None, **query: Any):
        url = f"/api/v1/tenants/{tenant or self.tenant_id}{path}"
        return self.http.open(url, method=method, json=json, query_string=query,
                              headers={"Authorization": f"Bearer {self.current}"})

    def get(self, path, **query):
        return self.call("GET", path, **query)

    def post(self, path, json=None, **query):
        return self.call("POST", path, json=json if json is not None else {}, **query)

    def patch(self, path, json):
        return self.call("PATCH", path, json=json)

    def put(self, path, json):
        return self.call("PUT", path, json=json)

    def delete(self, path):
        return self.call("DELETE", path)


@pytest.fixture
def make_client(tether_store, plugin_host, tmp_path):
    def _make(tenant_id: str = "acme", host=None) -> Client:
        settings = Settings.from_env({"TETHER_HOME": str(tmp_path / "home")})
        runtime = Runtime(settings, host=host or plugin_host, store=tether_store)
        return Client(create_app(runtime), tether_store, tenant_id)

    return _make
