"""tether's REST API (Flask blueprint, marshmallow schemas, OpenAPI).

Core areas declare endpoints with ``registry.route(...)`` in their own ``api`` modules,
listed in ``CORE_ENDPOINT_MODULES``; plugins contribute theirs through the
``tether_api_routes`` hook.
"""

from __future__ import annotations

import importlib

from .registry import ADMIN_ROLES, ALL_ROLES, READ_ROLES, WRITE_ROLES, registry

# Modules whose import registers core endpoints (each area adds its own line).
CORE_ENDPOINT_MODULES: tuple[str, ...] = (
    "tether.core.api.tenant_endpoints",
    "tether.core.api.domain_endpoints", "tether.core.api.domain_companies",
    "tether.core.api.renewal_endpoints", "tether.core.api.renewal_views", "tether.core.api.renewal_risk",
)


def load_core_endpoints() -> None:
    for module in CORE_ENDPOINT_MODULES:
        importlib.import_module(module)


__all__ = ["ADMIN_ROLES", "ALL_ROLES", "READ_ROLES", "WRITE_ROLES", "load_core_endpoints", "registry"]
