"""Regression metrics, and the one log-line format that SageMaker metric regexes read.

Training prints one metric per line as ``<split>:<metric>=<value>`` (e.g.
``validation:rmse=2.913412``). :data:`METRIC_DEFINITIONS` are the matching
``AlgorithmSpecification.MetricDefinitions`` that the launchers send (at most 40, regex at most
500 characters); the first capture group is the number.

Only :func:`regression_metrics` needs scikit-learn, and imports it when called: the launcher
imports this module for the regexes and must start without numpy, scipy or scikit-learn.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

METRICS = ("mae", "rmse", "r2")
SPLITS = ("train", "validation", "test")
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def metric_name(split: str, metric: str) -> str:
    return f"{split}:{metric}"


METRIC_DEFINITIONS = [
    {"Name": metric_name(s, m), "Regex": re.escape(metric_name(s, m)) + "=" + _NUMBER}
    for s in SPLITS
    for m in METRICS
]


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(math.sqrt(mean_squared_error(y_true, y_pred))),
        "r2": float(r2_score(y_true, y_pred)),
    }


def metric_lines(split: str, values: dict[str, float]) -> list[str]:
    return [f"{metric_name(split, m)}={values[m]:.6f}" for m in METRICS]
