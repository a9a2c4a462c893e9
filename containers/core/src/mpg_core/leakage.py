"""Target leakage: a column that alone predicts the target almost perfectly is, far more often
than not, the target in disguise (its log, a copy, a field filled in after the outcome), and a
model trained on it is worthless in production however good it looks.

A column leaks when, on its own:
- it equals the target, or is a monotone function of it (Spearman |rho| >= :data:`MONOTONE`
  for a numeric target; for classes, each value maps to exactly one class and vice versa);
- or a one-column model scores R² (regression), ROC AUC (binary) or balanced accuracy
  (multiclass) >= :data:`SCORE` on held-out rows of train and validation (cross-fitted; a
  shallow tree for a numeric column, each level's mean or class shares for a text one).

The preprocessing job runs :func:`check_leakage` on train/validation and stops with
:class:`TargetLeakError` naming the column and the score; ``init``
(:func:`mpg_core.table_schema.infer_schema`) marks such columns ``leakage = "<reason>"`` with
role ignored. A column with ``accept_leakage = true`` in the schema is not checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mpg_core.errors import DataError

SCORE = 0.98
MONOTONE = 0.999
# The check fits one small model per column: on a sample of this many rows of each split.
MAX_ROWS = 20_000
FOLDS = 5


class TargetLeakError(DataError):
    """A column predicts the target almost perfectly on its own (exit code of DataError)."""


@dataclass(frozen=True)
class Leak:
    column: str
    reason: str
    score: float

    @property
    def message(self) -> str:
        return f"{self.column!r}: {self.reason}"


def _numbers(values: pd.Series) -> pd.Series | None:
    if values.dtype.kind in "biuf":
        return values.astype("float64")
    parsed = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    if parsed[values.notna()].isna().any():
        return None
    return parsed.astype("float64")


def _sample(frame: pd.DataFrame, y: pd.Series, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    if len(frame) <= MAX_ROWS:
        return frame, y
    keep = np.random.default_rng(seed).choice(len(frame), MAX_ROWS, replace=False)
    return frame.iloc[keep], y.iloc[keep]


def _score(task: str, y: np.ndarray, predicted: np.ndarray, classes: np.ndarray) -> float:
    """R², or ROC AUC (binary: of the second class; multiclass: macro one-vs-rest over the
    classes present with both outcomes)."""
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, predicted)) if len(y) > 1 else math.nan
    columns = [1] if len(classes) == 2 else range(len(classes))
    aucs = []
    for k in columns:
        positive = y == classes[k]
        if positive.any() and not positive.all():
            aucs.append(float(roc_auc_score(positive, predicted[:, k])))
    return float(np.mean(aucs)) if aucs else math.nan


def _identical(task: str, x: pd.Series, y: pd.Series) -> str | None:
    """The reason ``x`` is the target itself or a monotone function of it, else None."""
    present = x.notna() & y.notna()
    if present.sum() < 10:
        return None
    x, y = x[present], y[present]
    if (x.astype(str).str.strip() == y.astype(str).str.strip()).all():
        return "equal to the target"
    if task == "classification":
        per_value = y.groupby(x.astype(str)).nunique()
        per_class = x.astype(str).groupby(y.astype(str)).nunique()
        if (per_value == 1).all() and (per_class == 1).all():
            return "a one-to-one relabelling of the target's classes"
        return None
    numbers = _numbers(x)
    if numbers is None or numbers.nunique() < 3:
        return None
    rho = numbers.rank().corr(y.astype("float64").rank())
    if rho is not None and abs(rho) >= MONOTONE:
        return f"a monotone function of the target (Spearman rho {rho:+.4f})"
    return None


def _one_column_model(
    task: str,
    x_fit: pd.Series,
    y_fit: np.ndarray,
    x_score: pd.Series,
    classes: np.ndarray,
) -> np.ndarray:
    """A one-column model's answers on ``x_score``: a shallow tree on a numeric column, the
    level's train mean (class shares) on a text one (unseen levels: the overall one)."""
    numbers_fit, numbers_score = _numbers(x_fit), _numbers(x_score)
    if numbers_fit is not None and numbers_score is not None:
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        model = (
            DecisionTreeRegressor(max_depth=6, min_samples_leaf=5, random_state=0)
            if task == "regression"
            else DecisionTreeClassifier(max_depth=6, min_samples_leaf=5, random_state=0)
        )
        model.fit(numbers_fit.to_numpy()[:, None], y_fit)
        answer = model.predict_proba if task == "classification" else model.predict
        return np.asarray(answer(numbers_score.to_numpy()[:, None]), dtype=np.float64)
    levels_fit = x_fit.astype(str).to_numpy()
    levels_score = x_score.astype(str).to_numpy()
    if task == "regression":
        means = pd.Series(y_fit).groupby(levels_fit).mean()
        return pd.Series(levels_score).map(means).fillna(float(np.mean(y_fit))).to_numpy()
    shares = pd.crosstab(levels_fit, y_fit, normalize="index").reindex(
        columns=classes, fill_value=0
    )
    prior = pd.Series(y_fit).value_counts(normalize=True).reindex(classes, fill_value=0)
    out = np.array(shares.reindex(levels_score).to_numpy(dtype=np.float64))
    missing = np.isnan(out).any(axis=1)
    out[missing] = prior.to_numpy()
    return out


