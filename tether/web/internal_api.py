"""Pages read and write through the REST API's own endpoints, in process.

A page never queries a second way: it names an API endpoint (method and rule, exactly
as registered) and :class:`PageApi` runs it the way the API blueprint does — the
endpoint's roles, the plugin-enabled check, the same marshmallow query and body
schemas, the same view, the same response schema — and hands back the data the API
would have sent as JSON. Errors come back as :class:`PageApiError` carrying the API's
status, code, message, hint and field messages, so a page says exactly what the API
would have said.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Iterable, Mapping

from flask import Response

from tether.core.api.app import ApiError, ApiRequest, _load, tether_error_response
from tether.core.api.registry import Endpoint
from tether.core.api.tokens import Principal
from tether.core.errors import TetherError
from tether.core.runtime import Runtime


class PageApiError(Exception):
    """What the API answered instead of data."""

    def __init__(self, status: int, code: str, message: str, *, hint: str | None = None,
                 fields: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.fields = fields or {}

    @classmethod
    def from_response(cls, response: Response) -> "PageApiError":
        try:
            error = json.loads(response.get_data(as_text=True)).get("error", {})
        except (ValueError, AttributeError):
            error = {}
        return cls(response.status_code, error.get("code", "error"), error.get("message", "the request failed"),
                   hint=error.get("hint"), fields=error.get("fields"))

    def field_messages(self) -> list[str]:
        """``"filters[0].op: Must be one of ..."`` lines, for showing under a form."""
        lines: list[str] = []

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), item)
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                lines.append(f"{prefix}: {' '.join(value)}" if prefix else " ".join(value))
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    walk(f"{prefix}[{index}]", item)
            elif value is not None:
                lines.append(f"{prefix}: {value}" if prefix else str(value))

        walk("", self.fields)
        return lines


class EndpointIndex:
    """The registered endpoints by (method, rule)."""

    def __init__(self, endpoints: Iterable[Endpoint]) -> None:
        self._by_key: dict[tuple[str, str], Endpoint] = {}
        for endpoint in endpoints:
            for method in endpoint.methods:
                self._by_key.setdefault((method, endpoint.rule), endpoint)

    def find(self, method: str, rule: str) -> Endpoint | None:
        return self._by_key.get((method.upper(), rule))

    def roles(self, method: str, rule: str) -> tuple[str, ...]:
        endpoint = self.find(method, rule)
        return endpoint.roles if endpoint is not None else ()


@dataclasses.dataclass
class PageApi:
    """The API as one signed-in user sees it, called from a page."""

    runtime: Runtime
    principal: Principal
    index: EndpointIndex

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def role(self) -> str:
        return self.principal.role

    def allowed(self, method: str, rule: str) -> bool:
        """Whether the user's role may call the endpoint (decides which links a page shows)."""
        return self.role in self.index.roles(method, rule)

    def get(self, rule: str, query: Mapping[str, Any] | None = None, **params: Any) -> Any:
        return self.call("GET", rule, query=query, **params)

    def post(self, rule: str, body: Any = None, **params: Any) -> Any:
        return self.call("POST", rule, body=body if body is not None else {}, **params)

    def call(self, method: str, rule: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             **params: Any) -> Any:
        endpoint = self.index.find(method, rule)
        if endpoint is None:
            # A plugin endpoint whose plugin is not installed on this server.
            raise PageApiError(404, "plugin_not_enabled", f"no API endpoint {method} {rule} on this server",
                               hint="the plugin that provides it is not installed")
        if self.role not in endpoint.roles:
            raise PageApiError(403, "forbidden", f"role {self.role!r} may not {method} this resource",
                               hint=f"allowed roles: {', '.join(endpoint.roles)}")
        try:
            tenant = self.runtime.context(self.tenant_id)
            if endpoint.plugin and not tenant.is_enabled(endpoint.plugin):
                raise PageApiError(404, "plugin_not_enabled",
                                   f"plugin {endpoint.plugin!r} is not enabled for tenant {self.tenant_id!r}",
                                   hint="an admin enables it in the tenant manifest (plugins:) and applies it")
            loaded_body = _load(endpoint.body, body, "body") if endpoint.body is not None and body is not None else body
            # Query strings reach the API as text; the page passes the same text.
            text_query = {k: _as_text(v) for k, v in (query or {}).items() if v is not None and v != ""}
            loaded_query = _load(endpoint.query, text_query, "query") if endpoint.query is not None else {}
            api = ApiRequest(tenant=tenant, principal=self.principal, body=loaded_body, query=loaded_query)
            result = endpoint.view(api, **params)
        except PageApiError:
            raise
        except ApiError as exc:
            raise PageApiError(exc.status, exc.code, exc.message, hint=exc.hint, fields=exc.fields) from None
        except TetherError as exc:
            raise PageApiError.from_response(tether_error_response(exc)) from None
        return _data(endpoint, result)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _data(endpoint: Endpoint, result: Any) -> Any:
    """What the API would have sent, as Python data (amounts as decimal strings)."""
    if isinstance(result, Response):
        if result.status_code >= 400:
            raise PageApiError.from_response(result)
        if result.mimetype == "application/json":
            return json.loads(result.get_data(as_text=True))
        return result
    if isinstance(result, tuple):
        result = result[0]
    if endpoint.response is not None and result is not None:
        schema = endpoint.response() if isinstance(endpoint.response, type) else endpoint.response
        result = schema.dump(result, many=endpoint.many)
    # The JSON round trip the API makes: dates, times and decimals become text here too.
    return json.loads(json.dumps(result, default=_jsonable))


def _jsonable(value: Any) -> Any:
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
