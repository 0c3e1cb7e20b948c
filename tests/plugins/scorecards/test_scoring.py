"""Scoring against hand-computed examples: weights, groups, N/A redistribution, scoring types,
exceptions, overrides, trends, rollups and scorecard assignment."""

from decimal import Decimal

import pytest

from tether.plugins.scorecards.health import entity_health, score_detail, set_override
from tether.plugins.scorecards.runner import run_scoring

from .conftest import add_companies, add_relationship, card

GROUPED = card(groups=[{"name": "Engagement", "weight": 60}], measures=[
    {"key": "a", "weight": 50, "group": "Engagement"},
    {"key": "b", "weight": 30, "group": "Engagement"},
    {"key": "c", "weight": 20},
])


def scores(tenant, kind, ids):
    health = entity_health(tenant, kind, list(ids.values()) if isinstance(ids, dict) else ids)
    return {name: health.get(i) for name, i in ids.items()} if isinstance(ids, dict) else health


def test_weighted_groups_and_na_redistribution_match_hand_computation(tenant_with, fixed):
    tenant = tenant_with([GROUPED])
    ids = add_companies(tenant, [{"name": n} for n in ("E1", "E2", "E3", "E4")])
    fixed.values["a"] = {ids["E1"]: 80}
    fixed.values["b"] = {ids["E1"]: 50, ids["E2"]: 50}
    fixed.values["c"] = {ids["E1"]: 100, ids["E2"]: 100, ids["E3"]: 100}
    report = run_scoring(tenant)
    got = scores(tenant, "company", ids)
    # E1: group = (80·50 + 50·30) / 80 = 68.75; overall = (68.75·60 + 100·20) / 80 = 76.5625
    assert got["E1"]["score"] == 76.56 and got["E1"]["label"] == "Green"
    # E2: a is N/A, its weight goes to b: group = 50; overall = (50·60 + 100·20) / 80 = 62.5
    assert got["E2"]["score"] == 62.5 and got["E2"]["label"] == "Yellow"
    # E3: the whole group is N/A, its weight goes to c: overall = 100
    assert got["E3"]["score"] == 100.0
    # E4: nothing measured: N/A, not 0
    assert got["E4"]["score"] is None and got["E4"]["label"] is None
    assert report.scored == {"company": 4} and report.not_applicable == {"company": 1}
    assert all(h["trend"] is None for h in got.values())

    fixed.values["a"][ids["E1"]] = 40  # group = 43.75; overall = (43.75·60 + 100·20) / 80 = 57.8125
    run_scoring(tenant)
    again = scores(tenant, "company", ids)
    assert (again["E1"]["score"], again["E1"]["previous_score"], again["E1"]["trend"]) == (57.81, 76.56, "down")
    assert (again["E2"]["trend"], again["E4"]["trend"]) == ("same", None)


def test_each_measure_is_computed_once_per_run_for_every_entity(tenant_with, fixed):
    tenant = tenant_with([GROUPED, card("Big", criteria=[{"field": "employees", "op": "gte", "value": 100}],
                                        default=False, measures=[{"key": "a"}, {"key": "c"}])])
    add_companies(tenant, [{"name": f"C{i}", "employees": i * 30} for i in range(8)])
    fixed.calls.clear()
    run_scoring(tenant)
    assert sorted(fixed.calls) == [("a", "company", 8), ("b", "company", 8), ("c", "company", 8)]


