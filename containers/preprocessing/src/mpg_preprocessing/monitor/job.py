"""The monitoring job: captured traffic of a window against the model's baseline.

Inputs: the capture folder, the model (its model.tar.gz or extracted files: ``artifact.json``
names the input columns, ``statistics.json``/``constraints.json`` are the baseline) and,
optionally, ground truth (CSV files with ``inference_id`` and the target's column).
Outputs, in Model Monitor's names: ``constraint_violations.json``, ``statistics.json`` (the
traffic's), and ``report.html``; CloudWatch metrics when an endpoint name is given.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mpg_core.artifact.files import MODEL_TARBALL, read_manifest, unpack_model_tarball
from mpg_core.errors import ConfigError, DataError
from mpg_core.monitoring.baseline import (
    Baseline,
    parse_baseline,
    read_baseline,
    table_statistics,
    with_predictions,
)
from mpg_core.monitoring.drift import ColumnDrift, column_drift
from mpg_core.monitoring.names import (
    HIGHER_IS_BETTER,
    METRICS_FILE,
    REPORT_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
)
from mpg_preprocessing.monitor import cloudwatch, report
from mpg_preprocessing.monitor.capture import Window, capture_files, read_traffic

log = logging.getLogger(__name__)

INFERENCE_ID = "inference_id"


@dataclass(frozen=True)
class MonitorConfig:
    capture_dir: Path
    baseline_dir: Path
    output_dir: Path
    window: Window = field(default_factory=Window)
    ground_truth_dir: Path | None = None
    endpoint: str | None = None  # the metrics' Endpoint dimension; None: no metrics
    monitor: str = "mpg-monitor"
    # Overrides of the constraints file's thresholds (None: the file's, else the defaults).
    thresholds: Mapping[str, float | None] = field(default_factory=dict)
    emit_metrics: bool = True


@dataclass(frozen=True)
class MonitorResult:
    records: int
    rows: int
    drift: tuple[ColumnDrift, ...]
    violations: tuple[dict[str, Any], ...]
    quality: dict[str, float]
    metrics_sent: int

    @property
    def flagged(self) -> set[str]:
        return {
            str(v["feature_name"])
            for v in self.violations
            if v.get("feature_name") and v["constraint_check_type"] == "baseline_drift_check"
        }


@dataclass(frozen=True)
class _Model:
    input_columns: tuple[str, ...]
    task: str
    target: str
    baseline: Baseline


def _model(directory: Path) -> _Model:
    with tempfile.TemporaryDirectory() as tmp:
        tarball = directory / MODEL_TARBALL
        folder = unpack_model_tarball(tarball, Path(tmp)) if tarball.is_file() else directory
        manifest = read_manifest(folder)
        baseline = read_baseline(folder)
    schema = manifest.get("schema") or {}
    return _Model(
        input_columns=tuple(manifest["input_columns"]),
        task=str(manifest.get("task", schema.get("task", "regression"))),
        target=str(schema.get("target", "target")),
        baseline=baseline,
    )


def _drift_violations(d: ColumnDrift, t: Mapping[str, float]) -> list[dict[str, Any]]:
    out = []
    if d.count and d.drift_score > t["comparison_threshold"] and d.p_value < t["p_value_threshold"]:
        out.append(
            {
                "feature_name": d.name,
                "constraint_check_type": "baseline_drift_check",
                "description": (
                    f"drift score {d.drift_score:.4f} (PSI {d.psi:.4f}) above "
                    f"{t['comparison_threshold']}; {d.test} statistic {d.statistic:.4f}, "
                    f"p-value {d.p_value:.3g} below {t['p_value_threshold']}"
                ),
            }
        )
    change = d.missing_rate_change
    if abs(change) > t["completeness_threshold"]:
        out.append(
            {
                "feature_name": d.name,
                "constraint_check_type": "completeness_check",
                "description": (
                    f"missing rate {d.missing_rate:.4f} against the baseline's "
                    f"{d.baseline_missing_rate:.4f} (change {change:+.4f}, at most "
                    f"{t['completeness_threshold']} allowed)"
                ),
            }
        )
    if d.new_level_share > t["domain_content_threshold"]:
        out.append(
            {
                "feature_name": d.name,
                "constraint_check_type": "categorical_values_check",
                "description": (
                    f"{d.new_level_share:.2%} of values in levels the baseline never saw "
                    f"({', '.join(d.new_levels[:5])}); at most "
                    f"{t['domain_content_threshold']:.2%} allowed"
                ),
            }
        )
    return out


def _ground_truth(directory: Path, target: str) -> pd.Series:
    """Inference id -> true value, from every CSV under ``directory``."""
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(f"ground truth: no .csv files in {directory}")
    frame = pd.concat([pd.read_csv(p, dtype={INFERENCE_ID: str}) for p in files])
    value = next((c for c in (target, "ground_truth", "label") if c in frame.columns), None)
    if INFERENCE_ID not in frame.columns or value is None:
        raise DataError(
            f"ground truth: expected columns {INFERENCE_ID!r} and {target!r} "
            f"(or 'ground_truth'), found {list(frame.columns)}"
        )
    return frame.drop_duplicates(INFERENCE_ID, keep="last").set_index(INFERENCE_ID)[value]


def quality_metrics(y_true: pd.Series, y_pred: pd.Series, task: str) -> dict[str, float]:
    from sklearn import metrics as m

    if task == "classification":
        truth = y_true.astype(str).to_numpy()
        predicted = y_pred.astype(str).to_numpy()
        return {
            "accuracy": float(m.accuracy_score(truth, predicted)),
            "balanced_accuracy": float(m.balanced_accuracy_score(truth, predicted)),
            "f1_macro": float(m.f1_score(truth, predicted, average="macro")),
        }
    truth_f = pd.to_numeric(y_true, errors="coerce").to_numpy(dtype=np.float64)
    pred_f = pd.to_numeric(y_pred, errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(truth_f) & np.isfinite(pred_f)
    truth_f, pred_f = truth_f[keep], pred_f[keep]
    return {
        "mae": float(m.mean_absolute_error(truth_f, pred_f)),
        "rmse": float(math.sqrt(m.mean_squared_error(truth_f, pred_f))),
        "r2": float(m.r2_score(truth_f, pred_f)) if len(truth_f) > 1 else math.nan,
    }


def _quality_violations(
    quality: Mapping[str, float], baseline: Baseline, tolerance: float
) -> list[dict[str, Any]]:
    reference = (baseline.model_quality or {}).get("metrics", {})
    split = (baseline.model_quality or {}).get("split", "test")
    out = []
    for name, value in quality.items():
        ref = reference.get(name)
        if ref is None or not math.isfinite(value):
            continue
        if name in HIGHER_IS_BETTER:
            threshold, operator = ref - tolerance * abs(ref), "LessThanThreshold"
            bad = value < threshold
        else:
            threshold, operator = ref + tolerance * abs(ref), "GreaterThanThreshold"
            bad = value > threshold
        if bad:
            out.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": (
                        f"{name} {value:.4f} on labelled traffic against {ref:.4f} on the "
                        f"model's {split} split "
                        f"(threshold {threshold:.4f})"
                    ),
                }
            )
    return out


def run(config: MonitorConfig, cloudwatch_client: Any = None) -> MonitorResult:
    model = _model(config.baseline_dir)
    baseline = model.baseline
    thresholds = baseline.thresholds(config.thresholds)
    files = capture_files(config.capture_dir, config.window)
    traffic = read_traffic(
        files, model.input_columns, config.window, keep_ids=config.ground_truth_dir is not None
    )
    log.info(
        "read captured traffic",
        extra={"files": len(files), "records": traffic.records, "rows": len(traffic.inputs)},
    )
    drift: list[ColumnDrift] = []
    violations: list[dict[str, Any]] = []
    known = set(model.input_columns)
    for base in baseline.columns:
        if base.name not in known:
            continue
        d = column_drift(base, traffic.inputs[base.name])
        drift.append(d)
        violations += _drift_violations(d, thresholds)
    if baseline.prediction is not None and traffic.predictions.notna().any():
        d = column_drift(baseline.prediction, traffic.predictions.dropna())
        drift.append(d)
        violations += _drift_violations(d, thresholds)
    quality: dict[str, float] = {}
    if config.ground_truth_dir is not None and len(traffic.inputs):
        truth = _ground_truth(config.ground_truth_dir, model.target)
        labelled = pd.Series(traffic.inference_ids).isin(truth.index).to_numpy().copy()
        labelled &= traffic.predictions.notna().to_numpy()
        if labelled.any():
            y_true = truth.loc[traffic.inference_ids[labelled]].reset_index(drop=True)
            y_pred = traffic.predictions[labelled].reset_index(drop=True)
            quality = quality_metrics(y_true, y_pred, model.task)
            quality["labelled_rows"] = float(labelled.sum())
            violations += _quality_violations(quality, baseline, thresholds["quality_tolerance"])
        log.info("matched ground truth", extra={"rows": int(labelled.sum())})

    config.output_dir.mkdir(parents=True, exist_ok=True)
    (config.output_dir / VIOLATIONS_FILE).write_text(
        json.dumps({"violations": violations}, indent=1) + "\n", "utf-8"
    )
    columns = [c for c in model.input_columns if c in {b.name for b in baseline.columns}]
    categorical = [b.name for b in baseline.columns if b.categorical]
    current = table_statistics(traffic.inputs, columns, categorical)
    if traffic.predictions.notna().any():
        pred = baseline.prediction
        classification = pred.categorical if pred is not None else model.task == "classification"
        current = with_predictions(current, traffic.predictions.dropna().to_numpy(), classification)
    (config.output_dir / STATISTICS_FILE).write_text(json.dumps(current, indent=1) + "\n")
    flagged = {str(v["feature_name"]) for v in violations if v.get("feature_name")}
    reference = (baseline.model_quality or {}).get("metrics", {})
    summary = {
        "endpoint": config.endpoint or "-",
        "monitor": config.monitor,
        "window": f"{config.window.start or '-'} to {config.window.end or '-'}",
        "capture files": len(files),
        "inferences": traffic.records,
        "rows": len(traffic.inputs),
        "unreadable lines": traffic.skipped,
        "thresholds": thresholds,
    }
    page = report.render(
        f"Model monitor: {config.endpoint or config.monitor}",
        summary,
        drift,
        flagged,
        {k: (v, reference.get(k)) for k, v in quality.items()},
        violations,
    )
    (config.output_dir / REPORT_FILE).write_text(page, "utf-8")

    quality_sent = {k: v for k, v in quality.items() if k != "labelled_rows" and math.isfinite(v)}
    entries = cloudwatch.metric_data(
        drift, quality_sent, config.endpoint or "-", config.monitor, datetime.now(UTC)
    )
    # What was (or, without an endpoint or with --no-metrics, would have been) sent.
    (config.output_dir / METRICS_FILE).write_text(
        json.dumps({"Namespace": cloudwatch.NAMESPACE, "MetricData": entries}, default=str)
    )
    sent = 0
    if config.emit_metrics and config.endpoint:
        sent = cloudwatch.put_metrics(entries, cloudwatch_client)
    log.info(
        "monitoring complete",
        extra={"violations": len(violations), "flagged": sorted(flagged), "metrics": sent},
    )
    return MonitorResult(
        records=traffic.records,
        rows=len(traffic.inputs),
        drift=tuple(drift),
        violations=tuple(violations),
        quality=quality,
        metrics_sent=sent,
    )


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed), as UTC; ConfigError otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{text!r} is not an ISO 8601 time such as 2026-12-07T09:00:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["MonitorConfig", "MonitorResult", "parse_baseline", "parse_time", "run"]
