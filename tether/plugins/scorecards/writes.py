"""Writing a scoring run's results: changed scores upserted, history snapshots, overrides ended,
old runs forgotten, scores of deleted entities dropped."""

from __future__ import annotations

import datetime as dt
import zlib
from itertools import repeat
from typing import Sequence

import numpy as np
from sqlalchemy import and_, case, delete, func, insert, literal, literal_column, or_, select, update

from tether.core.plugins import TenantContext
from tether.core.store.types import utcnow

from .bulk import fetch_all, processor, upsert_scores
from .definitions import PLUGIN
from .models import HealthScore, HealthScoreHistory, ScoreOverride, ScoreRun

CHUNK = 500
HISTORY_PERIODS = {"every_run": dt.timedelta(0), "daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}


COLUMNS = ("tenant_id", "entity_kind", "entity_id", "scorecard", "score", "label", "color", "exception",
           "overridden", "measure_scores", "run_id", "computed_at", "digest")
_PRIME = np.uint64(1099511628211)
_NAN64 = np.array([np.nan]).view(np.uint64)[0]


def fingerprint(scorecard: str, entity_ids: np.ndarray, scores: np.ndarray, ranges: np.ndarray,
                exceptions: np.ndarray, overridden: np.ndarray, measures: np.ndarray) -> np.ndarray:
    """A 64-bit digest per entity of everything a score row shows, computed with array operations.

    ``scorecard`` names the scorecard and whatever else its rows show by index (range labels
    and colours, exception names), so renaming one of those changes every digest. The entity
    id is part of it, so two entities trading their scores change both digests, and a sum
    over a tenant's digests can stand for the rows themselves (see :func:`_unchanged`)."""
    digest = np.full(len(scores), np.uint64(zlib.crc32(scorecard.encode("utf-8"))), dtype=np.uint64)

    def mix(values: np.ndarray) -> None:
        nonlocal digest
        digest = (digest ^ values.astype(np.uint64, copy=False)) * _PRIME  # wraps around, as a hash should

    with np.errstate(over="ignore"):
        mix(entity_ids)
        mix(np.where(np.isnan(scores), _NAN64, scores.view(np.uint64)))
        mix((ranges + 1).astype(np.uint64))
        mix((exceptions + 1).astype(np.uint64))
        mix(overridden.astype(np.uint64))
        packed = measures.astype(np.float32)
        bits = np.where(np.isnan(packed), np.float32(np.nan), packed).view(np.uint32)
        for column in range(bits.shape[1]):
            mix(bits[:, column])
    return digest.view(np.int64)


def write_scores(tenant: TenantContext, kind: str, *, run_id: int, full: bool, now: dt.datetime, ids: np.ndarray,
                 overall: np.ndarray, labels: np.ndarray, colors: np.ndarray, cards: np.ndarray, exceptions: np.ndarray,
                 overridden: np.ndarray, measure_scores: Sequence[tuple[np.ndarray, np.ndarray]],
                 fingerprints: np.ndarray) -> int:
    """Write the scores that changed (new entities, a different score, range, scorecard, exception,
    override or measure score, by fingerprint) and those whose previous score and trend still
    reflect an older change; a full run also drops scores of entities it no longer scored.
    ``measure_scores`` holds, per scorecard, its rows and their float32 measure scores.
    Returns how many rows were written.

    In a full run, rows that are unchanged but not settled (a run after a change: their
    previous score and trend catch up) are updated by one statement in the database, since
    only their previous score, trend and run change; only changed rows go through the driver."""
    table = HealthScore.__table__
    scope = (table.c.tenant_id == tenant.id) & (table.c.entity_kind == kind)
    # Settled: the upsert would leave previous score and trend as they are (same score again).
    settled = case((or_(and_(table.c.score.is_(None), table.c.previous_score.is_(None), table.c.trend.is_(None)),
                        and_(table.c.trend == "same", table.c.previous_score == table.c.score)), 1), else_=0)
    stored = select(table.c.entity_id, func.coalesce(table.c.digest, 0), settled).where(scope)
    with tenant.transaction() as session:
        connection = session.connection()
        if full and _unchanged(connection, scope, settled, fingerprints):
            return 0
        if full:
            old = fetch_all(connection, stored)
        else:
            old = []
            for start in range(0, len(ids), CHUNK):
                old += fetch_all(connection, stored.where(table.c.entity_id.in_(ids[start:start + CHUNK].tolist())))
        same, is_settled, gone = _changes(old, ids, fingerprints)
        catch_up = int((same & ~is_settled).sum()) if full else 0
        if catch_up:
            # Before the upsert below, which leaves the rows it writes unsettled again.
            connection.execute(update(table).where(scope, settled == 0).values(
                previous_score=table.c.score, trend=case((table.c.score.is_(None), None), else_="same"),
                run_id=run_id, computed_at=now))
        changed = ~same if full else ~(same & is_settled)
        written = np.flatnonzero(changed)
        if len(written):
            blobs = np.empty(len(ids), dtype=object)
            for rows, matrix in measure_scores:
                picked = np.flatnonzero(changed[rows])
                blobs[rows[picked]] = [row.tobytes() for row in matrix[picked]]
            stamp = processor(connection, table, "computed_at")(now)
            n = len(written)
            upsert_scores(connection, COLUMNS, zip(
                repeat(tenant.id, n), repeat(kind, n), ids[written].tolist(), cards[written].tolist(),
                _nullable(overall[written]), labels[written].tolist(), colors[written].tolist(),
                exceptions[written].tolist(), overridden[written].tolist(), blobs[written].tolist(),
                repeat(run_id, n), repeat(stamp, n), fingerprints[written].tolist()))
        if full and len(gone):
            for start in range(0, len(gone), CHUNK):
                connection.execute(delete(table).where(scope, table.c.entity_id.in_(gone[start:start + CHUNK].tolist())))
        return len(written) + catch_up


_LOW_BITS = 0xFFFFFFFF


def _unchanged(connection, scope, settled, fingerprints: np.ndarray) -> bool:
    """Whether the stored rows in ``scope`` are these entities' rows with these digests, all
    settled: compared as a count and two sums of digest halves, in one aggregate query.

    A steady run (nothing changed, the usual hourly case) then reads four numbers instead of
    a row per entity (400,000 rows: ~0.25 s). Digests include the entity id, so a missing,
    extra or changed row moves the sums unless its 64-bit digest difference cancels out in
    both halves at once: as unlikely as two digests colliding, which the row-by-row
    comparison accepts as well. Each half-sum fits 64 bits up to 2**31 rows."""
    table = HealthScore.__table__
    digest = func.coalesce(table.c.digest, 0)
    high_half = digest.op(">>")(literal_column("32"))  # a literal: PostgreSQL shifts bigint by int only
    count, low, high, unsettled = connection.execute(
        select(func.count(), func.coalesce(func.sum(digest.op("&")(_LOW_BITS)), 0),
               func.coalesce(func.sum(high_half), 0), func.coalesce(func.sum(1 - settled), 0))
        .where(scope)).one()
    if count != len(fingerprints) or unsettled:
        return False
    prints = fingerprints.astype(np.int64, copy=False)
    return int(low) == int((prints & _LOW_BITS).sum()) and int(high) == int((prints >> 32).sum())


def _nullable(values: np.ndarray) -> list:
    """Floats with None for NaN (N/A)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()


def _changes(old: Sequence[tuple], ids: np.ndarray, fingerprints: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each new row (masks over ``ids``): whether a stored row has the same fingerprint, and
    whether that stored row is settled; and the stored ids no longer scored.

    ``old`` holds (entity id, digest, settled) of stored rows."""
    if not old:
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=bool), np.empty(0, dtype=np.int64)
    stored = np.array(old, dtype=np.int64)
    old_ids, old_prints, old_settled = stored[:, 0], stored[:, 1], stored[:, 2].astype(bool)
    if len(old_ids) > 1 and not (old_ids[1:] > old_ids[:-1]).all():
        order = np.argsort(old_ids, kind="stable")
        old_ids, old_prints, old_settled = old_ids[order], old_prints[order], old_settled[order]
    pos = np.minimum(np.searchsorted(old_ids, ids), len(old_ids) - 1)
    same = (old_ids[pos] == ids) & (old_prints[pos] == fingerprints)
    gone = np.setdiff1d(old_ids, ids, assume_unique=True)
    return same, same & old_settled[pos], gone