def test_scoring_types_and_exceptions(tenant_with, fixed):
    scorecard = card(measures=[
        {"key": "a", "weight": 1, "scoring": {"type": "linear", "worst": 0, "best": 10}},
        {"key": "b", "weight": 1, "scoring": {"type": "bands", "bands": [
            {"upto": 7, "score": 100}, {"upto": 30, "score": 60}, {"score": 20}]}},
        {"key": "tier", "weight": 2, "scoring": {"type": "choices", "scores": {"Gold": 100, "Silver": 50}}},
    ], exceptions=[
        {"name": "churning", "measure": "tier", "when": {"op": "eq", "value": "churning"}, "score": 5},
        {"name": "silent", "measure": "b", "when": {"on": "score", "op": "lte", "value": 20}, "score": 30},
        {"name": "red tier", "measure": "tier", "when": {"on": "label", "op": "eq", "value": "Red"}, "score": 40},
    ])
    tenant = tenant_with([scorecard])
    ids = add_companies(tenant, [{"name": n} for n in ("P", "Q", "R", "S", "T")])
    fixed.values["a"] = {ids["P"]: 7.5, ids["Q"]: -2, ids["R"]: 12, ids["S"]: 5, ids["T"]: 5}
    fixed.values["b"] = {ids["P"]: 30, ids["Q"]: 7, ids["R"]: 31, ids["S"]: 2, ids["T"]: 2}
    fixed.values["tier"] = {ids["P"]: "Gold", ids["Q"]: "gold", ids["R"]: "Gold", ids["S"]: "Churning",
                            ids["T"]: "Silver"}
    run_scoring(tenant)
    got = scores(tenant, "company", ids)
    # P: a 7.5 → 75, b 30 → 60 (upto is inclusive), Gold → 100: (75 + 60 + 2·100) / 4 = 83.75
    assert (got["P"]["score"], got["P"]["exception"]) == (83.75, None)
    # Q: a clipped to 0, b 7 → 100, "gold" → 100: (0 + 100 + 2·100) / 4 = 75 (Yellow: 75 is in 50–75)
    assert (got["Q"]["score"], got["Q"]["label"]) == (75.0, "Yellow")
    # R: b 31 → 20 makes "silent" hold: forced to 30
    assert (got["R"]["score"], got["R"]["exception"]) == (30.0, "silent")
    # S: the tier has no score (N/A) but its value matches "churning", listed first: 5
    assert (got["S"]["score"], got["S"]["exception"]) == (5.0, "churning")
    # T: Silver scores 50, which is Red in the scheme: (50 + 100 + 2·50) / 4 = 62.5 → forced to 40
    assert (got["T"]["score"], got["T"]["exception"]) == (40.0, "red tier")


def test_manual_overrides_hold_until_the_next_run(tenant_with, fixed, tether_store):
    tenant = tenant_with([GROUPED])
    ids = add_companies(tenant, [{"name": "E1"}, {"name": "E2"}])
    fixed.values["a"] = {ids["E1"]: 80, ids["E2"]: 80}
    fixed.values["b"] = {ids["E1"]: 50, ids["E2"]: 50}
    fixed.values["c"] = {ids["E1"]: 100, ids["E2"]: 100}
    run_scoring(tenant)
    set_override(tenant, "company", ids["E1"], measure="b", score=90, note="exec sponsor re-engaged", author="csm")
    # group = (80·50 + 90·30) / 80 = 83.75; overall = (83.75·60 + 100·20) / 80 = 87.8125
    got = scores(tenant, "company", ids)
    assert (got["E1"]["score"], got["E1"]["overridden"], got["E1"]["trend"]) == (87.81, True, "up")
    assert got["E2"]["score"] == 76.56
    set_override(tenant, "company", ids["E2"], measure=None, score=10, note="", author="csm")
    assert scores(tenant, "company", ids)["E2"]["score"] == 10.0
    detail = score_detail(tenant, "company", ids["E1"])
    assert [(m["key"], m["score"]) for m in detail["measures"]] == [("a", 80.0), ("b", 90.0), ("c", 100.0)]
    assert detail["groups"] == [{"name": "Engagement", "share": 75.0, "score": 83.75, "range": "Green"}]
    assert [o["measure"] for o in detail["overrides"]] == ["b"]

    report = run_scoring(tenant)
    back = scores(tenant, "company", ids)
    assert report.overrides_ended == 2
    assert (back["E1"]["score"], back["E1"]["overridden"]) == (76.56, False)
    assert (back["E2"]["score"], back["E2"]["overridden"]) == (76.56, False)
    assert score_detail(tenant, "company", ids["E1"])["overrides"] == []


