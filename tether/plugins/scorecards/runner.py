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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
import logging
import time
from typing import Any, Mapping, Sequence

import numpy as np
from sqlalchemy import BigInteger, select, type_coerce, update

from tether.core.errors import DomainError
from tether.core.plugins import TenantContext
from tether.core.store import Company, Relationship, RelationshipType
from tether.core.store.types import utcnow

from .definitions import PLUGIN, effective_scorecards
from .bulk import fetch_all
from .measures import MONEY_COLUMNS, align, available_measures, load_fields
from .models import ScoreOverride, ScoreRun
from .scoring import CompiledScorecard, ScoredBatch, compile_scorecard, condition_mask, score_batch
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
    wanted = {kind: list(ids) for kind, ids in (only or {}).items()}
    if not full and wanted.get("relationship"):
        wanted.setdefault("company", [])
        wanted["company"] = sorted(set(wanted["company"]) | _companies_of(tenant, wanted["relationship"]))
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
        ids, columns = _load_entities(tenant, kind, kind_cards, None if full else wanted[kind])
        choice = _assign(kind_cards, ids, columns)
        cache = _compute_measures(tenant, kind, ids, {k for c in compiled for k in c.keys}, measures)
        overrides = _active_overrides(tenant, kind, started, None if full else ids)
        lap = _lap(report, "read", lap)
        result = _score(tenant, compiled, kind_cards, choice, ids, cache, kinds_of, {} if full else overrides)
        lap = _lap(report, "score", lap)
        report.written[kind] = write_scores(tenant, kind, run_id=run.id, full=full, now=started, **result)
        _lap(report, "write", lap)
        report.scored[kind] = len(ids)
        report.not_applicable[kind] = int(np.isnan(result["overall"]).sum())
        counts = Counter(result["cards"])
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


def _companies_of(tenant: TenantContext, relationship_ids: Sequence[int]) -> set[int]:
    with tenant.session() as session:
        found: set[int] = set()
        for start in range(0, len(relationship_ids), CHUNK):
            chunk = list(relationship_ids[start:start + CHUNK])
            found.update(session.scalars(select(Relationship.company_id).where(Relationship.id.in_(chunk))))
        return found