def _cross_fitted(
    task: str, x: pd.Series, y: np.ndarray, classes: np.ndarray, seed: int
) -> np.ndarray | None:
    """The one-column model's answer for every row, each from a model fitted on the other
    :data:`FOLDS` - 1 folds; None when too few rows have a value."""
    folds = np.random.default_rng(seed).permutation(len(x)) % FOLDS
    present = x.notna().to_numpy()
    out: np.ndarray | None = None
    for k in range(FOLDS):
        fit = (folds != k) & present
        held = folds == k
        if fit.sum() < 10 or (task == "classification" and len(np.unique(y[fit])) < 2):
            return None
        part = _one_column_model(task, x[fit], y[fit], x[held], classes)
        if out is None:
            out = np.zeros((len(x), *part.shape[1:]))
        out[held] = part
    return out


def _classification_score(y: np.ndarray, predicted: np.ndarray, classes: np.ndarray) -> float:
    """Binary: ROC AUC of the second class. Multiclass: balanced accuracy of the most probable
    class, not the macro ROC AUC, which a column that only isolates one easy class (iris's
    petal width) already pushes above 0.98."""
    if len(classes) == 2:
        return _score("classification", y, predicted, classes)
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, classes[np.argmax(predicted, axis=1)]))


def find_leaks(
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    columns: Sequence[str],
    X_valid: pd.DataFrame | None = None,
    y_valid: pd.Series | None = None,
    seed: int = 0,
) -> list[Leak]:
    """The ``columns`` of raw frame ``X`` that leak ``y`` (labels or float64). The one-column
    models are judged on held-out rows: train and validation rows together (when given), each
    row's answer from a model fitted on the other folds (:data:`FOLDS`-fold cross-fitting, so
    every row is held out once and the score does not hang on a small validation split)."""
    if X_valid is not None and y_valid is not None:
        X = pd.concat([X[list(columns)], X_valid[list(columns)]], ignore_index=True)
        y = pd.concat([y, y_valid], ignore_index=True)
    keep = y.notna().to_numpy()
    X, y = _sample(X[keep].reset_index(drop=True), y[keep].reset_index(drop=True), seed)
    if len(y) < 5 * FOLDS:
        return []
    values = y.astype(str).to_numpy() if task == "classification" else y.to_numpy(np.float64)
    classes = np.unique(values) if task == "classification" else np.zeros(0)
    if task == "classification" and len(classes) < 2:
        return []
    leaks = []
    for column in columns:
        same = _identical(task, X[column], y)
        if same is not None:
            leaks.append(Leak(column, same, 1.0))
            continue
        predicted = _cross_fitted(task, X[column], values, classes, seed)
        if predicted is None:
            continue
        if task == "regression":
            value, metric = _score(task, values, predicted, classes), "R²"
        else:
            value = _classification_score(values, predicted, classes)
            metric = "ROC AUC" if len(classes) == 2 else "balanced accuracy"
        if math.isfinite(value) and value >= SCORE:
            leaks.append(
                Leak(
                    column,
                    f"alone it predicts the target with {metric} {value:.4f} on held-out "
                    f"rows (>= {SCORE})",
                    value,
                )
            )
    return leaks


def check_leakage(
    task: str,
    X: pd.DataFrame,
    y: pd.Series,
    columns: Sequence[str],
    X_valid: pd.DataFrame | None = None,
    y_valid: pd.Series | None = None,
) -> None:
    """:class:`TargetLeakError` naming every leaking column (and its score) and the fix."""
    leaks = find_leaks(task, X, y, columns, X_valid, y_valid)
    if leaks:
        named = "; ".join(leak.message for leak in leaks)
        raise TargetLeakError(
            f"target leak: {named}. A column that predicts the target this well is usually "
            "the target in disguise (its log, a copy, something known only after the "
            'outcome): remove it (role = "ignored"), or, if it will be known when the '
            "model is used, set accept_leakage = true on its [[column]] in the schema"
        )
