"""Health scoring as array operations over every entity of a scorecard at once (no I/O here).

Steps, for n entities and m measures:

1. each measure's raw values become 0–100 scores (identity, linear, bands or choices),
   N/A as NaN: an (n × m) matrix;
2. a group's score is the weighted mean of its measures that have data: an N/A measure's
   weight is shared out proportionally among the others (Catalyst's documented rule,
   which Gainsight's redistribution matches); a group with no data is N/A;
3. the overall score is the weighted mean of groups and ungrouped measures, with the
   same redistribution; all N/A → N/A;
4. exceptions, in order, force the overall score where their condition on one measure
   holds (the first that holds wins); manual overrides then replace measure scores
   (before 2) or the overall score (last).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .schemes import Scheme


@dataclasses.dataclass(frozen=True)
class CompiledScorecard:
    name: str
    entity: str
    scheme: Scheme
    keys: tuple[str, ...]
    kinds: tuple[str, ...]          # "numeric" | "picklist" per measure
    weights: np.ndarray             # (m,)
    group_of: np.ndarray            # (m,) group index, -1 when ungrouped
    group_names: tuple[str, ...]
    group_weights: np.ndarray       # (g,)
    scorings: tuple[Mapping[str, Any], ...]
    exceptions: tuple[Mapping[str, Any], ...]


def compile_scorecard(card: Mapping[str, Any], kinds: Mapping[str, str]) -> CompiledScorecard:
    groups = [g["name"] for g in card.get("groups", [])]
    measures = card["measures"]
    return CompiledScorecard(
        name=card["name"], entity=card["entity"], scheme=Scheme.from_config(card.get("scheme")),
        keys=tuple(m["key"] for m in measures), kinds=tuple(kinds.get(m["key"], "numeric") for m in measures),
        weights=np.array([float(m.get("weight", 1)) for m in measures]),
        group_of=np.array([groups.index(m["group"]) if m.get("group") is not None else -1 for m in measures]),
        group_names=tuple(groups), group_weights=np.array([float(g.get("weight", 1)) for g in card.get("groups", [])]),
        scorings=tuple(m.get("scoring") or {"type": "identity"} for m in measures),
        exceptions=tuple(card.get("exceptions", [])),
    )


# -- 1. raw values → measure scores ---------------------------------------------------


def measure_score(scoring: Mapping[str, Any], raw: np.ndarray) -> np.ndarray:
    kind = scoring.get("type", "identity")
    if kind == "choices":
        table = {str(k).casefold(): float(v) for k, v in scoring["scores"].items()}
        fallback = scoring.get("default")
        fallback = np.nan if fallback is None else float(fallback)
        # Picklists have few distinct values: score each distinct value once, then look
        # every entity up in C (frompyfunc), not in a Python loop.
        lookup = {value: (np.nan if value is None else table.get(str(value).casefold(), fallback))
                  for value in set(raw.tolist())}
        return np.frompyfunc(lookup.__getitem__, 1, 1)(raw).astype(float) if len(raw) else np.empty(0)
    values = raw.astype(float, copy=False)
    if kind == "linear":
        worst, best = float(scoring["worst"]), float(scoring["best"])
        return np.clip((values - worst) / (best - worst), 0.0, 1.0) * 100.0
    if kind == "bands":
        bands = scoring["bands"]
        tops = np.array([float(b["upto"]) for b in bands[:-1]])
        scores = np.array([float(b["score"]) for b in bands])
        index = np.searchsorted(tops, np.nan_to_num(values, nan=0.0), side="left")
        return np.where(np.isnan(values), np.nan, scores[index])
    return np.clip(values, 0.0, 100.0)


def measure_matrix(card: CompiledScorecard, raw: Sequence[np.ndarray]) -> np.ndarray:
    n = len(raw[0]) if raw else 0
    # Column-major: each measure's scores are contiguous, as the weighted means read them.
    matrix = np.full((n, len(card.keys)), np.nan, order="F")
    for column, (scoring, values) in enumerate(zip(card.scorings, raw)):
        matrix[:, column] = measure_score(scoring, values)
    return matrix


# -- 2 and 3. weighted means with N/A redistribution ----------------------------------


def weighted_mean(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Row-wise mean of ``scores`` (n × k) weighted by ``weights`` (k,), skipping NaN."""
    return _weighted_mean([scores[:, j] for j in range(scores.shape[1])], weights, scores.shape[0])


def _weighted_mean(columns: Sequence[np.ndarray], weights: np.ndarray, n: int) -> np.ndarray:
    """:func:`weighted_mean` over separate columns, one column at a time (no n × k temporaries)."""
    if not len(columns):
        return np.full(n, np.nan)
    total = np.zeros(n)
    summed = np.zeros(n)
    for column, weight in zip(columns, weights.tolist()):
        present = ~np.isnan(column)
        total += present * weight
        summed += np.where(present, column, 0.0) * weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / np.where(total > 0, total, 1.0), np.nan)


def _group_columns(card: CompiledScorecard, matrix: np.ndarray) -> list[np.ndarray]:
    return [_weighted_mean([matrix[:, j] for j in np.flatnonzero(card.group_of == g)],
                           card.weights[card.group_of == g], matrix.shape[0])
            for g in range(len(card.group_names))]


def group_scores(card: CompiledScorecard, matrix: np.ndarray) -> np.ndarray:
    columns = _group_columns(card, matrix)
    return np.column_stack(columns) if columns else np.empty((matrix.shape[0], 0))


