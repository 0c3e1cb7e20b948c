"""A scoring run: assign scorecards, compute measures once each, score with arrays, write set-based.

Relationships are scored before companies, so a company scorecard rolling up its
relationships sees this run's scores. Each measure is computed once per entity kind
for every entity (one hook-provided batch call), lined up with each scorecard's
entities as arrays; rows are written in one upsert batch per kind, and only where
something changed (the database keeps the replaced score as the previous one and
works out the trend against it), so a steady hourly run writes next to nothing. A full run ends manual overrides (they hold until the next run); a partial
run (new entities, an override just set) applies them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
import logging
import time
from typing import Any, Mapping, Sequence

import numpy as np
from sqlalchemy import select, update

from tether.core.errors import DomainError
from tether.core.plugins import TenantContext
from tether.core.renewals.sqlparts import collector_paused
from tether.core.store.types import utcnow

from .definitions import PLUGIN, effective_scorecards
from .entities import assign, companies_of, load_entities
from .measures import MeasureColumn, align, available_measures
from .models import ScoreOverride, ScoreRun
from .rollup import rollup_scores
from .scoring import CompiledScorecard, ScoredBatch, compile_scorecard, score_batch
from .writes import clear_kind, end_overrides, fingerprint, prune_runs, snapshot_if_due, write_scores

log = logging.getLogger(__name__)

KINDS = ("relationship", "company")
CHUNK = 500


@dataclasses.dataclass
class RunReport:
    run_id: int | None
    trigger: str
    scored: dict[str, int] = dataclasses.field(default_factory=dict)
    not_applicable: dict[str, int] = dataclasses.field(default_factory=dict)
    by_scorecard: dict[str, int] = dataclasses.field(default_factory=dict)
    # Scores that changed and were written (the others stay as they were).
    written: dict[str, int] = dataclasses.field(default_factory=dict)
    missing_measures: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    snapshot: bool = False
    overrides_ended: int = 0
    seconds: float = 0.0
    # Wall seconds spent reading entities and measures, scoring with arrays, and writing.
    phases: dict[str, float] = dataclasses.field(default_factory=lambda: {"read": 0.0, "score": 0.0, "write": 0.0})


def run_scoring(tenant: TenantContext, *, trigger: str = "on_demand",
                only: Mapping[str, Sequence[int]] | None = None) -> RunReport:
    """Score every company and relationship of the tenant (or only the given ids)."""
    with collector_paused():
        return _run(tenant, trigger, only)


def _run(tenant: TenantContext, trigger: str, only: Mapping[str, Sequence[int]] | None) -> RunReport:
    clock = time.perf_counter()
    started = utcnow()
    full = only is None
    with tenant.session() as session:
        cards, _ = effective_scorecards(tenant, session)
    report = RunReport(None, trigger)
    if not cards:
        return report
    measures = available_measures(tenant)
    kinds_of = {key: m.kind for key, m in measures.items()}
    with tenant.transaction() as session:
        run = ScoreRun(trigger=trigger, started_at=started)
        session.add(run)
        session.flush()
        report.run_id = run.id
    layouts: dict[str, list[str]] = {}
    rolled_up: MeasureColumn | None = None
    wanted = {kind: list(ids) for kind, ids in (only or {}).items()}
    if not full and wanted.get("relationship"):
        wanted.setdefault("company", [])
        wanted["company"] = sorted(set(wanted["company"]) | companies_of(tenant, wanted["relationship"]))
    for kind in KINDS:
        kind_cards = [c for c in cards if c["entity"] == kind]
        if not full and not wanted.get(kind):
            continue
        if not kind_cards:
            if full:
                clear_kind(tenant, kind)
            continue
        compiled = [compile_scorecard(card, kinds_of) for card in kind_cards]
        for card in compiled:
            layouts[card.name] = list(card.keys)
            missing = [key for key in card.keys if key not in measures or kind not in measures[key].entity_kinds]
            if missing:
                report.missing_measures[card.name] = missing
        lap = time.perf_counter()
        keys = {k for c in compiled for k in c.keys}
        own_fields = {key: (key[len("field:"):], measures[key].kind) for key in keys
                      if key.startswith("field:") and _own(measures.get(key), kind)}
        # A full run rolls the relationship scores it has just computed up to their companies.
        for_rollup = full and kind == "relationship" and _own(measures.get("relationship_health"), "company") \
            and any(m["key"] == "relationship_health" for c in cards if c["entity"] == "company" for m in c["measures"])
        entities = load_entities(tenant, kind, kind_cards, None if full else wanted[kind], own_fields,
                                 for_rollup=for_rollup)
        ids = entities.ids
        choice = assign(kind_cards, ids, entities.criteria)
        cache: dict[str, Any] = dict(entities.fields)
        if kind == "company" and rolled_up is not None and "relationship_health" in keys:
            cache["relationship_health"] = rolled_up
        cache.update(_compute_measures(tenant, kind, ids, keys - set(cache), measures))
        overrides = _active_overrides(tenant, kind, started, None if full else ids)
        lap = _lap(report, "read", lap)
        result = _score(tenant, compiled, kind_cards, choice, ids, cache, kinds_of, {} if full else overrides)
        if for_rollup:
            method = tenant.config_for(PLUGIN).get("relationship_rollup") or "average"
            company_ids, scores = rollup_scores(entities.company_ids, result["overall"], entities.arr_cents, method)
            rolled_up = MeasureColumn(company_ids, scores, ordered=True)
        lap = _lap(report, "score", lap)
        report.written[kind] = write_scores(tenant, kind, run_id=run.id, full=full, now=started, **result)
        _lap(report, "write", lap)
        report.scored[kind] = len(ids)
        report.not_applicable[kind] = int(np.isnan(result["overall"]).sum())
        counts = Counter(result["cards"].tolist())
        for card in compiled:
            report.by_scorecard[card.name] = counts.get(card.name, 0)
    with tenant.transaction() as session:
        if full:
            report.overrides_ended = end_overrides(session, started)
            report.snapshot = snapshot_if_due(tenant, session, started)
            prune_runs(tenant, session, started)
        session.execute(update(ScoreRun).where(ScoreRun.id == run.id).values(
            finished_at=utcnow(), scored=sum(report.scored.values()), layouts=layouts,
            details={"not_applicable": report.not_applicable, "by_scorecard": report.by_scorecard,
                     "missing_measures": report.missing_measures, "snapshot": report.snapshot}))
    report.seconds = time.perf_counter() - clock
    log.info("tenant %s: scored %s in %.2fs (%s)", tenant.id, report.scored, report.seconds, trigger)
    return report


def _lap(report: RunReport, phase: str, since: float) -> float:
    now = time.perf_counter()
    report.phases[phase] = round(report.phases[phase] + now - since, 4)
    return now


# -- entities and scorecard assignment ------------------------------------------------


# -- measures and scores --------------------------------------------------------------


def _own(measure: Any, kind: str) -> bool:
    """Whether a measure is this plugin's own, for this kind (the run may then read it its own way)."""
    return measure is not None and measure.plugin == PLUGIN and kind in measure.entity_kinds


