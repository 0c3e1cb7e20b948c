"""GRR/NRR in both families equal the hand computations on the book in conftest.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tether.core.renewals import analytics
from tether.core.renewals.analytics import Selection
from tether.core.renewals.periods import FiscalCalendar
from tether.core.renewals.measures import MEASURES, Rollup

from .book import TODAY

K = Decimal(1000)


def _metrics(tenant, **selection):
    result = analytics.metrics(tenant, Selection.parse(**selection), today=TODAY)
    return result


def test_renewal_cohort_rates(book):
    [period] = _metrics(book, period="FY2025-Q1")["periods"]
    cohort = period["families"]["renewal_cohort"]
    assert "due for renewal" in cohort["label"]
    assert cohort["figures"]["renewals_due"] == 320 * K
    assert cohort["figures"]["won"] == 140 * K
    assert cohort["figures"]["net_renewed"] == 170 * K       # 160k final + 15k upsell - 5k downsell
    assert cohort["rates"]["grr"]["value"] == pytest.approx(140 / 320, abs=1e-6)
    assert cohort["rates"]["nrr"]["value"] == pytest.approx(170 / 320, abs=1e-6)
    assert cohort["rates"]["grr_forecast"]["value"] == pytest.approx(250 / 320, abs=1e-6)
    assert cohort["rates"]["grr"]["label"] == "GRR (renewal cohort)"


def test_arr_cohort_rates(book):
    [period] = _metrics(book, period="FY2025-Q1")["periods"]
    cohort = period["families"]["arr_cohort"]
    figures = cohort["figures"]
    # In force at 2025-01-01: every renewal due within 12 months: R1..R6 (320k) + R7 60k + R8 10k.
    assert figures["arr_start"] == 390 * K
    assert figures["arr_churn"] == 30 * K
    assert figures["arr_contraction"] == 15 * K     # R2 10k below target + D1 5k
    assert figures["arr_expansion"] == 35 * K       # R1 20k above target + U1 15k
    assert figures["arr_undecided"] == 140 * K      # R4, R5, R6 still open
    assert cohort["rates"]["arr_grr"]["value"] == pytest.approx(345 / 390, abs=1e-6)
    assert cohort["rates"]["arr_nrr"]["value"] == pytest.approx(380 / 390, abs=1e-6)
    assert cohort["rates"]["arr_nrr"]["label"] == "NRR (ARR cohort)"


def test_worked_example_from_the_reference():
    """Start 10.0M, contraction 0.6M, churn 0.9M, expansion 1.8M: GRR 85 %, NRR 103 %."""
    calendar = FiscalCalendar()
    period = calendar.parse("FY2025-Q1", TODAY)
    rollup = Rollup({"high": [], "medium": [], "low": []}, 12)
    zeros = [0.0] * 11

    def sums(**values):
        row = list(zeros)
        for name, value in values.items():
            row[["n", "n_forecast", "target", "forecast", "final", "final_capped", "forecast_capped", "expected",
                 "expected_capped", "call_capped", "n_called"].index(name)] = value * 100
        return row

    month = period.first_month
    rollup.add(month, None, "renewal", "lost", "omitted", sums(target=900_000))
    # 3.6M renewed at 3.0M (0.6M contraction); 1.0M renewed at 2.8M (1.8M expansion); 4.5M due later
    rollup.add(month, None, "renewal", "won", "closed", sums(target=3_600_000, final=3_000_000, final_capped=3_000_000))
    rollup.add(month, None, "renewal", "won", "closed", sums(target=1_000_000, final=2_800_000, final_capped=1_000_000))
    rollup.add(month + 6, None, "renewal", "open", "commit", sums(target=4_500_000))
    assert rollup.value("arr_start", period) == Decimal("10000000.00")
    assert rollup.value("arr_grr", period) == pytest.approx(0.85, abs=1e-6)
    assert rollup.value("arr_nrr", period) == pytest.approx(1.03, abs=1e-6)


def test_nothing_due_says_so_instead_of_dividing_by_zero(book):
    [period] = _metrics(book, period="FY2024-Q3")["periods"]
    rate = period["families"]["renewal_cohort"]["rates"]["grr"]
    assert rate["value"] is None and rate["note"] == "nothing was due for renewal in this period"
    # ...while contracts due within a year of 2024-07-01 were in force: kept in full
    assert period["families"]["arr_cohort"]["rates"]["arr_nrr"]["value"] == 1.0
    [period] = _metrics(book, period="FY2023-Q1")["periods"]
    assert period["families"]["arr_cohort"]["rates"]["arr_nrr"]["value"] is None
    assert "no contract" in period["families"]["arr_cohort"]["rates"]["arr_nrr"]["note"]


def test_rates_by_dimension(book):
    [period] = _metrics(book, period="FY2025-Q1", dimension="segment")["periods"]
    groups = {g["group"]: g["families"]["renewal_cohort"]["rates"] for g in period["groups"]}
    assert groups["Enterprise"]["grr"]["value"] == pytest.approx(140 / 170, abs=1e-6)
    assert groups["SMB"]["grr"]["value"] == 0
    assert groups["SMB"]["nrr"]["value"] == pytest.approx(-5 / 150, abs=1e-6)   # nothing renewed, 5k downsold
    # the breakdown's total is the undivided figure
    assert period["families"]["renewal_cohort"]["rates"]["grr"]["value"] == pytest.approx(140 / 320, abs=1e-6)


def test_every_rate_has_parts_and_says_why_when_empty():
    ratios = [m for m in MEASURES.values() if m.unit == "ratio"]
    assert {m.key for m in ratios} == {"grr", "nrr", "grr_forecast", "arr_grr", "arr_nrr"}
    for ratio in ratios:
        assert ratio.numerator in MEASURES and ratio.denominator in MEASURES and ratio.empty_note
