"""The domain's rules during a sync, with the in-memory connector: hierarchy depth and
cycles (refused links are run warnings naming the companies), relationship rules."""

from __future__ import annotations

from sqlalchemy import select, update

from tether.core import relationship_rules
from tether.core.store.models import Company, JobRun, Opportunity, Relationship, RelationshipType
from tether.core.sync.engine import SyncOptions, sync_object, sync_tenant


def _companies(tenant) -> dict[str, Company]:
    with tenant.session() as session:
        return {c.external_id: c for c in session.scalars(select(Company))}


def _warnings(tenant, run_id: int) -> list[str]:
    with tenant.session() as session:
        return list((session.get(JobRun, run_id).details or {}).get("warnings", []))


def _chain(source, ids: list[str], top_parent: str | None = None) -> None:
    parent = top_parent
    for record_id in ids:
        source.put("Org", record_id, Name=f"Org {record_id}", **({"ParentId": parent} if parent else {}))
        parent = record_id
    source.tick()


def test_a_sixth_level_is_refused_and_named_and_the_rest_is_synced(memory_tenant):
    tenant, source = memory_tenant()
    _chain(source, ["g1", "g2", "g3", "g4", "g5", "g6", "g7"])
    source.put("Org", "other", Name="Org other")
    result = sync_object(tenant, "memory", "Org")
    assert (result.status, result.records_applied) == ("success", 8)
    rows = _companies(tenant)
    assert [rows[f"g{i}"].parent_id for i in range(2, 6)] == [rows[f"g{i}"].id for i in range(1, 5)]
    assert rows["g6"].parent_id is None and rows["g7"].parent_id == rows["g6"].id
    assert rows["g6"].parent_external_id == "g5"  # Salesforce's link is kept, just not followed
    [warning] = _warnings(tenant, result.run_id)
    assert warning == ("Org g1 › Org g2 › Org g3 › Org g4 › Org g5 › Org g6 would be more than 5 levels deep; "
                       "'Org g6' (and 1 company below it) was left without a parent")


def test_children_arriving_first_are_checked_when_their_parents_land(memory_tenant):
    tenant, source = memory_tenant()
    for index in range(6, 0, -1):  # deepest first, one per page
        source.put("Org", f"g{index}", Name=f"Org g{index}", **({"ParentId": f"g{index - 1}"} if index > 1 else {}))
        source.tick()
    result = sync_object(tenant, "memory", "Org", options=SyncOptions(page_size=1))
    rows = _companies(tenant)
    assert result.status == "success" and len(rows) == 6
    # g2 → g6 were a valid branch before g1 landed: the link that came last is the one refused.
    assert rows["g2"].parent_id is None and [rows[f"g{i}"].parent_id for i in range(3, 7)] == [
        rows[f"g{i}"].id for i in range(2, 6)]
    assert _warnings(tenant, result.run_id) == [
        "Org g1 › Org g2 › Org g3 › Org g4 › Org g5 › Org g6 would be more than 5 levels deep; "
        "'Org g2' (and 4 companies below it) was left without a parent"]


def test_a_new_link_above_a_full_branch_is_the_one_refused(memory_tenant):
    tenant, source = memory_tenant()
    _chain(source, ["a1", "a2", "a3", "a4", "a5"])
    assert _warnings(tenant, sync_object(tenant, "memory", "Org").run_id) == []
    source.put("Org", "top", Name="Org top")
    source.put("Org", "a1", ParentId="top")
    source.tick()
    result = sync_object(tenant, "memory", "Org")
    rows = _companies(tenant)
    assert rows["a1"].parent_id is None and rows["a5"].parent_id == rows["a4"].id  # the valid branch stays
    [warning] = _warnings(tenant, result.run_id)
    assert warning.startswith("Org top › Org a1 › Org a2 › Org a3 › Org a4 › Org a5 would be more than 5 levels")
    assert "'Org a1' (and 4 companies below it) was left without a parent" in warning


