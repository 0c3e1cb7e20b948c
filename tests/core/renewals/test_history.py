"""Customer history features of renewals: hand-computed, and the same whichever way they are read."""

from __future__ import annotations

import datetime as dt
import gc
import json

import numpy as np
import pytest

from tether.core.renewals import history
from tether.core.renewals.features import load_renewals
from tether.core.renewals.risk_model import _json_numbers, train
from tether.core.renewals.sqlparts import collector_paused
from tether.core.store.models import Opportunity

from .book import add_companies, add_opportunities, renewal

D = dt.date


def _book(tenant):
    companies = add_companies(tenant, {"name": "A"}, {"name": "B"}, {"name": "C"})
    a, b, c = companies["A"], companies["B"], companies["C"]
    ids = add_opportunities(
        tenant,
        # A: two closed renewals (one lost), then two open ones.
        renewal("a1", a, 100, D(2023, 1, 1), status="won", final=100),
        renewal("a2", a, 200, D(2024, 1, 1), status="lost", final=0, booking="churn"),
        renewal("a3", a, 300, D(2025, 3, 1)),
        renewal("a4", a, 150, D(2025, 6, 1)),
        # Not history: deleted, and not a renewal.
        renewal("a0", a, 999, D(2024, 6, 1), status="lost", final=0, is_deleted=True),
        renewal("ax", a, 999, D(2024, 7, 1), status="lost", final=0, booking="new_business"),
        # B: an overdue open renewal, then a closed one won below target, then another open one.
        renewal("b1", b, 100, D(2024, 6, 1)),
        renewal("b2", b, 100, D(2024, 9, 1), status="won", final=80),
        renewal("b3", b, 120, D(2025, 3, 1)),
        # C: two closed renewals due the same day; the later id is the previous one.
        renewal("c1", c, 100, D(2024, 1, 1), status="won", final=100),
        renewal("c2", c, 400, D(2024, 1, 1), status="won", final=400),
        renewal("c3", c, 200, D(2025, 1, 1)),
        # No company: its own customer, without history.
        renewal("n1", None, 500, D(2025, 2, 1)),
    )
    return ids


EXPECTED = {   # name: (first_renewal, prior_shortfalls, target_change)
    "a3": (0.0, 1.0, 0.5),      # after a1 and a2 (lost); 300 vs 200
    "a4": (0.0, 1.0, -0.5),     # after a1, a2, a3; 150 vs 300
    "b1": (1.0, 0.0, 0.0),      # nothing before it
    "b3": (0.0, 1.0, 0.2),      # after b1 and b2 (won 80 of 100); 120 vs 100
    "c3": (0.0, 0.0, -0.5),     # after c1 and c2 (same day, c2 later); 200 vs 400
    "n1": (1.0, 0.0, 0.0),
}


def _features(tenant, ids):
    with tenant.session() as session:
        rows = load_renewals(session, tenant.id, closed=False)
    by_id = {int(i): n for n, i in ids.items()}
    names = [by_id[int(i)] for i in rows.ids]
    return {name: tuple(round(float(rows.core[f][k]), 6) for f in ("first_renewal", "prior_shortfalls", "target_change"))
            for k, name in enumerate(names)}


def _full_read(tenant):
    """Every renewal read and compared in one pass (the training path)."""
    with tenant.session() as session:
        table = history.read_renewals(session, [history.select(*history.renewal_columns())
                                                .where(*history.live_renewals(tenant.id))])
    full = table.history()
    return {int(i): (full["prior_count"][k], full["prior_shortfalls"][k], full["target_change"][k])
            for k, i in enumerate(table.ids) if not table.is_closed[k]}


def test_open_renewals_are_compared_with_their_customers_earlier_renewals(make_tenant):
    tenant = make_tenant("acme")
    ids = _book(tenant)
    got = _features(tenant, ids)
    assert got == EXPECTED
    with tenant.session() as session:
        found = history.open_renewal_history(session, tenant.id)
    quick = {int(i): (found.prior_count[k], found.prior_shortfalls[k], found.target_change[k])
             for k, i in enumerate(found.ids)}
    assert quick == _full_read(tenant)
    assert quick[ids["a4"]][0] == 3 and quick[ids["b3"]][0] == 2


def test_ids_too_large_for_a_history_place_fall_back_to_reading_every_renewal(make_tenant):
    tenant = make_tenant("acme")
    ids = _book(tenant)
    with tenant.transaction() as session:
        big = Opportunity(id=history.PLACE_SHIFT + 5, **renewal("n2", None, 10, D(2025, 2, 2)))
        session.add(big)
    got = _features(tenant, {**ids, "n2": history.PLACE_SHIFT + 5})
    assert got == {**EXPECTED, "n2": (1.0, 0.0, 0.0)}


def test_factor_texts_are_the_json_of_the_factor_lists():
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.normal(0, 1, 400), rng.integers(0, 2, 400).astype(float), rng.normal(5, 2, 400)])
    x[rng.random(400) < 0.1, 2] = np.nan
    y = (rng.random(400) < 1 / (1 + np.exp(-(x[:, 0] - x[:, 1])))).astype(float)
    model = train(x, y, ["a", "b", "c"], {})
    scaler = model.estimator.calibrated_classifiers_[0].estimator.named_steps["scale"]
    x[:50, 0] = scaler.mean_[0]    # exactly average: no contribution, left out of the factors
    likelihoods = model.likelihood(x)
    contributions = model.contributions(x)
    lists = model.top_factors(x, contributions, likelihoods, top=5)
    texts = model.top_factors_json(x, contributions, likelihoods, top=5)
    assert [json.loads(text) for text in texts] == lists
    assert texts == [json.dumps(row, separators=(",", ":")) for row in lists]
    assert any(len(row) < 3 for row in lists)


@pytest.mark.parametrize("places", [None, 4])
def test_numbers_are_written_as_json_writes_them(places):
    values = np.array([0.0, -0.0, 1.0, -1.5, 0.1234, -0.0001, 12.608243271071641, np.nan, np.inf, 1e300, 5e-324])
    if places:
        values = np.round(values, places)
    assert _json_numbers(values, places).tolist() == [json.dumps(None if v != v else v) for v in values.tolist()]


def test_the_collector_pause_nests_and_leaves_the_collector_as_it_found_it():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