def _load_entities(tenant: TenantContext, kind: str, cards: Sequence[Mapping[str, Any]],
                   only: Sequence[int] | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Live entity ids in id order, and the columns the scorecards' criteria test."""
    table = (Company if kind == "company" else Relationship).__table__
    fields = sorted({c["field"] for card in cards for c in card.get("criteria", [])})
    selected = []
    for name in fields:
        head, _, rest = name.partition(".")
        if head == "attributes":
            selected.append(table.c.attributes[rest].as_string())
        elif name == "type":
            types = RelationshipType.__table__
            selected.append(select(types.c.name).where(types.c.id == table.c.type_id).scalar_subquery())
        elif name in MONEY_COLUMNS:
            selected.append(type_coerce(table.c[name], BigInteger))
        else:
            selected.append(table.c[name])
    stmt = select(table.c.id, *selected).where(table.c.tenant_id == tenant.id, table.c.is_deleted.is_(False)) \
        .order_by(table.c.id)
    rows: list[Any] = []
    with tenant.session() as session:
        connection = session.connection()
        if only is None:
            rows = fetch_all(connection, stmt)
        else:
            for start in range(0, len(only), CHUNK):
                rows += fetch_all(connection, stmt.where(table.c.id.in_(list(only[start:start + CHUNK]))))
    if not fields:  # only ids: one C-level conversion
        return np.sort(np.array(rows, dtype=np.int64).reshape(-1)), {}
    transposed = list(zip(*rows)) if rows else [()] * (len(fields) + 1)
    order = np.argsort(np.array(transposed[0], dtype=np.int64), kind="stable")
    ids = np.array(transposed[0], dtype=np.int64)[order]
    columns: dict[str, np.ndarray] = {}
    for position, name in enumerate(fields, start=1):
        values = [transposed[position][i] for i in order.tolist()]
        if name in MONEY_COLUMNS:
            columns[name] = np.array([np.nan if v is None else v / 100.0 for v in values], dtype=float)
        elif name == "employees":
            columns[name] = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        else:
            columns[name] = np.array(values, dtype=object)
    return ids, columns


def _assign(cards: Sequence[Mapping[str, Any]], ids: np.ndarray, columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Index into ``cards`` of each entity's one scorecard: first matching by priority, else the default."""
    choice = np.full(len(ids), -1)
    ranked = sorted((i for i, c in enumerate(cards) if not c.get("default")),
                    key=lambda i: (cards[i].get("priority", 100), cards[i]["name"]))
    for index in ranked:
        mask = choice == -1
        for criterion in cards[index]["criteria"]:
            mask &= condition_mask({"on": "value", **criterion}, columns[criterion["field"]],
                                   np.empty(0), None)  # type: ignore[arg-type]
        choice[mask] = index
    default = next((i for i, c in enumerate(cards) if c.get("default")), None)
    if default is not None:
        choice[choice == -1] = default
    return choice


# -- measures and scores --------------------------------------------------------------


def _compute_measures(tenant: TenantContext, kind: str, ids: np.ndarray, keys: set[str],
                      measures: Mapping[str, Any]) -> dict[str, Any]:
    """Each measure once for every entity of the kind; a failing measure names its plugin.

    This plugin's own measures (its field measures read together in one query) run on a
    worker thread while other plugins' measures run here, one after the other: the
    database does most of the work and releases the GIL meanwhile, and code of other
    plugins is never run on threads it did not ask for."""
    cache: dict[str, Any] = {}
    id_list = ids.tolist()
    usable = {key: measures[key] for key in sorted(keys)
              if key in measures and kind in measures[key].entity_kinds and id_list}
    own = {key: m for key, m in usable.items() if m.plugin == PLUGIN}
    own_fields = {key: (key[len("field:"):], m.kind) for key, m in own.items() if key.startswith("field:")}

    def compute_own() -> dict[str, Any]:
        found: dict[str, Any] = load_fields(tenant, kind, own_fields, id_list) if own_fields else {}
        for key, measure in own.items():
            if key not in own_fields:
                found[key] = measure.compute(tenant, kind, id_list)
        return found

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scorecards-measures") as pool:
        own_result = pool.submit(compute_own)
        for key, measure in usable.items():
            if key in own:
                continue
            try:
                cache[key] = measure.compute(tenant, kind, id_list)
            except Exception as exc:
                raise tenant.host.attribute(exc, "tether_health_measures", tenant.id) from exc
        cache.update(own_result.result())
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
    exception, blobs, labels, colors, names = (np.full(n, None, dtype=object) for _ in range(5))
    fingerprints = np.zeros(n, dtype=np.int64)
    custom = bool(tenant.hooks.implementers("tether_health_score"))
    for index, card in enumerate(cards):
        rows = np.flatnonzero(choice == index)
        if not len(rows):
            continue
        sub_ids = ids[rows]
        raw = [align(cache.get(key), sub_ids, kinds_of.get(key, "numeric")) for key in card.keys]
        measure_overrides, overall_overrides = _override_maps(card, sub_ids, overrides)
        weighting = _plugin_weighting(tenant, definitions[index], card, sub_ids, raw) if custom else None
        batch: ScoredBatch = score_batch(card, raw, measure_overrides=measure_overrides,
                                         overall_overrides=overall_overrides, weighting=weighting)
        scores = np.round(batch.overall, 2)
        overall[rows] = scores
        overridden[rows] = batch.overridden
        card_labels, card_colors = card.scheme.labels_for(card.scheme.range_index(scores))
        labels[rows] = np.array(card_labels, dtype=object)
        colors[rows] = np.array(card_colors, dtype=object)
        names[rows] = card.name
        rule_names = np.array([rule.get("name") or rule["measure"] for rule in card.exceptions] + [None], dtype=object)
        exception[rows] = rule_names[batch.exception]
        fingerprints[rows] = fingerprint(card.name, scores, card.scheme.range_index(scores), batch.exception,
                                         batch.overridden, batch.measures)
        packed = batch.measures.astype(np.float32).tobytes()
        width = 4 * len(card.keys)
        card_blobs = np.empty(len(rows), dtype=object)
        card_blobs[:] = [packed[i * width:(i + 1) * width] for i in range(len(rows))]
        blobs[rows] = card_blobs
    return {"ids": ids, "overall": overall, "labels": labels.tolist(), "colors": colors.tolist(),
            "cards": names.tolist(), "exceptions": exception.tolist(), "overridden": overridden, "blobs": blobs.tolist(),
            "fingerprints": fingerprints}


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
