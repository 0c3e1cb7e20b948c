"""Hook implementations of the Salesforce plugin (the ``tether.plugins`` entry point).

Each hook is a thin door into a module of its own: ``connector`` (REST and Bulk reads),
``mapping`` (default field mappings), ``activities`` (Tasks, Events and stage history as
Timeline activities), ``booking`` (booking-type rules), ``relationships`` (which
relationship an opportunity belongs to) and ``validation`` (describe checks).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from tether.core.connectors import ConnectorSpec
from tether.core.contracts import ObjectMapping, WebhookReceiver
from tether.core.hookspecs import hookimpl

from .mapping import CONNECTOR, DEFAULT_MAPPINGS, OPPORTUNITY

PLUGIN = "salesforce"
ACTIVITY_OBJECTS = frozenset({"task", "event", "opportunityhistory"})


def default_mappings(config: Mapping[str, Any]) -> list[ObjectMapping]:
    """The plugin's mappings for a config: the relationship rule's field is read too."""
    from .relationships import name_field_mapping

    mappings = list(DEFAULT_MAPPINGS)
    field = config.get("relationship_name_field")
    if field:
        extra = name_field_mapping(field)
        mappings[mappings.index(OPPORTUNITY)] = dataclasses.replace(OPPORTUNITY, fields=OPPORTUNITY.fields + (extra,))
    return mappings


def _open_connector(tenant: Any):
    from .connector import SalesforceConnector

    return SalesforceConnector.for_tenant(tenant)


@hookimpl
def tether_connectors(tenant) -> list[ConnectorSpec]:
    from tether.core.sync.mappings import applied_entities, outbound_only

    # Objects read for this tenant: activities only when a plugin (Timeline) applies them.
    applied = applied_entities(tenant)
    objects = tuple(m.object_name for m in DEFAULT_MAPPINGS if m.entity in applied or outbound_only(m).fields)
    return [ConnectorSpec(name=CONNECTOR, plugin=PLUGIN, factory=_open_connector, objects=objects,
                          description="Salesforce REST and Bulk APIs")]


@hookimpl
def tether_object_mappings(tenant, connector: str) -> list[ObjectMapping]:
    return default_mappings(tenant.config_for(PLUGIN)) if connector == CONNECTOR else []


@hookimpl
def tether_transform_records(tenant, connector: str, object_name: str, direction: str, records: list) -> None:
    if connector != CONNECTOR:
        return
    name = object_name.lower()
    if direction == "inbound" and name == "opportunity":
        from .stages import normalise_forecast_categories

        normalise_forecast_categories(records)
    elif direction == "outbound" and name == "opportunity":
        from .mapping import label_forecast_categories

        label_forecast_categories(records)
    elif name in ACTIVITY_OBJECTS:
        from . import activities

        (activities.inbound if direction == "inbound" else activities.outbound)(object_name, records)


@hookimpl
def tether_booking_types(tenant, records):
    from .booking import BookingRules

    return BookingRules(tenant.config_for(PLUGIN).get("booking_type_rules")).classify(records)


@hookimpl
def tether_assign_relationships(tenant, entity: str, records):
    if entity != "opportunity":
        return None
    from .relationships import assign

    return assign(tenant.config_for(PLUGIN), records)


@hookimpl
def tether_validate_config(tenant, plugin: str, config: dict) -> list[str]:
    if plugin != PLUGIN:
        return []
    from .validation import validate

    return validate(tenant, config)


@hookimpl
def tether_webhook_receivers() -> list[WebhookReceiver]:
    from .receiver import RECEIVER

    return [RECEIVER]
