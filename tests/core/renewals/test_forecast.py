"""Forecast figures equal the ones computed by hand from the book in conftest.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tether.core.errors import InvalidFields
from tether.core.renewals import analytics
from tether.core.renewals.analytics import Selection
from tether.core.renewals.calls import record_call
from tether.core.renewals.config import update_config

from .book import TODAY

K = Decimal(1000)


def _q1(tenant, **selection):
    result = analytics.forecast(tenant, Selection.parse(period="FY2025-Q1", **selection), today=TODAY)
    [period] = result["periods"]
    return result, period


def test_quarter_forecast_matches_hand_computation(book):
    result, period = _q1(book)
    figures = period["figures"]
    assert period["period"] == {"label": "FY2025-Q1", "grain": "quarter", "start": "2025-01-01", "end": "2025-03-31"}
    assert result["basis"] == "ARR" and result["currency"] == "USD"
    assert figures["due"] == {"count": 6, "amount": 320 * K}
    assert figures["won"] == {"count": 2, "amount": 140 * K, "final_amount": 160 * K}
    assert figures["lost"] == {"count": 1, "amount": 30 * K}
    assert figures["open"] == {"count": 3, "amount": 140 * K, "forecast": 110 * K, "missing_forecast": 1,
                               "called": 0, "expected": 66 * K}
    # 140k won (capped) + 110k open (capped) - 5k won downsell - 8k open downsell
    assert figures["renewal_forecast"] == 237 * K
    assert figures["scenarios"] == {"high": 237 * K, "medium": 237 * K, "low": 207 * K,
                                    "crm_probability": 191 * K}
    assert figures["rep_call_forecast"] == 237 * K   # no calls yet: same as the renewal forecast
    assert figures["upsell"] == 35 * K               # R1 20k over target + U1 15k
    assert figures["downsell"] == 15 * K             # R2 10k under target + D1 5k


def test_forecast_calls_override_category_and_add_called_amount(book):
    record_call(book, book.ids["R6"], category="commit", amount=Decimal("35000"), comment="verbal yes", by="ana")
    _, period = _q1(book)
    figures = period["figures"]
    assert figures["scenarios"]["low"] == 237 * K            # R6 moved from best case into commit
    assert figures["scenarios"]["high"] == 237 * K
    assert figures["renewal_forecast"] == 237 * K           # the opportunity's own forecast is unchanged
    assert figures["rep_call_forecast"] == 242 * K          # R6 counts at min(35k call, 40k target)
    assert figures["open"]["called"] == 1
    # A newer call replaces the older one; figures follow the current call only.
    record_call(book, book.ids["R6"], category="pipeline", amount=None, comment=None, by="ana")
    _, period = _q1(book)
    assert period["figures"]["scenarios"]["medium"] == 207 * K
    assert period["figures"]["rep_call_forecast"] == 237 * K   # no amount in the call: its forecast counts


def test_admin_scenarios_change_the_scenario_figures(book):
    update_config(book, {"scenarios": {"high": ["closed", "commit", "best_case", "pipeline"],
                                       "medium": ["closed", "commit"], "low": ["closed"]}}, by="admin")
    _, period = _q1(book)
    # low: only closed ones: 140k won - 5k won downsell
    assert period["figures"]["scenarios"]["low"] == 135 * K
    assert period["figures"]["scenarios"]["medium"] == 207 * K


def test_breakdown_by_owner_and_segment_adds_up(book):
    result, period = _q1(book, dimension="owner")
    groups = {g["group"]: g["figures"] for g in period["groups"]}
    assert set(groups) == {"ana", "bob"}
    assert groups["ana"]["due"]["amount"] == 170 * K
    assert groups["bob"]["due"]["amount"] == 150 * K
    assert groups["ana"]["renewal_forecast"] + groups["bob"]["renewal_forecast"] == period["figures"]["renewal_forecast"]
    _, by_segment = _q1(book, dimension="segment")
    segments = {g["group"]: g["figures"] for g in by_segment["groups"]}
    assert segments["Enterprise"]["won"]["amount"] == 140 * K
    assert segments["SMB"]["lost"]["amount"] == 30 * K
    _, by_region = _q1(book, dimension="company.attr.region")
    assert {g["group"] for g in by_region["groups"]} == {"EMEA", "AMER"}


def test_filters_restrict_the_figures(book):
    _, period = _q1(book, filters=[{"field": "segment", "op": "eq", "value": "SMB"}])
    assert period["figures"]["due"]["amount"] == 150 * K
    _, period = _q1(book, filters=[{"field": "forecast_category", "op": "in", "values": ["commit", "Best Case"]}])
    assert period["figures"]["open"]["count"] == 2
    _, period = _q1(book, filters=[{"field": "target_amount", "op": "gte", "value": "50000"}])
    assert period["figures"]["due"] == {"count": 3, "amount": 230 * K}


def test_series_and_fiscal_years(book):
    result = analytics.forecast(book, Selection.parse(period="current_quarter", after=1), today=TODAY)
    assert [p["period"]["label"] for p in result["periods"]] == ["FY2025-Q1", "FY2025-Q2"]
    assert result["periods"][1]["figures"]["due"]["amount"] == 60 * K
    update = analytics.forecast(book, Selection.parse(period="all", grain="fiscal_year"), today=TODAY)
    assert [p["period"]["label"] for p in update["periods"]] == ["FY2025", "FY2026"]
    assert update["periods"][0]["figures"]["due"]["amount"] == 390 * K


def test_fiscal_year_start_month_moves_quarters(make_tenant):
    from .book import add_opportunities, renewal

    tenant = make_tenant("fy", settings={"fiscal_year_start_month": 2})
    add_opportunities(tenant, renewal("Jan", None, 10, dt.date(2025, 1, 31)),
                      renewal("Feb", None, 20, dt.date(2025, 2, 1)))
    result = analytics.forecast(tenant, Selection.parse(period="FY2026-Q1"), today=TODAY)
    [period] = result["periods"]
    assert period["period"]["start"] == "2025-02-01" and period["period"]["end"] == "2025-04-30"
    assert period["figures"]["due"]["amount"] == Decimal("20.00")


def test_bad_requests_name_what_is_wrong(book):
    with pytest.raises(InvalidFields) as caught:
        Selection.parse(period="all", dimension="nonsense",
                        filters=[{"field": "segment", "op": "gte", "value": 1}, {"field": "x", "op": "eq"}])
    assert set(caught.value.errors) == {"grain", "dimension", "filters[0].op", "filters[1].field"}
    with pytest.raises(Exception) as caught:
        analytics.forecast(book, Selection.parse(period="2025-13"), today=TODAY)
    assert "month 13" in str(caught.value)


def test_a_range_of_periods_and_one_rollup_for_everything(book):
    result = analytics.figures(book, Selection.parse(period="FY2025-Q1..FY2025-Q2"), today=TODAY)
    [forecast] = result["forecast"]
    assert forecast["period"]["label"] == "FY2025-Q1..FY2025-Q2"
    assert forecast["figures"]["due"]["amount"] == 380 * K
    [metrics] = result["metrics"]
    assert metrics["families"]["renewal_cohort"]["figures"]["renewals_due"] == 380 * K
    with pytest.raises(Exception) as caught:
        analytics.forecast(book, Selection.parse(period="FY2025..FY2024"), today=TODAY)
    assert "ends before it starts" in str(caught.value)
