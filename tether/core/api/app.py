"""The REST API blueprint: authentication, tenant resolution, role checks, errors.

Every endpoint lives under ``/api/v1/tenants/<tenant>/``. A token of tenant A gets 404
for anything of tenant B (existence is not revealed); a role outside an endpoint's
roles gets 403; a plugin endpoint answers 404 for tenants that did not enable the plugin.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from typing import Any, Callable

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError

from ..errors import (
    DomainError,
    ManifestError,
    NotFound,
    PluginHookError,
    PluginNotFound,
    StoreUnavailable,
    TenantNotFound,
    TetherError,
)
from ..plugins import TenantContext
from ..runtime import Runtime
from .registry import Endpoint, registry
from .tokens import Principal, authenticate

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
TENANT_PREFIX = "/tenants/<tenant>"


@dataclasses.dataclass
class ApiRequest:
    """What a view gets: the tenant, who is calling, and the validated input."""

    tenant: TenantContext
    principal: Principal
    body: Any = None
    query: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.principal.role

    def session(self):
        return self.tenant.session()

    def transaction(self):
        return self.tenant.transaction()


class ApiError(TetherError):
    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None, fields: Any = None) -> None:
        self.status = status
        self.code = code
        self.fields = fields
        super().__init__(message, hint=hint)


def error_response(status: int, code: str, message: str, *, hint: str | None = None, fields: Any = None) -> Response:
    payload: dict[str, Any] = {"code": code, "message": message}
    if hint:
        payload["hint"] = hint
    if fields:
        payload["fields"] = fields
    response = jsonify({"error": payload})
    response.status_code = status
    return response


def _runtime() -> Runtime:
    return current_app.extensions["tether.runtime"]


def _principal() -> Principal:
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get("tether_token", "")
    if not token:
        raise ApiError(401, "unauthenticated", "this endpoint needs an API token",
                       hint="send 'Authorization: Bearer <token>'; create one with `tether users token TENANT USER`")
    principal = authenticate(_runtime().store, token)
    if principal is None:
        raise ApiError(401, "invalid_token", "the API token is unknown, revoked, or its user is disabled")
    return principal


def _load(schema: type[Schema] | Schema | None, data: Any, where: str) -> Any:
    if schema is None:
        return data
    instance = schema() if isinstance(schema, type) else schema
    try:
        return instance.load(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid_input", f"the request {where} is invalid", fields=exc.messages) from exc


def _dump(endpoint: Endpoint, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status = endpoint.status
    if isinstance(result, tuple):
        result, status = result
    if endpoint.response is not None and result is not None:
        schema = endpoint.response() if isinstance(endpoint.response, type) else endpoint.response
        result = schema.dump(result, many=endpoint.many)
    if result is None:
        return Response(status=204 if status == 200 else status)
    response = jsonify(result)
    response.status_code = status
    return response


def _wrap(endpoint: Endpoint) -> Callable[..., Response]:
    @functools.wraps(endpoint.view)
    def view(tenant: str, **params: Any) -> Response:
        principal = _principal()
        if principal.tenant_id != tenant:
            raise TenantNotFound(tenant)
        if principal.role not in endpoint.roles:
            raise ApiError(403, "forbidden", f"role {principal.role!r} may not {request.method} this resource",
                           hint=f"allowed roles: {', '.join(endpoint.roles)}")
        context = _runtime().context(tenant)
        if endpoint.plugin and not context.is_enabled(endpoint.plugin):
            raise ApiError(404, "not_found", f"plugin {endpoint.plugin!r} is not enabled for tenant {tenant!r}")
        g.tether_tenant = context
        g.tether_principal = principal
        body = None
        if request.method in ("POST", "PUT", "PATCH") and endpoint.body is not None:
            payload = request.get_json(silent=True)
            if payload is None:
                raise ApiError(400, "invalid_json", "the request body must be JSON",
                               hint="send Content-Type: application/json and a JSON body")
            body = _load(endpoint.body, payload, "body")
        query = _load(endpoint.query, request.args.to_dict(), "query") if endpoint.query is not None else {}
        api = ApiRequest(tenant=context, principal=principal, body=body, query=query)
        return _dump(endpoint, endpoint.view(api, **params))

    view.__name__ = endpoint.endpoint_name
    return view


def build_api_blueprint(runtime: Runtime, endpoints: list[Endpoint]) -> Blueprint:
    blueprint = Blueprint("api", __name__, url_prefix=API_PREFIX)
    for endpoint in endpoints:
        blueprint.add_url_rule(TENANT_PREFIX + endpoint.rule, endpoint=endpoint.endpoint_name,
                               view_func=_wrap(endpoint), methods=list(endpoint.methods))

    @blueprint.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, hint=exc.hint, fields=exc.fields)

    @blueprint.errorhandler(TetherError)
    def _tether_error(exc: TetherError):
        return tether_error_response(exc)

    return blueprint


def tether_error_response(exc: TetherError) -> Response:
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.message, hint=exc.hint, fields=exc.fields)
    if isinstance(exc, (TenantNotFound, NotFound, PluginNotFound)):
        return error_response(404, "not_found", exc.message, hint=exc.hint)
    if isinstance(exc, ManifestError):
        return error_response(422, "invalid_manifest", exc.message, fields=exc.errors)
    if isinstance(exc, DomainError):
        return error_response(422, "refused", exc.message, hint=exc.hint,
                              fields={exc.field: [exc.message]} if exc.field else None)
    if isinstance(exc, StoreUnavailable):
        return error_response(503, "unavailable", "the database is unavailable; try again shortly")
    if isinstance(exc, PluginHookError):
        log.error("%s", exc.one_line())
        return error_response(502, "plugin_failed", exc.message, hint=exc.hint)
    log.error("unhandled tether error: %s", exc.one_line())
    return error_response(500, "error", exc.message, hint=exc.hint)


def plugin_endpoints(runtime: Runtime) -> list[Endpoint]:
    """Endpoints plugins contribute through ``tether_api_routes``."""
    endpoints = []
    for routes in runtime.host.call_global("tether_api_routes") or []:
        for route in routes or []:
            endpoints.append(Endpoint(
                rule=route.rule, methods=tuple(m.upper() for m in route.methods), view=route.view,
                roles=tuple(route.roles), summary=(route.view.__doc__ or route.rule).strip().splitlines()[0],
                tag=route.plugin, plugin=route.plugin,
                body=getattr(route.view, "body_schema", None), query=getattr(route.view, "query_schema", None),
                response=getattr(route.view, "response_schema", None), many=getattr(route.view, "many", False),
            ))
    return endpoints


def all_endpoints(runtime: Runtime) -> list[Endpoint]:
    from . import load_core_endpoints

    load_core_endpoints()
    return list(registry.endpoints) + plugin_endpoints(runtime)
