"""Train and evaluate the model for the table's task (the schema's: regression or
classification); write the model artifact and an evaluation report.

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
from threadpoolctl import threadpool_limits

from mpg_core.artifact.files import (
    DECISION_THRESHOLD_KEY,
    MODEL_TARBALL,
    Artifact,
    read_manifest,
    unpack_model_tarball,
)
from mpg_core.artifact.reader import load_artifact
from mpg_core.artifact.writer import write_artifact
from mpg_core.channels import read_csv_dir
from mpg_core.errors import ConfigError, DataError
from mpg_core.exits import failure_reported, raise_if_stopped, raise_on_stop_signals
from mpg_core.features import coerce_numeric
from mpg_core.hyperparameters import Hyperparameters, for_table_rows, parse_hyperparameters
from mpg_core.logs import configure_logging
from mpg_core.metrics import classification_metrics, metric_lines, regression_metrics
from mpg_core.models import BlendedClassifier
from mpg_core.platform import Resources
from mpg_core.table_schema import (
    TableSchema,
    default_schema,
    features_schema,
    schema_from_manifest,
)
from mpg_training.calibration import (
    ISOTONIC_MIN_ROWS,
    CalibrationChoice,
    choose_calibration,
    choose_class_calibration,
    choose_threshold,
)
from mpg_training.estimators import Task, build_estimator, sample_weights
from mpg_training.importance import importance_lines, permutation_importance, raw_column_groups
from mpg_training.monitor_baseline import write_model_baseline
from mpg_training.selection import (
    SMALL_TABLE_ROWS,
    Budget,
    Selection,
    fast_answers,
    refit,
    score,
    select,
    selection_metric,
)
from mpg_training.trivial_baseline import baseline_block

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


def _labels(frame: pd.DataFrame, split: str, schema: TableSchema) -> np.ndarray:
    """The target column: float64 for regression; classification labels as the features file
    gives them (integers or strings), none missing."""
    target = schema.target
    if not schema.is_classification:
        return coerce_numeric(frame, [target], split, allow_missing=False)[target].to_numpy()
    labels = frame[target]
    if labels.isna().any():
        raise DataError(f"{split}: the target {target!r} has missing labels")
    if labels.dtype.kind == "O":
        return labels.astype(str).to_numpy(dtype=object)
    return labels.to_numpy()


def _labelled_features(
    directory: Path, split: str, columns: tuple[str, ...] | None, schema: TableSchema
) -> tuple[pd.DataFrame, np.ndarray]:
    frame = read_csv_dir(directory, split)
    target = schema.target
    if target not in frame.columns:
        raise DataError(
            f"{split}: the target column {target!r} is missing from the features "
            f"(found {list(frame.columns)[:10]}); was the table preprocessed with this schema?"
        )
    names = columns or tuple(c for c in frame.columns if c != target)
    if not names:
        raise DataError(f"{split}: no feature columns besides {target!r}")
    if columns is not None and set(frame.columns) - {target} != set(columns):
        raise DataError(
            f"{split}: feature columns {sorted(set(frame.columns) - {target})} "
            f"differ from train's {sorted(columns)}"
        )
    X = coerce_numeric(frame, names, split, allow_missing=False)
    return X, _labels(frame, split, schema)


def _preprocessor_artifact(directory: Path, feature_names: tuple[str, ...]) -> Artifact:
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
    return artifact


def table_schema(channels: Mapping[str, Path]) -> TableSchema:
    """The table's schema: the preprocessor artifact's, else the copy beside the train
    features, else Auto MPG's (features written before schemas travelled)."""
    if "preprocessor" in channels:
        directory = channels["preprocessor"]
        tarball = directory / MODEL_TARBALL
        folder = (
            unpack_model_tarball(tarball, Path(tempfile.mkdtemp()))
            if tarball.is_file()
            else directory
        )
        return schema_from_manifest(read_manifest(folder), f"{folder}/artifact.json")
    return features_schema(channels["train"]) or default_schema()


def _json_label(value: Any) -> Any:
    """A class as JSON keeps it: numpy integers to int, strings stay strings."""
    return value.item() if isinstance(value, np.generic) else value


def _check_known_classes(y: np.ndarray, classes: np.ndarray, split: str) -> None:
    unseen = sorted(set(y.tolist()) - set(classes.tolist()), key=str)
    if unseen:
        raise DataError(
            f"{split}: class(es) {unseen[:10]} never occur in train, so the model cannot "
            "predict them; split the table stratified by the target"
        )


