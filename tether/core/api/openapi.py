"""The OpenAPI document of the whole API, built from the same endpoint records that route."""

from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from tether import __version__

from .app import API_PREFIX, TENANT_PREFIX
from .registry import Endpoint

_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
_TYPES = {"int": "integer", "float": "number", None: "string", "string": "string", "path": "string"}


def openapi_document(endpoints: list[Endpoint]) -> dict:
    spec = APISpec(
        title="tether API", version=__version__, openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Customer-success data: companies, relationships, health, timeline, renewals."},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    grouped: dict[str, dict] = {}
    for endpoint in endpoints:
        rule = TENANT_PREFIX + endpoint.rule
        path = API_PREFIX + _CONVERTER.sub(lambda m: "{" + m.group(2) + "}", rule)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": _TYPES.get(kind, "string")}}
            for kind, name in _CONVERTER.findall(rule)
        ]
        operations = grouped.setdefault(path, {})
        for method in endpoint.methods:
            operation: dict = {
                "summary": endpoint.summary, "tags": [endpoint.tag], "parameters": list(parameters),
                "security": [{"bearer": []}],
                "description": f"Roles: {', '.join(endpoint.roles)}."
                               + (f" Requires plugin {endpoint.plugin!r}." if endpoint.plugin else ""),
                "responses": {},
            }
            if endpoint.query is not None:
                operation["parameters"].append({"in": "query", "schema": endpoint.query})
            if endpoint.body is not None and method in ("POST", "PUT", "PATCH"):
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": endpoint.body}}}
            ok: dict = {"description": "OK"}
            if endpoint.streams:
                ok["content"] = {endpoint.streams: {"schema": {"type": "string"}}}
            elif endpoint.response is not None:
                schema = {"type": "array", "items": endpoint.response} if endpoint.many else endpoint.response
                ok["content"] = {"application/json": {"schema": schema}}
            operation["responses"][str(endpoint.status)] = ok
            for status, why in (("401", "no or invalid token"), ("403", "role not allowed"),
                                ("404", "unknown tenant or object"), ("422", "invalid input")):
                operation["responses"][status] = {"description": why}
            operations[method.lower()] = operation
    for path, operations in grouped.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