def clear_kind(tenant: TenantContext, kind: str) -> None:
    """A kind with no scorecard any more has no scores."""
    table = HealthScore.__table__
    with tenant.transaction() as session:
        session.execute(delete(table).where(table.c.tenant_id == tenant.id, table.c.entity_kind == kind))


def end_overrides(session, started: dt.datetime) -> int:
    result = session.execute(update(ScoreOverride).where(ScoreOverride.consumed_at.is_(None),
                                                         ScoreOverride.created_at <= started)
                             .values(consumed_at=utcnow()))
    return result.rowcount or 0


def snapshot_if_due(tenant: TenantContext, session, now: dt.datetime) -> bool:
    period = HISTORY_PERIODS.get(tenant.config_for(PLUGIN).get("history") or "weekly", HISTORY_PERIODS["weekly"])
    # The runs say when the last snapshot was taken (a snapshot is stamped with its run's
    # start, in the run's last transaction), so history needs no index on time. Runs are
    # kept 30 days, longer than any snapshot period.
    latest = session.scalar(select(func.max(ScoreRun.started_at))
                            .where(ScoreRun.details["snapshot"].as_boolean().is_(True)))
    if latest is not None and now - latest < period:
        return False
    source = HealthScore.__table__
    history = HealthScoreHistory.__table__
    session.execute(insert(history).from_select(
        ["tenant_id", "entity_kind", "entity_id", "scorecard", "score", "label", "overridden", "snapshot_at"],
        select(source.c.tenant_id, source.c.entity_kind, source.c.entity_id, source.c.scorecard, source.c.score,
               source.c.label, source.c.overridden, literal(now, HealthScoreHistory.snapshot_at.type))
        .where(source.c.tenant_id == tenant.id)))
    return True


RUNS_KEPT = dt.timedelta(days=30)


def prune_runs(tenant: TenantContext, session, now: dt.datetime) -> None:
    """Forget runs older than a month that no current score still points at."""
    runs, scores = ScoreRun.__table__, HealthScore.__table__
    in_use = select(scores.c.run_id).where(scores.c.tenant_id == tenant.id, scores.c.run_id.is_not(None)).distinct()
    session.execute(delete(runs).where(runs.c.tenant_id == tenant.id, runs.c.started_at < now - RUNS_KEPT,
                                       runs.c.id.not_in(in_use)))


def forget(tenant: TenantContext, kind: str, ids: Sequence[int]) -> None:
    """Drop the scores of deleted entities."""
    table = HealthScore.__table__
    with tenant.transaction() as session:
        for start in range(0, len(ids), CHUNK):
            session.execute(delete(table).where(table.c.tenant_id == tenant.id, table.c.entity_kind == kind,
                                                table.c.entity_id.in_(list(ids[start:start + CHUNK]))))

