"""Hook implementations of the Salesforce plugin (the ``tether.plugins`` entry point).

Each hook is a thin door into a module of its own: ``connector`` (REST and Bulk reads),
``mapping`` (default field mappings), ``booking`` (booking-type rules), ``relationships``
(which relationship an opportunity belongs to) and ``validation`` (describe checks).
"""

from __future__ import annotations

from typing import Any

from tether.core.connectors import ConnectorSpec
from tether.core.contracts import ObjectMapping, WebhookReceiver
from tether.core.hookspecs import hookimpl

from .mapping import CONNECTOR, DEFAULT_MAPPINGS

PLUGIN = "salesforce"


def _open_connector(tenant: Any):
    from .connector import SalesforceConnector

    return SalesforceConnector.for_tenant(tenant)


@hookimpl
def tether_connectors(tenant) -> list[ConnectorSpec]:
    return [ConnectorSpec(name=CONNECTOR, plugin=PLUGIN, factory=_open_connector,
                          objects=tuple(m.object_name for m in DEFAULT_MAPPINGS),
                          description="Salesforce REST and Bulk APIs")]


@hookimpl
def tether_object_mappings(tenant, connector: str) -> list[ObjectMapping]:
    return list(DEFAULT_MAPPINGS) if connector == CONNECTOR else []


@hookimpl
def tether_webhook_receivers() -> list[WebhookReceiver]:
    from .receiver import RECEIVER

    return [RECEIVER]
