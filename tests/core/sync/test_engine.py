"""The inbound engine against the in-memory connector: loads, increments, deletes, links, hooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from tether.core.store.models import Company, JobRun, Opportunity, OutboxEntry, Relationship, SyncCursor
from tether.core.sync.engine import SyncOptions, sync_object, sync_tenant


def _companies(tenant) -> dict[str, Company]:
    with tenant.session() as session:
        return {c.external_id: c for c in session.scalars(select(Company))}


def _opportunities(tenant) -> dict[str, Opportunity]:
    with tenant.session() as session:
        return {o.external_id: o for o in session.scalars(select(Opportunity))}


def _seed(source) -> None:
    source.put("Org", "o1", Name="Acme", Industry="Banking", Size="120")
    source.put("Org", "o2", Name="Acme EMEA", ParentId="o1")
    source.tick()
    source.put("Deal", "d1", Name="Acme renewal", OrgId="o1", Amount="12000.50", Close="2025-03-31",
               Stage="Prospecting", Kind="Renewal")
    source.put("Deal", "d2", Name="Acme EMEA new", OrgId="o2", Amount="999.99", Close="2025-06-30", Stage="Closed Won")


def test_initial_load_maps_types_and_links(memory_tenant):
    tenant, source = memory_tenant()
    _seed(source)
    results = sync_tenant(tenant)
    assert [(r.object_name, r.mode, r.status, r.records_read, r.records_applied) for r in results] == [
        ("Org", "initial", "success", 2, 2), ("Deal", "initial", "success", 2, 2)]
    companies, opportunities = _companies(tenant), _opportunities(tenant)
    assert companies["o1"].employees == 120 and companies["o1"].industry == "Banking"
    assert companies["o2"].parent_id == companies["o1"].id
    renewal = opportunities["d1"]
    assert renewal.amount == Decimal("12000.50") and renewal.close_date == dt.date(2025, 3, 31)
    assert renewal.company_id == companies["o1"].id
    assert renewal.source_modstamp == dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)
    assert renewal.booking_type == "renewal" and opportunities["d2"].booking_type == "new_business"


def test_rerun_without_changes_reads_and_writes_nothing(memory_tenant, memory_plugin):
    tenant, source = memory_tenant()
    _seed(source)
    sync_tenant(tenant)
    before = {k: v.updated_at for k, v in _opportunities(tenant).items()}
    notified = len(memory_plugin.changes())
    results = sync_tenant(tenant)
    assert [(r.mode, r.records_read, r.records_applied, r.records_deleted) for r in results] == [
        ("incremental", 0, 0, 0)] * 2
    assert {k: v.updated_at for k, v in _opportunities(tenant).items()} == before
    assert len(memory_plugin.changes()) == notified


def test_updates_deletes_and_undeletes_land(memory_tenant, memory_plugin):
    tenant, source = memory_tenant()
    _seed(source)
    sync_tenant(tenant)
    source.tick()
    source.put("Deal", "d1", Amount="15000", Stage="Negotiation/Review")
    source.delete("Deal", "d2")
    source.put("Deal", "d3", Name="Brand new", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting")
    [_, deals] = sync_tenant(tenant)
    assert (deals.records_read, deals.records_applied, deals.records_deleted) == (3, 2, 1)
    opportunities = _opportunities(tenant)
    assert opportunities["d1"].amount == Decimal("15000.00") and opportunities["d1"].stage == "Negotiation/Review"
    assert opportunities["d2"].is_deleted and opportunities["d2"].deleted_at is not None
    assert opportunities["d3"].company_id is not None
    change = memory_plugin.changes()[-1]
    assert change.entity == "opportunity" and change.origin == "sync" and change.connector == "memory"
    assert sorted(change.updated) == [opportunities["d1"].id] and change.deleted == [opportunities["d2"].id]
    source.tick()
    source.undelete("Deal", "d2")
    sync_tenant(tenant)
    restored = _opportunities(tenant)["d2"]
    assert not restored.is_deleted and restored.deleted_at is None and restored.name == "Acme EMEA new"


def test_children_before_parents_link_up(memory_tenant):
    tenant, source = memory_tenant()
    source.put("Org", "child", Name="Child", ParentId="parent")
    source.put("Deal", "d", Name="Early deal", OrgId="parent", Amount="1", Close="2025-01-01", Stage="Prospecting")
    sync_tenant(tenant)
    assert _companies(tenant)["child"].parent_id is None
    assert _opportunities(tenant)["d"].company_id is None
    source.tick()
    source.put("Org", "parent", Name="Parent")
    sync_tenant(tenant)
    companies = _companies(tenant)
    assert companies["child"].parent_id == companies["parent"].id
    assert _opportunities(tenant)["d"].company_id == companies["parent"].id


def test_parent_in_a_later_page_of_the_same_run(memory_tenant):
    tenant, source = memory_tenant()
    for index in range(5):
        source.put("Org", f"c{index}", Name=f"Child {index}", ParentId="p")
    source.tick()
    source.put("Org", "p", Name="Parent")
    sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=2))
    companies = _companies(tenant)
    assert {companies[f"c{i}"].parent_id for i in range(5)} == {companies["p"].id}


def test_hooks_are_called_once_per_page(memory_tenant, memory_plugin):
    tenant, source = memory_tenant()
    source.put("Org", "o1", Name="Acme")
    source.tick()
    for index in range(10):
        source.put("Deal", f"d{index}", Name=f"Deal {index}", OrgId="o1", Amount="1", Close="2025-01-01",
                   Stage="Prospecting")
    sync_object(tenant, "memory", "Org")
    memory_plugin.calls.clear()
    sync_object(tenant, "memory", "Deal", options=SyncOptions(page_size=4))
    assert memory_plugin.count("transform") == 3
    assert memory_plugin.count("booking") == 3
    assert memory_plugin.count("relationships") == 3
    assert memory_plugin.count("changed") == 3


def test_transform_can_skip_records(memory_tenant):
    tenant, source = memory_tenant()
    source.put("Org", "keep", Name="Keep")
    source.put("Org", "drop", Name="SKIP ME")
    sync_object(tenant, "memory", "Org")
    assert set(_companies(tenant)) == {"keep"}


def test_relationships_are_assigned_and_created_once(memory_tenant):
    tenant, source = memory_tenant(relationship_types=[{"name": "Product"}])
    source.put("Org", "o1", Name="Acme")
    source.tick()
    source.put("Deal", "d1", Name="A", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting", Line="Analytics")
    source.put("Deal", "d2", Name="B", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting", Line="Analytics")
    source.put("Deal", "d3", Name="C", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting", Line="Core")
    source.put("Deal", "d4", Name="D", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting")
    sync_tenant(tenant)
    with tenant.session() as session:
        relationships = {r.name: r for r in session.scalars(select(Relationship))}
    assert sorted(relationships) == ["Analytics", "Core"]
    opportunities = _opportunities(tenant)
    assert opportunities["d1"].relationship_id == opportunities["d2"].relationship_id == relationships["Analytics"].id
    assert opportunities["d3"].relationship_id == relationships["Core"].id
    assert opportunities["d4"].relationship_id is None


def test_unknown_relationship_type_is_a_run_warning_naming_it(memory_tenant):
    tenant, source = memory_tenant()
    source.put("Org", "o1", Name="Acme")
    source.put("Deal", "d1", Name="A", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting", Line="Analytics")
    org, deal = sync_tenant(tenant)
    assert org.status == "success" and deal.status == "success" and deal.records_applied == 1
    with tenant.session() as session:
        run = session.get(JobRun, deal.run_id)
    [warning] = run.details["warnings"]
    assert "relationship type 'Product' does not exist" in warning and "'A'" in warning
    assert _opportunities(tenant)["d1"].relationship_id is None


def test_sync_writes_are_never_captured_in_the_outbox(memory_tenant):
    tenant, source = memory_tenant()
    _seed(source)
    sync_tenant(tenant)
    with tenant.session() as session:
        assert session.scalars(select(OutboxEntry)).all() == []


def test_runs_and_cursors_are_recorded(memory_tenant):
    tenant, source = memory_tenant()
    _seed(source)
    sync_tenant(tenant)
    with tenant.session() as session:
        runs = session.scalars(select(JobRun).order_by(JobRun.id)).all()
        cursors = {c.object_name: c for c in session.scalars(select(SyncCursor))}
    assert [(r.kind, r.connector, r.object_name, r.mode, r.status) for r in runs] == [
        ("sync", "memory", "Org", "initial", "success"), ("sync", "memory", "Deal", "initial", "success")]
    deal_run = runs[1]
    assert (deal_run.records_read, deal_run.records_applied, deal_run.records_deleted) == (2, 2, 0)
    assert deal_run.api_calls == 2  # count + one page
    assert deal_run.finished_at >= deal_run.started_at
    assert cursors["Deal"].value == "2024-01-01T00:00:01.000Z|d2"
    assert cursors["Deal"].full_load_completed_at is not None


def test_tenants_are_isolated(memory_tenant):
    acme, acme_source = memory_tenant("acme")
    beta, beta_source = memory_tenant("beta")
    acme_source.put("Org", "same-id", Name="Acme's")
    beta_source.put("Org", "same-id", Name="Beta's")
    sync_tenant(acme)
    sync_tenant(beta)
    assert _companies(acme)["same-id"].name == "Acme's"
    assert _companies(beta)["same-id"].name == "Beta's"


def test_two_full_loads_give_identical_stores(memory_tenant):
    tenant, source = memory_tenant()
    _seed(source)
    source.tick()
    source.delete("Deal", "d2")

    def snapshot():
        columns = ("external_id", "name", "amount", "close_date", "stage", "company_id", "booking_type",
                   "source_modstamp", "is_deleted")
        return sorted(tuple(getattr(o, c) for c in columns) for o in _opportunities(tenant).values())

    sync_tenant(tenant, full=True)
    first = snapshot()
    results = sync_tenant(tenant, full=True)
    assert all(r.mode == "full" and r.status == "success" for r in results)
    assert snapshot() == first
