"""A classifier's probabilities made trustworthy, and a binary classifier's decision threshold.

Calibration is fitted on probabilities of rows the model was not fitted on: the validation
rows, or for a small table auto's out-of-fold predictions of every train and validation row
(:class:`mpg_training.selection.Judging`). A binary classifier may take isotonic, sigmoid or
temperature; more classes, temperature (every class's probability to one power, the rows
normalised: the averaged votes of a forest are under-confident, and one power, fitted on a
few hundred rows, does not overfit them). Judging a method on the rows it was fitted on would
flatter it (isotonic regression fits them almost exactly), so each method is judged by 5-fold
cross-fitting: fitted on four folds, scored (log loss) on the fifth. A method is kept only
when its cross-fitted log loss beats the uncalibrated one by :data:`MIN_GAIN`; it is then
fitted on every row.

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
# Nor with fewer rows than this of some class: ten positives that happen to sit above every
# negative make any map sharpen them to certainty, and the first test positive below them then
# costs a log loss of 20 or more.
MIN_CLASS_ROWS = 30
# Isotonic regression overfits below about a thousand rows (scikit-learn's guide says as much):
# its steps reach 0 and 1 exactly, and one such answer on a test row of the other class costs
# a log loss of 34. Below this, "auto" tries only the one- and two-parameter maps.
ISOTONIC_MIN_ROWS = 1_000
THRESHOLD_METRICS = ("balanced_accuracy", "accuracy", "f1")


def platt_targets(positive: np.ndarray) -> np.ndarray:
    """Platt's smoothed targets: (N+ + 1) / (N+ + 2) for a positive row, 1 / (N- + 2) for a
    negative one, as scikit-learn's sigmoid calibration fits. Fitted to 0 and 1, the two
    coefficients of rows that happen to be separated grow without bound."""
    n_pos = float(np.sum(positive))
    n_neg = float(len(positive) - n_pos)
    return np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))


def fit_temperature(proba: np.ndarray, y_index: np.ndarray) -> Calibration:
    """The power of the probabilities (n, classes) that minimises the log loss of the true
    classes ``y_index`` (column numbers), searched between 1/20 and 20."""
    from scipy.optimize import minimize_scalar

    def loss(log_power: float) -> float:
        calibrated = Calibration("temperature", a=float(np.exp(log_power))).calibrate(proba)
        return class_log_loss(y_index, calibrated)

    found = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return Calibration("temperature", a=float(np.exp(found.x)))


def class_log_loss(y_index: np.ndarray, proba: np.ndarray) -> float:
    """The log loss of probabilities (n, classes) for the true column numbers ``y_index``."""
    picked = proba[np.arange(len(y_index)), y_index]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


def fit_calibration(method: str, p: np.ndarray, positive: np.ndarray) -> Calibration:
    """``method`` fitted to map probabilities ``p`` to the outcomes ``positive`` (bool)."""
    if method == "temperature":
        return fit_temperature(np.column_stack([1.0 - p, p]), positive.astype(np.intp))
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(p, positive.astype(np.float64))
        return Calibration(
            "isotonic",
            x=np.asarray(iso.X_thresholds_, dtype=np.float64),
            y=np.asarray(iso.y_thresholds_, dtype=np.float64),
        )
    from scipy.optimize import minimize

    q = np.clip(p, 1e-12, 1 - 1e-12)
    logit = np.log(q / (1 - q))
    target = platt_targets(positive)

    def loss(ab: np.ndarray) -> float:
        z = ab[0] * logit + ab[1]
        # -[t log s(z) + (1 - t) log(1 - s(z))], written stably.
        return float(np.mean(np.logaddexp(0.0, z) - target * z))

    found = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B")
    return Calibration("sigmoid", a=float(found.x[0]), b=float(found.x[1]))


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

    rows: str = "the validation rows"

    def as_json(self) -> dict[str, object]:
        method = "none" if self.calibration is None else self.calibration.method
        out: dict[str, object] = {
            "method": method,
            "judged_by": f"{FOLDS}-fold cross-fitting on {self.rows}",
            "cross_fitted_log_loss": self.log_loss,
            "reason": self.reason,
        }
        if self.calibration is not None and method == "temperature":
            out["power"] = self.calibration.a
        return out


def choose_class_calibration(
    proba: np.ndarray, y_index: np.ndarray, seed: int, rows: str
) -> CalibrationChoice:
    """A temperature (or none) for the probabilities (n, classes) of any classifier, on
    ``rows`` (named in the report) whose true column numbers are ``y_index``."""
    if len(y_index) < MIN_ROWS or np.bincount(y_index).min() < MIN_CLASS_ROWS:
        reason = f"fewer than {MIN_ROWS} rows, or {MIN_CLASS_ROWS} of some class, to judge it on"
        return CalibrationChoice(None, {}, reason, rows)
    folds = np.random.default_rng(seed).permutation(len(y_index)) % FOLDS
    crossed = np.empty_like(proba)
    for k in range(FOLDS):
        held = folds == k
        crossed[held] = fit_temperature(proba[~held], y_index[~held]).calibrate(proba[held])
    losses = {
        "none": class_log_loss(y_index, proba),
        "temperature": class_log_loss(y_index, crossed),
    }
    if losses["temperature"] <= losses["none"] * (1 - MIN_GAIN):
        return CalibrationChoice(
            fit_temperature(proba, y_index), losses, "temperature lowers the log loss", rows
        )
    return CalibrationChoice(None, losses, "temperature does not lower the log loss by 1%", rows)


def choose_calibration(
    p: np.ndarray,
    positive: np.ndarray,
    seed: int,
    methods: tuple[str, ...] = ("sigmoid", "isotonic"),
    rows: str = "the validation rows",
) -> CalibrationChoice:
    """The calibration (or none) for second-class probabilities ``p`` on ``rows``."""
    smallest = min(int(positive.sum()), int((~positive).sum()))
    if len(p) < MIN_ROWS or smallest < MIN_CLASS_ROWS:
        reason = f"fewer than {MIN_ROWS} rows, or {MIN_CLASS_ROWS} of each class, to judge it on"
        return CalibrationChoice(None, {}, reason, rows)
    losses = {"none": _log_loss(positive, p)}
    for method in methods:
        losses[method] = _log_loss(positive, cross_fitted(method, p, positive, seed))
    best = min(methods, key=lambda m: losses[m])
    if losses[best] <= losses["none"] * (1 - MIN_GAIN):
        return CalibrationChoice(
            fit_calibration(best, p, positive), losses, f"{best} lowers the log loss", rows
        )
    return CalibrationChoice(None, losses, "no method lowers the log loss by 1% or more", rows)


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
