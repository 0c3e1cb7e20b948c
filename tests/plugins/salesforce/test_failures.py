"""Quota exhaustion, transient and lock errors, session expiry and validation errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tether.core.connectors import WriteOperation
from tether.core.errors import ManifestError
from tether.core.store.models import JobRun, Opportunity, SyncCursor
from tether.core.sync.engine import sync_object, sync_tenant
from tether.plugins.salesforce.connector import SalesforceConnector

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401

SETTLE = LOOKBACK + 120


def _seed(org, count: int) -> list[str]:
    account = org.insert("Account", {"Name": "Failure Modes Ltd"})
    ids = [org.insert("Opportunity", {"Name": f"Deal {i}", "AccountId": account, "StageName": "Prospecting",
                                      "CloseDate": "2025-01-01"}) for i in range(count)]
    org.clock.advance(SETTLE)
    return ids


def _stored(tenant) -> set[str]:
    with tenant.session() as session:
        return set(session.scalars(select(Opportunity.external_id)))


def _cursor(tenant, object_name: str = "Opportunity") -> str | None:
    with tenant.session() as session:
        return session.scalar(select(SyncCursor.value).where(SyncCursor.object_name == object_name))


def _after_first_page(action):
    """A progress callback that runs ``action`` once, after the first applied page (use it
    with ``prefetch=False``: a reading thread would already have fetched the next pages)."""
    done = []

    def progress(event):
        if event.read and not done:
            done.append(True)
            action()
    return progress


# -- quota ---------------------------------------------------------------------------------


def test_quota_guard_stops_before_the_total_share(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 5)
    fake_org.limits.set_used(int(fake_org.limits.daily_api_requests * 0.80) - 2)
    results = sync_tenant(tenant, options=fast_options())
    assert [r.status for r in results] == ["throttled", "throttled"]
    assert "80%" in results[0].error and _stored(tenant) == set()
    assert fake_org.limits.used <= fake_org.limits.daily_api_requests * 0.80
    fake_org.limits.reset()
    assert all(r.status == "success" for r in sync_tenant(tenant, options=fast_options()))
    assert len(_stored(tenant)) == 5


def test_quota_guard_stops_a_run_at_its_share_and_the_next_run_continues(fake_org, sf_tenant):
    tenant = sf_tenant(quota_share_per_run=0.25)
    ids = _seed(fake_org, 1000)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    fake_org.limits.daily_api_requests = 24  # a run may use 6 calls
    fake_org.limits.reset()
    throttled = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert throttled.status == "throttled" and 0 < throttled.records_applied < 1000
    assert throttled.api_calls <= 6
    with tenant.session() as session:
        run = session.get(JobRun, throttled.run_id)
    assert run.status == "throttled" and "25%" in run.error
    fake_org.limits.daily_api_requests = 15000
    finished = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert finished.status == "success"
    assert finished.records_read == 1000 - throttled.records_read  # continued, nothing read twice
    assert _stored(tenant) == set(ids)


def test_request_limit_exceeded_mid_run_is_throttled_not_failed(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 450)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    result = sync_object(tenant, "salesforce", "Opportunity",
                         options=fast_options(page_size=200, prefetch=False,
                                              progress=_after_first_page(fake_org.faults.exhaust_quota)))
    assert result.status == "throttled" and "REQUEST_LIMIT_EXCEEDED" in result.error
    assert result.records_applied == 200 and len(_stored(tenant)) == 200
    fake_org.limits.reset()
    again = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert (again.status, again.records_read) == ("success", 250)


# -- transient errors ------------------------------------------------------------------------


def test_transient_server_errors_are_retried(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = _seed(fake_org, 450)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    fault = fake_org.faults.server_error(503, path=r"/query/[^/]+$", times=2)  # queryMore fails twice
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert result.status == "success" and fault.hits == 2
    assert _stored(tenant) == set(ids)
    with tenant.session() as session:
        run = session.get(JobRun, result.run_id)
    assert run.details["retries"] == 2 and "SERVER_UNAVAILABLE" in run.details["last_retry"]
    assert result.records_read <= 450 + 2 * 200  # each retry resumes from the last committed page


def test_lock_errors_on_reads_are_retried(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 3)
    body = json.dumps([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record"}])
    fault = fake_org.faults.server_error(400, path=r"/query/$", times=1, body=body, content_type="application/json")
    results = sync_tenant(tenant, options=fast_options())
    assert [r.status for r in results] == ["success", "success"] and len(_stored(tenant)) == 3
    assert fault.hits == 1


def test_transient_errors_that_persist_fail_the_run_with_the_message(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 3)
    fault = fake_org.faults.server_error(503, path=r"/query/$", times=None)
    result = sync_object(tenant, "salesforce", "Account", options=fast_options(max_attempts=3))
    assert fault.hits == 3
    assert result.status == "failed" and "SERVER_UNAVAILABLE" in result.error


def test_timeouts_are_transient(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 3)
    fault = fake_org.faults.hang(path=r"/query/$", times=1)
    result = sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert result.status == "success" and result.records_applied == 1 and fault.hits == 1


# -- sessions --------------------------------------------------------------------------------


def test_an_expired_session_is_renewed_mid_run(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = _seed(fake_org, 450)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    result = sync_object(tenant, "salesforce", "Opportunity",
                         options=fast_options(page_size=200, prefetch=False,
                                              progress=_after_first_page(fake_org.faults.expire_sessions)))
    assert result.status == "success" and _stored(tenant) == set(ids)


def test_an_expired_session_id_cannot_be_renewed(fake_org, sf_tenant, monkeypatch):
    monkeypatch.setenv("FAKE_SF_SESSION", fake_org.login(fake_org.integration_user_id))
    tenant = sf_tenant(auth="session", session_id={"$env": "FAKE_SF_SESSION"})
    _seed(fake_org, 3)
    fake_org.faults.expire_sessions()
    result = sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert result.status == "failed"
    assert "INVALID_SESSION_ID" in result.error and "could not be renewed" in result.error
    assert fake_org.login(fake_org.integration_user_id) not in result.error


# -- permanent and validation errors ---------------------------------------------------------


def test_a_permanent_error_stops_the_run_with_salesforces_message_and_keeps_the_cursor(fake_org, sf_tenant):
    tenant = sf_tenant()
    _seed(fake_org, 450)
    sync_object(tenant, "salesforce", "Account", options=fast_options())
    body = json.dumps([{"errorCode": "INVALID_QUERY_LOCATOR", "message": "invalid query locator"}])
    fake_org.faults.server_error(400, path=r"/query/[^/]+$", times=1, body=body, content_type="application/json")
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert result.status == "failed"
    assert "INVALID_QUERY_LOCATOR: invalid query locator" in result.error
    assert result.records_applied == 200 and _cursor(tenant) is not None  # the first page stays applied
    again = sync_object(tenant, "salesforce", "Opportunity", options=fast_options(page_size=200))
    assert (again.status, again.records_read) == ("success", 250)


def test_mapped_fields_missing_from_the_org_are_refused_at_configuration(fake_org, sf_tenant):
    with pytest.raises(ManifestError) as refused:
        sf_tenant(mappings=[{"connector": "salesforce", "object": "Opportunity", "entity": "opportunity",
                             "fields": [{"source": "Renewal_Target__c", "target": "target_amount", "type": "money"}]}])
    assert "Renewal_Target__c" in str(refused.value) and "does not exist on Opportunity" in str(refused.value)


def test_a_field_removed_from_the_org_fails_the_sync_naming_it(fake_org, sf_tenant):
    fake_org.add_custom_field("Opportunity", "Tier__c", "string")
    tenant = sf_tenant(mappings=[{"connector": "salesforce", "object": "Opportunity", "entity": "opportunity",
                                  "fields": [{"source": "Tier__c", "target": "attributes.tier"}]}])
    fake_org.delete_custom_field("Opportunity", "Tier__c")
    _seed(fake_org, 1)                                       # something to read: an idle run queries nothing
    # The schema kept from the last describe still has the field: Salesforce's own error names it ...
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    assert result.status == "failed" and "No such column 'Tier__c' on entity 'Opportunity'" in result.error
    # ... and the next run describes the object again and refuses the mapping before querying.
    result = sync_object(tenant, "salesforce", "Opportunity", options=fast_options())
    assert result.status == "failed" and "'Tier__c'" in result.error and "does not exist" in result.error


def test_a_value_that_does_not_fit_its_type_fails_naming_record_and_field(fake_org, sf_tenant):
    tenant = sf_tenant(mappings=[{"connector": "salesforce", "object": "Account", "entity": "company",
                                  "fields": [{"source": "Name", "target": "employees", "type": "integer"},
                                             {"source": "Site", "target": "name"}]}])
    account = fake_org.insert("Account", {"Name": "Not a number", "Site": "HQ"})
    fake_org.clock.advance(SETTLE)
    result = sync_object(tenant, "salesforce", "Account", options=fast_options())
    assert result.status == "failed"
    assert account in result.error and "'Name'" in result.error and "not a valid integer" in result.error


def test_writes_report_lock_errors_as_transient_and_validation_errors_with_the_message(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = _seed(fake_org, 2)
    fake_org.faults.lock_row("Opportunity", ids=[ids[0]], times=1)
    fake_org.faults.validation_rule("Opportunity", field="NextStep", value="Bad", message="Next step is not allowed",
                                    error_field="NextStep")
    connector = SalesforceConnector.for_tenant(tenant)
    try:
        results = connector.write([
            WriteOperation("Opportunity", "upsert", {"Amount": 5}, local_id=1, external_id=ids[0]),
            WriteOperation("Opportunity", "upsert", {"NextStep": "Bad"}, local_id=2, external_id=ids[1]),
            WriteOperation("Opportunity", "upsert", {"Name": "Created", "StageName": "Prospecting",
                                                     "CloseDate": "2025-01-01"}, local_id=3),
        ])
    finally:
        connector.close()
    assert [(r.local_id, r.success, r.error_kind, r.error_code) for r in results] == [
        (1, False, "transient", "UNABLE_TO_LOCK_ROW"), (2, False, "permanent", "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        (3, True, None, None)]
    assert "Next step is not allowed" in results[1].error_message
    assert results[2].created and fake_org.get(results[2].external_id)["Name"] == "Created"


def test_a_secret_that_is_not_set_fails_every_run_saying_which(fake_org, sf_tenant, monkeypatch):
    tenant = sf_tenant()
    monkeypatch.delenv("FAKE_SF_TOKEN")
    results = sync_tenant(tenant, options=fast_options())
    assert [(r.object_name, r.status) for r in results] == [("Account", "failed"), ("Opportunity", "failed")]
    assert "environment variable FAKE_SF_TOKEN is not set" in results[0].error
    with tenant.session() as session:
        assert [run.status for run in session.scalars(select(JobRun))] == ["failed", "failed"]
