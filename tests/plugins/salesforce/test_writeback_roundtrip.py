"""The full round trip: local change → push → Salesforce fires an Outbound Message back →
inbox → poll. Nothing echoes in either direction, over 10,000 changes."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.engine import sync_tenant
from tether.core.sync.inbox import process_inbox
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.push import push_outbox

from .fake_org_setup import fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401
from .om_setup import inbox_statuses, om_app, om_config, wire_rule  # noqa: F401
from .writeback_setup import SETTLE, push_options, seed_opportunities, settle_and_sync

# 10,000 on SQLite; PostgreSQL runs the same path at 2,000, its per-statement round trips
# would take the test past a minute (10,000 there passes too, in about 70 s).
CHANGES = {"sqlite": 10_000, "postgresql": 2_000}


def snapshot(tenant) -> dict[int, tuple]:
    """Each row's data and its updated_at: any write to a row shows here."""
    with tenant.session() as session:
        return {o.id: (o.name, o.amount, o.stage, o.probability, o.forecast_category, o.is_deleted, o.updated_at)
                for o in session.scalars(select(Opportunity))}


def test_ten_thousand_changes_make_zero_echo_writes_either_way(fake_org, sf_tenant, om_app):
    tenant = sf_tenant(**om_config(fake_org))
    changes = CHANGES[tenant.store.dialect]
    sf_ids = seed_opportunities(fake_org, changes)
    settle_and_sync(fake_org, tenant)
    # Outbound Messages for every change, ours included (no integration-user filter on the rule).
    wire_rule(fake_org, om_app)
    with tenant.session() as session:
        ids = list(session.scalars(select(Opportunity.id).order_by(Opportunity.id)))
    for start in range(0, len(ids), 1000):
        with tenant.transaction() as session:
            for row in session.scalars(select(Opportunity).where(Opportunity.id.in_(ids[start:start + 1000]))):
                row.amount += Decimal("0.25")
                capture_local_change(tenant, session, entity="opportunity", local_id=row.id,
                                     changes={"amount": row.amount})
    edited = snapshot(tenant)

    pushed = push_outbox(tenant, options=push_options())
    assert (pushed.status, pushed.records_applied, pushed.failed) == ("success", changes, 0)
    assert pushed.api_calls == changes // 200  # sObject Collections, 200 records a call
    assert fake_org.get(sf_ids[0])["Amount"] == 1000.25

    # Salesforce sends our own changes back; they are recognised and change nothing.
    deliveries = fake_org.outbound.deliver_due()
    assert sum(len(d.notification_ids) for d in deliveries if d.acked) == changes
    inbox = process_inbox(tenant)
    assert (inbox.records_applied, inbox.echoes, inbox.api_calls) == (0, changes, 0)
    assert inbox_statuses(tenant) == {"echo": changes}

    # So does the poll.
    fake_org.clock.advance(SETTLE.total_seconds())
    polled = sync_tenant(tenant, objects=["Opportunity"], options=fast_options())
    assert [(r.records_read, r.records_applied) for r in polled] == [(changes, 0)]

    assert snapshot(tenant) == edited  # no inbound echo wrote to a single row
    with tenant.session() as session:
        statuses = dict(session.execute(select(OutboxEntry.status, func.count()).group_by(OutboxEntry.status)).all())
    assert statuses == {"pushed": changes}  # nothing re-captured
    again = push_outbox(tenant, options=push_options())
    assert (again.records_read, again.api_calls) == (0, 0)  # nothing re-pushed
    assert fake_org.outbound.deliver_due() == []  # and Salesforce saw no further write
