"""The monitoring names the job and the launcher share (standard library only: the launcher
imports this without numpy): CloudWatch namespace, metric names and dimensions, the output
files, and which quality metrics are better high."""

from __future__ import annotations

from typing import Final

NAMESPACE: Final = "mpg/ModelMonitor"
DRIFT_PREFIX: Final = "feature_baseline_drift_"
QUALITY_PREFIX: Final = "model_quality_"
ENDPOINT_DIMENSION: Final = "Endpoint"
MONITOR_DIMENSION: Final = "MonitoringSchedule"
# The job's outputs (Model Monitor's names where it has one).
VIOLATIONS_FILE: Final = "constraint_violations.json"
STATISTICS_FILE: Final = "statistics.json"
REPORT_FILE: Final = "report.html"
METRICS_FILE: Final = "metrics.json"  # the PutMetricData entries of the run
# Quality metrics where higher is better; the others (errors) must not grow.
HIGHER_IS_BETTER: Final = frozenset({"r2", "accuracy", "balanced_accuracy", "f1_macro", "roc_auc"})


def drift_metric_name(column: str) -> str:
    return f"{DRIFT_PREFIX}{column}"


def quality_metric_name(metric: str) -> str:
    return f"{QUALITY_PREFIX}{metric}"


def dimensions(endpoint: str, monitor: str) -> list[dict[str, str]]:
    return [
        {"Name": ENDPOINT_DIMENSION, "Value": endpoint},
        {"Name": MONITOR_DIMENSION, "Value": monitor},
    ]
