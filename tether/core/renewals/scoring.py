"""Training a tenant's risk model, storing its versions, and scoring open renewals.

``train_and_score`` is what the scheduled retraining job, ``tether renewals train`` and
the admin API run: it trains on the newest closed renewals (up to
``max_training_rows``), stores a version with its holdout metrics and coefficients
whether or not training was possible, makes a trained version active, and scores every
open renewal with it (likelihood and top factors, replacing the previous scores).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from itertools import repeat
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..store.types import utcnow
from .config import load_config, today_utc
from .features import build_features, load_renewals
from .models import RiskModelVersion, RiskScore
from .risk_model import ALGORITHM, TrainedModel, readiness, train
from .sqlparts import collector_paused, raw_insert

if TYPE_CHECKING:
    from ..plugins import TenantContext

log = logging.getLogger(__name__)

TOP_FACTORS = 5


def train_and_score(tenant: "TenantContext", *, today: dt.date | None = None, seed: int = 0) -> dict[str, Any]:
    """Train (or say why not), store the version, and score open renewals with the active model."""
    today = today or today_utc()
    version = train_model(tenant, today=today, seed=seed)
    return {"version": version, "scored": score_open_renewals(tenant, today=today)}


def train_model(tenant: "TenantContext", *, today: dt.date | None = None, seed: int = 0) -> dict[str, Any]:
    """Train on the newest closed renewals and store the version (active when trained)."""
    today = today or today_utc()
    with collector_paused():
        with tenant.session() as session:
            config = load_config(tenant, session)
            rows = load_renewals(session, tenant.id, closed=True, today=today, limit=config.max_training_rows)
        features = build_features(tenant, rows)
    check = readiness(rows.won, min_rows=config.min_training_rows, min_per_class=config.min_per_class)
    if not check.ready:
        log.info("tenant %s: %s", tenant.id, check.message)
        return _store_version(tenant, status="insufficient_data", message=check.message, check=check)
    model = train(features.matrix, rows.won, features.names, features.labels, seed=seed)
    version = _store_version(tenant, status="trained", message=check.message, check=check, model=model)
    log.info("tenant %s: risk model v%s trained (holdout ROC AUC %s)", tenant.id, version["version"],
             model.metrics.get("roc_auc"))
    return version


def _store_version(tenant: "TenantContext", *, status: str, message: str, check, model: TrainedModel | None = None) -> dict[str, Any]:
    with tenant.transaction() as session:
        number = (session.scalar(select(func.max(RiskModelVersion.version))) or 0) + 1
        row = RiskModelVersion(version=number, status=status, message=message, trained_at=utcnow(),
                               training_rows=check.rows, positives=check.positives, negatives=check.negatives)
        if model is not None:
            row.algorithm = ALGORITHM
            row.metrics = model.metrics
            row.features = [{"name": n, "label": model.labels.get(n, n)} for n in model.features]
            row.coefficients = model.coefficients()
            row.importance = model.importance
            row.artifact = _dump(model)
            session.execute(update(RiskModelVersion).where(RiskModelVersion.tenant_id == tenant.id)
                            .values(is_active=False).execution_options(synchronize_session=False))
            row.is_active = True
        session.add(row)
        session.flush()
        return version_dict(row)


def _dump(model: TrainedModel) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def load_model(row: RiskModelVersion) -> TrainedModel:
    return joblib.load(io.BytesIO(row.artifact))


def active_version(session: Session) -> RiskModelVersion | None:
    return session.scalar(select(RiskModelVersion).where(RiskModelVersion.is_active.is_(True))
                          .order_by(RiskModelVersion.version.desc()).limit(1))


def latest_version(session: Session) -> RiskModelVersion | None:
    return session.scalar(select(RiskModelVersion).order_by(RiskModelVersion.version.desc()).limit(1))


def score_open_renewals(tenant: "TenantContext", *, today: dt.date | None = None) -> dict[str, Any]:
    """Score every open renewal with the active model; without one, clear stale scores."""
    today = today or today_utc()
    with tenant.session() as session:
        version = active_version(session)
        if version is None:
            return {"scored": 0, "model_version": None, "message": "no trained model: rule flags only"}
        model = load_model(version)
        version_id, version_number = version.id, version.version
    with collector_paused():
        with tenant.session() as session:
            rows = load_renewals(session, tenant.id, closed=False, today=today)
        features = build_features(tenant, rows)
        x = model.matrix(features.names, features.matrix)
        likelihoods = model.likelihood(x) if len(x) else np.zeros(0)
        contributions = model.contributions(x) if len(x) else np.zeros((0, len(model.features)))
        factors = model.top_factors_json(x, contributions, likelihoods, top=TOP_FACTORS)
        now = utcnow()
        with tenant.transaction() as session:
            session.execute(delete(RiskScore).where(RiskScore.tenant_id == tenant.id))
            n = len(rows.ids)
            raw_insert(session, RiskScore.__table__,
                       ("tenant_id", "opportunity_id", "model_version_id", "likelihood", "factors", "scored_at"),
                       zip(repeat(tenant.id, n), rows.ids.tolist(), repeat(version_id, n),
                           np.round(likelihoods, 6).tolist(), factors, repeat(now, n)))
    return {"scored": int(len(rows.ids)), "model_version": version_number}


def factor_labels(row: RiskModelVersion | None) -> dict[str, str]:
    return {f["name"]: f.get("label", f["name"]) for f in (row.features or [])} if row is not None else {}


def version_dict(row: RiskModelVersion, *, detail: bool = False) -> dict[str, Any]:
    data = {"version": row.version, "status": row.status, "message": row.message, "trained_at": row.trained_at,
            "is_active": row.is_active, "training_rows": row.training_rows, "positives": row.positives,
            "negatives": row.negatives, "algorithm": row.algorithm, "metrics": row.metrics or {},
            "importance": row.importance or []}
    if detail:
        data["features"] = row.features or []
        data["coefficients"] = row.coefficients or {}
    return data


def list_versions(tenant: "TenantContext") -> list[dict[str, Any]]:
    with tenant.session() as session:
        return [version_dict(row) for row in session.scalars(
            select(RiskModelVersion).order_by(RiskModelVersion.version.desc()))]


def get_version(tenant: "TenantContext", number: int) -> dict[str, Any]:
    with tenant.session() as session:
        row = session.scalar(select(RiskModelVersion).where(RiskModelVersion.version == number))
        if row is None:
            raise NotFound(f"no risk model version {number} in tenant {tenant.id!r}",
                           hint="list versions with GET .../renewals/models")
        return version_dict(row, detail=True)
