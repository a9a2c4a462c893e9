"""The model-quality report of a trained ``pipeline`` artifact on labelled raw rows.

``evaluation.json`` has the shape SageMaker Model Monitor writes for model quality, which
SageMaker Studio and the model registry (``ModelMetrics.ModelQuality.Statistics``) read, one
top-level key per problem type::

    {"regression_metrics": {"mae": {"value": v, "standard_deviation": s}, "mse": ..., ...}}
    {"binary_classification_metrics": {"confusion_matrix": {"<actual>": {"<predicted>": n}},
        "accuracy": {...}, "recall": ..., "precision": ..., "f1": ..., "auc": ...,
        "receiver_operating_characteristic_curve": {"false_positive_rates": [...],
        "true_positive_rates": [...]}, ...}}
    {"multiclass_classification_metrics": {"confusion_matrix": ..., "accuracy": ...,
        "weighted_f1": ..., ...}}

Binary metrics take the second of the model's (sorted) classes as the positive one. Beside
Model Monitor's metrics, the classification reports carry the ones training prints
(balanced_accuracy, f1_macro, log_loss, roc_auc), computed the same way.

Standard deviations are computed the way Model Monitor documents it: the metric on five random
samples of 80% of the rows, then the (sample) standard deviation of those five values. The
samples come from a fixed seed, so one model on one test split always gives one report.
Unlike Model Monitor (which reports "NaN" under 200 rows), a number is given whenever the
samples define one (the test split of the example has 60 rows); "NaN" (Model Monitor's
spelling) only where they do not, such as a sample holding a single class.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mpg_core.artifact.files import (
    ARTIFACT_FILE,
    DECISION_THRESHOLD_KEY,
    MODEL_TARBALL,
    read_manifest,
    unpack_model_tarball,
)
from mpg_core.artifact.reader import OpenedArtifact, load_artifact, open_artifact
from mpg_core.channels import read_raw_dir
from mpg_core.errors import ConfigError, DataError
from mpg_core.features import coerce_numeric, raw_features, target_values
from mpg_core.gate import Bound, gate_verdict
from mpg_core.metrics import classification_metrics, predicted_labels, regression_metrics
from mpg_core.table_schema import TableSchema, schema_from_manifest
from mpg_training.evaluate_settings import EvaluateConfig

log = logging.getLogger("mpg_training.model_quality")

REPORT_FILE = "evaluation.json"
PREDICTED_VS_ACTUAL_PLOT = "predicted-vs-actual.png"
RESIDUALS_PLOT = "residuals.png"
CONFUSION_MATRIX_PLOT = "confusion-matrix.png"
ROC_CURVE_PLOT = "roc-curve.png"
PERMUTATION_IMPORTANCE_PLOT = "permutation-importance.png"
METRICS = ("mae", "mse", "rmse", "r2")
SAMPLES = 5
SAMPLE_FRACTION = 0.8
SEED = 0
# Beside Model Monitor's binary_ or multiclass_ key: the metrics a pipeline gate may read.
GATE_KEY = "classification_metrics"
GATE_METRICS = ("accuracy", "balanced_accuracy")
MIN_ROWS = 2  # R² needs two rows


@dataclass(frozen=True)
class Report:
    rows: int
    key: str  # regression_metrics, binary_ or multiclass_classification_metrics
    metrics: dict[str, Any]
    # Beside Model Monitor's keys: the training job's permutation importance (by column, on
    # the validation rows) and the gate's verdict against the trivial baseline.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def regression_metrics(self) -> dict[str, Any]:
        return self.metrics if self.key == "regression_metrics" else {}

    def as_json(self) -> dict[str, Any]:
        report = {self.key: self.metrics, **self.extras}
        if self.key != "regression_metrics":
            # One path for the pipeline's gate (mpg_launch.tasks) whatever the class count.
            report[GATE_KEY] = {m: self.metrics[m] for m in GATE_METRICS if m in self.metrics}
        return report

    def summary(self) -> dict[str, Any]:
        """One line's worth for the log."""
        values = {
            m: v["value"] for m, v in self.metrics.items() if isinstance(v, dict) and "value" in v
        }
        return {"rows": self.rows, **values}


def _artifact_folder(model_dir: Path, scratch: Path) -> Path:
    """The artifact's files: ``model_dir`` itself or where its tarball was extracted."""
    return scratch if (model_dir / MODEL_TARBALL).is_file() else model_dir


