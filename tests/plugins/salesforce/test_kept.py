"""What the connector keeps between runs: one login and one describe serve many runs, so an
idle incremental run costs two API calls."""

from __future__ import annotations

import dataclasses

import pytest

from tether.core.sync.engine import sync_object
from tether.plugins.salesforce import auth
from tether.plugins.salesforce.kept import Kept
from tether.testing.fake_salesforce.org import INTEGRATION_USERNAME

from .fake_org_setup import fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401


@pytest.fixture
def logins(fake_org, monkeypatch):
    """The sessions the fake org issued, in order."""
    issued: list[str] = []
    original = fake_org.auth.issue_session

    def counting(user_id, client="api"):
        issued.append(original(user_id, client))
        return issued[-1]

    monkeypatch.setattr(fake_org.auth, "issue_session", counting)
    monkeypatch.setattr(auth, "SESSIONS", Kept())
    return issued


def test_runs_of_a_tenant_share_one_login(fake_org, sf_tenant, logins):
    tenant = sf_tenant()
    fake_org.insert("Account", {"Name": "Kept Session Ltd"})
    for _ in range(3):
        assert sync_object(tenant, "salesforce", "Account", options=fast_options()).status == "success"
    assert len(logins) == 1


def test_an_expired_kept_session_is_replaced_once(fake_org, sf_tenant, logins):
    tenant = sf_tenant()
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    fake_org.faults.expire_sessions()
    fake_org.insert("Account", {"Name": "After Expiry Ltd"})
    fake_org.clock.advance(600)
    result = sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert result.status == "success" and result.records_applied == 1
    assert len(logins) == 2
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert len(logins) == 2                                  # the new session is the kept one now


def test_a_session_belongs_to_its_credentials(fake_org, sf_tenant, logins, monkeypatch):
    tenant = sf_tenant()
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert len(logins) == 1
    # The admin rotates the integration user's password and updates the secret: a new login.
    user = fake_org.auth.users[INTEGRATION_USERNAME.lower()]
    fake_org.auth.users[INTEGRATION_USERNAME.lower()] = dataclasses.replace(user, password="Rotated-Passw0rd")
    monkeypatch.setenv("FAKE_SF_PASSWORD", "Rotated-Passw0rd")
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert len(logins) == 2


def test_objects_are_described_once_for_many_runs_and_afresh_when_a_manifest_is_applied(
        fake_org, sf_tenant, logins, monkeypatch):
    from tether.plugins.salesforce import connector, validation
    from tether.testing.fake_salesforce import rest

    monkeypatch.setattr(connector, "CATALOGS", Kept(max_age_seconds=connector.CATALOG_SECONDS))
    described: list[str] = []
    original = rest.RestApi.describe

    def counting(self, call, sobject):
        described.append(sobject)
        return original(self, call, sobject)

    monkeypatch.setattr(rest.RestApi, "describe", counting)
    tenant = sf_tenant()                                   # applying described the objects (and kept them)
    connector.CATALOGS.clear()                             # as in a freshly started worker
    described.clear()
    for _ in range(3):
        assert sync_object(tenant, "salesforce", "Account", options=fast_options()).status == "success"
    objects = connector.SalesforceConnector.for_tenant(tenant).objects
    assert sorted(described) == sorted(objects)            # once each, not once per run
    described.clear()
    assert validation.describe_problems(tenant, tenant.config_for("salesforce")) == []
    assert sorted(described) == sorted(objects)            # applying a manifest asks the org itself


def test_an_idle_incremental_run_costs_two_api_calls(fake_org, sf_tenant, logins):
    tenant = sf_tenant()
    fake_org.insert("Opportunity", {"Name": "Only Deal", "StageName": "Prospecting", "CloseDate": "2025-01-01"})
    fake_org.clock.advance(900)
    assert sync_object(tenant, "salesforce", "Opportunity", options=fast_options()).records_applied == 1
    fake_org.clock.advance(900)
    idle = sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    assert (idle.status, idle.records_read, idle.api_calls) == ("success", 0, 2)   # getUpdated and COUNT()
    fake_org.insert("Opportunity", {"Name": "New Deal", "StageName": "Prospecting", "CloseDate": "2025-01-01"})
    fake_org.clock.advance(900)
    assert sync_object(tenant, "salesforce", "Opportunity", options=fast_options()).records_applied == 1
