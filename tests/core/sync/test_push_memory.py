"""Write-back is connector-agnostic: the pusher, the echo check and the inbox against the
in-memory connector (no Salesforce anywhere)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from tether.core.inbox import store_notifications
from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.engine import sync_tenant
from tether.core.sync.inbox import process_inbox
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.push import push_outbox


def _deal(tenant, external_id: str) -> Opportunity:
    with tenant.session() as session:
        return session.scalar(select(Opportunity).where(Opportunity.external_id == external_id))


def test_a_pushed_change_coming_back_by_poll_writes_nothing(memory_tenant, memory_plugin):
    tenant, source = memory_tenant()
    source.put("Deal", "d1", Name="Renewal", Amount="100", Close="2025-03-31", Stage="Prospecting")
    sync_tenant(tenant)
    with tenant.transaction() as session:
        row = session.scalar(select(Opportunity).where(Opportunity.external_id == "d1"))
        row.amount = Decimal("150")
        capture_local_change(tenant, session, entity="opportunity", local_id=row.id, changes={"amount": row.amount})
    source.tick()
    result = push_outbox(tenant)
    assert (result.status, result.records_applied, result.api_calls) == ("success", 1, 1)
    assert source.records["Deal"]["d1"]["Amount"] == 150.0
    assert ("transform", ("acme", "Deal", "outbound", 1)) in memory_plugin.calls  # one call for the batch
    before = _deal(tenant, "d1")
    notified = len(memory_plugin.changes())
    source.tick()
    [polled] = [r for r in sync_tenant(tenant) if r.object_name == "Deal"]
    assert (polled.records_read, polled.records_applied) == (1, 0)
    after = _deal(tenant, "d1")
    assert (after.amount, after.updated_at) == (Decimal("150.00"), before.updated_at)
    assert after.source_modstamp > before.source_modstamp  # only the stamp moved
    assert len(memory_plugin.changes()) == notified  # plugins heard of nothing
    with tenant.session() as session:
        assert [e.status for e in session.scalars(select(OutboxEntry))] == ["pushed"]


def test_notifications_a_connector_cannot_complete_fail_with_the_reason(memory_tenant):
    tenant, source = memory_tenant()
    source.put("Deal", "d1", Name="Renewal", Amount="100", Close="2025-03-31", Stage="Prospecting")
    sync_tenant(tenant)
    with tenant.transaction() as session:
        store_notifications(session, tenant.id, "memory", [
            {"notification_id": "n1", "object_name": "Deal", "record_external_id": "d1",
             "payload": {"fields": {"Id": "d1"}, "stamp_field": "Modstamp"}},
            {"notification_id": "n2", "object_name": "Deal", "record_external_id": "d1",
             "payload": {"fields": {"Id": "d1", "Name": "Renamed", "Amount": "90", "Close": "2025-03-31",
                                    "Stage": "Prospecting", "Kind": None, "OrgId": None, "Line": None,
                                    "Modstamp": "2030-01-01T00:00:00Z"}, "stamp_field": "Modstamp"}},
        ])
    result = process_inbox(tenant)
    assert (result.records_applied, result.failed) == (1, 1)
    assert _deal(tenant, "d1").name == "Renamed"
    from tether.core.store import InboxMessage

    with tenant.session() as session:
        failed = session.scalar(select(InboxMessage).where(InboxMessage.status == "failed"))
    assert failed.notification_id == "n1" and "cannot read records by id" in failed.error
