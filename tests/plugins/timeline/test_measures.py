"""What the timeline tells Scorecards and the Renewal Center, computed per batch."""

import datetime as dt

from tether.core.store.types import utcnow
from tether.plugins.timeline import measures
from tether.plugins.timeline.models import ActivityRecord


def add_activity(tenant, days_ago, **context):
    with tenant.transaction() as session:
        session.add(ActivityRecord(type="Call", subject="s", author="csm@acme.example",
                                   occurred_at=utcnow() - dt.timedelta(days=days_ago), **context))


def test_days_since_last_activity_and_recent_counts_per_company_and_relationship(world):
    tenant, ids = world
    add_activity(tenant, 3, company_id=ids["Acme"], relationship_id=ids["rel"])
    add_activity(tenant, 10, company_id=ids["Acme"])
    add_activity(tenant, 200, company_id=ids["Globex"])
    companies = [ids["Acme"], ids["Globex"]]
    days = measures.days_since_last_activity(tenant, "company", companies)
    assert round(days[ids["Acme"]]) == 3 and round(days[ids["Globex"]]) == 200
    assert measures.activities_last_90_days(tenant, "company", companies) == {ids["Acme"]: 2, ids["Globex"]: 0}
    rel_days = measures.days_since_last_activity(tenant, "relationship", [ids["rel"], ids["project"]])
    assert set(rel_days) == {ids["rel"]}  # no activity at all: N/A, not zero days
    assert {m.key for m in tenant.hooks.tether_health_measures()[0]} == {
        "days_since_last_activity", "activities_last_90_days"}


def test_renewal_features_follow_the_opportunity_to_its_relationship_or_company(world):
    tenant, ids = world
    add_activity(tenant, 3, company_id=ids["Acme"], relationship_id=ids["rel"])
    add_activity(tenant, 1, company_id=ids["Acme"])
    features = tenant.hooks.tether_renewal_features(opportunity_ids=[ids["opp"], ids["globex_opp"]])[0]
    days = features.columns["days_since_last_activity"]
    assert round(days[0]) == 3  # the opportunity's relationship, not the busier company
    assert days[1] is None
    assert features.columns["activities_last_90_days"] == [1.0, 0.0]


def test_hidden_and_planned_activities_do_not_count_when_every_entity_is_asked(world):
    tenant, ids = world
    add_activity(tenant, 10, company_id=ids["Acme"], relationship_id=ids["rel"])
    add_activity(tenant, 2, company_id=ids["Acme"], relationship_id=ids["rel"])
    add_activity(tenant, 1, company_id=ids["Globex"])
    add_activity(tenant, -5, company_id=ids["Acme"])               # planned, not done
    with tenant.transaction() as session:
        for activity in session.query(ActivityRecord).all():
            if round((utcnow() - activity.occurred_at).total_seconds() / 86400) in (1, 2):
                activity.is_deleted = True                         # deleted at the source
    many = [ids["Acme"], ids["Globex"]] + list(range(10**9, 10**9 + measures.IN_LIST_LIMIT))
    days = measures.days_since_last_activity(tenant, "company", many)
    assert set(days) == {ids["Acme"]} and round(days[ids["Acme"]]) == 10
    assert measures.activities_last_90_days(tenant, "company", many)[ids["Acme"]] == 1
    rels = [ids["rel"]] + list(range(10**9, 10**9 + measures.IN_LIST_LIMIT))
    assert round(measures.days_since_last_activity(tenant, "relationship", rels)[ids["rel"]]) == 10
