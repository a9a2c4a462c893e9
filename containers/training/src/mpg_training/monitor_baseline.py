"""The monitoring baseline written beside the model (``statistics.json``,
``constraints.json``; format in :mod:`mpg_core.monitoring.baseline`), so it ships in
model.tar.gz with the model it describes.

The raw columns' statistics come from the preprocessing job, which saw the raw train split
(training sees only features) and left them in the preprocessor's ``artifact.json``. A model
trained without the preprocessor takes features at the endpoint, so their statistics are
computed here, from the train features. The predictions' distribution is the model's on
validation (train when there is none); the quality constraints follow the test metrics
(validation's, then train's, when there is no test split).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mpg_core.artifact.files import MODEL_TARBALL, read_manifest, unpack_model_tarball
from mpg_core.channels import read_csv_dir
from mpg_core.monitoring.baseline import (
    RAW_STATISTICS_KEY,
    constraints_for,
    table_statistics,
    with_predictions,
    write_baseline,
)
from mpg_core.table_schema import TableSchema

log = logging.getLogger(__name__)


def raw_statistics(channels: Mapping[str, Path]) -> dict[str, Any] | None:
    """The raw columns' statistics the preprocessor carries, or None (no preprocessor
    channel, or one written before baselines existed)."""
    if "preprocessor" not in channels:
        return None
    directory = channels["preprocessor"]
    tarball = directory / MODEL_TARBALL
    with tempfile.TemporaryDirectory() as tmp:
        folder = unpack_model_tarball(tarball, Path(tmp)) if tarball.is_file() else directory
        found = read_manifest(folder).get(RAW_STATISTICS_KEY)
    return dict(found) if isinstance(found, Mapping) else None


def _held_out_features(
    channels: Mapping[str, Path], X_train: pd.DataFrame, schema: TableSchema
) -> pd.DataFrame:
    if "validation" not in channels:
        return X_train
    frame = read_csv_dir(channels["validation"], "validation")
    return frame[list(X_train.columns)].astype("float64")


def write_model_baseline(
    channels: Mapping[str, Path],
    model_dir: Path,
    model: Any,
    schema: TableSchema,
    X_train: pd.DataFrame,
    evaluation: Mapping[str, Mapping[str, float]],
) -> None:
    statistics = raw_statistics(channels)
    if statistics is None:
        if "preprocessor" in channels:
            log.warning("the preprocessor carries no raw statistics: baseline of the features")
        statistics = table_statistics(X_train, tuple(X_train.columns), ())
    held_out = _held_out_features(channels, X_train, schema)
    predictions = model.predict(held_out.to_numpy())
    statistics = with_predictions(statistics, predictions, schema.is_classification)
    split = next(s for s in ("test", "validation", "train") if s in evaluation)
    constraints = constraints_for(statistics, schema.task, evaluation[split], split)
    write_baseline(model_dir, statistics, constraints)
    log.info(
        "wrote monitoring baseline",
        extra={"columns": len(statistics["features"]) - 1, "quality_split": split},
    )
