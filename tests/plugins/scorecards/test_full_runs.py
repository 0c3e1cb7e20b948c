"""What a full run does its own way at scale gives what the general path gives: the rollup from
the scores in memory, trends catching up in one statement, text conditions decided per value."""

from decimal import Decimal

import numpy as np
import pytest

from tether.core.store import Company
from tether.plugins.scorecards.runner import run_scoring
from tether.plugins.scorecards.schemes import Scheme
from tether.plugins.scorecards.scoring import condition_mask

from .conftest import add_companies, add_relationship, card
from .test_scoring import scores


@pytest.mark.parametrize("method, expected", [("average", 65.92), ("arr_weighted", 60.68)])
def test_a_partial_run_rolls_up_as_a_full_run_does(tenant_with, fixed, method, expected):
    tenant = tenant_with([card("Rel", entity="relationship"),
                          card("Co", measures=[{"key": "relationship_health"}])], relationship_rollup=method)
    ids = add_companies(tenant, [{"name": "X"}])
    rel = {name: add_relationship(tenant, ids["X"], name, arr=arr) for name, arr in (
        ("r1", Decimal("100.00")), ("r2", Decimal("300.00")), ("r3", Decimal("250.00")))}
    fixed.values["a"] = {rel["r1"]: 80, rel["r2"]: 40, rel["r3"]: 77.77}
    run_scoring(tenant)
    # average: (80 + 40 + 77.77) / 3 = 65.9233; ARR-weighted: (80·100 + 40·300 + 77.77·250) / 650 = 60.6808
    assert scores(tenant, "company", ids)["X"]["score"] == expected
    # average: (80 + 50 + 77.77) / 3 = 69.2567; ARR-weighted: (80·100 + 50·300 + 77.77·250) / 650 = 65.2962
    fixed.values["a"][rel["r2"]] = 50
    run_scoring(tenant, only={"relationship": [rel["r2"]]})   # reads the stored scores of X's relationships
    partial = scores(tenant, "company", ids)["X"]["score"]
    assert partial == {"average": 69.26, "arr_weighted": 65.3}[method]
    run_scoring(tenant)                                          # rolls up the scores it has just computed
    assert scores(tenant, "company", ids)["X"]["score"] == partial
    fixed.values["a"][rel["r2"]] = 20
    run_scoring(tenant)
    # average: (80 + 20 + 77.77) / 3 = 59.2567; ARR-weighted: (8000 + 6000 + 19442.5) / 650 = 51.45
    assert scores(tenant, "company", ids)["X"]["score"] == {"average": 59.26, "arr_weighted": 51.45}[method]


def test_after_a_change_scores_catch_up_their_trend_once_and_then_stay(tenant_with, fixed):
    tenant = tenant_with([card()])
    ids = add_companies(tenant, [{"name": n} for n in ("P", "Q", "R")])
    fixed.values["a"] = {ids["P"]: 80, ids["Q"]: 40}
    first = run_scoring(tenant)
    second = run_scoring(tenant)
    third = run_scoring(tenant)
    assert (first.written, second.written, third.written) == ({"company": 3}, {"company": 2}, {"company": 0})
    got = scores(tenant, "company", ids)
    assert [(got[n]["score"], got[n]["previous_score"], got[n]["trend"]) for n in "PQR"] == [
        (80.0, 80.0, "same"), (40.0, 40.0, "same"), (None, None, None)]
    fixed.values["a"][ids["Q"]] = 45
    assert run_scoring(tenant).written == {"company": 1}
    assert run_scoring(tenant).written == {"company": 1}      # Q's trend catches up
    got = scores(tenant, "company", ids)
    assert (got["Q"]["score"], got["Q"]["previous_score"], got["Q"]["trend"]) == (45.0, 45.0, "same")


