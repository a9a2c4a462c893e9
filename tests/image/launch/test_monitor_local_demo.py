"""The local drift demo, with ``--local`` against moto (S3, CloudWatch): a model deployed on
the local engine with data capture, held-out traffic sent to it, and ``monitor run --local``
(the processing image's ``monitor`` in a local job) over the captured records.

Unshifted traffic: no violation, no alarm. The same traffic with acceleration shifted by
4 s: a drift violation for acceleration alone, and its alarm in ALARM on moto's CloudWatch
(moto does not evaluate alarms: ``monitor run --local`` evaluates them once, from the
metrics it sent)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest

from mpg_core.artifact.files import pack_model_tarball
from mpg_launch.cli.main import main
from mpg_launch.endpoint.delete import MONITORS
from mpg_launch.local.state import LocalState
from tests.helpers.capture_files import held_out
from tests.helpers.launch import REGION, containers_of

pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]
ENDPOINT = "mpg-drift-demo"
CAPTURE_PREFIX = f"mpg/data-capture/{ENDPOINT}/"


def _send(rows, path: Path, env: dict[str, str], lines: list[str]) -> None:
    """The rows as traffic: one request per ten rows (raw columns, headerless CSV)."""
    columns = [
        "cylinders",
        "displacement",
        "horsepower",
        "weight",
        "acceleration",
        "model_year",
        "origin",
    ]
    for start in range(0, len(rows), 10):
        part = rows.iloc[start : start + 10][columns]
        part.to_csv(path, header=False, index=False)
        argv = ["predict", "--local", "--endpoint", ENDPOINT, "--file", str(path)]
        assert main(argv, env=env, out=lines.append) == 0, lines[-5:]


def _clear_capture(bucket: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    found = s3.list_objects_v2(Bucket=bucket, Prefix=CAPTURE_PREFIX).get("Contents", [])
    for item in found:
        s3.delete_object(Bucket=bucket, Key=item["Key"])


def _monitor(job: str, model_data: str, env: dict[str, str]) -> list[str]:
    lines: list[str] = []
    argv = [
        "monitor",
        "run",
        "--local",
        "--endpoint",
        ENDPOINT,
        "--model-data",
        model_data,
        "--job-name",
        job,
        "--window-hours",
        "1",
        "--poll-seconds",
        "0",
    ]
    assert main(argv, env=env, out=lines.append) == 0, lines[-20:]
    return lines


def test_shifted_column_is_flagged_and_alarms_unshifted_traffic_is_quiet(
    bucket: str, trained, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    s3 = boto3.client("s3", region_name=REGION)
    tarball = pack_model_tarball(trained.pipeline_dir, tmp_path / "model" / "model.tar.gz")
    key = "mpg/models/pipeline/model.tar.gz"
    s3.upload_file(str(tarball), bucket, key)
    model_data = f"s3://{bucket}/{key}"
    rows = held_out(trained.bronze)
    lines: list[str] = []
    try:
        deploy = [
            "deploy",
            "--local",
            "--endpoint",
            ENDPOINT,
            "--model-data",
            model_data,
            "--data-capture",
            "--capture-percent",
            "100",
        ]
        assert main(deploy, env=env, out=lines.append) == 0, lines[-10:]

        _send(rows, tmp_path / "rows.csv", env, lines)
        captured = s3.list_objects_v2(Bucket=bucket, Prefix=CAPTURE_PREFIX)["KeyCount"]
        assert captured == 12  # every request, sampled at 100 %
        quiet = _monitor("monitor-unshifted", model_data, env)
        assert "alarms in ALARM: none" in quiet
        assert any("(0 violation(s))" in line for line in quiet), quiet

        _clear_capture(bucket)  # a fresh window: only the shifted traffic
        _send(
            rows.assign(acceleration=rows["acceleration"] + 4.0), tmp_path / "rows.csv", env, lines
        )
        drifted = _monitor("monitor-shifted", model_data, env)
        flagged = [line for line in drifted if line.startswith("  ")]
        assert flagged and all(
            line.startswith("  acceleration: baseline_drift_check") for line in flagged
        ), drifted
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        alarming = cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"]
        assert [a["AlarmName"] for a in alarming] == [
            f"mpg-monitor-{ENDPOINT}-feature_baseline_drift_acceleration"
        ]
        report = (
            s3.get_object(
                Bucket=bucket, Key="mpg/monitoring/mpg-monitor/monitor-shifted/report.html"
            )["Body"]
            .read()
            .decode()
        )
        assert "<svg" in report and "acceleration" in report

        # The monitor recorded itself on the local endpoint: delete --local removes its
        # alarms from the CloudWatch it put them on (moto), with the endpoint.
        record = LocalState(state).get("endpoints", ENDPOINT, "DescribeEndpoint")
        assert {"Key": MONITORS, "Value": "mpg-monitor"} in record["Tags"]
        prefix = f"mpg-monitor-{ENDPOINT}-"
        assert len(cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]) == 8
        deleted: list[str] = []
        assert main(["delete", "--local", "--endpoint", ENDPOINT], env=env, out=deleted.append) == 0
        assert containers_of(state) == []
        assert cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"] == []
        assert f"deleted CloudWatch alarm {prefix}feature_baseline_drift_acceleration" in deleted
    finally:
        for name in containers_of(state):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
