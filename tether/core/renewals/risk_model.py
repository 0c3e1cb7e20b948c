"""The renewal-likelihood model: training, holdout metrics and per-renewal factors (no I/O).

Model: median imputation with missing-value indicators → standardisation → logistic
regression, calibrated with Platt's sigmoid (``CalibratedClassifierCV``, cross-validated,
one final model). Calibrated log-odds are affine in the standardised features::

    logit(p) = −a · (w · z + c) − b = Σ_k (−a · w_k) · z_k + (−a · c − b)

so each feature's **contribution** ``−a · w_k · z_k`` is exact and additive: the factors of
a renewal sum, with the offset, to its calibrated log-odds. Standardised features are
centred on the training mean, so a factor says how the renewal differs from an average
one (the linear SHAP value under feature independence). Indicator columns are added back
to the feature they flag.

Quality is measured on a stratified holdout the model never saw: ROC AUC, PR AUC
(average precision), Brier score and log loss, each beside the prevalence baseline.
Global importance is the mean absolute contribution per feature (shares summing to 1),
with permutation importance on the holdout beside it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from typing import Any, Sequence

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ALGORITHM = ("median imputation + missing indicators, StandardScaler, LogisticRegression(C=1.0), "
             "CalibratedClassifierCV(method='sigmoid', ensemble=False)")
INDICATOR_PREFIX = "missingindicator_"
HOLDOUT_SHARE = 0.25


@dataclasses.dataclass(frozen=True)
class Readiness:
    ready: bool
    message: str
    rows: int
    positives: int
    negatives: int


def readiness(y: np.ndarray, *, min_rows: int, min_per_class: int) -> Readiness:
    """Whether the closed renewals suffice to train and evaluate, and if not, what is missing."""
    rows, positives = int(len(y)), int(np.sum(y == 1))
    negatives = rows - positives
    short = []
    if rows < min_rows:
        short.append(f"{rows} closed renewals (needs {min_rows})")
    if positives < min_per_class:
        short.append(f"{positives} renewed (needs {min_per_class})")
    if negatives < min_per_class:
        short.append(f"{negatives} lost or downsold to nothing (needs {min_per_class})")
    if short:
        return Readiness(False, "too little renewal history to train a risk model: " + ", ".join(short)
                         + "; risk shows rule flags only until there is more", rows, positives, negatives)
    return Readiness(True, f"trained on {rows} closed renewals", rows, positives, negatives)


@dataclasses.dataclass
class TrainedModel:
    estimator: CalibratedClassifierCV
    features: list[str]                     # input columns, in order
    labels: dict[str, str]
    dropped: list[str]                      # inputs left out (no variation in training)
    columns: list[str]                      # columns after imputation (with indicators)
    column_feature: list[int]               # index into ``features`` of each column
    weights: np.ndarray                     # calibrated log-odds per standardised column
    offset: float
    metrics: dict[str, Any]
    importance: list[dict[str, Any]]

    # -- scoring -----------------------------------------------------------------------

    def matrix(self, names: Sequence[str], values: np.ndarray) -> np.ndarray:
        """Reorder a feature matrix to the model's inputs (unknown columns NaN)."""
        index = {name: i for i, name in enumerate(names)}
        out = np.full((values.shape[0], len(self.features)), np.nan)
        for j, name in enumerate(self.features):
            if name in index:
                out[:, j] = values[:, index[name]]
        return out

    def likelihood(self, x: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(x)[:, 1]

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-row, per-input contributions to the calibrated log-odds (rows × features)."""
        pipeline = self.estimator.calibrated_classifiers_[0].estimator
        z = pipeline.named_steps["scale"].transform(pipeline.named_steps["impute"].transform(x))
        per_column = z * self.weights
        out = np.zeros((x.shape[0], len(self.features)))
        for column, feature in enumerate(self.column_feature):
            out[:, feature] += per_column[:, column]
        return out

    def top_factors(self, x: np.ndarray, contributions: np.ndarray, likelihoods: np.ndarray,
                    top: int = 5) -> list[list[list]]:
        """Each row's ``top`` strongest factors, compactly: ``[feature, contribution, effect, value]``.

        ``effect`` is the likelihood minus what it would be were this factor average (probability
        points, signed); see :func:`expand_factors` for the readable form.
        """
        if x.shape[0] == 0:
            return []
        picked, chosen, effect, values = self._strongest(x, contributions, likelihoods, top)
        names = self.features
        rows = []
        for features, contribution, change, value in zip(picked.tolist(), chosen.tolist(), effect.tolist(),
                                                         values.tolist()):
            rows.append([[names[f], c, e, None if v != v else v]
                         for f, c, e, v in zip(features, contribution, change, value) if c != 0.0])
        return rows

    def top_factors_json(self, x: np.ndarray, contributions: np.ndarray, likelihoods: np.ndarray,
                         top: int = 5) -> list[str]:
        """:meth:`top_factors` as one JSON text per row (what is stored), built column by column:
        each distinct number is formatted once and rows are assembled by one template per factor
        count, instead of building and encoding nested lists row by row."""
        if x.shape[0] == 0:
            return []
        picked, chosen, effect, values = self._strongest(x, contributions, likelihoods, top)
        names = np.array([json.dumps(name) for name in self.features], dtype=object)[picked]
        columns = (names, _json_numbers(chosen, 4), _json_numbers(effect, 4), _json_numbers(values))
        # Factors rounding to no contribution are left out; being the weakest, they come last.
        counts = np.count_nonzero(chosen != 0.0, axis=1)
        out = np.empty(x.shape[0], dtype=object)
        for count in np.unique(counts).tolist():
            rows = np.flatnonzero(counts == count)
            template = "[" + ",".join(["[{},{},{},{}]"] * count) + "]"
            out[rows] = list(map(template.format, *(column[rows, j].tolist() for j in range(count)
                                                    for column in columns)))
        return out.tolist()

    def _strongest(self, x: np.ndarray, contributions: np.ndarray, likelihoods: np.ndarray, top: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row, the ``top`` strongest inputs (strongest first), their contributions and effects
        (rounded to 4 places) and the rows' values of them."""
        k = min(top, len(self.features))
        strength = np.abs(contributions)
        picked = np.argpartition(-strength, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(strength, picked, axis=1), axis=1)
        picked = np.take_along_axis(picked, order, axis=1)
        chosen = np.take_along_axis(contributions, picked, axis=1)
        p = np.clip(likelihoods, 1e-12, 1 - 1e-12)
        logits = np.log(p / (1 - p))
        effect = likelihoods[:, None] - expit(logits[:, None] - chosen)
        values = np.take_along_axis(x, picked, axis=1)
        return picked, np.round(chosen, 4), np.round(effect, 4), values

    # -- storage -----------------------------------------------------------------------

    def coefficients(self) -> dict[str, Any]:
        pipeline = self.estimator.calibrated_classifiers_[0].estimator
        scaler = pipeline.named_steps["scale"]
        regression = pipeline.named_steps["model"]
        calibrator = self.estimator.calibrated_classifiers_[0].calibrators[0]
        return {
            "columns": self.columns,
            "column_feature": [self.features[i] for i in self.column_feature],
            "mean": [round(float(v), 8) for v in scaler.mean_],
            "scale": [round(float(v), 8) for v in scaler.scale_],
            "coef": [round(float(v), 8) for v in regression.coef_[0]],
            "intercept": round(float(regression.intercept_[0]), 8),
            "calibration": {"a": round(float(calibrator.a_), 8), "b": round(float(calibrator.b_), 8)},
            "weights": [round(float(v), 8) for v in self.weights],
            "offset": round(self.offset, 8),
            "dropped": self.dropped,
        }


def train(x: np.ndarray, y: np.ndarray, features: Sequence[str], labels: dict[str, str], *,
          seed: int = 0) -> TrainedModel:
    """Fit, calibrate and evaluate on a holdout; call only when :func:`readiness` is ready."""
    features = list(features)
    usable = [j for j in range(x.shape[1]) if _varies(x[:, j])]
    dropped = [features[j] for j in range(x.shape[1]) if j not in usable]
    x = x[:, usable]
    features = [features[j] for j in usable]
    x_train, x_hold, y_train, y_hold = train_test_split(x, y, test_size=HOLDOUT_SHARE, stratify=y, random_state=seed)
    folds = int(max(2, min(5, np.sum(y_train == 1), np.sum(y_train == 0))))
    pipeline = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=1.0, max_iter=2000)),
    ])
    estimator = CalibratedClassifierCV(pipeline, method="sigmoid", ensemble=False,
                                       cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(x_train, y_train)
    fitted = estimator.calibrated_classifiers_[0]
    columns = list(fitted.estimator.named_steps["impute"].get_feature_names_out(features))
    column_feature = [features.index(c[len(INDICATOR_PREFIX):] if c.startswith(INDICATOR_PREFIX) else c)
                      for c in columns]
    a, b = float(fitted.calibrators[0].a_), float(fitted.calibrators[0].b_)
    regression = fitted.estimator.named_steps["model"]
    weights = -a * regression.coef_[0]
    offset = -a * float(regression.intercept_[0]) - b
    model = TrainedModel(estimator, features, dict(labels), dropped, columns, column_feature, weights, offset, {}, [])
    model.metrics = holdout_metrics(model, x_hold, y_hold, prevalence=float(np.mean(y_train)))
    model.metrics.update({"training_rows": int(len(y_train)), "holdout_rows": int(len(y_hold)),
                          "calibration_folds": folds})
    model.importance = global_importance(model, x_train, x_hold, y_hold, seed=seed)
    return model


def _json_numbers(values: np.ndarray, places: int | None = None) -> np.ndarray:
    """Each float as ``json.dumps`` writes it (``null`` for NaN), formatting each distinct value once.

    Values already rounded to ``places`` decimals are looked up by their integer count of
    units (one table over the range they span) instead of being sorted to find the distinct ones."""
    flat = values.ravel()
    texts = None
    if places is not None and len(flat):
        scale = 10.0 ** places
        units = np.rint(flat * scale)
        low, high = (float(units.min()), float(units.max())) if np.isfinite(units).all() else (0.0, np.inf)
        if high - low <= 1_000_000 and np.array_equal(units / scale, flat):
            table = np.array([repr(unit / scale) for unit in range(int(low), int(high) + 1)], dtype=object)
            texts = table[(units - low).astype(np.int64)]
    if texts is None:
        uniq, inverse = np.unique(flat, return_inverse=True)
        texts = np.array([repr(v) if math.isfinite(v) else ("null" if v != v else json.dumps(v))
                          for v in uniq.tolist()], dtype=object)[inverse.ravel()]
    zero = flat == 0.0
    texts[zero] = np.where(np.signbit(flat[zero]), "-0.0", "0.0")   # one text for 0.0 and -0.0 above
    return texts.reshape(values.shape)


def _varies(column: np.ndarray) -> bool:
    known = column[~np.isnan(column)]
    if len(known) == 0:
        return False
    return bool(np.ptp(known) > 0) or len(known) < len(column)


def holdout_metrics(model: TrainedModel, x: np.ndarray, y: np.ndarray, *, prevalence: float) -> dict[str, Any]:
    p = model.likelihood(x)
    baseline = np.full(len(y), prevalence)
    both = len(set(y.tolist())) == 2
    return {
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(y, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(y, p)), 4),
        "log_loss": round(float(log_loss(y, p, labels=[0, 1])), 4),
        "baseline": {
            "description": "predicts the training share of renewed for every renewal",
            "roc_auc": 0.5,
            "pr_auc": round(float(np.mean(y)), 4),
            "brier": round(float(brier_score_loss(y, baseline)), 4),
            "log_loss": round(float(log_loss(y, baseline, labels=[0, 1])), 4),
        },
        "holdout_renewed_share": round(float(np.mean(y)), 4),
    }