def open_pipeline(model_dir: Path, scratch: Path) -> OpenedArtifact:
    """The artifact in ``model_dir`` (a model.tar.gz, extracted safely, or its files); it must
    take raw rows and give mpg."""
    if not model_dir.is_dir():
        raise ConfigError(
            f"model input {model_dir} does not exist; give the training job's "
            "model.tar.gz as the processing input 'model'"
        )
    tarball = model_dir / MODEL_TARBALL
    folder = unpack_model_tarball(tarball, scratch) if tarball.is_file() else model_dir
    opened = open_artifact(folder)
    if opened.kind != "pipeline":
        raise ConfigError(
            f"the model input holds a {opened.kind!r} artifact; evaluate needs a 'pipeline' "
            "artifact (raw rows in, mpg out): train with the preprocessor channel"
        )
    return opened


def labelled_rows(
    test_dir: Path, columns: tuple[str, ...], schema: TableSchema
) -> tuple[Any, np.ndarray]:
    """(raw features in ``columns`` order, actual target) of every test table: a float64
    matrix, or a frame when the schema has text categories (the estimator reads those)."""
    frame = read_raw_dir(test_dir, "test", required=columns)
    target = schema.target
    if target not in frame.columns:
        raise DataError(
            f"test: column {target!r} is missing (found {list(frame.columns)}); evaluate "
            f"compares predictions with the actual {target}"
        )
    if len(frame) < MIN_ROWS:
        raise DataError(f"test: {len(frame)} row; evaluate needs at least {MIN_ROWS}")
    if schema.is_classification:
        actual = target_values(frame, schema, "test")
        if actual.isna().any():
            raise DataError(f"test: column {target!r} has missing values")
        actual_values = actual.to_numpy()
    else:
        actual_values = coerce_numeric(frame, [target], "test", allow_missing=False)[
            target
        ].to_numpy()
    if schema.text_columns:
        return raw_features(frame, "test", schema)[list(columns)], actual_values
    return coerce_numeric(frame, columns, "test").to_numpy(dtype=np.float64), actual_values


def _metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    values = regression_metrics(actual, predicted)  # what training prints, the same way
    values["mse"] = values["rmse"] ** 2
    return values


def _number(value: float) -> float | str:
    """JSON has no NaN: Model Monitor writes the string "NaN"."""
    return float(value) if np.isfinite(value) else "NaN"


def _with_spread(
    actual: np.ndarray, answers: np.ndarray, compute: Any, names: tuple[str, ...]
) -> dict[str, dict[str, float | str]]:
    """Each metric's value on all rows and its standard deviation over seeded 80% samples."""
    rng = np.random.default_rng(SEED)
    size = max(MIN_ROWS, round(SAMPLE_FRACTION * len(actual)))
    samples = []
    for _ in range(SAMPLES):
        pick = rng.choice(len(actual), size=size, replace=False)
        samples.append(compute(actual[pick], answers[pick]))
    overall = compute(actual, answers)
    out = {}
    for m in names:
        spread = np.array([s[m] for s in samples], dtype=np.float64)
        spread = spread[np.isfinite(spread)]
        deviation = float(np.std(spread, ddof=1)) if len(spread) > 1 else float("nan")
        out[m] = {"value": _number(overall[m]), "standard_deviation": _number(deviation)}
    return out


def quality_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """Each metric's value on all rows and its standard deviation over seeded 80% samples."""
    return _with_spread(actual, predicted, _metrics, METRICS)  # type: ignore[return-value]


BINARY_METRICS = (
    "accuracy",
    "recall",
    "precision",
    "f0_5",
    "f1",
    "f2",
    "true_positive_rate",
    "true_negative_rate",
    "false_positive_rate",
    "false_negative_rate",
    "auc",
    "balanced_accuracy",
    "log_loss",
)
MULTICLASS_METRICS = (
    "accuracy",
    "weighted_recall",
    "weighted_precision",
    "weighted_f0_5",
    "weighted_f1",
    "weighted_f2",
    "balanced_accuracy",
    "f1_macro",
    "log_loss",
    "roc_auc",
)


