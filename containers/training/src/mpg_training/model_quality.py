"""The model-quality report of a trained ``pipeline`` artifact on labelled raw rows.

``evaluation.json`` has the shape SageMaker Model Monitor writes for model quality, which
SageMaker Studio and the model registry (``ModelMetrics.ModelQuality.Statistics``) read::

    {"regression_metrics": {"mae": {"value": v, "standard_deviation": s}, "mse": ..., ...}}

Standard deviations are computed the way Model Monitor documents it: the metric on five random
samples of 80% of the rows, then the (sample) standard deviation of those five values. The
samples come from a fixed seed, so one model on one test split always gives one report.
Unlike Model Monitor (which reports "NaN" under 200 rows), a number is always given: JSON has
no NaN and the test split of the example has 60 rows.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mpg_core.artifact.files import MODEL_TARBALL, unpack_model_tarball
from mpg_core.artifact.reader import OpenedArtifact, open_artifact
from mpg_core.channels import read_raw_dir
from mpg_core.errors import ConfigError, DataError
from mpg_core.features import coerce_numeric
from mpg_core.metrics import regression_metrics
from mpg_core.schema import TARGET
from mpg_training.evaluate_settings import EvaluateConfig

log = logging.getLogger("mpg_training.model_quality")

REPORT_FILE = "evaluation.json"
PREDICTED_VS_ACTUAL_PLOT = "predicted-vs-actual.png"
RESIDUALS_PLOT = "residuals.png"
METRICS = ("mae", "mse", "rmse", "r2")
SAMPLES = 5
SAMPLE_FRACTION = 0.8
SEED = 0
MIN_ROWS = 2  # R² needs two rows


@dataclass(frozen=True)
class Report:
    rows: int
    regression_metrics: dict[str, dict[str, float]]

    def as_json(self) -> dict[str, Any]:
        return {"regression_metrics": self.regression_metrics}

    def summary(self) -> dict[str, Any]:
        """One line's worth for the log."""
        return {"rows": self.rows, **{m: v["value"] for m, v in self.regression_metrics.items()}}


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


def labelled_rows(test_dir: Path, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(raw feature matrix in ``columns`` order, actual mpg) of every test table."""
    frame = read_raw_dir(test_dir, "test")
    if TARGET not in frame.columns:
        raise DataError(
            f"test: column {TARGET!r} is missing (found {list(frame.columns)}); evaluate "
            f"compares predictions with the actual {TARGET}"
        )
    if len(frame) < MIN_ROWS:
        raise DataError(f"test: {len(frame)} row; evaluate needs at least {MIN_ROWS}")
    actual = coerce_numeric(frame, [TARGET], "test", allow_missing=False)[TARGET].to_numpy()
    rows = coerce_numeric(frame, columns, "test").to_numpy(dtype=np.float64)
    return rows, actual


def _metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    values = regression_metrics(actual, predicted)  # what training prints, the same way
    values["mse"] = values["rmse"] ** 2
    return values


def quality_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, float]]:
    """Each metric's value on all rows and its standard deviation over seeded 80% samples."""
    rng = np.random.default_rng(SEED)
    size = max(MIN_ROWS, round(SAMPLE_FRACTION * len(actual)))
    samples = []
    for _ in range(SAMPLES):
        pick = rng.choice(len(actual), size=size, replace=False)
        samples.append(_metrics(actual[pick], predicted[pick]))
    overall = _metrics(actual, predicted)
    return {
        m: {
            "value": overall[m],
            "standard_deviation": float(np.std([s[m] for s in samples], ddof=1)),
        }
        for m in METRICS
    }


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)


def plot_predicted_vs_actual(
    actual: np.ndarray, predicted: np.ndarray, metrics: dict[str, dict[str, float]], path: Path
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
    axes.set_xlabel(f"actual {TARGET}")
    axes.set_ylabel(f"predicted {TARGET}")
    axes.set_title(
        f"Predicted vs actual: RMSE {metrics['rmse']['value']:.2f}, R² {metrics['r2']['value']:.3f}"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    _save(figure, path)


def plot_residuals(actual: np.ndarray, predicted: np.ndarray, path: Path) -> None:
    residuals = actual - predicted
    figure = Figure(figsize=(7, 4.5))
    axes = figure.subplots()
    axes.scatter(predicted, residuals, s=16, alpha=0.7)
    axes.axhline(0.0, linestyle="--", color="grey", label="no error")
    axes.set_xlabel(f"predicted {TARGET}")
    axes.set_ylabel(f"residual: actual - predicted {TARGET}")
    axes.set_title(
        f"Residuals on {len(actual)} test rows (mean {residuals.mean():+.2f}, "
        f"sd {residuals.std(ddof=1):.2f})"
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right")
    _save(figure, path)


def run(config: EvaluateConfig) -> Report:
    with tempfile.TemporaryDirectory(prefix="evaluate-model-") as scratch:
        model = open_pipeline(config.model_dir, Path(scratch))
        rows, actual = labelled_rows(config.test_dir, model.input_columns)
        predicted = np.asarray(model.predict(rows), dtype=np.float64).ravel()
    report = Report(rows=len(actual), regression_metrics=quality_metrics(actual, predicted))
    config.report_dir.mkdir(parents=True, exist_ok=True)
    (config.report_dir / REPORT_FILE).write_text(
        json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8"
    )
    plot_predicted_vs_actual(
        actual, predicted, report.regression_metrics, config.report_dir / PREDICTED_VS_ACTUAL_PLOT
    )
    plot_residuals(actual, predicted, config.report_dir / RESIDUALS_PLOT)
    log.info("wrote report", extra={"dir": str(config.report_dir), "files": 3})
    return report
