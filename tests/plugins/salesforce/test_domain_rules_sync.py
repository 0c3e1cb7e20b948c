"""The domain's rules on data synced from the fake org: Account hierarchies too deep or
circular (warnings naming the companies, in ``tether sync status``), and an admin's
relationship rule deciding which relationship synced opportunities belong to."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select

from tether.core import relationship_rules
from tether.core.cli import build_cli
from tether.core.runtime import Runtime
from tether.core.settings import Settings
from tether.core.store.models import Company, JobRun, Opportunity, Relationship, RelationshipType
from tether.core.sync.engine import sync_tenant

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401

SETTLE = dt.timedelta(seconds=LOOKBACK + 120)


def companies(tenant) -> dict[str, Company]:
    with tenant.session() as session:
        return {c.name: c for c in session.scalars(select(Company))}


def test_a_too_deep_hierarchy_and_a_cycle_are_refused_with_warnings_and_the_rest_syncs(
        fake_org, sf_tenant, tether_store, plugin_host, tmp_path):
    tenant = sf_tenant()
    parent = None
    for level in range(1, 7):
        parent = fake_org.insert("Account", {"Name": f"Acme L{level}", **({"ParentId": parent} if parent else {})})
    group = fake_org.insert("Account", {"Name": "Acme Group"})
    europe = fake_org.insert("Account", {"Name": "Acme Europe", "ParentId": group})
    france = fake_org.insert("Account", {"Name": "Acme France", "ParentId": europe})
    fake_org.update("Account", group, {"ParentId": france})  # Salesforce data with a loop in it
    fake_org.insert("Opportunity", {"Name": "Acme Group renewal", "AccountId": group, "StageName": "Prospecting",
                                    "CloseDate": "2025-03-31"})
    fake_org.clock.advance(SETTLE.total_seconds())
    accounts, opportunities = sync_tenant(tenant, options=fast_options())
    assert (accounts.status, accounts.records_applied, opportunities.status) == ("success", 9, "success")
    rows = companies(tenant)
    assert rows["Acme L6"].parent_id is None and rows["Acme L5"].parent_id == rows["Acme L4"].id
    loop = [rows[name].parent_id for name in ("Acme Group", "Acme Europe", "Acme France")]
    assert loop.count(None) == 1  # one link of the loop cut, the other two kept
    with tenant.session() as session:
        run = session.get(JobRun, accounts.run_id)
        assert session.scalar(select(Opportunity.company_id)) == rows["Acme Group"].id
    warnings = run.details["warnings"]
    assert len(warnings) == 2 and run.details["warning_count"] == 2
    assert ("Acme L1 › Acme L2 › Acme L3 › Acme L4 › Acme L5 › Acme L6 would be more than 5 levels deep; "
            "'Acme L6' was left without a parent") in warnings
    [cycle] = [w for w in warnings if "cycle" in w]
    assert all(name in cycle for name in ("Acme Group", "Acme Europe", "Acme France"))

    runtime = Runtime(Settings.from_env({"TETHER_HOME": str(tmp_path), "TETHER_DATABASE_URL": tether_store.url}),
                      host=plugin_host, store=tether_store)
    shown = CliRunner().invoke(build_cli(runtime), ["sync", "status", "acme"], obj=runtime, env={"COLUMNS": "250"})
    assert shown.exit_code == 0, shown.output
    assert f"salesforce Account: 2 warnings in run #{accounts.run_id}" in shown.output
    assert "Acme L1 › Acme L2 › Acme L3 › Acme L4 › Acme L5 › Acme L6 would be more than 5 levels deep" in shown.output


def test_an_admin_rule_decides_the_relationship_of_synced_opportunities(fake_org, sf_tenant):
    tenant = sf_tenant(relationship_types=[{"name": "Product"}, {"name": "Subscription"}])
    with tenant.transaction() as session:
        relationship_rules.create_rule(tenant, session, relationship_rules.RelationshipRuleSchema().load({
            "name": "Renewals are the subscription", "type_name": "Subscription", "field": "opportunity_type",
            "operator": "in", "values": ["Renewal", "Existing Customer - Upgrade"],
            "relationship_name": "Core subscription"}))
    account = fake_org.insert("Account", {"Name": "Globex"})
    for name, kind in (("Globex renewal 2025", "Renewal"), ("Globex upsell", "Existing Customer - Upgrade"),
                       ("Globex new logo", "New Customer")):
        fake_org.insert("Opportunity", {"Name": name, "AccountId": account, "StageName": "Prospecting",
                                        "CloseDate": "2025-03-31", "Type": kind})
    fake_org.clock.advance(SETTLE.total_seconds())
    assert all(r.ok for r in sync_tenant(tenant, options=fast_options()))
    with tenant.session() as session:
        linked = dict(session.execute(
            select(Opportunity.name, Relationship.name).outerjoin(Relationship,
                                                                 Relationship.id == Opportunity.relationship_id)).all())
        rel_types = session.execute(select(RelationshipType.name).join(
            Relationship, Relationship.type_id == RelationshipType.id)).scalars().all()
    assert linked == {"Globex renewal 2025": "Core subscription", "Globex upsell": "Core subscription",
                      "Globex new logo": None}
    assert rel_types == ["Subscription"]  # one relationship, created once
