"""Checking a tenant's Salesforce config when its manifest is applied.

Beyond the manifest schema: auth needs, quota shares, booking rules, and, when the
credentials resolve and the org answers, that every mapped field exists in the org's
``describe`` (a mapping naming a field the org lacks is refused, naming the field). If
the org cannot be reached the describe check is left to the first sync, which makes the
same check before reading.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Mapping

from tether.core.errors import ConnectorError, PermanentConnectorError, SecretError, TetherError
from tether.core.secrets import is_reference
from tether.core.sync.conflicts import check_policy_config
from tether.core.sync.mappings import applied_entities, merge_mappings, outbound_only

from .booking import rule_problems
from .config import SalesforceSettings
from .mapping import CONNECTOR

if TYPE_CHECKING:
    from tether.core.plugins import TenantContext

log = logging.getLogger(__name__)
CHECK_TIMEOUT_SECONDS = 15.0


def validate(tenant: "TenantContext", config: Mapping[str, Any]) -> list[str]:
    plain = {k: ("(secret)" if is_reference(v) else v) for k, v in config.items()}
    try:
        settings = SalesforceSettings(**{k: v for k, v in plain.items()
                                         if k in {f.name for f in dataclasses.fields(SalesforceSettings)}
                                         and v is not None})
    except TypeError as exc:
        return [f"(config): {exc}"]
    problems = settings.problems()
    if isinstance(config.get("booking_type_rules"), list):
        problems += rule_problems(config["booking_type_rules"])
    problems += check_policy_config(config)
    if problems or not settings.check_mappings_on_apply:
        return problems
    return describe_problems(tenant, config)


def describe_problems(tenant: "TenantContext", config: Mapping[str, Any]) -> list[str]:
    """Mapped fields the org does not have; nothing when the org cannot be asked."""
    from .connector import SalesforceConnector
    from .plugin import default_mappings

    try:
        resolved = tenant.resolved_config("salesforce")
    except SecretError as exc:
        log.warning("tenant %s: salesforce mappings not checked against the org: %s", tenant.id, exc.one_line())
        return []
    try:
        settings = SalesforceSettings.from_config({**resolved, "http_timeout_seconds": CHECK_TIMEOUT_SECONDS})
    except TetherError as exc:
        log.warning("tenant %s: salesforce mappings not checked against the org: %s", tenant.id, exc.one_line())
        return []
    # Defaults of entities nothing applies here (activities without Timeline) stay outbound only.
    applied = applied_entities(tenant)
    defaults = [m if m.entity in applied else outbound_only(m) for m in default_mappings(config)]
    mappings = [m for m in merge_mappings([m for m in defaults if m.fields], tenant.mappings)
                if m.connector == CONNECTOR]
    connector = SalesforceConnector(settings, objects=[m.object_name for m in mappings], fresh_catalog=True)
    try:
        catalog = connector.discover()
    except PermanentConnectorError as exc:
        if exc.code in ("INVALID_TYPE", "NOT_FOUND"):
            return [f"mappings: {exc.message}"]
        return [f"auth: {exc.message}"]
    except ConnectorError as exc:
        log.warning("tenant %s: salesforce mappings not checked, the org did not answer: %s",
                    tenant.id, exc.one_line())
        return []
    finally:
        connector.close()
    problems = []
    for mapping in mappings:
        schema = catalog.get(mapping.object_name)
        if schema is None:
            problems.append(f"mappings: object {mapping.object_name!r} does not exist in the org")
            continue
        for field in mapping.fields:
            if schema.field(field.source) is None:
                problems.append(f"mappings: field {field.source!r} does not exist on {mapping.object_name} "
                                f"(mapped to {field.target!r})")
    return problems
