"""Applying stored Outbound Message notifications: latest state, idempotent, order-safe."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import select

from tether.core.store.models import Opportunity
from tether.core.sync.inbox import process_inbox
from tether.testing.fake_salesforce import WsgiTransport

from .fake_org_setup import fake_clock, fake_org, sf_tenant  # noqa: F401
from .om_setup import OPPORTUNITY_FIELDS, SECRET, endpoint, inbox_statuses, om_app, om_config, wire_rule  # noqa: F401
from .writeback_setup import outbox_count, seed_opportunities, settle_and_sync


def opportunities(tenant) -> dict[str, Opportunity]:
    with tenant.session() as session:
        return {o.external_id: o for o in session.scalars(select(Opportunity))}


def state(tenant) -> dict[str, tuple]:
    """Live records and their values (a record deleted before tether first saw it may have
    no row at all, or a deleted one: both say the same)."""
    return {k: (o.name, o.amount, o.stage, o.close_date, o.source_modstamp)
            for k, o in opportunities(tenant).items() if not o.is_deleted}


def test_a_notification_is_applied_within_one_inbox_run(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    wire_rule(fake_org, om_app)
    [sf_id] = seed_opportunities(fake_org, 1)
    [attempt] = fake_org.outbound.deliver_due()
    assert attempt.acked
    result = process_inbox(tenant)
    # A record tether has never seen is read once at the source (it might be deleted since).
    assert (result.status, result.records_read, result.records_applied, result.fetched) == ("success", 1, 1, 1)
    fake_org.clock.advance(seconds=3)
    fake_org.update("Opportunity", sf_id, {"StageName": "Needs Analysis"})
    fake_org.outbound.deliver_due()
    result = process_inbox(tenant)
    assert (result.records_applied, result.fetched, result.api_calls) == (1, 0, 0)
    row = opportunities(tenant)[sf_id]
    source = fake_org.get(sf_id)
    assert (row.name, row.amount, row.stage, row.close_date) == ("Renewal 0", Decimal("1000.00"), "Needs Analysis",
                                                                 dt.date(2025, 3, 31))
    assert row.probability == source["Probability"] and row.is_closed is False
    assert row.forecast_category == "pipeline"
    assert row.source_modstamp == dt.datetime.fromisoformat(source["SystemModstamp"].replace("Z", "+00:00"))
    assert row.booking_type is not None  # the same hooks as the poll
    assert inbox_statuses(tenant) == {"applied": 2}
    assert outbox_count(tenant) == 0  # applying source data never captures a local change


def test_an_older_version_changes_nothing(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    wire_rule(fake_org, om_app)
    [sf_id] = seed_opportunities(fake_org, 1)
    older = fake_org.outbound.deliver_due()[0].request_body
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 2500})
    newer = fake_org.outbound.deliver_due()[0].request_body
    client = om_app.test_client()
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    url = "/webhooks/acme/salesforce/outbound-message?token=" + SECRET
    # The newer one is processed first; the older one arrives late (it was stored by the fake already:
    # deliver it again under a new notification id to make it a distinct late message).
    assert client.post(url, data=newer, headers=headers).status_code == 200
    process_inbox(tenant)
    late = older.replace(b"<Id>04l", b"<Id>04X")
    assert client.post(url, data=late, headers=headers).status_code == 200
    result = process_inbox(tenant)
    assert (result.records_applied, result.stale) == (0, 1)
    assert opportunities(tenant)[sf_id].amount == Decimal("2500.00")


def test_replays_2x_and_10x_shuffled_end_like_one_delivery_in_order(fake_org, sf_tenant, om_app):
    once = sf_tenant("once", **om_config(fake_org))
    twice = sf_tenant("twice", **om_config(fake_org))
    tenfold = sf_tenant("tenfold", **om_config(fake_org))
    wire_rule(fake_org, om_app, "once")
    ids = seed_opportunities(fake_org, 12)
    bodies = [a.request_body for a in fake_org.outbound.deliver_due()]
    rng = random.Random(7)
    for step in range(30):  # many versions of a few records, one message per step
        fake_org.clock.advance(seconds=1)
        sf_id = rng.choice(ids)
        fake_org.update("Opportunity", sf_id, {"Amount": rng.randint(1, 10_000), "Name": f"v{step}"})
        if step % 10 == 9:  # deleted before delivery: its notification carries only the Id
            fake_org.delete(sf_id)
            ids.remove(sf_id)
        bodies += [a.request_body for a in fake_org.outbound.deliver_due()]
    assert bodies
    client = om_app.test_client()
    headers = {"Content-Type": "text/xml; charset=utf-8"}

    def post(tenant_id, body):
        response = client.post(f"/webhooks/{tenant_id}/salesforce/outbound-message?token={SECRET}", data=body,
                               headers=headers)
        assert response.status_code == 200

    # "once" already received every message, in order, through the rule.
    process_inbox(once)
    for tenant_id, copies in (("twice", 2), ("tenfold", 10)):
        deliveries = [body for body in bodies for _ in range(copies)]
        rng.shuffle(deliveries)
        for index, body in enumerate(deliveries):
            post(tenant_id, body)
            if index % 17 == 0:
                process_inbox(twice if tenant_id == "twice" else tenfold)  # interleaved processing
        process_inbox(twice if tenant_id == "twice" else tenfold)
    expected = state(once)
    assert expected and state(twice) == expected and state(tenfold) == expected
    # Deleted records are gone; survivors carry the values Salesforce holds.
    assert set(expected) == set(ids)
    for sf_id in ids:
        assert expected[sf_id][:2] == (fake_org.get(sf_id)["Name"], Decimal(str(fake_org.get(sf_id)["Amount"])))
    # No duplicate side effects: one inbox row per notification, nothing captured for pushing.
    for tenant in (once, twice, tenfold):
        statuses = inbox_statuses(tenant)
        assert sum(statuses.values()) == sum(body.count(b"<Notification>") for body in bodies)
        assert "pending" not in statuses and "failed" not in statuses
        assert outbox_count(tenant) == 0


def test_a_deleted_record_notification_is_checked_at_the_source(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    wire_rule(fake_org, om_app)
    ids = seed_opportunities(fake_org, 3)
    fake_org.outbound.deliver_due()
    process_inbox(tenant)
    fake_org.clock.advance(seconds=2)
    fake_org.update("Opportunity", ids[0], {"Amount": 1})
    fake_org.update("Opportunity", ids[1], {"Amount": 2})
    fake_org.delete(ids[0])  # deleted before delivery: the notification carries only its Id
    [attempt] = fake_org.outbound.deliver_due()
    assert b"<sf:Amount>" not in attempt.request_body.split(ids[0].encode())[1].split(b"</Notification>")[0]
    result = process_inbox(tenant)
    assert result.fetched == 1 and result.api_calls >= 1
    rows = opportunities(tenant)
    assert rows[ids[0]].is_deleted and not rows[ids[1]].is_deleted and rows[ids[1]].amount == Decimal("2.00")


def test_notifications_missing_fields_are_read_in_batches_of_200(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org, declared=False))
    wire_rule(fake_org, om_app, fields=["Name", "Amount", "SystemModstamp"], max_notifications=100)
    ids = seed_opportunities(fake_org, 450)
    fake_org.outbound.deliver_due()
    result = process_inbox(tenant)
    assert result.fetched == 450
    # Ids in batches of 200 (3 queries), plus the opportunity stages once; no describe.
    assert result.api_calls == 3 + 1
    rows = opportunities(tenant)
    assert len(rows) == 450 and rows[ids[-1]].stage == "Prospecting"


def test_declared_rule_fields_make_missing_fields_null_without_reading(fake_org, sf_tenant, om_app):
    sent = ["Name", "StageName", "Amount", "CloseDate", "SystemModstamp"]
    tenant = sf_tenant(**om_config(fake_org, outbound_message_fields={"Opportunity": OPPORTUNITY_FIELDS}))
    [sf_id] = seed_opportunities(fake_org, 1)
    settle_and_sync(fake_org, tenant)
    wire_rule(fake_org, om_app, fields=sent)
    fake_org.update("Opportunity", sf_id, {"Amount": 10, "Type": None})
    fake_org.outbound.deliver_due()
    result = process_inbox(tenant)
    assert (result.fetched, result.api_calls, result.records_applied) == (0, 0, 1)
    row = opportunities(tenant)[sf_id]
    assert row.amount == Decimal("10.00") and row.opportunity_type is None  # declared, not sent: null


def test_objects_not_synced_inbound_are_ignored(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    fake_org.outbound.transport = WsgiTransport(om_app)
    fake_org.add_outbound_rule("tasks", "Task", ["Subject"], endpoint("acme"))
    fake_org.insert("Task", {"Subject": "Call"})
    assert fake_org.outbound.deliver_due()[0].acked
    result = process_inbox(tenant)
    assert (result.ignored, result.records_applied) == (1, 0)
    assert inbox_statuses(tenant) == {"ignored": 1}
