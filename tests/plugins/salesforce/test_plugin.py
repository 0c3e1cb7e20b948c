"""The plugin's hooks: config checks, secrets, stages, the relationship rule."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tether.core.errors import ManifestError
from tether.core.store.models import Opportunity, Relationship
from tether.core.sync.engine import sync_tenant
from tether.plugins.salesforce.stages import fill_from_stages, normalise_forecast_categories, parse_stages
from tether.testing.fake_salesforce.org import DEFAULT_PASSWORD, DEFAULT_TOKEN

from .fake_org_setup import LOOKBACK, fake_clock, fake_org, fast_options, sf_tenant  # noqa: F401


@pytest.mark.parametrize("config, path, message", [
    ({"api_version": "48.0"}, "plugins[0].config.api_version", "retired or near retirement"),
    ({"quota_share_per_run": 1.5}, "plugins[0].config.quota_share_per_run", "not a share between 0 and 1"),
    ({"relationship_type": "Product Line"}, "plugins[0].config.relationship_name_field", "give both"),
    ({"booking_type_rules": [{"booking_type": "debook", "when": {"Type": ["x"]}}]},
     "plugins[0].config.booking_type_rules[0].booking_type", "'debook' is not one of"),
])
def test_bad_config_is_refused_with_its_path(sf_tenant, config, path, message):
    with pytest.raises(ManifestError) as refused:
        sf_tenant(**config)
    assert any(message in m for m in refused.value.errors[path])


def test_secrets_can_come_from_files(fake_org, sf_tenant, tmp_path):
    (tmp_path / "password").write_text(DEFAULT_PASSWORD + "\n")
    (tmp_path / "token").write_text(DEFAULT_TOKEN)
    tenant = sf_tenant(password={"$file": str(tmp_path / "password")},
                       security_token={"$file": str(tmp_path / "token")})
    fake_org.insert("Account", {"Name": "Filed Corp"})
    fake_org.clock.advance(LOOKBACK + 120)
    assert [r.status for r in sync_tenant(tenant, options=fast_options())] == ["success", "success"]


def test_opportunities_join_relationships_by_the_configured_rule(fake_org, sf_tenant):
    fake_org.add_custom_field("Opportunity", "Product_Line__c", "string")
    tenant = sf_tenant(relationship_type="Product Line", relationship_name_field="Product_Line__c",
                       relationship_types=[{"name": "Product Line"}])
    account = fake_org.insert("Account", {"Name": "Lines Inc."})
    for name, line in (("A", "Analytics"), ("B", "Analytics"), ("C", "Core"), ("D", None)):
        fake_org.insert("Opportunity", {"Name": name, "AccountId": account, "StageName": "Prospecting",
                                        "CloseDate": "2025-01-01", "Product_Line__c": line})
    fake_org.clock.advance(LOOKBACK + 120)
    sync_tenant(tenant, options=fast_options())
    with tenant.session() as session:
        relationships = {r.id: r.name for r in session.scalars(select(Relationship))}
        linked = {o.name: (relationships.get(o.relationship_id), o.attributes) for o in session.scalars(select(Opportunity))}
    assert sorted(relationships.values()) == ["Analytics", "Core"]
    assert linked["A"] == ("Analytics", {"product_line": "Analytics"})
    assert linked["B"][0] == "Analytics" and linked["C"][0] == "Core" and linked["D"] == (None, {"product_line": None})


def test_stage_table_fills_what_the_record_leaves_empty():
    stages = parse_stages([
        {"ApiName": "Negotiation/Review", "MasterLabel": "Negotiation/Review", "DefaultProbability": 90.0,
         "ForecastCategory": "Forecast", "ForecastCategoryName": "Commit", "IsClosed": False, "IsWon": False},
        {"ApiName": "Closed Won", "DefaultProbability": "100", "ForecastCategoryName": "Closed", "IsClosed": "true",
         "IsWon": "true"},
    ])
    records = [
        {"StageName": "Negotiation/Review", "Probability": None, "ForecastCategory": "", "IsClosed": None},
        {"StageName": "Negotiation/Review", "Probability": 35.0, "ForecastCategory": "BestCase"},
        {"StageName": "Closed Won", "IsWon": None},
        {"StageName": "Unknown", "Probability": None},
    ]
    fill_from_stages(records, stages)
    assert records[0] == {"StageName": "Negotiation/Review", "Probability": 90.0, "ForecastCategory": "commit",
                          "IsClosed": False}
    assert records[1]["Probability"] == 35.0 and records[1]["ForecastCategory"] == "BestCase"  # overrides kept
    assert records[2] == {"StageName": "Closed Won", "IsWon": True}
    assert records[3]["Probability"] is None
    mapped = [{"forecast_category": "Forecast"}, {"forecast_category": "Best Case"}, {"forecast_category": None}]
    normalise_forecast_categories(mapped)
    assert [m["forecast_category"] for m in mapped] == ["commit", "best_case", None]