def test_a_cycle_is_cut_once_and_named(memory_tenant):
    tenant, source = memory_tenant()
    source.put("Org", "c1", Name="Acme Group", ParentId="c3")
    source.put("Org", "c2", Name="Acme Europe", ParentId="c1")
    source.put("Org", "c3", Name="Acme France", ParentId="c2")
    source.put("Org", "c4", Name="Acme Lyon", ParentId="c3")
    source.tick()
    result = sync_object(tenant, "memory", "Org")
    assert result.status == "success"
    rows = _companies(tenant)
    assert rows["c1"].parent_id is None
    assert (rows["c2"].parent_id, rows["c3"].parent_id, rows["c4"].parent_id) == (rows["c1"].id, rows["c2"].id,
                                                                                  rows["c3"].id)
    [warning] = _warnings(tenant, result.run_id)
    assert warning == ("Acme Group › Acme Europe › Acme France › Acme Group would be a cycle; "
                       "'Acme Group' was left without a parent")
    # Fixed at the source: the next version of the company links again.
    source.put("Org", "c1", ParentId=None)
    source.tick()
    fixed = sync_object(tenant, "memory", "Org")
    assert _warnings(tenant, fixed.run_id) == [] and _companies(tenant)["c1"].parent_id is None


def test_an_admin_rule_decides_relationships_before_plugins(memory_tenant, memory_plugin):
    tenant, source = memory_tenant(relationship_types=[{"name": "Product"}, {"name": "Project"}])
    with tenant.transaction() as session:
        relationship_rules.create_rule(tenant, session, relationship_rules.RelationshipRuleSchema().load({
            "name": "Rollouts", "type_name": "Project", "field": "source.Kind", "operator": "equals",
            "values": ["Rollout"], "relationship_name": "{value} of {type}"}))
    source.put("Org", "o1", Name="Acme")
    source.tick()
    source.put("Deal", "d1", Name="A", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting",
               Kind="Rollout", Line="Analytics")
    source.put("Deal", "d2", Name="B", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting",
               Line="Analytics")
    source.put("Deal", "d3", Name="C", Amount="1", Close="2025-01-01", Stage="Prospecting", Kind="Rollout")
    source.tick()
    sync_tenant(tenant)
    with tenant.session() as session:
        names = dict(session.execute(select(Relationship.id, Relationship.name)).all())
        types = dict(session.execute(select(Relationship.name, RelationshipType.name)
                                     .join(RelationshipType, RelationshipType.id == Relationship.type_id)).all())
        deals = {o.external_id: o for o in session.scalars(select(Opportunity))}
    assert names[deals["d1"].relationship_id] == "Rollout of Project" and types["Rollout of Project"] == "Project"
    assert names[deals["d2"].relationship_id] == "Analytics" and types["Analytics"] == "Product"  # the plugin's
    assert deals["d3"].relationship_id is None  # no company, no relationship
    # Only the record no rule decided was offered to the plugin.
    assert [n for kind, n in memory_plugin.calls if kind == "relationships"] == [1]


def test_a_relationship_nothing_decides_is_kept(memory_tenant):
    tenant, source = memory_tenant(relationship_types=[{"name": "Product"}])
    source.put("Org", "o1", Name="Acme")
    source.tick()
    source.put("Deal", "d1", Name="A", OrgId="o1", Amount="1", Close="2025-01-01", Stage="Prospecting")
    source.tick()
    sync_tenant(tenant)
    with tenant.transaction() as session:
        deal = session.scalar(select(Opportunity).where(Opportunity.external_id == "d1"))
        type_id = session.scalar(select(RelationshipType.id))
        rel = Relationship(company_id=deal.company_id, type_id=type_id, name="Chosen by hand")
        session.add(rel)
        session.flush()
        session.execute(update(Opportunity).where(Opportunity.id == deal.id).values(relationship_id=rel.id))
        chosen = rel.id
    source.put("Deal", "d1", Amount="2")
    source.tick()
    assert sync_object(tenant, "memory", "Deal").records_applied == 1
    with tenant.session() as session:
        deal = session.scalar(select(Opportunity).where(Opportunity.external_id == "d1"))
    assert (deal.amount, deal.relationship_id) == (2, chosen)
