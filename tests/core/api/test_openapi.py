"""The OpenAPI document describes the whole API, is valid OpenAPI 3, and states every role."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tether.core.api.app import all_endpoints

from .role_matrix import MATRIX

_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def test_openapi_document_covers_every_endpoint(make_tenant, make_client):
    make_tenant("acme", plugins={"scorecards": {}, "timeline": {}})
    client = make_client("acme")
    response = client.http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    endpoints = all_endpoints(client.http.application.extensions["tether.runtime"])
    for endpoint in endpoints:
        path = "/api/v1/tenants/{tenant}" + _PARAM.sub(lambda m: "{" + m.group(1) + "}", endpoint.rule)
        assert path in document["paths"], path
        for method in endpoint.methods:
            operation = document["paths"][path][method.lower()]
            roles = MATRIX[f"{method} {endpoint.rule}"]
            assert operation["description"].startswith(f"Roles: {', '.join(roles.split())}."), (method, path)
            assert operation["security"] == [{"bearer": []}]
            assert {"401", "403", "404"} <= set(operation["responses"])


def test_openapi_document_is_valid_openapi(make_tenant, make_client):
    make_tenant("acme", plugins={"scorecards": {}, "timeline": {}})
    document = make_client("acme").http.get("/api/v1/openapi.json").json
    # A bound printed as text ("0.00") is the usual culprit: apispec serialises Range bounds
    # through the field, so a Decimal(as_string=True) field with validate.Range gets one.
    textual = sorted(name for name, schema in document["components"]["schemas"].items()
                     if any(isinstance(prop.get(bound), str) for prop in schema.get("properties", {}).values()
                            for bound in ("minimum", "maximum")))
    assert not textual, f"schemas with a text minimum/maximum (use a plain validator, not validate.Range): {textual}"
    validate(document)


def test_renewal_operations_document_their_inputs_and_outputs(make_tenant, make_client):
    make_tenant("acme")
    document = make_client("acme").http.get("/api/v1/openapi.json").json
    base = "/api/v1/tenants/{tenant}/renewals"
    forecast = document["paths"][base + "/forecast"]["get"]
    names = {p["name"] for p in forecast["parameters"] if p["in"] == "query"}
    assert {"period", "grain", "dimension", "filters", "before", "after"} <= names
    assert "schema" in forecast["responses"]["200"]["content"]["application/json"]
    export = document["paths"][base + "/drilldown.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    call = document["paths"][base + "/opportunities/{opportunity_id}/calls"]["post"]
    assert call["requestBody"]["required"] is True
    assert "201" in call["responses"]