def _classification_values(
    actual: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> Any:
    from sklearn.metrics import fbeta_score, precision_score, recall_score

    values = classification_metrics(actual, proba, classes, threshold)
    predicted = predicted_labels(proba, classes, threshold)
    if len(classes) == 2:
        positive = classes[1]
        truth, guess = actual == positive, predicted == positive
        tp, tn = float((truth & guess).sum()), float((~truth & ~guess).sum())
        fp, fn = float((~truth & guess).sum()), float((truth & ~guess).sum())

        def rate(a: float, b: float) -> float:
            return a / (a + b) if a + b else float("nan")

        values.update(
            recall=rate(tp, fn),
            precision=rate(tp, fp),
            true_positive_rate=rate(tp, fn),
            true_negative_rate=rate(tn, fp),
            false_positive_rate=rate(fp, tn),
            false_negative_rate=rate(fn, tp),
            auc=values["roc_auc"],
        )
        for name, beta in (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0)):
            values[name] = float(fbeta_score(truth, guess, beta=beta, zero_division=0.0))
        return values
    kwargs: dict[str, Any] = {"labels": classes, "average": "weighted", "zero_division": 0.0}
    values["weighted_recall"] = float(recall_score(actual, predicted, **kwargs))
    values["weighted_precision"] = float(precision_score(actual, predicted, **kwargs))
    for name, beta in (("weighted_f0_5", 0.5), ("weighted_f1", 1.0), ("weighted_f2", 2.0)):
        values[name] = float(fbeta_score(actual, predicted, beta=beta, **kwargs))
    return values


def _key(label: Any) -> str:
    return str(label.item() if isinstance(label, np.generic) else label)


def confusion(actual: np.ndarray, predicted: np.ndarray, classes: np.ndarray) -> np.ndarray:
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(actual, predicted, labels=classes)


def classification_report(
    actual: np.ndarray, proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> tuple[str, dict[str, Any]]:
    """(top-level key, metrics) in Model Monitor's classification format; labels through a
    binary classifier's decision ``threshold`` when it has one (as serving answers)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    binary = len(classes) == 2
    names = BINARY_METRICS if binary else MULTICLASS_METRICS
    metrics: dict[str, Any] = {}
    counts = confusion(actual, predicted_labels(proba, classes, threshold), classes)
    metrics["confusion_matrix"] = {
        _key(a): {_key(p): int(counts[i, j]) for j, p in enumerate(classes)}
        for i, a in enumerate(classes)
    }
    metrics.update(
        _with_spread(
            actual, proba, lambda a, p: _classification_values(a, p, classes, threshold), names
        )
    )
    if binary:
        truth = actual == classes[1]
        if truth.any() and not truth.all():
            fpr, tpr, _ = roc_curve(truth, proba[:, 1])
            metrics["receiver_operating_characteristic_curve"] = {
                "false_positive_rates": [float(v) for v in fpr],
                "true_positive_rates": [float(v) for v in tpr],
            }
            precisions, recalls, _ = precision_recall_curve(truth, proba[:, 1])
            metrics["precision_recall_curve"] = {
                "precisions": [float(v) for v in precisions],
                "recalls": [float(v) for v in recalls],
            }
    key = "binary_classification_metrics" if binary else "multiclass_classification_metrics"
    return key, metrics


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def plot_predicted_vs_actual(
    actual: np.ndarray,
    predicted: np.ndarray,
    metrics: dict[str, dict[str, Any]],
    path: Path,
    target: str = "mpg",
) -> None:
    # Figure without pyplot: Agg renders the PNG, and no global figure state is kept.
    figure = Figure(figsize=(6, 6))
    axes = figure.subplots()
    axes.scatter(actual, predicted, s=16, alpha=0.7, label=f"{len(actual)} test rows")
    low = float(min(actual.min(), predicted.min()))
    high = float(max(actual.max(), predicted.max()))
    pad = 0.05 * (high - low or 1.0)
    limits = (low - pad, high + pad)
    axes.plot(limits, limits, "--", color="grey", label="perfect prediction (y = x)")
    axes.set_xlim(limits)
    axes.set_ylim(limits)
    axes.set_aspect("equal")
    axes.set_xlabel(f"actual {target}")
    axes.set_ylabel(f"predicted {target}")
    axes.set_title(
        f"Predicted vs actual: RMSE {metrics['rmse']['value']:.2f}, R² {metrics['r2']['value']:.3f}"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    _save(figure, path)


def plot_residuals(
    actual: np.ndarray, predicted: np.ndarray, path: Path, target: str = "mpg"
) -> None:
    residuals = actual - predicted
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    axes.scatter(predicted, residuals, s=16, alpha=0.7)
    axes.axhline(0.0, linestyle="--", color="grey", label="no error")
    axes.set_xlabel(f"predicted {target}")
    axes.set_ylabel(f"residual: actual - predicted {target}")
    axes.set_title(
        f"Residuals on {len(actual)} test rows (mean {residuals.mean():+.2f}, "
        f"sd {residuals.std(ddof=1):.2f})"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    _save(figure, path)


def plot_confusion_matrix(
    counts: np.ndarray, classes: np.ndarray, path: Path, target: str, accuracy: float
) -> None:
    size = max(4.5, 0.6 * len(classes) + 3)
    figure = Figure(figsize=(size, size))
    axes = figure.subplots()
    axes.imshow(counts, cmap="Blues")
    labels = [_key(c) for c in classes]
    axes.set_xticks(range(len(classes)), labels, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), labels)
    high = counts.max() or 1
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if counts[i, j] > high / 2 else "black"
            axes.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour)
    axes.set_xlabel(f"predicted {target}")
    axes.set_ylabel(f"actual {target}")
    axes.set_title(f"Confusion matrix, {int(counts.sum())} test rows\naccuracy {accuracy:.3f}")
    _save(figure, path)


def plot_roc_curve(curve: dict[str, list[float]], auc: float, positive: str, path: Path) -> None:
    figure = Figure(figsize=(6, 6))
    axes = figure.subplots()
    axes.plot(curve["false_positive_rates"], curve["true_positive_rates"], label=f"AUC {auc:.3f}")
    axes.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_aspect("equal")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title(f"ROC curve, positive class {positive!r}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    _save(figure, path)


def _predict(folder: Path, model: OpenedArtifact, rows: Any) -> np.ndarray:
    """The model's answers: the opened engine for float rows; for a frame (text categories,
    which the compiled form does not take) the pipeline's own scikit-learn answer."""
    if isinstance(rows, np.ndarray):
        return np.asarray(model.predict(rows), dtype=np.float64)
    estimator = load_artifact(folder).estimator
    answer = "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    return np.asarray(getattr(estimator, answer)(rows), dtype=np.float64)