def overall_scores(card: CompiledScorecard, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    groups = _group_columns(card, matrix)
    ungrouped = np.flatnonzero(card.group_of == -1)
    top = groups + [matrix[:, j] for j in ungrouped]
    weights = np.concatenate([card.group_weights, card.weights[ungrouped]])
    overall = _weighted_mean(top, weights, matrix.shape[0])
    return overall, np.column_stack(groups) if groups else np.empty((matrix.shape[0], 0))


# -- 4. exceptions and overrides ------------------------------------------------------


def condition_mask(when: Mapping[str, Any], raw: np.ndarray, scores: np.ndarray, scheme: Scheme) -> np.ndarray:
    """Where an exception's condition on one measure holds (never where the measure is N/A,
    except for the ``empty`` operator)."""
    on, op, target = when.get("on", "value"), when["op"], when.get("value")
    if on == "score":
        values: np.ndarray = scores
    elif on == "label":
        labels, _ = scheme.labels_for(scheme.range_index(scores))
        values = np.array([None if label is None else label.casefold() for label in labels], dtype=object)
        target = [str(t).casefold() for t in target] if isinstance(target, list) else \
            (str(target).casefold() if target is not None else None)
    else:
        values = raw
    if values.dtype == object:
        return _object_mask(values, op, target)
    missing = np.isnan(values)
    if op == "empty":
        return missing
    if op == "not_empty":
        return ~missing
    numbers = values.astype(float, copy=False)
    if op in ("in", "not_in"):
        hit = np.isin(numbers, np.array([_number(t) for t in target], dtype=float))
        return (~hit if op == "not_in" else hit) & ~missing
    if op in ("eq", "ne"):
        hit = numbers == _number(target)
        return (~hit if op == "ne" else hit) & ~missing
    return _compare(numbers, op, target) & ~missing


def _object_mask(values: np.ndarray, op: str, target: Any) -> np.ndarray:
    """:func:`condition_mask` over text (or mixed) values: case-insensitive, decided once per
    distinct value (a picklist has few) and looked up for every entity in C."""
    wanted = [t.casefold() if isinstance(t, str) else t for t in target] if isinstance(target, list) else \
        (target.casefold() if isinstance(target, str) else target)
    bound = _number(target) if op in ("lt", "lte", "gt", "gte") else np.nan

    def decide(value: Any) -> bool:
        missing = value is None or (isinstance(value, float) and value != value)
        if op == "empty":
            return missing
        if op == "not_empty":
            return not missing
        if missing:
            return False
        folded = value.casefold() if isinstance(value, str) else value
        if op in ("eq", "ne"):
            return bool(folded == wanted) != (op == "ne")
        if op in ("in", "not_in"):
            return (folded in wanted) != (op == "not_in")
        number = _number(value)
        return bool({"lt": number < bound, "lte": number <= bound, "gt": number > bound}.get(op, number >= bound))

    if not len(values):
        return np.zeros(0, dtype=bool)
    try:
        table = {value: decide(value) for value in set(values.tolist())}
    except TypeError:  # unhashable values: decide each
        return np.fromiter((decide(v) for v in values), dtype=bool, count=len(values))
    return np.frompyfunc(table.__getitem__, 1, 1)(values).astype(bool)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _compare(numbers: np.ndarray, op: str, target: Any) -> np.ndarray:
    bound = _number(target)
    with np.errstate(invalid="ignore"):
        if op == "lt":
            return numbers < bound
        if op == "lte":
            return numbers <= bound
        if op == "gt":
            return numbers > bound
        return numbers >= bound


@dataclasses.dataclass
class ScoredBatch:
    overall: np.ndarray            # (n,) NaN = N/A
    measures: np.ndarray           # (n, m) measure scores after overrides
    groups: np.ndarray             # (n, g)
    exception: np.ndarray          # (n,) index into card.exceptions, -1 for none
    overridden: np.ndarray         # (n,) bool


def score_batch(card: CompiledScorecard, raw: Sequence[np.ndarray], *,
                measure_overrides: Mapping[tuple[int, int], float] | None = None,
                overall_overrides: Mapping[int, float] | None = None,
                weighting: Callable[[np.ndarray], np.ndarray | None] | None = None) -> ScoredBatch:
    """Score n entities; ``raw[j]`` holds measure j's values aligned with the entities.

    ``measure_overrides`` maps (row, measure column) → score; ``overall_overrides`` maps
    row → score. ``weighting(matrix)`` may replace steps 2 and 3 (a plugin's own
    scoring through ``tether_health_score``); exceptions and overrides still apply.
    """
    matrix = measure_matrix(card, raw)
    n = matrix.shape[0]
    overridden = np.zeros(n, dtype=bool)
    for (row, column), value in (measure_overrides or {}).items():
        matrix[row, column] = value
        overridden[row] = True
    overall, groups = overall_scores(card, matrix)
    replaced = weighting(matrix) if weighting is not None else None
    if replaced is not None:
        overall = replaced
    exception = np.full(n, -1)
    for index in range(len(card.exceptions) - 1, -1, -1):  # the first listed wins, so it is applied last
        rule = card.exceptions[index]
        column = card.keys.index(rule["measure"])
        mask = condition_mask(rule["when"], raw[column], matrix[:, column], card.scheme)
        overall = np.where(mask, float(rule["score"]), overall)
        exception = np.where(mask, index, exception)
    for row, value in (overall_overrides or {}).items():
        overall[row] = value
        overridden[row] = True
    return ScoredBatch(overall=overall, measures=matrix, groups=groups, exception=exception, overridden=overridden)