@pytest.mark.parametrize("method, expected_x", [("average", 60.0), ("arr_weighted", 50.0)])
def test_relationship_scores_roll_up_to_their_company(tenant_with, fixed, method, expected_x):
    tenant = tenant_with([card("Rel", entity="relationship"),
                          card("Co", measures=[{"key": "relationship_health"}])], relationship_rollup=method)
    ids = add_companies(tenant, [{"name": "X"}, {"name": "Y"}, {"name": "Z"}])
    rel = {
        "r1": add_relationship(tenant, ids["X"], "r1", arr=Decimal("100.00")),
        "r2": add_relationship(tenant, ids["X"], "r2", arr=Decimal("300.00")),
        "r3": add_relationship(tenant, ids["X"], "r3"),
        "r4": add_relationship(tenant, ids["Y"], "r4"),
    }
    fixed.values["a"] = {rel["r1"]: 80, rel["r2"]: 40, rel["r4"]: 60}  # r3 is N/A and does not count
    run_scoring(tenant)
    got = scores(tenant, "company", ids)
    # average: X = (80 + 40) / 2 = 60; ARR-weighted: X = (80·100 + 40·300) / 400 = 50.
    assert got["X"]["score"] == expected_x
    assert got["Y"]["score"] == 60.0  # no ARR at all: the average, whatever the method
    assert got["Z"]["score"] is None  # no relationships: N/A
    assert scores(tenant, "relationship", rel)["r3"]["score"] is None


def test_every_entity_gets_exactly_one_scorecard_by_criteria_and_priority(tenant_with, fixed):
    tenant = tenant_with([
        card("Default"),
        card("Enterprise", default=False, priority=1, criteria=[{"field": "segment", "op": "eq", "value": "enterprise"}]),
        card("Big ARR", default=False, priority=2, criteria=[{"field": "arr", "op": "gte", "value": 1000}]),
        card("EMEA SMB", default=False, priority=3, criteria=[{"field": "attributes.region", "op": "in",
                                                               "value": ["EMEA"]},
                                                              {"field": "segment", "op": "eq", "value": "SMB"}]),
    ])
    ids = add_companies(tenant, [
        {"name": "E", "segment": "Enterprise", "arr": Decimal("5000")},
        {"name": "F", "arr": Decimal("2000")},
        {"name": "G", "segment": "SMB", "attributes": {"region": "EMEA"}},
        {"name": "H", "segment": "SMB", "attributes": {"region": "AMER"}},
    ])
    report = run_scoring(tenant)
    got = scores(tenant, "company", ids)
    assert {name: h["scorecard"] for name, h in got.items()} == {
        "E": "Enterprise", "F": "Big ARR", "G": "EMEA SMB", "H": "Default"}
    assert sum(report.by_scorecard.values()) == 4


def test_a_grade_scheme_labels_boundaries_as_gainsight_does(tenant_with, fixed):
    scheme = {"type": "grade", "ranges": [{"to": 50, "label": "F"}, {"to": 75, "label": "C"}, {"to": 100, "label": "A"}]}
    tenant = tenant_with([card(scheme=scheme)])
    ids = add_companies(tenant, [{"name": n} for n in ("zero", "fifty", "just over", "seventy-five", "top")])
    fixed.values["a"] = {ids["zero"]: 0, ids["fifty"]: 50, ids["just over"]: 50.01, ids["seventy-five"]: 75,
                         ids["top"]: 100}
    run_scoring(tenant)
    got = scores(tenant, "company", ids)
    assert {n: h["label"] for n, h in got.items()} == {"zero": "F", "fifty": "F", "just over": "C",
                                                        "seventy-five": "C", "top": "A"}
    assert got["top"]["scheme"] == "grade"


