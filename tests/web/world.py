"""A tenant seeded from the fake org through the real sync, served by `tether serve` on loopback.

Browser tests share one world per module: the fake Salesforce org over HTTPS, a store
(SQLite, or PostgreSQL when configured), the tenant applied from a manifest, a sync, a
scoring run and a trained risk model, and tether's own server (the ``tether serve``
server class: waitress and the Flask app) on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path
from typing import Any

from tether.core.api.tokens import issue_token
from tether.core.jobs.serve import Server
from tether.core.manifests import validate_tenant_manifest
from tether.core.plugins import PluginHost, TenantContext
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store import Store
from tether.core.sync.engine import sync_tenant
from tether.core.tenants import apply_manifest, load_context
from tether.testing.fake_salesforce import FakeClock, FakeOrg, FakeOrgServer
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN, INTEGRATION_USERNAME

TENANT = "acme"
USERS = {"admin": "admin@acme.test", "user": "csm@acme.test", "viewer_analytics": "analyst@acme.test"}
OPPORTUNITIES = 600
SCORECARD = {
    "name": "Company health", "entity": "company", "default": True,
    "scheme": {"type": "colour", "ranges": [{"to": 50, "label": "Red", "color": "#d9534f"},
                                            {"to": 75, "label": "Yellow", "color": "#f0ad4e"},
                                            {"to": 100, "label": "Green", "color": "#5cb85c"}]},
    "measures": [
        {"key": "field:employees", "weight": 30, "scoring": {"type": "linear", "worst": 0, "best": 5000}},
        {"key": "days_since_last_activity", "weight": 30,
         "scoring": {"type": "bands", "bands": [{"upto": 30, "score": 100}, {"upto": 180, "score": 60}, {"score": 20}]}},
        {"key": "renewal_at_risk", "weight": 40, "scoring": {"type": "choices", "scores": {"no": 100, "yes": 30}}},
    ],
}


def manifest(org: FakeOrgServer) -> dict[str, Any]:
    url = org.instance_url
    return {
        "tenant": {"id": TENANT, "name": "Acme Software"},
        "settings": {"currency": "USD", "amount_basis": "ARR", "fiscal_year_start_month": 1},
        "plugins": [
            {"name": "salesforce", "config": {
                "instance_url": url, "login_url": url, "ca_bundle": org.ca_bundle_path,
                "username": INTEGRATION_USERNAME, "password": {"$env": "WEB_TEST_SF_PASSWORD"},
                "security_token": {"$env": "WEB_TEST_SF_TOKEN"}, "lookback_seconds": 0,
                "webhook_secret": {"$env": "WEB_TEST_WEBHOOK_SECRET"}}},
            {"name": "scorecards", "config": {"history": "every_run", "scorecards": [SCORECARD]}},
            {"name": "timeline"},
        ],
        "mappings": [{"connector": "salesforce", "object": "Opportunity", "entity": "opportunity", "fields": [
            {"source": "Amount", "target": "target_amount", "type": "money", "direction": "inbound"},
            {"source": "Amount", "target": "forecast_amount", "type": "money", "direction": "inbound"},
            {"source": "CloseDate", "target": "due_date", "type": "date", "direction": "inbound"},
            {"source": "Renewal_Call__c", "target": "forecast_call_category", "type": "string",
             "direction": "outbound"},
        ]}],
        "relationship_types": [{"name": "Product", "description": "A product line the customer subscribes to."}],
        "users": [{"username": name, "role": role} for role, name in USERS.items()],
    }


@dataclasses.dataclass
class World:
    org: FakeOrgServer
    runtime: Runtime
    server: Server
    thread: threading.Thread
    tokens: dict[str, str]
    screenshots: Path | None

    @property
    def base_url(self) -> str:
        host, port = self.server.address
        return f"http://{host}:{port}"

    @property
    def tenant(self) -> TenantContext:
        return load_context(self.runtime.store, self.runtime.host, TENANT)

    def close(self) -> None:
        self.server.close()
        self.thread.join(timeout=10)
        self.org.stop()


def build_world(store: Store, host: PluginHost, home: Path, *, screenshots: Path | None = None) -> World:
    os.environ["WEB_TEST_SF_PASSWORD"] = DEFAULT_PASSWORD
    os.environ["WEB_TEST_SF_TOKEN"] = DEFAULT_TOKEN
    os.environ["WEB_TEST_WEBHOOK_SECRET"] = "web-test-secret"
    org = FakeOrgServer(FakeOrg(clock=FakeClock(realtime=True)), deliver_outbound_every=None).start()
    try:
        org.org.add_custom_field("Opportunity", "Renewal_Call__c", "string", length=40)
        org.org.seed(seed=7, opportunities=OPPORTUNITIES)
        runtime = Runtime(Settings.from_env({"TETHER_HOME": str(home)}), host=host, store=store)
        apply_manifest(store, host, validate_tenant_manifest(manifest(org), host, source="web tests"))
        tenant = load_context(store, host, TENANT)
        results = sync_tenant(tenant)
        assert all(r.status == "success" for r in results), [(r.object_name, r.status, r.error) for r in results]
        _score(tenant)
        tokens = {role: issue_token(store, TENANT, name) for role, name in USERS.items()}
        server = Server(runtime, host="127.0.0.1", port=0, threads=6, jobs=False)
        thread = threading.Thread(target=server.run, name="tether-serve", daemon=True)
        thread.start()
    except BaseException:
        org.stop()
        raise
    return World(org, runtime, server, thread, tokens, screenshots)


def _score(tenant: TenantContext) -> None:
    from tether.core.renewals.scoring import train_and_score
    from tether.plugins.scorecards.runner import run_scoring

    run_scoring(tenant, trigger="on_demand")
    run_scoring(tenant, trigger="on_demand")  # a second history point: the trend chart has a line
    train_and_score(tenant)