def _compute_measures(tenant: TenantContext, kind: str, ids: np.ndarray, keys: set[str],
                      measures: Mapping[str, Any]) -> dict[str, Any]:
    """Each measure once for every entity of the kind; a failing measure names its plugin."""
    cache: dict[str, Any] = {}
    id_list = ids.tolist()
    for key in sorted(keys):
        measure = measures.get(key)
        if measure is None or kind not in measure.entity_kinds or not id_list:
            continue
        try:
            cache[key] = measure.compute(tenant, kind, id_list)
        except Exception as exc:
            raise tenant.host.attribute(exc, "tether_health_measures", tenant.id) from exc
    return cache


def _active_overrides(tenant: TenantContext, kind: str, before: dt.datetime,
                      ids: np.ndarray | None) -> dict[int, dict[str | None, float]]:
    stmt = select(ScoreOverride).where(ScoreOverride.entity_kind == kind, ScoreOverride.consumed_at.is_(None),
                                       ScoreOverride.created_at <= before).order_by(ScoreOverride.id)
    found: dict[int, dict[str | None, float]] = {}
    with tenant.session() as session:
        if ids is not None and len(ids) <= CHUNK:
            stmt = stmt.where(ScoreOverride.entity_id.in_(ids.tolist()))
        for row in session.scalars(stmt):
            found.setdefault(row.entity_id, {})[row.measure] = row.score  # the latest wins
    return found