def _split_metrics(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    split: str,
    schema: TableSchema,
    threshold: float | None = None,
) -> dict[str, float]:
    if not schema.is_classification:
        return regression_metrics(y, model.predict(X.to_numpy()))
    _check_known_classes(y, model.classes_, split)
    return classification_metrics(y, model.predict_proba(X.to_numpy()), model.classes_, threshold)


@dataclass
class Fitted:
    """The model the job keeps and what it learnt choosing it."""

    model: Any
    hyperparameters: Hyperparameters
    selection: Selection | None = None
    calibration: CalibrationChoice | None = None
    decision_threshold: float | None = None
    selection_split: str = "validation"
    fitted_rows: int = 0  # the rows the kept model was fitted on


def _selection_rows(
    config: TrainConfig,
    X: pd.DataFrame,
    y: np.ndarray,
    names: tuple[str, ...],
    schema: TableSchema,
    seed: int,
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, str]:
    """(fit rows, their labels, judging rows, their labels, the judging split's name): the
    validation channel when there is one, else a held-out fifth of train (stratified)."""
    if "validation" in config.channels:
        X_valid, y_valid = _labelled_features(
            config.channels["validation"], "validation", names, schema
        )
        return X, y, X_valid[list(names)], y_valid, "validation"
    from sklearn.model_selection import train_test_split

    smallest = np.unique(y, return_counts=True)[1].min() if schema.is_classification else 0
    stratify = y if smallest > 1 else None
    X_fit, X_held, y_fit, y_held = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=stratify
    )
    log.warning("no validation channel: choosing on a held-out fifth of train")
    return X_fit, y_fit, X_held, y_held, "train holdout"


def fit_model(
    config: TrainConfig, X_train: pd.DataFrame, y_train: np.ndarray, schema: TableSchema
) -> Fitted:
    """The model for ``config``'s hyperparameters: the named family, or auto's choice (fitted
    again on every train row when it was chosen on a held-out part of them); a classifier
    calibrated, and a binary one given a threshold, when the settings ask for them."""
    hp = config.hyperparameters
    task: Task = schema.task
    names = tuple(str(c) for c in X_train.columns)
    needs_rows = hp.is_auto or hp.calibration != "none" or hp.decision_metric != "none"
    fitted: Fitted
    if hp.is_auto:
        X_fit, y_fit, X_valid, y_valid, split = _selection_rows(
            config, X_train, y_train, names, schema, hp.random_state
        )
        if schema.is_classification:
            _check_known_classes(y_valid, np.unique(y_fit), split)
        budget = Budget.for_instance(
            config.resources.cores, config.resources.memory_bytes, len(X_fit), hp.time_limit
        )
        selection = select(
            task,
            hp,
            X_fit.to_numpy(),
            y_fit,
            X_valid.to_numpy(),
            y_valid,
            budget,
        )
        print(f"leaderboard (chosen by {selection.metric} on {selection.judged_on}):", flush=True)
        print(selection.table(), flush=True)
        fitted = Fitted(
            selection.chosen.model, hp, selection, selection_split=split, fitted_rows=len(y_fit)
        )
    else:
        sized = for_table_rows(hp, len(X_train))
        weights = sample_weights(task, hp.class_weight, y_train)
        model = build_estimator(task, sized).fit(X_train.to_numpy(), y_train, sample_weight=weights)
        fitted = Fitted(model, sized)
        if needs_rows and "validation" in config.channels:
            X_valid, y_valid = _labelled_features(
                config.channels["validation"], "validation", names, schema
            )
            X_valid = X_valid[list(names)]
        elif needs_rows:
            log.warning("calibration and decision threshold need a validation channel; skipped")
            return fitted
    if schema.is_classification and needs_rows:
        if fitted.selection is not None:  # auto: the rows it judged on, as it judged them
            chosen = fitted.selection.chosen
            proba, truth = chosen.judged, fitted.selection.judging_y
            judged_on = fitted.selection.judged_on
            rows = (
                "the " + judged_on
                if judged_on == "validation rows"
                else f"out-of-fold rows ({judged_on})"
            )
        else:
            proba, truth = fitted.model.predict_proba(X_valid.to_numpy()), y_valid
            rows = "the validation rows"
        _tune_probabilities(fitted, hp, np.asarray(proba, dtype=np.float64), truth, rows)
    if fitted.selection_split == "train holdout":
        # Chosen (and calibrated, thresholded) on a held-out fifth of train: the winner is
        # fitted again on every train row, with the tree counts early stopping chose.
        weights = sample_weights(task, hp.class_weight, y_train)
        fitted.model = refit(fitted.model, X_train.to_numpy(), y_train, weights)
        fitted.fitted_rows = len(y_train)
        log.info("refitted the chosen model on every train row", extra={"rows": len(y_train)})
    return fitted