def run(config: EvaluateConfig) -> Report:
    with tempfile.TemporaryDirectory(prefix="evaluate-model-") as scratch:
        model = open_pipeline(config.model_dir, Path(scratch))
        folder = _artifact_folder(config.model_dir, Path(scratch))
        manifest = read_manifest(folder)
        schema = schema_from_manifest(manifest, "the model's artifact.json")
        rows, actual = labelled_rows(config.test_dir, model.input_columns, schema)
        answers = _predict(folder, model, rows)
    config.report_dir.mkdir(parents=True, exist_ok=True)
    if schema.is_classification:
        report = _classification(config, manifest, schema, actual, answers)
    else:
        predicted = answers.ravel()
        report = Report(len(actual), "regression_metrics", quality_metrics(actual, predicted))
        plot_predicted_vs_actual(
            actual,
            predicted,
            report.metrics,
            config.report_dir / PREDICTED_VS_ACTUAL_PLOT,
            schema.target,
        )
        plot_residuals(actual, predicted, config.report_dir / RESIDUALS_PLOT, schema.target)
    approved = approved_metrics(config.approved_dir, config.test_dir, schema)
    report = _with_extras(config, manifest, report, approved)
    (config.report_dir / REPORT_FILE).write_text(
        json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8"
    )
    log.info("wrote report", extra={"dir": str(config.report_dir), "task": schema.task})
    return report


def holds_model(folder: Path | None) -> bool:
    """Whether ``folder`` holds a model artifact (its tarball or its files). The pipeline's
    approved-model input, when the registry has no approved version, holds none."""
    if folder is None or not folder.is_dir():
        return False
    return (folder / MODEL_TARBALL).is_file() or (folder / ARTIFACT_FILE).is_file()


def _values(metrics: dict[str, Any]) -> dict[str, float]:
    return {m: v["value"] for m, v in metrics.items() if isinstance(v, dict) and "value" in v}


def approved_metrics(
    approved_dir: Path | None, test_dir: Path, schema: TableSchema
) -> dict[str, float] | None:
    """The approved version's metrics on the same test rows, answered as it serves them (its
    own columns, classes and decision threshold); None when no approved model was given."""
    if not holds_model(approved_dir):
        return None
    assert approved_dir is not None
    with tempfile.TemporaryDirectory(prefix="evaluate-approved-") as scratch:
        model = open_pipeline(approved_dir, Path(scratch))
        folder = _artifact_folder(approved_dir, Path(scratch))
        manifest = read_manifest(folder)
        theirs = schema_from_manifest(manifest, "the approved model's artifact.json")
        if (theirs.task, theirs.target) != (schema.task, schema.target):
            raise ConfigError(
                f"the approved model predicts {theirs.target!r} ({theirs.task}), this one "
                f"{schema.target!r} ({schema.task}): they cannot be compared; pass "
                "ApprovedModelData of this table's model package group"
            )
        rows, actual = labelled_rows(test_dir, model.input_columns, theirs)
        answers = _predict(folder, model, rows)
    if not theirs.is_classification:
        return _values(quality_metrics(actual, answers.ravel()))
    classes = np.asarray(manifest.get("classes") or [])
    actual = _labels(actual, classes, theirs)
    _, metrics = classification_report(
        actual, answers, classes, manifest.get(DECISION_THRESHOLD_KEY)
    )
    return _values(metrics)