def _score(tenant: TenantContext, cards: Sequence[CompiledScorecard], definitions: Sequence[Mapping[str, Any]],
           choice: np.ndarray, ids: np.ndarray, cache: Mapping[str, Any], kinds_of: Mapping[str, str],
           overrides: Mapping[int, Mapping[str | None, float]]) -> dict[str, Any]:
    n = len(ids)
    overall = np.full(n, np.nan)
    overridden = np.zeros(n, dtype=bool)
    exception, labels, colors, names = (np.full(n, None, dtype=object) for _ in range(4))
    fingerprints = np.zeros(n, dtype=np.int64)
    # Per scorecard: its rows and their measure scores (packed into bytes only for rows written).
    measure_scores: list[tuple[np.ndarray, np.ndarray]] = []
    custom = bool(tenant.hooks.implementers("tether_health_score"))
    aligned = {key: align(cache.get(key), ids, kinds_of.get(key, "numeric")) for card in cards for key in card.keys}
    for index, card in enumerate(cards):
        rows = np.flatnonzero(choice == index)
        if not len(rows):
            continue
        every = len(rows) == n
        sub_ids = ids if every else ids[rows]
        raw = [aligned[key] if every else aligned[key][rows] for key in card.keys]
        measure_overrides, overall_overrides = _override_maps(card, sub_ids, overrides)
        weighting = _plugin_weighting(tenant, definitions[index], card, sub_ids, raw) if custom else None
        batch: ScoredBatch = score_batch(card, raw, measure_overrides=measure_overrides,
                                         overall_overrides=overall_overrides, weighting=weighting)
        scores = np.round(batch.overall, 2)
        ranges = card.scheme.range_index(scores)
        overall[rows] = scores
        overridden[rows] = batch.overridden
        labels[rows] = np.array((*card.scheme.labels, None), dtype=object)[ranges]
        colors[rows] = np.array((*card.scheme.colors, None), dtype=object)[ranges]
        names[rows] = card.name
        rule_names = np.array([rule.get("name") or rule["measure"] for rule in card.exceptions] + [None], dtype=object)
        exception[rows] = rule_names[batch.exception]
        shown = json.dumps([card.name, card.scheme.labels, card.scheme.colors, rule_names[:-1].tolist()])
        fingerprints[rows] = fingerprint(shown, sub_ids, scores, ranges, batch.exception, batch.overridden,
                                         batch.measures)
        measure_scores.append((rows, batch.measures.astype(np.float32)))
    return {"ids": ids, "overall": overall, "labels": labels, "colors": colors, "cards": names, "exceptions": exception,
            "overridden": overridden, "measure_scores": measure_scores, "fingerprints": fingerprints}


def _plugin_weighting(tenant: TenantContext, definition: Mapping[str, Any], card: CompiledScorecard,
                      ids: np.ndarray, raw: Sequence[np.ndarray]):
    """A ``tether_health_score`` implementation's scores for one scorecard (one call per run)."""

    def weighting(matrix: np.ndarray) -> np.ndarray | None:
        values = {key: [None if _missing(v) else v for v in column.tolist()] for key, column in zip(card.keys, raw)}
        batch = tenant.hooks.tether_health_score(scorecard=dict(definition), entity_ids=ids.tolist(),
                                                 measure_values=values)
        if batch is None:
            return None
        if list(batch.entity_ids) != ids.tolist() or len(batch.scores) != len(ids):
            raise DomainError(f"tether_health_score answered for other entities than scorecard {card.name!r} covers",
                              hint="return scores aligned with the entity_ids given")
        scores = np.array([np.nan if s is None else float(s) for s in batch.scores], dtype=float)
        return np.clip(scores, 0.0, 100.0)

    return weighting


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _override_maps(card: CompiledScorecard, ids: np.ndarray, overrides: Mapping[int, Mapping[str | None, float]]
                   ) -> tuple[dict[tuple[int, int], float], dict[int, float]]:
    measure_overrides: dict[tuple[int, int], float] = {}
    overall_overrides: dict[int, float] = {}
    if not overrides:
        return measure_overrides, overall_overrides
    position = {entity_id: row for row, entity_id in enumerate(ids.tolist())}
    for entity_id, by_measure in overrides.items():
        row = position.get(entity_id)
        if row is None:
            continue
        for measure, score in by_measure.items():
            if measure is None:
                overall_overrides[row] = score
            elif measure in card.keys:
                measure_overrides[(row, card.keys.index(measure))] = score
    return measure_overrides, overall_overrides


# -- writing --------------------------------------------------------------------------
