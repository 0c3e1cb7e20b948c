"""Per-field three-way merge against the last-synced value, and each conflict policy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tether.core.errors import DomainError
from tether.core.store.models import Opportunity, OutboxEntry
from tether.core.sync.conflicts import ConflictPolicies, check_policy_config, list_conflicts, resolve_conflict
from tether.core.sync.engine import sync_tenant
from tether.core.sync.outbox import capture_local_change
from tether.core.sync.push import push_outbox

from .fake_org_setup import fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401
from .writeback_setup import SETTLE, edit, local_ids, opportunity, outbox, push_options, seed_opportunities, settle_and_sync


def poll(org, tenant) -> None:
    org.clock.advance(SETTLE.total_seconds())
    assert all(r.status == "success" for r in sync_tenant(tenant, objects=["Opportunity"], options=fast_options()))


def setup(org, make, **config):
    tenant = make(**config)
    [sf_id] = seed_opportunities(org, 1)
    settle_and_sync(org, tenant)
    return tenant, sf_id, local_ids(tenant)[sf_id]


def test_different_fields_changed_on_each_side_merge_without_conflict(fake_org, sf_tenant):
    tenant, sf_id, local = setup(fake_org, sf_tenant)
    # Edited the way the API does it: the row is flushed before the change is captured.
    with tenant.transaction() as session:
        row = session.get(Opportunity, local)
        row.amount = Decimal("1500")
        session.flush()
        capture_local_change(tenant, session, entity="opportunity", local_id=local, changes={"amount": row.amount})
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Name": "Renamed in Salesforce"})
    poll(fake_org, tenant)
    row = opportunity(tenant, local)
    assert (row.name, row.amount) == ("Renamed in Salesforce", Decimal("1500.00"))
    assert list_conflicts(tenant, status=None) == []
    push_outbox(tenant, options=push_options())
    source = fake_org.get(sf_id)
    assert (source["Name"], source["Amount"]) == ("Renamed in Salesforce", 1500.0)


def test_both_sides_setting_the_same_value_is_no_conflict(fake_org, sf_tenant):
    tenant, sf_id, local = setup(fake_org, sf_tenant)
    edit(tenant, local, amount=Decimal("2000"))
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 2000})
    poll(fake_org, tenant)
    assert list_conflicts(tenant, status=None) == []
    result = push_outbox(tenant, options=push_options())
    assert (result.skipped, result.api_calls) == (1, 0)  # Salesforce already holds it


def test_salesforce_wins_by_default(fake_org, sf_tenant):
    tenant, sf_id, local = setup(fake_org, sf_tenant)
    edit(tenant, local, amount=Decimal("5"), name="Local name")
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 7})
    poll(fake_org, tenant)
    row = opportunity(tenant, local)
    assert (row.amount, row.name) == (Decimal("7.00"), "Local name")  # the other field is not in conflict
    [conflict] = list_conflicts(tenant, status=None)
    assert (conflict.field, conflict.status, conflict.resolution, conflict.policy) == (
        "amount", "resolved", "remote", "salesforce_wins")
    assert conflict.values == {"base": "1000.00", "local": "5.00", "remote": "7.00"}
    push_outbox(tenant, options=push_options())
    source = fake_org.get(sf_id)
    assert (source["Amount"], source["Name"]) == (7.0, "Local name")


def test_local_wins_pushes_the_local_value_over_salesforces(fake_org, sf_tenant):
    tenant, sf_id, local = setup(fake_org, sf_tenant, conflict_policy="local_wins")
    edit(tenant, local, amount=Decimal("5"))
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 7})
    poll(fake_org, tenant)
    assert opportunity(tenant, local).amount == Decimal("5.00")
    assert push_outbox(tenant, options=push_options()).records_applied == 1
    assert fake_org.get(sf_id)["Amount"] == 5.0
    poll(fake_org, tenant)  # our value coming back changes nothing
    assert opportunity(tenant, local).amount == Decimal("5.00")


@pytest.mark.parametrize("salesforce_later, expected", [(True, Decimal("7.00")), (False, Decimal("5.00"))])
def test_newest_wins_compares_the_change_times(fake_org, sf_tenant, salesforce_later, expected):
    tenant, sf_id, local = setup(fake_org, sf_tenant, conflict_policy="newest_wins")
    edit(tenant, local, amount=Decimal("5"))
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 7})
    # When tether captured the local change, against the org's clock (which the fake keeps in 2024).
    edited_at = fake_org.clock.now() + dt.timedelta(minutes=-30 if salesforce_later else 30)
    with tenant.transaction() as session:
        session.execute(update(OutboxEntry).values(created_at=edited_at))
    poll(fake_org, tenant)
    assert opportunity(tenant, local).amount == expected
    push_outbox(tenant, options=push_options())
    assert Decimal(str(fake_org.get(sf_id)["Amount"])) == expected


def test_manual_conflicts_wait_in_a_queue_and_are_resolved_by_hand(fake_org, sf_tenant):
    tenant = sf_tenant(conflict_policies={"Opportunity.Amount": "manual"})
    ids = seed_opportunities(fake_org, 3)
    settle_and_sync(fake_org, tenant)
    local = local_ids(tenant)
    for n, sf_id in enumerate(ids):
        edit(tenant, local[sf_id], amount=Decimal(100 + n), name=f"Local {n}")
    fake_org.clock.advance(seconds=5)
    for n, sf_id in enumerate(ids):
        fake_org.update("Opportunity", sf_id, {"Amount": 900 + n, "Name": f"Remote {n}"})
    poll(fake_org, tenant)
    # Names follow the default policy (Salesforce wins); amounts wait for a person.
    assert [opportunity(tenant, local[i]).name for i in ids] == ["Remote 0", "Remote 1", "Remote 2"]
    assert [opportunity(tenant, local[i]).amount for i in ids] == [Decimal("100.00"), Decimal("101.00"),
                                                                   Decimal("102.00")]
    waiting = sorted(list_conflicts(tenant), key=lambda c: c.local_id)
    assert [(c.field, c.source_field, c.values["local"], c.values["remote"]) for c in waiting] == [
        ("amount", "Amount", "100.00", "900.00"), ("amount", "Amount", "101.00", "901.00"),
        ("amount", "Amount", "102.00", "902.00")]
    held = push_outbox(tenant, options=push_options())
    assert (held.records_applied, held.held, held.api_calls) == (0, 3, 0)
    # The same remote value arriving again updates the waiting conflict, it does not add one.
    poll(fake_org, tenant)
    assert len(list_conflicts(tenant)) == 3

    resolve_conflict(tenant, waiting[0].id, keep="remote", by="dana")
    resolve_conflict(tenant, waiting[1].id, keep="local", by="dana")
    resolve_conflict(tenant, waiting[2].id, keep="value", value="555.5", by="dana")
    assert list_conflicts(tenant) == []
    assert opportunity(tenant, local[ids[0]]).amount == Decimal("900.00")
    assert opportunity(tenant, local[ids[2]]).amount == Decimal("555.50")
    pushed = push_outbox(tenant, options=push_options())
    assert pushed.records_applied == 2
    assert [fake_org.get(i)["Amount"] for i in ids] == [900.0, 101.0, 555.5]
    assert {e.status for e in outbox(tenant)} <= {"pushed", "superseded"}
    with pytest.raises(DomainError, match="already resolved"):
        resolve_conflict(tenant, waiting[0].id, keep="local")


def test_policy_configuration_is_checked_and_looked_up_by_object_and_field():
    assert check_policy_config({"conflict_policy": "salesforce_wins",
                                "conflict_policies": {"Opportunity": "local_wins", "Opportunity.Amount": "manual"}}) == []
    problems = check_policy_config({"conflict_policy": "tether_wins", "conflict_policies": {"Account": "sometimes"}})
    assert len(problems) == 2 and "conflict_policies.Account" in problems[1]
    policies = ConflictPolicies("salesforce_wins", {"opportunity": "local_wins", "opportunity.amount": "manual"})
    assert policies.for_field("Opportunity", "amount", ["Amount"]) == "manual"
    assert policies.for_field("Opportunity", "name", ["Name"]) == "local_wins"
    assert policies.for_field("Account", "name", ["Name"]) == "salesforce_wins"


def test_a_bad_policy_in_the_manifest_is_refused_with_its_path(fake_org, sf_tenant):
    from tether.core.errors import ManifestError

    with pytest.raises(ManifestError) as error:
        sf_tenant(conflict_policies={"Opportunity.Amount": "whoever"})
    assert "conflict_policies.Opportunity.Amount" in str(error.value)


def test_only_fields_changed_here_are_held_other_local_rows_untouched(fake_org, sf_tenant):
    tenant, sf_id, local = setup(fake_org, sf_tenant)
    with tenant.session() as session:
        before = session.scalar(select(Opportunity.updated_at).where(Opportunity.id == local))
    fake_org.clock.advance(seconds=5)
    fake_org.update("Opportunity", sf_id, {"Amount": 42})
    poll(fake_org, tenant)  # a record tether never changed: plain apply
    row = opportunity(tenant, local)
    assert row.amount == Decimal("42.00") and row.updated_at > before
    assert list_conflicts(tenant, status=None) == []
