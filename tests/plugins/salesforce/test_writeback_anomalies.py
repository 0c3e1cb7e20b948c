"""Heroku Connect's documented anomalies ("Rapid Multiple Updates Issues") do not reproduce:
flip-flop after two rapid local updates, a revived delete, a re-inserted record after an
insert then delete before sync. Plus: a retried create never duplicates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select, update

from tether.core.renewals.opportunities import create_opportunity
from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.engine import sync_tenant
from tether.core.sync.inbox import process_inbox
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.push import _ConnectorPush, push_outbox
from tether.core.sync.writeback_models import SyncShadow

from .fake_org_setup import fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401
from .om_setup import om_app, om_config, wire_rule  # noqa: F401
from .writeback_setup import (SETTLE, TETHER_KEY, add_key_field, edit, key_mapping, local_ids, opportunity, outbox,
                              push_options, seed_opportunities, settle_and_sync)


def poll(org, tenant) -> None:
    org.clock.advance(SETTLE.total_seconds())
    results = sync_tenant(tenant, objects=["Opportunity"], options=fast_options())
    assert all(r.status == "success" for r in results)


def deliver(org, tenant) -> None:
    assert all(a.acked for a in org.outbound.deliver_due())
    process_inbox(tenant)


def delete_locally(tenant, local_id: int) -> None:
    with tenant.transaction() as session:
        row = session.get(Opportunity, local_id)
        row.is_deleted = True
        row.deleted_at = dt.datetime.now(dt.timezone.utc)
        capture_local_change(tenant, session, entity="opportunity", local_id=local_id, changes={},
                             operation="delete")


def sf_opportunities(org) -> list[dict]:
    return org.query("SELECT Id, Name, Amount FROM Opportunity")


def test_no_flip_flop_after_two_rapid_local_updates(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    wire_rule(fake_org, om_app)  # Salesforce echoes every change, ours included
    local = local_ids(tenant)[sf_id]

    # Update 1 is captured and written to Salesforce; update 2 is captured before update 1 comes back.
    edit(tenant, local, amount=Decimal("100"))
    push_outbox(tenant, options=push_options())
    edit(tenant, local, amount=Decimal("200"))
    # Update 1 syncs back, by Outbound Message and by poll: it must not overwrite update 2.
    deliver(fake_org, tenant)
    assert opportunity(tenant, local).amount == Decimal("200.00")
    poll(fake_org, tenant)
    assert opportunity(tenant, local).amount == Decimal("200.00")
    # Update 2 is written and comes back: both sides settle on it, nothing moves again.
    push_outbox(tenant, options=push_options())
    deliver(fake_org, tenant)
    poll(fake_org, tenant)
    assert opportunity(tenant, local).amount == Decimal("200.00") and fake_org.get(sf_id)["Amount"] == 200.0
    assert push_outbox(tenant, options=push_options()).api_calls == 0
    assert fake_org.outbound.deliver_due() == []


def test_two_rapid_updates_before_a_push_are_one_write_of_the_later_value(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    wire_rule(fake_org, om_app)
    local = local_ids(tenant)[sf_id]
    edit(tenant, local, amount=Decimal("100"), stage="Qualification")
    edit(tenant, local, amount=Decimal("200"))
    result = push_outbox(tenant, options=push_options())
    assert (result.records_applied, result.api_calls) == (1, 1)
    [attempt] = fake_org.outbound.deliver_due()
    assert len(attempt.notification_ids) == 1  # Salesforce saw one write
    process_inbox(tenant)
    row = opportunity(tenant, local)
    assert (row.amount, row.stage) == (Decimal("200.00"), "Qualification")


def test_a_local_delete_is_not_revived_by_a_salesforce_update_that_lands_first(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    [sf_id, other] = seed_opportunities(fake_org, 2)
    settle_and_sync(fake_org, tenant)
    wire_rule(fake_org, om_app)
    local = local_ids(tenant)[sf_id]
    delete_locally(tenant, local)
    # A Salesforce user edits the record before the delete is pushed: message and poll both bring it.
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 555})
    deliver(fake_org, tenant)
    assert opportunity(tenant, local).is_deleted
    poll(fake_org, tenant)
    assert opportunity(tenant, local).is_deleted
    result = push_outbox(tenant, options=push_options())
    assert result.records_deleted == 1
    assert [r["Id"] for r in sf_opportunities(fake_org)] == [other]
    poll(fake_org, tenant)
    deliver(fake_org, tenant)
    assert opportunity(tenant, local).is_deleted and not opportunity(tenant, local_ids(tenant)[other]).is_deleted


def test_insert_then_delete_before_sync_creates_nothing_anywhere(fake_org, sf_tenant):
    add_key_field(fake_org)
    tenant = sf_tenant(mappings=key_mapping())
    seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    before = {r["Id"] for r in sf_opportunities(fake_org)}
    created = create_opportunity(tenant, {"name": "Short-lived upsell", "amount": Decimal("900"),
                                          "close_date": dt.date(2025, 9, 30), "stage": "Prospecting"}, by="dana")
    delete_locally(tenant, created["id"])
    result = push_outbox(tenant, options=push_options())
    assert (result.api_calls, result.records_applied) == (0, 0)
    assert [e.status for e in outbox(tenant)] == ["cancelled"]  # the waiting create was called off
    assert {r["Id"] for r in sf_opportunities(fake_org)} == before
    poll(fake_org, tenant)
    with tenant.session() as session:
        live = session.scalars(select(Opportunity.name).where(Opportunity.is_deleted.is_(False))).all()
    assert "Short-lived upsell" not in live and len(live) == 1


def test_a_delete_captured_while_the_create_was_in_flight_deletes_it_there_too(fake_org, sf_tenant, monkeypatch):
    add_key_field(fake_org)
    tenant = sf_tenant(mappings=key_mapping())
    created = create_opportunity(tenant, {"name": "In flight", "amount": Decimal("10"),
                                          "close_date": dt.date(2025, 9, 30), "stage": "Prospecting"}, by="dana")
    write = _ConnectorPush._write

    def delete_during_the_call(self, connector, records):
        if any(r.creates for r in records):
            delete_locally(tenant, created["id"])  # a user deletes it while the create is on the wire
        return write(self, connector, records)

    monkeypatch.setattr(_ConnectorPush, "_write", delete_during_the_call)
    first = push_outbox(tenant, options=push_options())
    monkeypatch.setattr(_ConnectorPush, "_write", write)
    # The create landed; learning the row is gone, the pusher deletes it there in the same run.
    assert (first.records_applied, first.records_deleted) == (1, 1)
    assert sf_opportunities(fake_org) == []
    assert push_outbox(tenant, options=push_options()).records_read == 0


def test_a_create_retried_after_a_lost_answer_does_not_duplicate(fake_org, sf_tenant):
    add_key_field(fake_org)
    tenant = sf_tenant(mappings=key_mapping())
    created = create_opportunity(tenant, {"name": "Expansion", "amount": Decimal("4200"),
                                          "close_date": dt.date(2025, 12, 31), "stage": "Prospecting"}, by="dana")
    assert push_outbox(tenant, options=push_options()).records_applied == 1
    [record] = fake_org.query(f"SELECT Id, {TETHER_KEY} FROM Opportunity")
    assert record[TETHER_KEY] == f"acme:opportunity:{created['id']}"
    assert opportunity(tenant, created["id"]).external_id == record["Id"]
    # The answer was lost: tether never learnt the id, and the change is still waiting.
    with tenant.transaction() as session:
        session.execute(update(Opportunity).values(external_id=None, external_source=None))
        session.execute(update(SyncShadow).values(external_id=None))
        session.execute(update(OutboxEntry).values(status="pending"))
    again = push_outbox(tenant, options=push_options())
    assert again.records_applied == 1
    assert len(fake_org.query("SELECT Id FROM Opportunity")) == 1  # found by its key, not made twice
    assert opportunity(tenant, created["id"]).external_id == record["Id"]
    assert {e.status for e in outbox(tenant)} == {"pushed"}


def test_a_copy_the_poll_made_before_the_create_was_recorded_is_retired(fake_org, sf_tenant):
    add_key_field(fake_org)
    tenant = sf_tenant(mappings=key_mapping())
    created = create_opportunity(tenant, {"name": "Crash in between", "amount": Decimal("10"),
                                          "close_date": dt.date(2025, 9, 30), "stage": "Prospecting"}, by="dana")
    push_outbox(tenant, options=push_options())
    # The process died after Salesforce created the record, before tether recorded the answer...
    with tenant.transaction() as session:
        session.execute(update(Opportunity).values(external_id=None, external_source=None))
        session.execute(update(SyncShadow).values(external_id=None))
        session.execute(update(OutboxEntry).values(status="pending"))
    poll(fake_org, tenant)  # ...and the poll brought the record as a new row.
    with tenant.session() as session:
        assert len(session.scalars(select(Opportunity).where(Opportunity.is_deleted.is_(False))).all()) == 2
    assert push_outbox(tenant, options=push_options()).records_applied == 1  # found by its key again
    with tenant.session() as session:
        live = session.scalars(select(Opportunity).where(Opportunity.is_deleted.is_(False))).all()
    [sf_record] = fake_org.query("SELECT Id FROM Opportunity")
    assert [(o.id, o.external_id) for o in live] == [(created["id"], sf_record["Id"])]
    poll(fake_org, tenant)
    with tenant.session() as session:
        assert len(session.scalars(select(Opportunity).where(Opportunity.is_deleted.is_(False))).all()) == 1