def _tune_probabilities(
    fitted: Fitted, hp: Hyperparameters, proba: np.ndarray, y: np.ndarray, rows: str
) -> None:
    """The calibration (any classifier) and a binary classifier's decision threshold, chosen
    on probabilities ``proba`` of rows the model was not fitted on, whose classes are ``y``."""
    classes = fitted.model.classes_
    _check_known_classes(y, classes, fitted.selection_split)
    y_index = np.searchsorted(classes, y)
    binary = len(classes) == 2
    if hp.calibration != "none":
        if binary:
            methods: tuple[str, ...] = (hp.calibration,)
            if hp.calibration == "auto":
                few = len(y) < ISOTONIC_MIN_ROWS
                methods = ("sigmoid", "temperature") if few else ("sigmoid", "isotonic")
            choice = choose_calibration(proba[:, 1], y_index == 1, hp.random_state, methods, rows)
        elif hp.calibration in ("auto", "temperature"):
            choice = choose_class_calibration(proba, y_index, hp.random_state, rows)
        else:
            reason = f"{hp.calibration} maps two classes; this model has {len(classes)}"
            choice = CalibrationChoice(None, {}, reason, rows)
        fitted.calibration = choice
        if choice.calibration is not None:
            fitted.model = _calibrated(fitted.model, choice.calibration)
            proba = choice.calibration.calibrate(proba)
        log.info("calibration", extra=choice.as_json())
    if binary and hp.decision_metric != "none":
        fitted.decision_threshold = choose_threshold(proba[:, 1], y_index == 1, hp.decision_metric)
        log.info(
            "decision threshold",
            extra={"threshold": fitted.decision_threshold, "metric": hp.decision_metric},
        )


def _calibrated(model: Any, calibration: Any) -> BlendedClassifier:
    if isinstance(model, BlendedClassifier):
        return BlendedClassifier(model.members, model.weights, calibration)
    return BlendedClassifier([model], [1.0], calibration)


def _importance_groups(config: TrainConfig, names: tuple[str, ...]) -> dict[str, list[int]]:
    if "preprocessor" not in config.channels:
        return {name: [i] for i, name in enumerate(names)}
    preprocessor = _preprocessor_artifact(config.channels["preprocessor"], names)
    return raw_column_groups(preprocessor.estimator, names)


def run(config: TrainConfig) -> dict[str, dict[str, float]]:
    missing = [c for c in REQUIRED_CHANNELS if c not in config.channels]
    if missing:
        raise ConfigError(f"missing channel(s) {missing}; got {sorted(config.channels)}")
    unknown = sorted(set(config.channels) - set(KNOWN_CHANNELS))
    if unknown:
        log.warning("ignoring unknown channels", extra={"channels": unknown})

    schema = table_schema(config.channels)
    X_train, y_train = _labelled_features(config.channels["train"], "train", None, schema)
    names = tuple(str(c) for c in X_train.columns)
    if schema.is_classification and len(np.unique(y_train)) < 2:
        raise DataError(f"train: the target {schema.target!r} has a single class")
    hp = config.hyperparameters
    log.info(
        f"training {hp.algorithm.replace('_', ' ')}",
        extra={
            "task": schema.task,
            "target": schema.target,
            "rows": len(X_train),
            "features": len(names),
            "hyperparameters": hp.as_dict(),
        },
    )
    openmp = 1 if len(X_train) < SMALL_TABLE_ROWS else None
    with threadpool_limits(openmp, user_api="openmp"):
        return _train(config, schema, X_train, y_train, names)