def _with_extras(
    config: EvaluateConfig,
    manifest: dict[str, Any],
    report: Report,
    approved: dict[str, float] | None = None,
) -> Report:
    """``report`` with what artifact.json brings from training: the permutation importance
    (and its plot), and the gate's verdict of these test metrics against the baseline's, the
    approved version's on the same rows (when given) and the absolute threshold (when given)."""
    extras: dict[str, Any] = {}
    importance = manifest.get("permutation_importance")
    if isinstance(importance, dict) and importance:
        extras["permutation_importance"] = {"measured_on": "validation", "columns": importance}
        plot_permutation_importance(importance, config.report_dir / PERMUTATION_IMPORTANCE_PLOT)
    baseline = manifest.get("baseline")
    if isinstance(baseline, dict) and isinstance(baseline.get("test"), dict):
        task = manifest.get("task", "regression")
        absolute = (
            None
            if config.absolute_threshold is None
            else Bound.for_task(task, config.absolute_threshold)
        )
        verdict = gate_verdict(task, _values(report.metrics), baseline["test"], approved, absolute)
        extras["gate"] = {"baseline": baseline, **verdict.as_json()}
        if approved is not None:
            extras["gate"]["approved"] = {"metrics": approved}
        log.info(
            "gate",
            extra={
                "passed": verdict.passed,
                "decided_by": verdict.decided_by,
                "reason": verdict.reason,
            },
        )
    return replace(report, extras=extras) if extras else report


def plot_permutation_importance(importance: dict[str, dict[str, float]], path: Path) -> None:
    """Each column's mean increase of the error when shuffled, largest on top, with its
    standard deviation over the shuffles."""
    names = list(importance)[::-1]
    means = [importance[n]["mean"] for n in names]
    spreads = [importance[n].get("std", 0.0) for n in names]
    figure = Figure(figsize=(7, max(2.5, 0.35 * len(names) + 1)))
    axes = figure.subplots()
    axes.barh(names, means, xerr=spreads, color="tab:blue", alpha=0.8)
    axes.axvline(0.0, color="grey", linewidth=0.8)
    axes.set_xlabel("increase of the validation error when the column is shuffled")
    axes.set_title("Permutation importance by column (validation rows)")
    axes.grid(alpha=0.3, axis="x")
    _save(figure, path)


def _labels(actual: np.ndarray, classes: np.ndarray, schema: TableSchema) -> np.ndarray:
    """The actual classes typed as the model's; a DataError naming any it never saw."""
    actual = actual.astype(str) if classes.dtype.kind == "U" else np.asarray(actual.tolist())
    unseen = sorted(set(actual.tolist()) - set(classes.tolist()), key=str)
    if unseen:
        raise DataError(
            f"test: class(es) {unseen[:10]} of {schema.target!r} are not among the model's "
            f"classes {classes.tolist()[:10]}"
        )
    return actual


def _classification(
    config: EvaluateConfig,
    manifest: dict[str, Any],
    schema: TableSchema,
    actual: np.ndarray,
    proba: np.ndarray,
) -> Report:
    # Plain numpy arrays (int64 or str), which scikit-learn's metrics type as labels.
    classes = np.asarray(manifest.get("classes") or [])
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise ConfigError(
            f"the model answers {proba.shape[-1]} columns, but artifact.json lists "
            f"{len(classes)} classes"
        )
    actual = _labels(actual, classes, schema)
    threshold = manifest.get(DECISION_THRESHOLD_KEY)
    key, metrics = classification_report(actual, proba, classes, threshold)
    counts = confusion(actual, predicted_labels(proba, classes, threshold), classes)
    plot_confusion_matrix(
        counts,
        classes,
        config.report_dir / CONFUSION_MATRIX_PLOT,
        schema.target,
        float(metrics["accuracy"]["value"]),
    )
    curve = metrics.get("receiver_operating_characteristic_curve")
    if curve is not None:
        auc = metrics["auc"]["value"]
        plot_roc_curve(curve, float(auc), _key(classes[1]), config.report_dir / ROC_CURVE_PLOT)
    return Report(len(actual), key, metrics)
