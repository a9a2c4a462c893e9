"""A binary classifier's probabilities made trustworthy, and its decision threshold.

Calibration (isotonic or sigmoid) is fitted on the validation rows' probabilities. Judging it
on the same rows would flatter it (isotonic regression fits them almost exactly), so each
method is judged by 5-fold cross-fitting on the validation rows: fitted on four folds, scored
(log loss) on the fifth. A method is kept only when its cross-fitted log loss beats the
uncalibrated one by :data:`MIN_GAIN`; it is then fitted on every validation row.

The decision threshold (labels only; probabilities stay as they are): the cut on the second
class's probability that maximises the named metric on the validation rows, the cut nearest
0.5 among ties. A row's label is the second class when its probability is at or above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mpg_core.artifact.blend import Calibration

FOLDS = 5
MIN_GAIN = 0.01  # relative log loss improvement a calibration must show, cross-fitted
MIN_ROWS = 50  # fewer validation rows than this: no calibration (too few to judge it on)
THRESHOLD_METRICS = ("balanced_accuracy", "accuracy", "f1")


def fit_calibration(method: str, p: np.ndarray, positive: np.ndarray) -> Calibration:
    """``method`` fitted to map probabilities ``p`` to the outcomes ``positive`` (bool)."""
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(p, positive.astype(np.float64))
        return Calibration(
            "isotonic",
            x=np.asarray(iso.X_thresholds_, dtype=np.float64),
            y=np.asarray(iso.y_thresholds_, dtype=np.float64),
        )
    from sklearn.linear_model import LogisticRegression

    q = np.clip(p, 1e-12, 1 - 1e-12)
    logit = np.log(q / (1 - q))[:, None]
    platt = LogisticRegression(C=1e4).fit(logit, positive)
    return Calibration("sigmoid", a=float(platt.coef_[0, 0]), b=float(platt.intercept_[0]))


def _log_loss(positive: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(positive, np.log(q), np.log(1 - q))))


def cross_fitted(method: str, p: np.ndarray, positive: np.ndarray, seed: int) -> np.ndarray:
    """Each validation row's probability calibrated by ``method`` fitted on the other folds."""
    folds = np.random.default_rng(seed).permutation(len(p)) % FOLDS
    out = np.empty_like(p)
    for k in range(FOLDS):
        held = folds == k
        fit_rows = ~held
        if positive[fit_rows].all() or not positive[fit_rows].any():
            out[held] = p[held]  # one class in the fitting folds: nothing to fit
            continue
        out[held] = fit_calibration(method, p[fit_rows], positive[fit_rows]).apply(p[held])
    return out


@dataclass(frozen=True)
class CalibrationChoice:
    calibration: Calibration | None
    log_loss: dict[str, float]  # cross-fitted validation log loss by method ("none" as is)
    reason: str

    def as_json(self) -> dict[str, object]:
        method = "none" if self.calibration is None else self.calibration.method
        return {
            "method": method,
            "judged_by": f"{FOLDS}-fold cross-fitting on the validation rows",
            "cross_fitted_log_loss": self.log_loss,
            "reason": self.reason,
        }


def choose_calibration(
    p: np.ndarray,
    positive: np.ndarray,
    seed: int,
    methods: tuple[str, ...] = ("sigmoid", "isotonic"),
) -> CalibrationChoice:
    """The calibration (or none) for second-class probabilities ``p`` on the validation rows."""
    if len(p) < MIN_ROWS or positive.all() or not positive.any():
        return CalibrationChoice(None, {}, f"fewer than {MIN_ROWS} validation rows of both classes")
    losses = {"none": _log_loss(positive, p)}
    for method in methods:
        losses[method] = _log_loss(positive, cross_fitted(method, p, positive, seed))
    best = min(methods, key=lambda m: losses[m])
    if losses[best] <= losses["none"] * (1 - MIN_GAIN):
        return CalibrationChoice(
            fit_calibration(best, p, positive), losses, f"{best} lowers the log loss"
        )
    return CalibrationChoice(None, losses, "no method lowers the log loss by 1% or more")


def _metric(name: str, positive: np.ndarray, predicted: np.ndarray) -> float:
    tp = float(np.sum(predicted & positive))
    fp = float(np.sum(predicted & ~positive))
    fn = float(np.sum(~predicted & positive))
    tn = float(np.sum(~predicted & ~positive))
    if name == "accuracy":
        return (tp + tn) / len(positive)
    if name == "f1":
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    specificity = tn / (tn + fp) if tn + fp else 0.0
    return (recall + specificity) / 2


def choose_threshold(p: np.ndarray, positive: np.ndarray, metric: str) -> float:
    """The cut on ``p`` that maximises ``metric`` on these rows (nearest 0.5 among ties)."""
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"decision metric {metric!r}; expected one of {THRESHOLD_METRICS}")
    values = np.unique(p)
    cuts = np.concatenate([[0.5], (values[:-1] + values[1:]) / 2]) if len(values) > 1 else [0.5]
    best, best_score = 0.5, -math.inf
    for cut in sorted(cuts, key=lambda c: abs(c - 0.5)):
        value = _metric(metric, positive, p >= cut)
        if value > best_score + 1e-12:
            best, best_score = float(cut), value
    return best