def _train(
    config: TrainConfig,
    schema: TableSchema,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    names: tuple[str, ...],
) -> dict[str, dict[str, float]]:
    hp = config.hyperparameters
    fitted = fit_model(config, X_train, y_train, schema)
    model, threshold = fitted.model, fitted.decision_threshold

    evaluation: dict[str, dict[str, float]] = {}
    rows = {"train": len(X_train)}
    held: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    for split in ("train", "validation", "test"):
        if split == "train":
            X, y = X_train, y_train
        elif split in config.channels:
            X, y = _labelled_features(config.channels[split], split, names, schema)
            X = X[list(names)]
            rows[split] = len(X)
            held[split] = (X, y)
        else:
            continue
        evaluation[split] = _split_metrics(model, X, y, split, schema, threshold)
        for line in metric_lines(split, evaluation[split]):
            print(line, flush=True)  # read by the job's MetricDefinitions regexes

    importances = _permutation_importances(config, model, names, held, schema, hp.random_state)
    if config.resources.is_leader:
        baseline = baseline_block(schema, y_train, held, evaluation)
        # What the evaluate job adds to its report: the importances (it never sees the
        # validation rows) and the baseline's test metrics, for the gate's verdict.
        info = {"permutation_importance": importances} if importances else {}
        if "test" in baseline["metrics"]:
            info["baseline"] = {"kind": baseline["kind"], "test": baseline["metrics"]["test"]}
        raise_if_stopped()  # no model written after a stop, even one a library swallowed
        _write_model(
            config, model, names, X_train.to_numpy(dtype=np.float64), schema, threshold, info
        )
        write_model_baseline(config.channels, config.model_dir, model, schema, X_train, evaluation)
        report: dict[str, Any] = {
            "task": schema.task,
            "metrics": evaluation,
            "rows": rows,
            "hyperparameters": fitted.hyperparameters.as_dict(),
            "feature_importances": _importances(model, names),
            "permutation_importance": importances,
            "baseline": baseline,
        }
        if fitted.selection is not None:
            report["selection"] = _selection_report(fitted)
        if fitted.calibration is not None:
            report["calibration"] = fitted.calibration.as_json()
        if threshold is not None:
            report["decision_threshold"] = threshold
            report["decision_metric"] = hp.decision_metric
        if schema.is_classification:
            report["classes"] = [_json_label(c) for c in model.classes_]
        config.output_data_dir.mkdir(parents=True, exist_ok=True)
        (config.output_data_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2) + "\n")
    return evaluation


def _selection_report(fitted: Fitted) -> dict[str, Any]:
    selection = fitted.selection
    assert selection is not None
    return {
        "metric": selection.metric,
        "judged_on": selection.judged_on,
        "validation_split": fitted.selection_split,
        "fitted_rows": fitted.fitted_rows,
        "chosen": selection.chosen.name,
        "leaderboard": [
            c.row()
            for c in sorted(selection.leaderboard, key=lambda c: c.metrics[selection.metric])
        ],
        "ensemble_check": selection.ensemble_check,
    }


def _permutation_importances(
    config: TrainConfig,
    model: Any,
    names: tuple[str, ...],
    held: Mapping[str, tuple[pd.DataFrame, np.ndarray]],
    schema: TableSchema,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Permutation importance on the validation rows, by raw column, printed; empty without a
    validation channel."""
    if "validation" not in held:
        return {}
    X, y = held["validation"]
    task: Task = schema.task
    classes = model.classes_ if schema.is_classification else None

    predict = fast_answers(model, task)

    def metric(truth: np.ndarray, predicted: np.ndarray) -> float:
        return score(task, truth, predicted, classes)

    groups = _importance_groups(config, names)
    importances = permutation_importance(predict, X.to_numpy(), y, groups, metric, seed)
    print("permutation importance on the validation rows, by column:", flush=True)
    for line in importance_lines(importances, selection_metric(task)):
        print(line, flush=True)
    return importances


def _importances(model: Any, names: tuple[str, ...]) -> dict[str, float]:
    """Impurity-based importances; the histogram family and blends have none (an empty map)."""
    values = getattr(model, "feature_importances_", None)
    return {} if values is None else dict(zip(names, values.tolist(), strict=True))


def _write_model(
    config: TrainConfig,
    model: Any,
    names: tuple[str, ...],
    train_features: np.ndarray,
    schema: TableSchema,
    threshold: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    # What serving and batch transform need to answer: the task, the class order, the schema,
    # and a binary classifier's decision threshold (labels only); then what reports read.
    info: dict[str, Any] = {"task": schema.task, "schema": schema.as_dict(), **(extra or {})}
    if schema.is_classification:
        info["classes"] = [_json_label(c) for c in model.classes_]
    if threshold is not None:
        info[DECISION_THRESHOLD_KEY] = threshold
    if "preprocessor" in config.channels:
        preprocessor = _preprocessor_artifact(config.channels["preprocessor"], names)
        pipeline = Pipeline([("preprocess", preprocessor.estimator), ("model", model)])
        artifact = Artifact(
            kind="pipeline",
            estimator=pipeline,
            input_columns=tuple(preprocessor.input_columns),
            output_columns=(schema.target,),
            info=info,
        )
    else:
        artifact = Artifact(
            kind="model",
            estimator=model,
            input_columns=names,
            output_columns=(schema.target,),
            info=info,
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
