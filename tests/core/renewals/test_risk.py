"""Risk: rules, the model on a synthetic book with known drivers, and too little history."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest

from tether.core.renewals.analytics import Selection
from tether.core.renewals.config import RenewalConfig
from tether.core.renewals.risk import opportunity_risk, risk_list
from tether.core.renewals.risk_rules import RenewalFacts, evaluate, update_needed
from tether.core.renewals.scoring import get_version, list_versions, train_and_score

from .book import TODAY, add_companies, add_opportunities, renewal
from .plugins import FixedHealth, PlantedFeatures, tenant_with

D = dt.date


def _facts(**overrides) -> RenewalFacts:
    base = dict(opportunity_id=1, target=Decimal("100000"), forecast=Decimal("100000"), due_date=D(2025, 3, 1),
                close_date=D(2025, 2, 20), call_at=dt.datetime(2025, 2, 10, tzinfo=dt.timezone.utc))
    base.update(overrides)
    return RenewalFacts(**base)


def test_each_rule_fires_on_its_condition_and_only_then():
    config = RenewalConfig()
    assert evaluate(_facts(), config, TODAY) == []
    codes = lambda **kw: [f.code for f in evaluate(_facts(**kw), config, TODAY)]  # noqa: E731
    assert codes(forecast=None) == ["missing_forecast"]
    [flag] = evaluate(_facts(forecast=Decimal("80000")), config, TODAY)
    assert flag.code == "forecast_below_target" and "20% below target 100,000.00" in flag.detail
    assert codes(close_date=D(2025, 3, 10)) == ["close_after_due"]
    assert codes(call_at=None) == ["stale_forecast"]
    assert codes(call_at=dt.datetime(2024, 12, 1, tzinfo=dt.timezone.utc)) == ["stale_forecast"]
    assert codes(call_at=None, due_date=D(2026, 1, 1), close_date=None) == []   # beyond the horizon
    assert codes(health_color="Red", health_score=31.0, has_health_source=True) == ["red_health"]
    assert codes(health_score=42.0, has_health_source=True) == ["red_health"]      # no colour: threshold
    assert codes(health_score=80.0, health_color="green", has_health_source=True) == []
    assert codes(days_since_activity=45.0, has_activity_source=True) == ["no_activity"]
    assert codes(days_since_activity=None, has_activity_source=True) == ["no_activity"]
    assert codes(days_since_activity=None, has_activity_source=False) == []
    assert codes(likelihood=0.3) == ["low_likelihood"]


def test_update_needed_flags():
    config = RenewalConfig()
    needed = update_needed(is_open=True, forecast=None, close_date=D(2025, 2, 1), due_date=D(2025, 3, 1),
                           call_at=None, config=config, today=TODAY)
    assert needed == ["forecast_amount", "close_date", "forecast_call"]
    assert update_needed(is_open=False, forecast=None, close_date=None, due_date=None, call_at=None,
                         config=config, today=TODAY) == []


def _synthetic_book(tenant, plugin, *, closed: int, open_: int, seed: int = 7):
    """Renewals whose outcome depends on engagement (+) and support escalations (−) only."""
    rng = np.random.default_rng(seed)
    total = closed + open_
    companies = add_companies(tenant, *[{"name": f"C{i}"} for i in range(total)])
    engagement = rng.uniform(0, 100, total)
    escalations = rng.poisson(1.5, total).astype(float)
    noise = rng.normal(0, 1, total)
    logit = 0.08 * (engagement - 50) - 0.9 * (escalations - 1.5) + 1.0
    renewed = rng.random(total) < 1 / (1 + np.exp(-logit))
    rows = []
    for i in range(total):
        due = D(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 700)))
        target = int(rng.integers(10, 200)) * 1000
        if i < closed:
            status = "won" if renewed[i] else "lost"
            rows.append(renewal(f"o{i}", companies[f"C{i}"], target, due, status=status,
                                final=target if renewed[i] else 0, probability=100 if renewed[i] else 0,
                                category="Closed" if renewed[i] else "Omitted",
                                close_date=due - dt.timedelta(days=int(rng.integers(0, 30)))))
        else:
            rows.append(renewal(f"o{i}", companies[f"C{i}"], target, D(2025, 3, 1) + dt.timedelta(days=i - closed),
                                forecast=target, probability=70, category="Commit", owner="ana"))
    ids = add_opportunities(tenant, *rows)
    for i in range(total):
        plugin.values[ids[f"o{i}"]] = {"engagement": float(engagement[i]), "support_escalations": float(escalations[i]),
                                       "noise_signal": float(noise[i])}
    return ids, engagement, escalations


@pytest.mark.slow
def test_model_beats_baseline_and_ranks_planted_drivers_first(tether_store):
    plugin = PlantedFeatures()
    tenant = tenant_with(tether_store, plugin)
    ids, engagement, escalations = _synthetic_book(tenant, plugin, closed=700, open_=40)
    result = train_and_score(tenant, today=TODAY)
    version = result["version"]
    assert version["status"] == "trained" and version["is_active"] and version["version"] == 1
    metrics = version["metrics"]
    assert metrics["roc_auc"] > 0.75
    assert metrics["brier"] < metrics["baseline"]["brier"]
    assert metrics["pr_auc"] > metrics["baseline"]["pr_auc"]
    assert metrics["log_loss"] < metrics["baseline"]["log_loss"]
    ranked = [item["feature"] for item in version["importance"]]
    assert set(ranked[:2]) == {"engagement", "support_escalations"}
    directions = {item["feature"]: item["direction"] for item in version["importance"]}
    assert directions["engagement"] == "higher raises likelihood"
    assert directions["support_escalations"] == "higher lowers likelihood"
    # The hook is called once per run with every opportunity, not per record.
    assert plugin.calls == [700, 40]
    assert result["scored"] == {"scored": 40, "model_version": 1}

    detail = get_version(tenant, 1)
    coefficients = detail["coefficients"]
    assert len(coefficients["weights"]) == len(coefficients["columns"])

    risky = risk_list(tenant, Selection.parse(period="current_quarter", after=3), limit=40, today=TODAY)
    assert risky["model"]["status"] == "trained" and risky["open_renewals"] == 40
    likelihoods = [item["likelihood"] for item in risky["items"]]
    assert likelihoods == sorted(likelihoods)
    riskiest = risky["items"][0]
    index = int(riskiest["name"][1:])
    # The riskiest renewal's strongest factor is a planted driver, pointing the right way.
    top = riskiest["factors"][0]
    assert top["feature"] in {"engagement", "support_escalations"}
    assert top["direction"] == "lowers" and top["contribution"] < 0 and top["effect"] < 0
    value = engagement[index] if top["feature"] == "engagement" else escalations[index]
    assert top["value"] == pytest.approx(value, abs=1e-3)
    low = [item for item in risky["items"] if item["likelihood"] < 0.5]
    assert all("low_likelihood" in [f["code"] for f in item["flags"]] for item in low)

    train_and_score(tenant, today=TODAY)
    versions = list_versions(tenant)
    assert [(v["version"], v["is_active"]) for v in versions] == [(2, True), (1, False)]


def test_too_little_history_gives_rules_only(tether_store):
    plugin = PlantedFeatures()
    tenant = tenant_with(tether_store, plugin)
    companies = add_companies(tenant, {"name": "Solo"})
    rows = [renewal(f"c{i}", companies["Solo"], 1000, D(2024, 1 + i % 12, 1), status="won" if i < 10 else "lost",
                    final=1000 if i < 10 else 0) for i in range(12)]
    rows.append(renewal("open", companies["Solo"], 5000, D(2025, 3, 1), forecast=None))
    ids = add_opportunities(tenant, *rows)
    result = train_and_score(tenant, today=TODAY)
    assert result["version"]["status"] == "insufficient_data"
    assert result["version"]["message"] == (
        "too little renewal history to train a risk model: 12 closed renewals (needs 40), "
        "2 lost or downsold to nothing (needs 10); risk shows rule flags only until there is more")
    assert result["scored"]["scored"] == 0
    risky = risk_list(tenant, Selection.parse(period="current_quarter"), today=TODAY)
    assert risky["model"]["status"] == "insufficient_data"
    assert "rule flags only" in risky["model"]["message"]
    assert risky["inactive_rules"]["low_likelihood"] == "no trained risk model yet"
    [item] = risky["items"]
    assert item["likelihood"] is None and item["factors"] == []
    assert [f["code"] for f in item["flags"]] == ["missing_forecast", "stale_forecast"]
    single = opportunity_risk(tenant, ids["open"], today=TODAY)
    assert single["flags"] == item["flags"]


def test_health_and_activity_come_from_plugins_when_enabled(tether_store):
    health = FixedHealth()
    activity = PlantedFeatures("activity")
    tenant = tenant_with(tether_store, health, activity)
    companies = add_companies(tenant, {"name": "Red"}, {"name": "Green"})
    health.health = {companies["Red"]: {"score": 28.0, "color": "red"},
                     companies["Green"]: {"score": 91.0, "color": "green"}}
    ids = add_opportunities(
        tenant,
        renewal("red", companies["Red"], 1000, D(2025, 3, 1), forecast=1000, close_date=D(2025, 2, 28)),
        renewal("green", companies["Green"], 1000, D(2025, 3, 1), forecast=1000, close_date=D(2025, 2, 28)))
    activity.values = {ids["red"]: {"days_since_last_activity": 75.0}, ids["green"]: {"days_since_last_activity": 3.0}}
    risky = risk_list(tenant, Selection.parse(period="current_quarter"), today=TODAY)
    flags = {item["name"]: [f["code"] for f in item["flags"]] for item in risky["items"]}
    assert flags == {"red": ["stale_forecast", "red_health", "no_activity"], "green": ["stale_forecast"]}
    assert "red_health" not in risky["inactive_rules"] and "no_activity" not in risky["inactive_rules"]
    assert risky["items"][0]["name"] == "red"   # most flags first while no model is trained
    assert not math.isnan(risky["items"][0]["health"]["score"])