def global_importance(model: TrainedModel, x_train: np.ndarray, x_hold: np.ndarray, y_hold: np.ndarray, *,
                      seed: int = 0) -> list[dict[str, Any]]:
    contributions = model.contributions(x_train)
    mean_abs = np.mean(np.abs(contributions), axis=0)
    total = float(np.sum(mean_abs)) or 1.0
    # Direction: how the contribution moves with the feature's value over the training rows.
    directions = []
    for j in range(len(model.features)):
        column = x_train[:, j]
        known = ~np.isnan(column)
        if known.sum() > 2 and np.std(column[known]) > 0 and np.std(contributions[known, j]) > 0:
            directions.append(float(np.corrcoef(column[known], contributions[known, j])[0, 1]))
        else:
            directions.append(0.0)
    permutation = None
    if len(set(y_hold.tolist())) == 2 and len(y_hold) >= 10:
        permutation = permutation_importance(model.estimator, x_hold, y_hold, scoring="roc_auc", n_repeats=5,
                                             random_state=seed).importances_mean
    ranked = []
    for j, name in enumerate(model.features):
        ranked.append({
            "feature": name, "label": model.labels.get(name, name),
            "share": round(float(mean_abs[j]) / total, 4),
            "mean_abs_contribution": round(float(mean_abs[j]), 4),
            "direction": "higher raises likelihood" if directions[j] > 0 else (
                "higher lowers likelihood" if directions[j] < 0 else "no clear direction"),
            "permutation_roc_auc_drop": None if permutation is None else round(float(permutation[j]), 4),
        })
    ranked.sort(key=lambda item: -item["mean_abs_contribution"])
    return ranked


def expand_factors(compact: list | None, labels: dict[str, str], describe=None) -> list[dict[str, Any]]:
    """Stored ``[feature, contribution, effect, value]`` factors → readable dicts."""
    expanded = []
    for feature, contribution, effect, value in compact or []:
        expanded.append({
            "feature": feature, "label": labels.get(feature, feature),
            "value": describe(value, feature) if (describe and value is not None) else value,
            "contribution": contribution, "effect": effect,
            "direction": "raises" if contribution > 0 else "lowers",
        })
    return expanded
