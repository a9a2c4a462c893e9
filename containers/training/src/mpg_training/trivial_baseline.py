"""The trivial baseline a model is compared with: the train mean (regression), or the train
class priors as probabilities (classification; their label is the majority class). Its
metrics on each held-out split go into evaluation.json's ``baseline`` block, and the gate's
verdict (:func:`mpg_core.gate.gate_verdict`) on the test rows beside them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mpg_core.gate import gate_verdict
from mpg_core.metrics import classification_metrics, regression_metrics
from mpg_core.table_schema import TableSchema


def baseline_answers(schema: TableSchema, y_train: np.ndarray, rows: int) -> np.ndarray:
    if not schema.is_classification:
        return np.full(rows, float(np.mean(y_train)))
    _, counts = np.unique(y_train, return_counts=True)
    return np.tile(counts / counts.sum(), (rows, 1))


def baseline_metrics(schema: TableSchema, y_train: np.ndarray, y: np.ndarray) -> dict[str, float]:
    answers = baseline_answers(schema, y_train, len(y))
    if schema.is_classification:
        return classification_metrics(y, answers, np.unique(y_train))
    return regression_metrics(y, answers)


def baseline_block(
    schema: TableSchema,
    y_train: np.ndarray,
    held: Mapping[str, tuple[pd.DataFrame, np.ndarray]],
    evaluation: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """The baseline's metrics per held-out split and, with the model's ``evaluation`` and a
    test split, the gate's verdict against it."""
    kind = "mean" if not schema.is_classification else "class priors (majority label)"
    block: dict[str, Any] = {
        "kind": kind,
        "metrics": {split: baseline_metrics(schema, y_train, y) for split, (_, y) in held.items()},
    }
    if evaluation is not None and "test" in evaluation and "test" in block["metrics"]:
        verdict = gate_verdict(schema.task, evaluation["test"], block["metrics"]["test"])
        block["gate"] = verdict.as_json()
    return block