def test_entities_trading_scores_are_both_rewritten(tenant_with, fixed):
    # A steady run compares sums over the stored digests: each digest must name its entity,
    # or P and Q swapping scores would leave the sums as they were and nothing would be written.
    tenant = tenant_with([card()])
    ids = add_companies(tenant, [{"name": n} for n in ("P", "Q", "R")])
    fixed.values["a"] = {ids["P"]: 80, ids["Q"]: 40, ids["R"]: 55}
    for _ in range(3):
        settled = run_scoring(tenant)
    assert settled.written == {"company": 0}
    fixed.values["a"] = {ids["P"]: 40, ids["Q"]: 80, ids["R"]: 55}
    assert run_scoring(tenant).written == {"company": 2}
    got = scores(tenant, "company", ids)
    assert [(got[n]["score"], got[n]["previous_score"], got[n]["trend"]) for n in "PQR"] == [
        (40.0, 80.0, "down"), (80.0, 40.0, "up"), (55.0, 55.0, "same")]


def test_a_run_after_a_few_changes_among_many_entities_writes_just_those(tenant_with, fixed):
    # Among 700 companies, one changes, a block of 256 is deleted and one is new: their digests
    # move the sums a steady run compares, and only those rows change.
    tenant = tenant_with([card()])
    ids = add_companies(tenant, [{"name": f"C{i}"} for i in range(700)])
    fixed.values["a"] = {company_id: 10 + number % 80 for number, company_id in enumerate(ids.values())}
    for _ in range(3):
        settled = run_scoring(tenant)
    assert settled.written == {"company": 0}
    first = min(ids.values())
    deleted = [i for i in ids.values() if first + 200 <= i < first + 456]
    fixed.values["a"][first] = 99
    with tenant.transaction() as session:
        for company_id in deleted:
            session.get(Company, company_id).is_deleted = True
    new = add_companies(tenant, [{"name": "Newcomer"}])["Newcomer"]
    fixed.values["a"][new] = 50
    before = scores(tenant, "company", list(ids.values()))
    assert run_scoring(tenant).written == {"company": 2}
    after = scores(tenant, "company", list(ids.values()) + [new])
    assert (after[first]["score"], after[first]["previous_score"], after[first]["trend"]) == (99.0, 10.0, "up")
    assert after[new]["score"] == 50.0 and not set(deleted) & set(after)
    untouched = [i for i in ids.values() if i != first and i not in deleted]

    def shown(health):  # computed_at reads the last full run's time, which confirmed the score
        return {key: value for key, value in health.items() if key != "computed_at"}

    assert all(shown(after[i]) == shown(before[i]) for i in untouched)


def test_renaming_a_range_rewrites_the_labels_at_the_next_run(tenant_with, fixed):
    def scheme(top):
        return {"type": "grade", "ranges": [{"to": 50, "label": "F"}, {"to": 100, "label": top}]}

    tenant = tenant_with([card(scheme=scheme("A"))])
    ids = add_companies(tenant, [{"name": "P"}])
    fixed.values["a"] = {ids["P"]: 80}
    run_scoring(tenant)
    run_scoring(tenant)
    tenant = tenant_with([card(scheme=scheme("Excellent"))])
    assert run_scoring(tenant).written == {"company": 1}
    assert scores(tenant, "company", ids)["P"]["label"] == "Excellent"


def test_conditions_on_text_values_fold_case_and_skip_missing_values():
    values = np.array(["Gold", "gold", None, float("nan"), "Silver", 5, "7"], dtype=object)
    scheme = Scheme.from_config(None)

    def holds(op, value=None):
        return condition_mask({"op": op, "value": value}, values, np.empty(0), scheme).tolist()

    assert holds("eq", "GOLD") == [True, True, False, False, False, False, False]
    assert holds("ne", "gold") == [False, False, False, False, True, True, True]
    assert holds("in", ["silver", 5]) == [False, False, False, False, True, True, False]
    assert holds("not_in", ["silver"]) == [True, True, False, False, False, True, True]
    assert holds("empty") == [False, False, True, True, False, False, False]
    assert holds("not_empty") == [True, True, False, False, True, True, True]
    assert holds("gt", 6) == [False, False, False, False, False, False, True]
    assert holds("lte", 5) == [False, False, False, False, False, True, False]
