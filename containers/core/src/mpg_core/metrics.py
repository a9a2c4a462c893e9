"""Metrics per task, and the one log-line format that SageMaker metric regexes read.

Training prints one metric per line as ``<split>:<metric>=<value>`` (e.g.
``validation:rmse=2.913412``, ``validation:accuracy=0.964912``). :data:`METRIC_DEFINITIONS`
are the matching ``AlgorithmSpecification.MetricDefinitions`` for both tasks (24 of the 40
allowed, regex at most 500 characters); the first capture group is the number;
:func:`metric_definitions` gives one task's.

Only :func:`regression_metrics` and :func:`classification_metrics` need scikit-learn, and
import it when called: the launcher imports this module for the regexes and must start without
numpy, scipy or scikit-learn.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

METRICS = ("mae", "rmse", "r2")  # regression's
CLASSIFICATION_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc")
TASK_METRICS = {"regression": METRICS, "classification": CLASSIFICATION_METRICS}
SPLITS = ("train", "validation", "test")
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_name(split: str, metric: str) -> str:
    return f"{split}:{metric}"


def metric_definitions(task: str) -> list[dict[str, str]]:
    """The MetricDefinitions of one task's metrics, every split."""
    return [
        {"Name": metric_name(s, m), "Regex": re.escape(metric_name(s, m)) + "=" + _NUMBER}
        for s in SPLITS
        for m in TASK_METRICS[task]
    ]


METRIC_DEFINITIONS = metric_definitions("regression") + metric_definitions("classification")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(mean_squared_error(y_true, y_pred))),
        "r2": float(r2_score(y_true, y_pred)),
    }


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1, log loss and ROC AUC (binary: of the second
    class; multiclass: one-vs-rest, macro over the classes present in ``y_true`` with both
    positives and negatives) of class probabilities ``proba`` (columns in ``classes`` order).
    The predicted label is ``classes[argmax]``, scikit-learn's ``predict``, or for a binary
    classifier with a decision ``threshold`` the second class when its probability is at or
    above it. NaN for what one split cannot define (ROC AUC of a single class)."""
    import numpy as np
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        log_loss,
        roc_auc_score,
    )

    predicted = predicted_labels(proba, classes, threshold)
    # Binary: the second class's curve (the first's has the same area); else one per class.
    columns = [1] if len(classes) == 2 else range(len(classes))
    aucs = []
    for k in columns:
        positive = y_true == classes[k]
        if positive.any() and not positive.all():
            aucs.append(float(roc_auc_score(positive, proba[:, k])))
    return {
        "accuracy": float(accuracy_score(y_true, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, predicted)),
        "f1_macro": float(f1_score(y_true, predicted, labels=classes, average="macro")),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "roc_auc": float(np.mean(aucs)) if aucs else math.nan,
    }


def predicted_labels(
    proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> np.ndarray:
    """Labels from class probabilities: the first most probable class, or for a binary
    classifier with a ``threshold`` the second class where its probability is >= it."""
    import numpy as np

    if threshold is not None and len(classes) == 2:
        return classes[(proba[:, 1] >= threshold).astype(np.intp)]
    return classes[np.argmax(proba, axis=1)]


def metric_lines(split: str, values: dict[str, float]) -> list[str]:
    """One ``<split>:<metric>=<value>`` line per metric of ``values``' task; a value that is
    not a number (NaN: undefined on this split) is not printed, so no regex reads it."""
    task = "classification" if "accuracy" in values else "regression"
    return [
        f"{metric_name(split, m)}={values[m]:.6f}"
        for m in TASK_METRICS[task]
        if math.isfinite(values[m])
    ]
