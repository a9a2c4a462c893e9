"""The run's CloudWatch metrics: one per column's drift score and one per quality metric,
with the endpoint and the monitor as dimensions (Model Monitor's names, our namespace).

:func:`metric_data` is pure (the PutMetricData entries); :func:`put_metrics` sends them with
boto3, which reads the region and endpoint from the standard AWS environment
(``AWS_REGION``, ``AWS_ENDPOINT_URL_CLOUDWATCH`` or ``AWS_ENDPOINT_URL``), so tests point
it at a moto server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from mpg_core.monitoring.drift import ColumnDrift
from mpg_core.monitoring.names import (
    NAMESPACE,
    dimensions,
    drift_metric_name,
    quality_metric_name,
)

# PutMetricData takes up to 1,000 entries a call; small batches keep each request small.
BATCH: Final = 20


def metric_data(
    drift: Sequence[ColumnDrift],
    quality: Mapping[str, float],
    endpoint: str,
    monitor: str,
    timestamp: datetime,
) -> list[dict[str, Any]]:
    dims = dimensions(endpoint, monitor)
    entries = [
        {
            "MetricName": drift_metric_name(d.name),
            "Dimensions": dims,
            "Timestamp": timestamp,
            "Value": float(d.drift_score),
            "Unit": "None",
        }
        for d in drift
    ]
    entries += [
        {
            "MetricName": quality_metric_name(name),
            "Dimensions": dims,
            "Timestamp": timestamp,
            "Value": float(value),
            "Unit": "None",
        }
        for name, value in quality.items()
    ]
    return entries


def put_metrics(entries: Sequence[dict[str, Any]], client: Any = None) -> int:
    """Send ``entries`` in batches; the number sent."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    for start in range(0, len(entries), BATCH):
        client.put_metric_data(Namespace=NAMESPACE, MetricData=list(entries[start : start + BATCH]))
    return len(entries)
