"""Rules open exactly one CTA per condition occurrence, none while one is open, and apply playbooks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.core.domain.conftest import add_companies, add_opportunity
from tether.core.renewals.models import ForecastCall, RiskModelVersion, RiskScore
from tether.core.store import Company
from tether.plugins.cockpit.models import Cta, CtaOpportunity, RuleOccurrence
from tether.plugins.cockpit.rule_runs import run_rules
from tether.plugins.cockpit.service import close_cta
from tether.plugins.cockpit.config import settings_of
from tether.plugins.timeline.models import ActivityRecord

from .conftest import ctas, tasks_of, today

UTC = dt.timezone.utc
PLAYBOOK = {"name": "Save the account", "type": "risk", "tasks": [
    {"name": "Call the sponsor", "owner": "cta_owner", "due_in_days": 2},
    {"name": "Plan with the account team", "owner": "company_csm", "due_in_days": 7,
     "description": "Agree a recovery plan."},
    {"name": "Exec sponsor email", "owner": "boss"},
]}


def rule(rule_name, condition, params=None, **cta):
    return {"name": rule_name, "condition": condition, "params": params or {}, "cta": {"due_in_days": 5, **cta}}


def report_of(result, name):
    return next(r for r in result["rules"] if r["rule"] == name)


def close(tenant, cta_id, status="closed_success"):
    with tenant.transaction() as session:
        close_cta(tenant, session, settings_of(tenant), cta_id, status=status, by="ana")


def test_health_red_opens_one_cta_per_occurrence_and_none_while_it_lasts(make_cockpit, kit):
    tenant = make_cockpit({"rules": [rule("Red health", "health_red", priority="high")]})
    ids = add_companies(tenant, [{"name": "Acme", "csm": "ana"}, {"name": "Globex", "csm": "bob"},
                                 {"name": "Initech"}])
    kit.set_health("company", ids["Acme"], 30, "Red")
    kit.set_health("company", ids["Globex"], 90, "Green")

    first = run_rules(tenant)
    opened = ctas(tenant)
    assert [(c.company_id, c.owner, c.priority, c.rule_key, c.occurrence_key, c.source) for c in opened] == [
        (ids["Acme"], "ana", "high", "Red health", f"company:{ids['Acme']}", "rule")]
    assert opened[0].name == "Health turned red: Acme" and "health is Red (score 30)" in opened[0].reason
    assert opened[0].due_date == today() + dt.timedelta(days=5)
    assert report_of(first, "Red health")["opened"] == 1
    # The condition is evaluated with every company in one call, never one call per company.
    assert kit.health_calls == [("company", 3)]

    # Still red: nothing more, run after run.
    assert run_rules(tenant)["opened"] == 0 and run_rules(tenant)["opened"] == 0
    # Closed while still red: the same occurrence opens no second CTA.
    close(tenant, opened[0].id)
    assert run_rules(tenant)["opened"] == 0
    # Green again, then red again: a new occurrence, a new CTA.
    kit.set_health("company", ids["Acme"], 80, "Green")
    assert report_of(run_rules(tenant), "Red health")["ended"] == 1
    kit.set_health("company", ids["Acme"], 20, "Red")
    assert run_rules(tenant)["opened"] == 1
    assert [c.is_closed for c in ctas(tenant)] == [True, False]


def test_a_new_occurrence_while_a_cta_is_still_open_opens_none(make_cockpit, kit):
    tenant = make_cockpit({"rules": [rule("Red health", "health_red")]})
    ids = add_companies(tenant, [{"name": "Acme"}])
    kit.set_health("company", ids["Acme"], 30, "Red")
    run_rules(tenant)
    kit.set_health("company", ids["Acme"], 70, "Yellow")
    run_rules(tenant)  # the occurrence ended; its CTA is still open
    kit.set_health("company", ids["Acme"], 10, "Red")
    result = report_of(run_rules(tenant), "Red health")
    assert (result["started"], result["opened"], result["already_open"]) == (1, 0, 1)
    assert len(ctas(tenant)) == 1


def test_health_drop_by_points_on_relationships(world, make_cockpit, kit):
    tenant, ids = world
    tenant = make_cockpit({"rules": [rule("Falling", "health_drop", {"entity": "relationship", "points": 15},
                                          name="{condition}: {relationship} ({company})")]})
    kit.set_health("relationship", ids["analytics"], 60, "Yellow", previous=80)
    kit.set_health("relationship", ids["crm"], 70, "Yellow", previous=80)  # fell 10: not enough
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert (cta.relationship_id, cta.company_id, cta.owner) == (ids["analytics"], ids["Acme"], "carol")
    assert cta.name == "Health dropped: Analytics (Acme)" and "fell 20 points (from 80 to 60)" in cta.reason
    assert run_rules(tenant)["opened"] == 0
    kit.set_health("relationship", ids["analytics"], 40, "Red", previous=60)  # fell again while one is open
    assert run_rules(tenant)["opened"] == 0 and len(ctas(tenant)) == 1


def test_no_activity_for_n_days_uses_the_timeline(make_cockpit, tether_clock):
    tenant = make_cockpit({"rules": [rule("Quiet", "no_activity", {"days": 30})]})
    ids = add_companies(tenant, [{"name": "Busy"}, {"name": "Quiet"}, {"name": "Silent"}, {"name": "New"}])
    now = tether_clock.now()
    with tenant.transaction() as session:
        for name in ("Busy", "Quiet", "Silent"):
            session.get(Company, ids[name]).created_at = now - dt.timedelta(days=100)
        session.add_all([ActivityRecord(type="Call", subject="hi", occurred_at=now - dt.timedelta(days=3),
                                        author="ana", company_id=ids["Busy"]),
                         ActivityRecord(type="Call", subject="hi", occurred_at=now - dt.timedelta(days=45),
                                        author="ana", company_id=ids["Quiet"])])
    run_rules(tenant)
    found = {c.company_id: c.reason for c in ctas(tenant)}
    # Quiet for 45 days, and Silent (added 100 days ago, never an activity); New was added today.
    assert set(found) == {ids["Quiet"], ids["Silent"]}
    assert "no activity for 45 days" in found[ids["Quiet"]]
    assert "no activity logged in the 30 days since it was added" in found[ids["Silent"]]
    assert run_rules(tenant)["opened"] == 0


def test_renewal_risk_flags_open_one_cta_per_renewal_with_it_linked(world, make_cockpit):
    tenant, ids = world
    tenant = make_cockpit({"rules": [rule("Renewal risk", "renewal_risk_flags",
                                          {"flags": ["forecast_below_target", "missing_forecast"]})]})
    healthy = add_opportunity(tenant, ids["Globex"], "Globex renewal", booking_type="renewal",
                              target_amount=Decimal("9000"), forecast_amount=Decimal("9000"),
                              due_date=today() + dt.timedelta(days=20))
    far = add_opportunity(tenant, ids["Globex"], "Globex renewal 2030", booking_type="renewal",
                          target_amount=Decimal("9000"), due_date=today() + dt.timedelta(days=900))
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert (cta.company_id, cta.relationship_id, cta.occurrence_key) == (
        ids["Acme"], ids["analytics"], f"opportunity:{ids['renewal']}")
    assert "forecast below target" in cta.reason
    with tenant.session() as session:
        linked = list(session.scalars(select(CtaOpportunity.opportunity_id).where(CtaOpportunity.cta_id == cta.id)))
    assert linked == [ids["renewal"]] and healthy not in linked and far not in linked
    assert run_rules(tenant)["opened"] == 0


def test_low_likelihood_reads_the_risk_model_scores(world, make_cockpit):
    tenant, ids = world
    tenant = make_cockpit({"rules": [rule("Unlikely", "renewal_low_likelihood", {"below": 0.4})]})
    other = add_opportunity(tenant, ids["Globex"], "Globex renewal", booking_type="renewal",
                            due_date=today() + dt.timedelta(days=20))
    with tenant.transaction() as session:
        version = RiskModelVersion(version=1, status="trained", is_active=True)
        session.add(version)
        session.flush()
        session.add_all([RiskScore(opportunity_id=ids["renewal"], model_version_id=version.id, likelihood=0.25),
                         RiskScore(opportunity_id=other, model_version_id=version.id, likelihood=0.7)])
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert cta.occurrence_key == f"opportunity:{ids['renewal']}" and "25% (below 40%)" in cta.reason
    assert run_rules(tenant)["opened"] == 0


def test_renewal_due_without_a_forecast_call_until_one_is_made(world, make_cockpit):
    tenant, ids = world
    tenant = make_cockpit({"rules": [rule("Call it", "renewal_due_without_call", {"days": 60})]})
    assert report_of(run_rules(tenant), "Call it")["opened"] == 1
    assert report_of(run_rules(tenant), "Call it")["opened"] == 0
    with tenant.transaction() as session:
        session.add(ForecastCall(opportunity_id=ids["renewal"], category="commit", called_by="ana"))
    assert report_of(run_rules(tenant), "Call it")["ended"] == 1
    with tenant.session() as session:
        assert session.scalar(select(RuleOccurrence.occurrence_key)) is None


def test_playbook_tasks_are_applied_with_owners_and_due_dates(world, make_cockpit, kit):
    tenant, ids = world
    tenant = make_cockpit({"playbooks": [PLAYBOOK],
                           "rules": [rule("Red health", "health_red", {"entity": "relationship"},
                                          playbook="Save the account")]})
    kit.set_health("relationship", ids["analytics"], 20, "Red")
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert cta.playbook == "Save the account" and cta.owner == "carol"  # the relationship's CSM
    tasks = tasks_of(tenant, cta.id)
    assert [(t.name, t.owner, t.due_date, t.status) for t in tasks] == [
        ("Call the sponsor", "carol", today() + dt.timedelta(days=2), "open"),
        ("Plan with the account team", "ana", today() + dt.timedelta(days=7), "open"),  # the company's CSM
        ("Exec sponsor email", "boss", cta.due_date, "open"),  # no due_in_days: the CTA's due date
    ]
    assert tasks[1].description == "Agree a recovery plan."


def test_a_type_default_playbook_applies_when_the_rule_names_none(make_cockpit, kit):
    tenant = make_cockpit({"playbooks": [PLAYBOOK | {"default": True}], "rules": [rule("Red", "health_red")]})
    ids = add_companies(tenant, [{"name": "Acme"}])
    kit.set_health("company", ids["Acme"], 5, "Red")
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert cta.playbook == "Save the account" and len(tasks_of(tenant, cta.id)) == 3


def test_a_plugin_contributes_a_condition_and_a_failing_one_fails_only_its_rule(make_cockpit, kit):
    tenant = make_cockpit({"rules": [rule("Churn", "churn_signal", {"min_weight": 2}, type="lifecycle"),
                                     rule("Red", "health_red")]})
    ids = add_companies(tenant, [{"name": "Acme"}, {"name": "Globex"}])
    kit.signals = [{"company_id": ids["Acme"], "relationship_id": None, "key": "acme-usage", "reason": "usage fell",
                    "weight": 3},
                   {"company_id": ids["Globex"], "relationship_id": None, "key": "globex", "reason": "meh",
                    "weight": 1},
                   {"company_id": 999999, "relationship_id": None, "key": "ghost", "reason": "?", "weight": 5}]
    kit.set_health("company", ids["Globex"], 10, "Red")
    result = run_rules(tenant)
    churn = report_of(result, "Churn")
    assert (churn["opened"], churn["skipped"]) == (1, 1)  # an unknown company is skipped, not fatal
    assert {(c.rule_key, c.company_id, c.type) for c in ctas(tenant)} == {
        ("Churn", ids["Acme"], "lifecycle"), ("Red", ids["Globex"], "risk")}

    kit.fail = True
    kit.set_health("company", ids["Acme"], 10, "Red")
    result = run_rules(tenant)
    assert report_of(result, "Churn")["status"] == "failed"
    assert "kit" in report_of(result, "Churn")["error"] and "churn model is down" in report_of(result, "Churn")["error"]
    assert report_of(result, "Red")["opened"] == 1  # the other rule still ran
    kit.fail = False
    assert report_of(run_rules(tenant), "Churn")["opened"] == 0  # its occurrences survived the failure


def test_a_disabled_rule_forgets_its_occurrences(make_cockpit, kit):
    config = {"rules": [rule("Red", "health_red")]}
    tenant = make_cockpit(config)
    ids = add_companies(tenant, [{"name": "Acme"}])
    kit.set_health("company", ids["Acme"], 10, "Red")
    run_rules(tenant)
    close(tenant, ctas(tenant)[0].id)
    tenant = make_cockpit({"rules": [rule("Red", "health_red") | {"enabled": False}]})
    assert run_rules(tenant)["rules"] == []
    tenant = make_cockpit(config)
    assert run_rules(tenant)["opened"] == 1  # enabled again: starts afresh


def test_the_database_refuses_a_second_open_cta_for_one_occurrence(world):
    tenant, ids = world

    def add(**values):
        with tenant.transaction() as session:
            session.add(Cta(company_id=ids["Acme"], name="x", type="risk", rule_key="r", occurrence_key="company:1",
                            **values))

    add(status="closed_success", is_closed=True)
    add(status="closed_lost", is_closed=True)  # closed ones may repeat
    add()
    with pytest.raises(IntegrityError):
        add()


def test_a_stale_forecast_call_flags_a_renewal_until_a_fresh_call(world, make_cockpit, tether_clock):
    tenant, ids = world
    tenant = make_cockpit({"rules": [rule("Stale", "renewal_risk_flags", {"flags": ["stale_forecast"]})]})
    now = tether_clock.now()
    with tenant.transaction() as session:
        session.add(ForecastCall(opportunity_id=ids["renewal"], category="commit", called_by="ana",
                                 called_at=now - dt.timedelta(days=45)))
    run_rules(tenant)
    [cta] = ctas(tenant)
    assert cta.occurrence_key == f"opportunity:{ids['renewal']}" and "no recent forecast call" in cta.reason
    with tenant.transaction() as session:
        for call in session.scalars(select(ForecastCall)):
            call.is_current = False
        session.add(ForecastCall(opportunity_id=ids["renewal"], category="commit", called_by="ana", called_at=now))
    assert report_of(run_rules(tenant), "Stale")["ended"] == 1
