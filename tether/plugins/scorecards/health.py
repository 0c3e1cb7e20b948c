"""Reading scores: the health other read models show, one entity's breakdown, history, overrides."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from sqlalchemy import func, select

from tether.core.errors import DomainError, NotFound
from tether.core.plugins import TenantContext
from tether.core.store import Company, Relationship

from .definitions import effective_scorecards, normalised, scheme_types
from .measures import available_measures
from .models import HealthScore, HealthScoreHistory, ScoreOverride, ScoreRun
from .runner import RunReport, run_scoring
from .scoring import compile_scorecard, overall_scores
from .schemes import Scheme

CHUNK = 500
FULL_RUNS = ("scheduled", "on_demand")
HISTORY_POINTS = 18  # Gainsight's 360 shows 18 weeks


def _schemes(tenant: TenantContext, session) -> dict[str, str]:
    return scheme_types(tenant, session)


def _last_full_run(session) -> Any:
    return session.scalar(select(func.max(ScoreRun.started_at)).where(
        ScoreRun.trigger.in_(FULL_RUNS), ScoreRun.finished_at.is_not(None)))


def health_row(row: HealthScore, scheme: str | None, last_full_run=None) -> dict[str, Any]:
    # A full run leaves unchanged scores untouched; it still vouches for them as of its start.
    computed = max(row.computed_at, last_full_run) if last_full_run is not None else row.computed_at
    return {"score": row.score, "label": row.label, "color": row.color, "scheme": scheme, "scorecard": row.scorecard,
            "previous_score": row.previous_score, "trend": row.trend, "computed_at": computed,
            "overridden": row.overridden, "exception": row.exception}


def entity_health(tenant: TenantContext, kind: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Current health of a batch of entities (ids never scored are left out)."""
    found: dict[int, dict[str, Any]] = {}
    ids = list(ids)
    with tenant.session() as session:
        schemes = _schemes(tenant, session)
        last_run = _last_full_run(session)
        for start in range(0, len(ids), CHUNK):
            rows = session.scalars(select(HealthScore).where(HealthScore.entity_kind == kind,
                                                             HealthScore.entity_id.in_(ids[start:start + CHUNK])))
            for row in rows:
                found[row.entity_id] = health_row(row, schemes.get(row.scorecard), last_run)
    return found


def _entity_exists(session, kind: str, entity_id: int) -> None:
    table = Company if kind == "company" else Relationship
    row = session.get(table, entity_id)
    if row is None or row.is_deleted:
        raise NotFound(f"no {kind} {entity_id}")


def score_detail(tenant: TenantContext, kind: str, entity_id: int) -> dict[str, Any]:
    """The current score with each measure's score, weight share and group, plus history and overrides."""
    with tenant.session() as session:
        _entity_exists(session, kind, entity_id)
        row = session.scalar(select(HealthScore).where(HealthScore.entity_kind == kind,
                                                       HealthScore.entity_id == entity_id))
        if row is None:
            raise NotFound(f"{kind} {entity_id} has no score yet",
                           hint="run scoring (POST /scores/run) or wait for the scheduled run")
        cards, _ = effective_scorecards(tenant, session)
        run = session.get(ScoreRun, row.run_id) if row.run_id is not None else None
        layout = (run.layouts or {}).get(row.scorecard, []) if run is not None else []
        history = session.execute(
            select(HealthScoreHistory.snapshot_at, HealthScoreHistory.score, HealthScoreHistory.label)
            .where(HealthScoreHistory.entity_kind == kind, HealthScoreHistory.entity_id == entity_id)
            .order_by(HealthScoreHistory.snapshot_at.desc()).limit(HISTORY_POINTS)).all()
        overrides = session.scalars(select(ScoreOverride).where(
            ScoreOverride.entity_kind == kind, ScoreOverride.entity_id == entity_id,
            ScoreOverride.consumed_at.is_(None)).order_by(ScoreOverride.id)).all()
        last_run = _last_full_run(session)
    card = next((c for c in cards if c["name"] == row.scorecard), None)
    detail = health_row(row, (card or {}).get("scheme", {}).get("type"), last_run)
    detail.update({"entity": kind, "entity_id": entity_id, "measures": [], "groups": [],
                   "history": [{"at": at, "score": score, "label": label} for at, score, label in reversed(history)],
                   "overrides": [{"measure": o.measure, "score": o.score, "note": o.note, "author": o.author,
                                  "created_at": o.created_at} for o in overrides]})
    if card is None or not row.measure_scores:
        return detail
    stored = np.frombuffer(row.measure_scores, dtype=np.float32).astype(float)
    by_key = dict(zip(layout, stored))
    measures = available_measures(tenant)
    compiled = compile_scorecard(card, {k: m.kind for k, m in measures.items()})
    matrix = np.array([[by_key.get(key, np.nan) for key in compiled.keys]])
    _, groups = overall_scores(compiled, matrix)
    scheme: Scheme = compiled.scheme
    shares = weight_shares(card)
    group_share = dict(zip(compiled.group_names, normalised(
        list(compiled.group_weights) + [m.get("weight", 1) for m in card["measures"] if not m.get("group")]
    )[:len(compiled.group_names)]))
    for position, entry in enumerate(card["measures"]):
        value = float(matrix[0, position])
        score = None if value != value else round(value, 2)
        label, color = scheme.label_of(score)
        measure = measures.get(entry["key"])
        detail["measures"].append({"key": entry["key"], "label": measure.label if measure else entry["key"],
                                   "group": entry.get("group"), "weight": entry.get("weight", 1),
                                   "share": shares[entry["key"]], "score": score, "range": label, "color": color})
    for position, name in enumerate(compiled.group_names):
        value = float(groups[0, position])
        score = None if value != value else round(value, 2)
        detail["groups"].append({"name": name, "share": group_share[name], "score": score,
                                 "range": scheme.label_of(score)[0]})
    return detail


