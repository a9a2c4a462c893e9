"""`mpg-launch monitor`: request shapes (botocore Stubber, the service models) and flows on
a moto server (CloudWatch alarms and metrics, EventBridge Scheduler)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpg_core.monitoring.names import NAMESPACE, dimensions, drift_metric_name
from mpg_launch.aws.validation import request_errors
from mpg_launch.cli.main import main as cli
from mpg_launch.errors import ConfigError, RequestInvalid
from mpg_launch.monitor import checks, requests, run
from mpg_launch.monitor.settings import MonitorSettings, parse_table
from mpg_launch.settings.config import LaunchConfig, load_config
from mpg_preprocessing.monitor.cloudwatch import put_metrics
from tests.helpers.launch import REGION

ARN_PREFIX = "arn:aws:sagemaker:eu-west-1:111122223333"
MODEL = "s3://my-bucket/mpg/training/job-1/output/model.tar.gz"
SETTINGS = MonitorSettings(
    window_hours=24,
    psi_threshold=0.3,
    ground_truth_uri="s3://my-bucket/labels/",
    quality_alarms={"rmse": 3.5, "r2": 0.7},
)


def test_job_request_runs_the_monitor_command_on_the_endpoints_capture(
    config: LaunchConfig,
) -> None:
    job = requests.processing_request(
        config, SETTINGS, "mon-1", "ep", MODEL, "2026-12-07T09:00:00Z"
    )
    checks.check_job(job)
    app = job["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["monitor"]
    assert app["ImageUri"].endswith("/mpg-preprocessing:git-abc")
    assert app["ContainerArguments"] == [
        "--endpoint=ep",
        "--monitor-name=mpg-monitor",
        "--window-hours=24",
        "--window-end=2026-12-07T09:00:00Z",
        "--ground-truth=/opt/ml/processing/input/ground_truth",
        "--psi-threshold=0.3",
    ]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs == {
        "capture": "s3://my-bucket/mpg/data-capture/ep/AllTraffic/",
        "baseline": MODEL,
        "ground_truth": "s3://my-bucket/labels/",
    }
    # The job sends its own metrics: it needs the network.
    assert job["NetworkConfig"]["EnableNetworkIsolation"] is False


def test_alarms_per_column_and_quality_metric(config: LaunchConfig) -> None:
    alarms = requests.alarm_requests(SETTINGS, "ep", ("weight", "origin"))
    checks.check_alarms(alarms)
    by_metric = {a["MetricName"]: a for a in alarms}
    assert set(by_metric) == {
        "feature_baseline_drift_weight",
        "feature_baseline_drift_origin",
        "feature_baseline_drift_prediction",
        "model_quality_rmse",
        "model_quality_r2",
    }
    assert by_metric["model_quality_r2"]["ComparisonOperator"] == "LessThanThreshold"
    assert by_metric["model_quality_rmse"]["Threshold"] == 3.5
    assert by_metric["feature_baseline_drift_weight"]["Dimensions"] == dimensions(
        "ep", "mpg-monitor"
    )


def test_schedule_targets_create_processing_job_with_schedulers_placeholders(
    config: LaunchConfig,
) -> None:
    role = "arn:aws:iam::111122223333:role/scheduler"
    request = requests.schedule_request(config, SETTINGS, "ep", MODEL, role)
    checks.check_schedule(request)
    target = request["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
    job = json.loads(target["Input"])
    assert job["ProcessingJobName"] == "mpg-monitor-<aws.scheduler.execution-id>"
    assert (
        "--window-end=<aws.scheduler.scheduled-time>"
        in job["AppSpecification"]["ContainerArguments"]
    )
    # Unfilled, the name breaks SageMaker's pattern: the check is of what Scheduler sends.
    assert request_errors("sagemaker", "CreateProcessingJob", job)
    assert not request_errors(
        "sagemaker", "CreateProcessingJob", requests.sample_input(target["Input"])
    )


def test_bad_settings_fail_before_anything_is_sent(config: LaunchConfig) -> None:
    with pytest.raises(ConfigError, match="schedule"):
        parse_table({"schedule": "every hour"}, "mpg.toml")
    with pytest.raises(ConfigError, match="p_value_threshold"):
        parse_table({"p_value_threshold": 2}, "mpg.toml")
    with pytest.raises(ConfigError, match="unknown key"):
        parse_table({"window": 1}, "mpg.toml")
    with pytest.raises(ConfigError, match="schedule-role"):
        checks.schedule_role(None)
    bad = requests.processing_request(
        config, MonitorSettings(instance_type="ml.huge"), "mon-1", "ep", MODEL
    )
    with pytest.raises(RequestInvalid, match="InstanceType"):
        checks.check_job(bad)


def test_config_file_monitor_table(tmp_path: Any) -> None:
    path = tmp_path / "mpg.toml"
    path.write_text(
        'region = "eu-west-1"\nbucket = "my-bucket"\n'
        "[monitor]\nwindow_hours = 6\nalarm_threshold = 0.5\n"
        "[monitor.quality_alarms]\nrmse = 3.0\n"
    )
    config = load_config(path, env={}, need_role=False)
    assert config.monitor == MonitorSettings(
        window_hours=6.0, alarm_threshold=0.5, quality_alarms={"rmse": 3.0}
    )


def _client(service: str) -> Any:
    return boto3.client(
        service, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_model_data_is_the_endpoints_last_container(config: LaunchConfig) -> None:
    sm = _client("sagemaker")
    with Stubber(sm) as stub:
        stub.add_response(
            "describe_endpoint",
            {
                "EndpointName": "ep",
                "EndpointArn": "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/ep",
                "EndpointConfigName": "ec-1",
                "EndpointStatus": "InService",
                "CreationTime": "2026-01-01T00:00:00Z",
                "LastModifiedTime": "2026-01-01T00:00:00Z",
            },
            {"EndpointName": "ep"},
        )
        stub.add_response(
            "describe_endpoint_config",
            {
                "EndpointConfigName": "ec-1",
                "EndpointConfigArn": f"{ARN_PREFIX}:endpoint-config/ec-1",
                "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m-1"}],
                "CreationTime": "2026-01-01T00:00:00Z",
            },
            {"EndpointConfigName": "ec-1"},
        )
        stub.add_response(
            "describe_model",
            {
                "ModelName": "m-1",
                "ModelArn": "arn:aws:sagemaker:eu-west-1:111122223333:model/m-1",
                "CreationTime": "2026-01-01T00:00:00Z",
                "Containers": [
                    {"Image": "pre", "ModelDataUrl": "s3://my-bucket/pre/model.tar.gz"},
                    {"Image": "model", "ModelDataUrl": MODEL},
                ],
            },
            {"ModelName": "m-1"},
        )
        assert run.model_data(sm, "ep") == MODEL
        stub.assert_no_pending_responses()


def _cli(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = cli(list(argv), env=os.environ, out=lines.append)
    return code, lines


def test_schedule_list_delete_on_moto(aws_env: dict[str, str], bucket: str) -> None:
    role = "arn:aws:iam::123456789012:role/scheduler"
    code, lines = _cli(
        "monitor",
        "schedule",
        "--endpoint",
        "ep",
        "--model-data",
        MODEL,
        "--schedule",
        "rate(6 hours)",
        "--schedule-role",
        role,
    )
    assert code == 0, lines
    scheduler = boto3.client("scheduler", region_name=REGION)
    found = scheduler.get_schedule(Name="mpg-monitor-ep")
    assert found["ScheduleExpression"] == "rate(6 hours)"
    job = json.loads(found["Target"]["Input"])
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["monitor"]
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix="mpg-monitor-ep-")["MetricAlarms"]
    assert len(alarms) == 8  # seven Auto MPG columns and the predictions
    code, lines = _cli("monitor", "list")
    assert code == 0 and "schedule mpg-monitor-ep: ENABLED" in lines
    assert sum(line.startswith("alarm ") for line in lines) == 8
    code, lines = _cli("monitor", "delete", "--endpoint", "ep")
    assert code == 0 and "deleted 8 alarm(s)" in lines
    assert scheduler.list_schedules()["Schedules"] == []
    assert cloudwatch.describe_alarms(AlarmNamePrefix="mpg-monitor")["MetricAlarms"] == []


def test_job_metrics_reach_cloudwatch_and_alarms_are_evaluated(aws_env: dict[str, str]) -> None:
    """The job's PutMetricData (as it sends them) on moto, and the one-off evaluation
    `monitor run --local` does: moto stores alarms but never evaluates them."""
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    settings = MonitorSettings(alarm_threshold=0.2)
    alarms = requests.alarm_requests(settings, "ep", ("weight", "acceleration"))
    for alarm in alarms:
        cloudwatch.put_metric_alarm(**alarm)
    now = datetime.now(UTC)
    entries = [
        {
            "MetricName": drift_metric_name(c),
            "Dimensions": dimensions("ep", "mpg-monitor"),
            "Timestamp": now,
            "Value": v,
            "Unit": "None",
        }
        for c, v in (("weight", 0.01), ("acceleration", 2.4), ("prediction", 0.0))
    ]
    assert put_metrics(entries, cloudwatch) == 3
    stored = cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert len(stored) == 3
    before = cloudwatch.describe_alarms(AlarmNamePrefix="mpg-monitor")["MetricAlarms"]
    # moto leaves a fresh alarm as it is (OK), acceleration's 2.4 above 0.2 notwithstanding.
    assert "ALARM" not in {a["StateValue"] for a in before}
    states = run.evaluate_alarms(cloudwatch, alarms, now)
    assert states == {
        "mpg-monitor-ep-feature_baseline_drift_weight": "OK",
        "mpg-monitor-ep-feature_baseline_drift_acceleration": "ALARM",
        "mpg-monitor-ep-feature_baseline_drift_prediction": "OK",
    }
    after = cloudwatch.describe_alarms(StateValue="ALARM")["MetricAlarms"]
    assert [a["AlarmName"] for a in after] == ["mpg-monitor-ep-feature_baseline_drift_acceleration"]


def test_readme_lists_every_setting() -> None:
    from pathlib import Path

    from mpg_launch.monitor.settings import readme_table

    readme = (Path(__file__).resolve().parents[2] / "launch" / "README.md").read_text()
    assert readme_table() in readme