def test_history_snapshots_follow_the_configured_cadence(tenant_with, fixed):
    from sqlalchemy import func, select

    from tether.plugins.scorecards.models import HealthScoreHistory

    weekly = tenant_with([card()], tenant_id="weekly")
    every = tenant_with([card()], tenant_id="every", history="every_run")
    for tenant in (weekly, every):
        ids = add_companies(tenant, [{"name": "A"}])
        fixed.values["a"][ids["A"]] = 70
        assert run_scoring(tenant).snapshot is True
        second = run_scoring(tenant)
        with tenant.session() as session:
            count = session.scalar(select(func.count()).select_from(HealthScoreHistory))
        assert (second.snapshot, count) == ((False, 1) if tenant is weekly else (True, 2))


def test_a_snapshot_is_due_again_when_the_period_since_the_last_one_is_up(tenant_with, fixed):
    import datetime as dt

    from sqlalchemy import update

    from tether.plugins.scorecards.models import ScoreRun

    weekly = tenant_with([card()], tenant_id="weekly")
    other = tenant_with([card()], tenant_id="other")
    ids = add_companies(weekly, [{"name": "A"}])
    fixed.values["a"][ids["A"]] = 70
    first = run_scoring(weekly)
    assert first.snapshot is True
    assert run_scoring(weekly).snapshot is False  # a run without a snapshot does not restart the week
    with weekly.transaction() as session:  # the snapshot run, eight days ago
        started = session.get(ScoreRun, first.run_id).started_at
        session.execute(update(ScoreRun).where(ScoreRun.id == first.run_id)
                        .values(started_at=started - dt.timedelta(days=8)))
    add_companies(other, [{"name": "B"}])
    assert run_scoring(other).snapshot is True  # another tenant's snapshot is not this one's
    assert run_scoring(weekly).snapshot is True
    assert run_scoring(weekly).snapshot is False


class LowestWins:
    """A plugin replacing the weighting: a scorecard is as healthy as its worst measure."""

    TETHER_MANIFEST = {"name": "lowest", "version": "1.0.0", "description": "worst measure wins",
                       "hooks": ["tether_health_score"]}

    def __init__(self):
        self.calls = []

    from tether.core.hookspecs import hookimpl

    @hookimpl
    def tether_health_score(self, tenant, scorecard, entity_ids, measure_values):
        from tether.core.contracts import ScoreBatch

        self.calls.append((scorecard["name"], len(entity_ids)))
        columns = list(measure_values.values())
        lowest = [min((c[i] for c in columns if c[i] is not None), default=None) for i in range(len(entity_ids))]
        return ScoreBatch(entity_ids=entity_ids, scores=lowest)


def test_a_plugin_can_replace_the_weighting_and_exceptions_still_apply(host, tether_store, fixed):
    from tether.core.manifests import validate_tenant_manifest
    from tether.core.tenants import apply_manifest, load_context

    plugin = LowestWins()
    host.register(plugin)
    scorecard = card(measures=[{"key": "a"}, {"key": "b"}],
                     exceptions=[{"measure": "b", "when": {"op": "gte", "value": 99}, "score": 1}])
    manifest = {"tenant": {"id": "acme", "name": "Acme"},
                "plugins": [{"name": "scorecards", "config": {"scorecards": [scorecard]}}, {"name": "fixed"},
                            {"name": "lowest"}]}
    apply_manifest(tether_store, host, validate_tenant_manifest(manifest, host, source="test"))
    tenant = load_context(tether_store, host, "acme")
    ids = add_companies(tenant, [{"name": "P"}, {"name": "Q"}, {"name": "R"}])
    fixed.values["a"] = {ids["P"]: 90, ids["Q"]: 20, ids["R"]: 50}
    fixed.values["b"] = {ids["P"]: 40, ids["R"]: 99}
    run_scoring(tenant)
    got = scores(tenant, "company", ids)
    assert (got["P"]["score"], got["Q"]["score"], got["R"]["score"]) == (40.0, 20.0, 1.0)
    assert plugin.calls == [("Health", 3)]