def weight_shares(card: Mapping[str, Any]) -> dict[str, float]:
    """Each measure's share of the overall score in percent, with every measure scored (no N/A)."""
    groups = {g["name"]: g.get("weight", 1) for g in card.get("groups", [])}
    ungrouped = [m for m in card["measures"] if not m.get("group")]
    top = normalised(list(groups.values()) + [m.get("weight", 1) for m in ungrouped])
    group_share = dict(zip(groups, top[:len(groups)]))
    shares = {m["key"]: share for m, share in zip(ungrouped, top[len(groups):])}
    for name in groups:
        members = [m for m in card["measures"] if m.get("group") == name]
        for member, within in zip(members, normalised([m.get("weight", 1) for m in members])):
            shares[member["key"]] = round(group_share[name] * within / 100, 2)
    return shares


def set_override(tenant: TenantContext, kind: str, entity_id: int, *, measure: str | None, score: float,
                 note: str, author: str) -> RunReport:
    """Record a manual score and re-score the entity now; it holds until the next full run."""
    with tenant.transaction() as session:
        _entity_exists(session, kind, entity_id)
        current = session.scalar(select(HealthScore.scorecard).where(HealthScore.entity_kind == kind,
                                                                     HealthScore.entity_id == entity_id))
        if current is None:
            raise DomainError(f"{kind} {entity_id} has no score yet: run scoring before overriding it",
                              field="measure")
        if measure is not None:
            cards, _ = effective_scorecards(tenant, session)
            card = next((c for c in cards if c["name"] == current), None)
            keys = [m["key"] for m in (card or {}).get("measures", [])]
            if measure not in keys:
                raise DomainError(f"{measure!r} is not a measure of scorecard {current!r} ({', '.join(keys)})",
                                  field="measure")
        session.add(ScoreOverride(entity_kind=kind, entity_id=entity_id, measure=measure, score=score, note=note,
                                  author=author))
    return run_scoring(tenant, trigger="override", only={kind: [entity_id]})


def list_scores(tenant: TenantContext, kind: str, *, label: str | None, scorecard: str | None, after: int | None,
                limit: int) -> list[dict[str, Any]]:
    stmt = select(HealthScore).where(HealthScore.entity_kind == kind)
    if label is not None:
        stmt = stmt.where(HealthScore.label == label)
    if scorecard is not None:
        stmt = stmt.where(HealthScore.scorecard == scorecard)
    if after is not None:
        stmt = stmt.where(HealthScore.entity_id > after)
    with tenant.session() as session:
        schemes = _schemes(tenant, session)
        last_run = _last_full_run(session)
        rows = session.scalars(stmt.order_by(HealthScore.entity_id).limit(limit)).all()
        return [{"entity": kind, "entity_id": r.entity_id, **health_row(r, schemes.get(r.scorecard), last_run)}
                for r in rows]


def history_of(tenant: TenantContext, kind: str, entity_id: int, limit: int) -> list[dict[str, Any]]:
    with tenant.session() as session:
        _entity_exists(session, kind, entity_id)
        rows = session.execute(
            select(HealthScoreHistory.snapshot_at, HealthScoreHistory.score, HealthScoreHistory.label,
                   HealthScoreHistory.scorecard, HealthScoreHistory.overridden)
            .where(HealthScoreHistory.entity_kind == kind, HealthScoreHistory.entity_id == entity_id)
            .order_by(HealthScoreHistory.snapshot_at.desc()).limit(limit)).all()
    return [{"at": r[0], "score": r[1], "label": r[2], "scorecard": r[3], "overridden": r[4]} for r in reversed(rows)]


def renewal_health(tenant: TenantContext, opportunity_ids: Sequence[int]) -> dict[str, list[float | None]]:
    """Health of each opportunity's relationship (else its company), for the renewal-risk model."""
    from tether.core.store import Opportunity

    ids = list(opportunity_ids)
    with tenant.session() as session:
        links: dict[int, tuple[int | None, int | None]] = {}
        for start in range(0, len(ids), CHUNK):
            for oid, cid, rid in session.execute(select(Opportunity.id, Opportunity.company_id,
                                                        Opportunity.relationship_id)
                                                 .where(Opportunity.id.in_(ids[start:start + CHUNK]))):
                links[oid] = (cid, rid)
    companies = entity_health(tenant, "company", sorted({c for c, _ in links.values() if c is not None}))
    relationships = entity_health(tenant, "relationship", sorted({r for _, r in links.values() if r is not None}))
    scores: list[float | None] = []
    for oid in ids:
        cid, rid = links.get(oid, (None, None))
        health = relationships.get(rid) if rid is not None else None
        health = health or (companies.get(cid) if cid is not None else None)
        scores.append(health["score"] if health else None)
    return {"health_score": scores}

