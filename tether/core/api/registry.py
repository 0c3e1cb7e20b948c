"""How API endpoints are declared: one decorator records path, methods, roles and schemas.

The same records drive routing, role checks and the OpenAPI document, so the three can
never disagree.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from marshmallow import Schema

ALL_ROLES = ("admin", "user", "viewer_analytics")
READ_ROLES = ALL_ROLES
WRITE_ROLES = ("admin", "user")
ADMIN_ROLES = ("admin",)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    rule: str                      # relative to /api/v1/tenants/<tenant>, e.g. "/companies/<int:company_id>"
    methods: tuple[str, ...]
    view: Callable[..., Any]
    roles: tuple[str, ...]
    summary: str
    tag: str
    body: type[Schema] | Schema | None = None
    query: type[Schema] | Schema | None = None
    response: type[Schema] | Schema | None = None
    many: bool = False
    plugin: str | None = None      # set: answers only for tenants that enabled it
    status: int = 200
    streams: str | None = None     # a media type when the endpoint streams (e.g. text/csv)

    @property
    def endpoint_name(self) -> str:
        return f"{self.tag}__{self.view.__name__}".replace("-", "_").replace(".", "_")


class ApiRegistry:
    """Collects endpoints; ``tether.core.api.app`` mounts them."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(self, rule: str, *, methods: tuple[str, ...] = ("GET",), roles: tuple[str, ...] = READ_ROLES,
              tag: str, summary: str | None = None, body=None, query=None, response=None, many: bool = False,
              plugin: str | None = None, status: int = 200, streams: str | None = None):
        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            self.endpoints.append(Endpoint(
                rule=rule, methods=tuple(m.upper() for m in methods), view=view, roles=tuple(roles),
                summary=summary or (view.__doc__ or view.__name__).strip().splitlines()[0], tag=tag,
                body=body, query=query, response=response, many=many, plugin=plugin, status=status, streams=streams,
            ))
            return view
        return decorate


# The core's own endpoints register here at import time of their modules.
registry = ApiRegistry()
