"""Capturing local changes into the outbox, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from tether.core.errors import DomainError
from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.outbox import APPLYING_SYNC, capture_local_change

SF = {"instance_url": "https://acme.my.salesforce.com"}


def _opportunity(tenant, **values) -> int:
    with tenant.transaction() as session:
        row = Opportunity(name="Renewal 2025", **values)
        session.add(row)
        session.flush()
        return row.id


def _entries(tenant) -> list[OutboxEntry]:
    with tenant.session() as session:
        return list(session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)))


def test_opportunity_change_is_captured_with_mapped_fields_only(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    opp_id = _opportunity(tenant, external_source="salesforce", external_id="006000000000001AAA")
    with tenant.transaction() as session:
        entry_id = capture_local_change(
            tenant, session, entity="opportunity", local_id=opp_id,
            changes={"amount": Decimal("1200.50"), "close_date": dt.date(2025, 3, 31), "csm": "Dana"})
    [entry] = _entries(tenant)
    assert entry.id == entry_id
    assert (entry.connector, entry.object_name, entry.operation) == ("salesforce", "Opportunity", "upsert")
    assert entry.external_id == "006000000000001AAA"
    # Exact money as text, dates as ISO; csm is not pushed to Salesforce.
    assert entry.changes == {"amount": "1200.50", "close_date": "2025-03-31"}
    assert entry.status == "pending"


def test_capture_rolls_back_with_the_change(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    opp_id = _opportunity(tenant)
    with pytest.raises(RuntimeError):
        with tenant.transaction() as session:
            capture_local_change(tenant, session, entity="opportunity", local_id=opp_id, changes={"stage": "Closed Won"})
            raise RuntimeError("the edit failed")
    assert _entries(tenant) == []


def test_unmapped_entity_or_fields_capture_nothing(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    opp_id = _opportunity(tenant)
    with tenant.transaction() as session:
        assert capture_local_change(tenant, session, entity="relationship", local_id=1, changes={"name": "x"}) is None
        assert capture_local_change(tenant, session, entity="opportunity", local_id=opp_id, changes={"csm": "Dana"}) is None
    assert _entries(tenant) == []


def test_tenant_without_a_connector_captures_nothing(make_tenant):
    tenant = make_tenant("beta")
    opp_id = _opportunity(tenant)
    with tenant.transaction() as session:
        assert capture_local_change(tenant, session, entity="opportunity", local_id=opp_id, changes={"amount": 5}) is None
    assert _entries(tenant) == []


def test_activity_maps_to_task(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    with tenant.transaction() as session:
        capture_local_change(tenant, session, entity="activity", local_id=42,
                             changes={"subject": "QBR", "occurred_at": dt.datetime(2025, 1, 2, 15, 0, tzinfo=dt.timezone.utc)})
    [entry] = _entries(tenant)
    assert (entry.object_name, entry.local_id, entry.external_id) == ("Task", 42, None)
    assert entry.changes == {"subject": "QBR", "occurred_at": "2025-01-02T15:00:00Z"}


def test_manifest_mapping_overrides_plugin_defaults(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF}, mappings=[{
        "connector": "salesforce", "object": "Opportunity", "entity": "opportunity",
        "fields": [{"source": "CSM__c", "target": "csm"},
                   {"source": "Amount", "target": "amount", "type": "money", "direction": "inbound"}],
    }])
    opp_id = _opportunity(tenant)
    with tenant.transaction() as session:
        capture_local_change(tenant, session, entity="opportunity", local_id=opp_id,
                             changes={"csm": "Dana", "amount": Decimal("10")})
    [entry] = _entries(tenant)
    assert entry.changes == {"csm": "Dana"}  # amount is now read-only (inbound)


def test_writes_applied_by_the_sync_are_never_captured(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    opp_id = _opportunity(tenant)
    with tenant.transaction() as session:
        session.info[APPLYING_SYNC] = True
        assert capture_local_change(tenant, session, entity="opportunity", local_id=opp_id, changes={"amount": 1}) is None
    assert _entries(tenant) == []


def test_delete_of_a_record_never_pushed_is_ignored(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    local_only = _opportunity(tenant)
    synced = _opportunity(tenant, external_source="salesforce", external_id="006000000000002AAA")
    with tenant.transaction() as session:
        assert capture_local_change(tenant, session, entity="opportunity", local_id=local_only, changes={},
                                    operation="delete") is None
        entry_id = capture_local_change(tenant, session, entity="opportunity", local_id=synced, changes={},
                                        operation="delete")
    [entry] = _entries(tenant)
    assert (entry.id, entry.operation, entry.external_id) == (entry_id, "delete", "006000000000002AAA")


def test_unknown_operation_is_refused(make_tenant):
    tenant = make_tenant("acme", plugins={"salesforce": SF})
    with tenant.transaction() as session, pytest.raises(DomainError, match="unknown outbox operation"):
        capture_local_change(tenant, session, entity="opportunity", local_id=1, changes={}, operation="merge")
