"""tether → Salesforce: local changes pushed through sObject Collections, against the fake org."""

from __future__ import annotations

from decimal import Decimal

from tether.core.sync.push import push_outbox, retry_failed

from .fake_org_setup import fake_clock, fake_org, sf_tenant  # noqa: F401
from .writeback_setup import (edit, local_ids, opportunity, outbox, push_options, seed_opportunities,
                              settle_and_sync)


def test_a_local_change_is_pushed_and_recorded(fake_org, sf_tenant):
    tenant = sf_tenant()
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    local = local_ids(tenant)[sf_id]
    edit(tenant, local, amount=Decimal("4321.50"), stage="Negotiation/Review")
    result = push_outbox(tenant, options=push_options())
    assert (result.status, result.records_applied, result.failed) == ("success", 1, 0)
    assert result.api_calls == 1
    record = fake_org.get(sf_id)
    assert record["Amount"] == 4321.5 and record["StageName"] == "Negotiation/Review"
    assert [e.status for e in outbox(tenant)] == ["pushed"]


def test_changes_of_one_record_are_coalesced_later_values_win(fake_org, sf_tenant):
    tenant = sf_tenant()
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    local = local_ids(tenant)[sf_id]
    edit(tenant, local, amount=Decimal("10"))
    edit(tenant, local, name="Renamed")
    edit(tenant, local, amount=Decimal("20"))
    result = push_outbox(tenant, options=push_options())
    assert (result.records_read, result.records_applied, result.api_calls) == (3, 1, 1)
    assert fake_org.get(sf_id)["Amount"] == 20.0 and fake_org.get(sf_id)["Name"] == "Renamed"


def test_an_update_that_changes_nothing_is_not_sent(fake_org, sf_tenant):
    tenant = sf_tenant()
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    local = local_ids(tenant)[sf_id]
    stamp = fake_org.get(sf_id)["SystemModstamp"]
    edit(tenant, local, amount=Decimal("5"))
    edit(tenant, local, amount=Decimal("1000"))  # back to what Salesforce holds
    result = push_outbox(tenant, options=push_options())
    assert (result.skipped, result.records_applied, result.api_calls) == (1, 0, 0)
    assert fake_org.get(sf_id)["SystemModstamp"] == stamp
    assert {e.status for e in outbox(tenant)} == {"skipped"}


def test_a_validation_error_parks_the_record_with_salesforces_message_then_retry_works(fake_org, sf_tenant):
    tenant = sf_tenant()
    ids = seed_opportunities(fake_org, 2)
    settle_and_sync(fake_org, tenant)
    local = local_ids(tenant)
    fake_org.faults.validation_rule("Opportunity", field="Amount", value=13.0, message="Amount may not be 13",
                                    error_field="Amount")
    edit(tenant, local[ids[0]], amount=Decimal("13"))
    edit(tenant, local[ids[1]], amount=Decimal("14"))
    result = push_outbox(tenant, options=push_options())
    assert (result.records_applied, result.failed) == (1, 1)
    [failed] = outbox(tenant, "failed")
    assert failed.local_id == local[ids[0]]
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in failed.last_error and "Amount may not be 13" in failed.last_error
    assert fake_org.get(ids[1])["Amount"] == 14.0
    # Fixed at the source; the retry goes through.
    fake_org.faults.clear()
    assert retry_failed(tenant) == 1
    result = push_outbox(tenant, options=push_options())
    assert (result.records_applied, result.failed) == (1, 0)
    assert fake_org.get(ids[0])["Amount"] == 13.0


def test_lock_errors_are_retried_with_backoff_then_succeed(fake_org, sf_tenant):
    tenant = sf_tenant()
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    edit(tenant, local_ids(tenant)[sf_id], amount=Decimal("77"))
    fake_org.faults.lock_row("Opportunity", ids=[sf_id], times=1)
    first = push_outbox(tenant, options=push_options())
    assert (first.retrying, first.records_applied) == (1, 0)
    [waiting] = outbox(tenant, "pending")
    assert waiting.attempts == 1 and waiting.next_attempt_at is not None and "UNABLE_TO_LOCK_ROW" in waiting.last_error
    # Not due yet: nothing is sent.
    assert push_outbox(tenant, options=push_options()).api_calls == 0
    again = push_outbox(tenant, options=push_options(retry_base_seconds=0.0))
    assert again.api_calls == 0  # the first backoff is still running
    with tenant.transaction() as session:
        session.get(type(waiting), waiting.id).next_attempt_at = None
    done = push_outbox(tenant, options=push_options())
    assert (done.records_applied, done.retrying) == (1, 0)
    assert fake_org.get(sf_id)["Amount"] == 77.0
    assert opportunity(tenant, local_ids(tenant)[sf_id]).amount == Decimal("77.00")


def test_timeline_activities_become_tasks_then_follow_their_edits_and_delete(fake_org, sf_tenant, make_tenant):
    import datetime as dt

    from tether.core.store.models import Company
    from tether.plugins.timeline.activities import delete_activity, log_activity, update_activity

    from .fake_org_setup import sf_config

    # sf_tenant has put the fake org's credentials in the environment; Timeline logs activities.
    tenant = make_tenant("acme", plugins={"salesforce": sf_config(fake_org.instance_url), "timeline": {}})
    with tenant.transaction() as session:
        company = Company(name="Acme")
        session.add(company)
        session.flush()
        row = log_activity(tenant, session, {"type": "Call", "subject": "Kick-off", "company_id": company.id,
                                             "occurred_at": dt.datetime(2024, 6, 3, 10, tzinfo=dt.timezone.utc)},
                           author="dana")
        activity_id = row.id
    assert push_outbox(tenant, options=push_options()).records_applied == 1
    [task] = fake_org.query("SELECT Id, Subject, ActivityDate, Type FROM Task")
    assert (task["Subject"], task["ActivityDate"], task["Type"]) == ("Kick-off", "2024-06-03", "Call")
    with tenant.transaction() as session:
        update_activity(tenant, session, activity_id, {"subject": "Kick-off call"})
    assert push_outbox(tenant, options=push_options()).records_applied == 1
    assert [t["Subject"] for t in fake_org.query("SELECT Subject FROM Task")] == ["Kick-off call"]  # no second Task
    with tenant.transaction() as session:
        delete_activity(tenant, session, activity_id)
    assert push_outbox(tenant, options=push_options()).records_deleted == 1
    assert fake_org.query("SELECT Id FROM Task") == []
