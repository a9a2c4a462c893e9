"""Train and evaluate the random forest; write the model artifact and an evaluation report.

:func:`main` is the edge: it reads the platform once through sagemaker-training's
``Environment`` and hands an explicit :class:`TrainConfig` to :func:`run`.
"""

from __future__ import annotations

import json
import logging
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mpg_core.artifact.files import MODEL_TARBALL, Artifact, unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.artifact.writer import write_artifact
from mpg_core.channels import read_csv_dir
from mpg_core.errors import ConfigError, DataError
from mpg_core.exits import failure_reported, raise_on_stop_signals
from mpg_core.features import coerce_numeric
from mpg_core.hyperparameters import Hyperparameters, for_table_rows, parse_hyperparameters
from mpg_core.logs import configure_logging
from mpg_core.metrics import metric_lines, regression_metrics
from mpg_core.platform import Resources
from mpg_core.schema import FEATURES, TARGET
from mpg_training.estimators import build_estimator

log = logging.getLogger("mpg_training")

REQUIRED_CHANNELS = ("train",)
KNOWN_CHANNELS = ("train", "validation", "test", "preprocessor")
EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class TrainConfig:
    channels: Mapping[str, Path]
    model_dir: Path
    output_data_dir: Path
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    resources: Resources = field(default_factory=Resources)


def _labelled_features(
    directory: Path, split: str, columns: tuple[str, ...] | None
) -> tuple[pd.DataFrame, np.ndarray]:
    frame = read_csv_dir(directory, split)
    if TARGET not in frame.columns:
        raise DataError(f"{split}: column {TARGET!r} is missing from the features")
    names = columns or tuple(c for c in frame.columns if c != TARGET)
    if not names:
        raise DataError(f"{split}: no feature columns besides {TARGET!r}")
    if columns is not None and set(frame.columns) - {TARGET} != set(columns):
        raise DataError(
            f"{split}: feature columns {sorted(set(frame.columns) - {TARGET})} "
            f"differ from train's {sorted(columns)}"
        )
    X = coerce_numeric(frame, names, split, allow_missing=False)
    y = coerce_numeric(frame, [TARGET], split, allow_missing=False)[TARGET].to_numpy()
    return X, y


def _preprocessor(directory: Path, feature_names: tuple[str, ...]) -> Any:
    """The fitted preprocessor from the ``preprocessor`` channel (a model.tar.gz or its
    extracted files), checked against the features the model is trained on."""
    tarball = directory / MODEL_TARBALL
    if tarball.is_file():
        artifact = load_artifact(unpack_model_tarball(tarball, Path(tempfile.mkdtemp())))
    else:
        artifact = load_artifact(directory)
    if artifact.kind != "preprocessor":
        raise ConfigError(f"preprocessor channel holds a {artifact.kind!r} artifact")
    if tuple(artifact.output_columns) != feature_names:
        raise DataError(
            "the preprocessor's output columns differ from the train features: "
            f"{list(artifact.output_columns)} vs {list(feature_names)}"
        )
    return artifact.estimator


def run(config: TrainConfig) -> dict[str, dict[str, float]]:
    missing = [c for c in REQUIRED_CHANNELS if c not in config.channels]
    if missing:
        raise ConfigError(f"missing channel(s) {missing}; got {sorted(config.channels)}")
    unknown = sorted(set(config.channels) - set(KNOWN_CHANNELS))
    if unknown:
        log.warning("ignoring unknown channels", extra={"channels": unknown})

    X_train, y_train = _labelled_features(config.channels["train"], "train", None)
    names = tuple(str(c) for c in X_train.columns)
    # Defaults adapt to the table's size (bounded forests above 2,000 rows; see the rule).
    hp = for_table_rows(config.hyperparameters, len(X_train))
    log.info(
        f"training {hp.algorithm.replace('_', ' ')}",
        extra={"rows": len(X_train), "features": len(names), "hyperparameters": hp.as_dict()},
    )
    forest = build_estimator("regression", hp).fit(X_train.to_numpy(), y_train)

    evaluation: dict[str, dict[str, float]] = {}
    rows = {"train": len(X_train)}
    for split in ("train", "validation", "test"):
        if split == "train":
            X, y = X_train, y_train
        elif split in config.channels:
            X, y = _labelled_features(config.channels[split], split, names)
            X = X[list(names)]
            rows[split] = len(X)
        else:
            continue
        evaluation[split] = regression_metrics(y, forest.predict(X.to_numpy()))
        for line in metric_lines(split, evaluation[split]):
            print(line, flush=True)  # read by the job's MetricDefinitions regexes

    if config.resources.is_leader:
        _write_model(config, forest, names, X_train.to_numpy(dtype=np.float64))
        report = {
            "metrics": evaluation,
            "rows": rows,
            "hyperparameters": hp.as_dict(),
            "feature_importances": _importances(forest, names),
        }
        config.output_data_dir.mkdir(parents=True, exist_ok=True)
        (config.output_data_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return evaluation


def _importances(model: Any, names: tuple[str, ...]) -> dict[str, float]:
    """Impurity-based importances; the histogram family has none (an empty map)."""
    values = getattr(model, "feature_importances_", None)
    return {} if values is None else dict(zip(names, values.tolist(), strict=True))


def _write_model(
    config: TrainConfig,
    forest: Any,
    names: tuple[str, ...],
    train_features: np.ndarray,
) -> None:
    if "preprocessor" in config.channels:
        pipeline = Pipeline(
            [
                ("preprocess", _preprocessor(config.channels["preprocessor"], names)),
                ("model", forest),
            ]
        )
        artifact = Artifact(
            kind="pipeline", estimator=pipeline, input_columns=FEATURES, output_columns=(TARGET,)
        )
    else:
        artifact = Artifact(
            kind="model", estimator=forest, input_columns=names, output_columns=(TARGET,)
        )
    # The compiled form is checked against the estimator on the training features when they
    # are the model's inputs (and on random rows in every case).
    write_artifact(config.model_dir, artifact, train_features if artifact.kind == "model" else None)
    log.info("wrote model", extra={"kind": artifact.kind, "dir": str(config.model_dir)})


def config_from_environment() -> TrainConfig:
    """Read SageMaker's training contract once, through sagemaker-training (which honours
    SAGEMAKER_BASE_DIR for local trees)."""
    from sagemaker_training import environment

    env = environment.Environment()
    return TrainConfig(
        channels={name: Path(path) for name, path in env.channel_input_dirs.items()},
        model_dir=Path(env.model_dir),
        output_data_dir=Path(env.output_data_dir),
        hyperparameters=parse_hyperparameters(env.hyperparameters),
        resources=Resources(current_host=env.current_host, hosts=tuple(env.hosts)),
    )


def main() -> None:
    """Entry point for sagemaker-training's runner (``SAGEMAKER_TRAINING_MODULE``).

    Failures are written to /opt/ml/output/failure here, most useful line first, then re-raised:
    the runner keeps an existing failure file and exits with the error's ``errno``."""
    from sagemaker_training import environment

    configure_logging()
    raise_on_stop_signals((signal.SIGTERM,))
    with failure_reported(Path(environment.output_dir)):
        run(config_from_environment())
