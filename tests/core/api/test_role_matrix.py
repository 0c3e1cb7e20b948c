"""Every endpoint of the API (core and plugins) enforces its role decision on the server,
and a token of one tenant gets 404 for anything of another."""

from __future__ import annotations

import re

import pytest

from tether.core.api.app import all_endpoints

from .conftest import USERS
from .role_matrix import MATRIX, VIEWER_WRITES

ROLES = {"admin": "boss", "user": "ana", "viewer_analytics": "analyst"}
PLUGINS_WITH_ROUTES = {"scorecards": {}, "timeline": {}}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _url(rule: str) -> str:
    def fill(match):
        kind, name = match.groups()
        if kind == "int":
            return "999999"
        return "company" if name == "entity" else "nothing-here"
    return _PARAM.sub(fill, rule)


def _key(endpoint, method) -> str:
    return f"{method} {endpoint.rule}"


@pytest.fixture
def everything(make_tenant, make_client, plugin_host):
    make_tenant("acme", users=USERS, plugins=PLUGINS_WITH_ROUTES)
    make_tenant("other", users=[{"username": "intruder", "role": "admin"}], plugins=PLUGINS_WITH_ROUTES)
    client = make_client("acme")
    endpoints = all_endpoints(client.http.application.extensions["tether.runtime"])
    return client, endpoints


def test_every_endpoint_has_a_role_decision_and_declares_it(everything):
    _, endpoints = everything
    missing, differing = [], []
    for endpoint in endpoints:
        for method in endpoint.methods:
            key = _key(endpoint, method)
            if key not in MATRIX:
                missing.append(key)
            elif sorted(MATRIX[key].split()) != sorted(endpoint.roles):
                differing.append(f"{key}: declares {sorted(endpoint.roles)}, decided {MATRIX[key]}")
    assert not missing, ("endpoints without a role decision; add them to tests/core/api/role_matrix.py: "
                         + ", ".join(missing))
    assert not differing, "; ".join(differing)


def test_viewer_analytics_writes_only_to_the_timeline(everything):
    _, endpoints = everything
    writes = {_key(e, m) for e in endpoints for m in e.methods
              if m != "GET" and "viewer_analytics" in e.roles}
    assert writes <= VIEWER_WRITES, f"Viewer+Analytics may not change {sorted(writes - VIEWER_WRITES)}"


def test_the_server_enforces_the_matrix_for_every_endpoint_and_role(everything):
    client, endpoints = everything
    wrong = []
    walked = set()
    for endpoint in endpoints:
        url = _url(endpoint.rule)
        for method in endpoint.methods:
            allowed = set(MATRIX.get(_key(endpoint, method), "").split())
            walked.add(_key(endpoint, method))
            for role, username in ROLES.items():
                client.as_user(username)
                response = client.call(method, url, json={} if method in ("POST", "PUT", "PATCH") else None)
                response.close()
                if role in allowed and response.status_code in (401, 403):
                    wrong.append(f"{method} {endpoint.rule} as {role}: {response.status_code}, expected access")
                if role not in allowed and response.status_code != 403:
                    wrong.append(f"{method} {endpoint.rule} as {role}: {response.status_code}, expected 403")
            # A token of another tenant learns nothing: 404, whatever its role.
            client.as_user("intruder", tenant_id="other")
            response = client.call(method, url, json={} if method in ("POST", "PUT", "PATCH") else None)
            response.close()
            if response.status_code != 404:
                wrong.append(f"{method} {endpoint.rule} with tenant other's token: {response.status_code}, expected 404")
    # core, renewal and plugin endpoints were all reached
    assert {"GET /me", "GET /renewals/forecast", "GET /scores", "POST /activities"} <= walked
    assert not wrong, "\n".join(wrong)


def test_no_token_or_a_bad_one_is_401(everything):
    client, _ = everything
    response = client.http.get("/api/v1/tenants/acme/renewals/views")
    assert response.status_code == 401 and "Bearer" in response.json["error"]["hint"]
    response = client.http.get("/api/v1/tenants/acme/renewals/views", headers={"Authorization": "Bearer tth_forged"})
    assert response.status_code == 401
