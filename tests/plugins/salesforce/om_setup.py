"""Outbound Messages from the fake org into tether's receiver (in-process, through WSGI)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import InboxMessage
from tether.testing.fake_salesforce import WsgiTransport
from tether.webhooks import create_app

SECRET = "om-secret-0123456789abcdef"
# Every field the default Opportunity mapping reads, as an admin would select them.
OPPORTUNITY_FIELDS = ["Name", "AccountId", "StageName", "Amount", "CloseDate", "Type", "RecordTypeId", "Probability",
                      "ForecastCategory", "IsClosed", "IsWon", "OwnerId", "SystemModstamp"]


def om_config(org, *, declared: bool = True, **overrides: Any) -> dict[str, Any]:
    """Receiver config; ``declared`` tells tether which fields the rule sends (absent = null)."""
    config = {"organization_id": org.org_id, "webhook_secret": {"$env": "OM_TEST_SECRET"}}
    if declared:
        config["outbound_message_fields"] = {"Opportunity": OPPORTUNITY_FIELDS}
    return {**config, **overrides}


def endpoint(tenant_id: str, base: str = "http://tether.test") -> str:
    return f"{base}/webhooks/{tenant_id}/salesforce/outbound-message?token={SECRET}"


@pytest.fixture
def om_app(tether_store, plugin_host, monkeypatch, tmp_path):
    """The Flask app (receiver included) on the test store; notifications wake nothing."""
    monkeypatch.setenv("OM_TEST_SECRET", SECRET)
    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path)}), host=plugin_host, store=tether_store)
    return create_app(runtime)


def wire_rule(org, app, tenant_id: str = "acme", *, fields: list[str] | None = None, **kwargs: Any):
    """An Opportunity rule posting to ``tenant_id``'s receiver through ``app``."""
    org.outbound.transport = WsgiTransport(app)
    return org.add_outbound_rule(f"opportunities to {tenant_id}", "Opportunity", fields or OPPORTUNITY_FIELDS,
                                 endpoint(tenant_id), **kwargs)


def inbox_statuses(tenant) -> dict[str, int]:
    with tenant.session() as session:
        return dict(session.execute(select(InboxMessage.status, func.count()).group_by(InboxMessage.status)).all())
