"""``deploy --async`` against a real moto server: the endpoint config SageMaker stores, the
model's container limits, scaling to zero (target, backlog policy, wake policy and the
CloudWatch alarm that sets it off) registered after deploy and all of it gone after delete."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from mpg_launch.cli.main import main
from mpg_launch.settings.config import LaunchConfig
from tests.helpers.moto_scaling import RESOURCE, policies, run, targets

REGION = "us-east-1"
TOPIC = "arn:aws:sns:us-east-1:123456789012:mpg-answers"
ALARM = "mpg-moto-HasBacklogWithoutCapacity"
pytestmark = pytest.mark.aws


@pytest.fixture
def config(moto_config: LaunchConfig) -> LaunchConfig:
    """``config`` here is moto's, with the images pushed (tests/aws/conftest.py)."""
    return moto_config


def alarms() -> list[dict[str, Any]]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    return list(cloudwatch.describe_alarms()["MetricAlarms"])


def test_async_deploy_stores_the_config_and_scales_to_zero_then_delete_removes_it(
    config: LaunchConfig,
) -> None:
    code, lines = run(
        "--async",
        "--success-topic",
        TOPIC,
        "--max-concurrent-invocations",
        "2",
        "--invocation-timeout",
        "1800",
        "--max-capacity",
        "4",
        "--target-backlog",
        "3",
    )
    assert code == 0, lines
    sm = boto3.client("sagemaker", region_name=REGION)
    name = sm.describe_endpoint(EndpointName="mpg-moto")["EndpointConfigName"]
    stored = sm.describe_endpoint_config(EndpointConfigName=name)
    assert stored["AsyncInferenceConfig"] == {
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2},
        "OutputConfig": {
            "S3OutputPath": f"s3://{config.bucket}/mpg/async/output/",
            "S3FailurePath": f"s3://{config.bucket}/mpg/async/failures/",
            "NotificationConfig": {"SuccessTopic": TOPIC},
        },
    }
    model = sm.describe_model(ModelName=stored["ProductionVariants"][0]["ModelName"])
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["MPG_ASYNC_MAX_PAYLOAD_MB"] == "1024"
    assert environment["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == "1800"

    (target,) = targets()
    assert (target["ResourceId"], target["MinCapacity"], target["MaxCapacity"]) == (RESOURCE, 0, 4)
    by_name = {p["PolicyName"]: p for p in policies()}
    tracking = by_name["mpg-backlog-per-instance"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 3.0
    assert tracking["CustomizedMetricSpecification"]["MetricName"] == (
        "ApproximateBacklogSizePerInstance"
    )
    assert tracking["CustomizedMetricSpecification"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "mpg-moto"}
    ]
    wake = by_name["mpg-wake-on-backlog"]
    assert wake["PolicyType"] == "StepScaling"
    steps = wake["StepScalingPolicyConfiguration"]["StepAdjustments"]
    assert [s["ScalingAdjustment"] for s in steps] == [1]
    (alarm,) = alarms()
    assert alarm["AlarmName"] == ALARM
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SageMaker",
        "HasBacklogWithoutCapacity",
    )
    assert alarm["AlarmActions"] == [wake["PolicyARN"]]
    assert (
        alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1
    )
    text = "\n".join(lines)
    assert "autoscaling: 0..4 instances holding 3 queued requests per instance" in text
    assert "note: async: the endpoint starts with instances and scales in to 0" in text

    deleted: list[str] = []
    assert main(["delete", "--endpoint", "mpg-moto"], out=deleted.append) == 0
    assert (targets(), policies(), alarms()) == ([], [], [])
    assert f"deleted CloudWatch alarm {ALARM}" in deleted


def test_async_without_max_capacity_registers_no_scaling(config: LaunchConfig) -> None:
    code, lines = run("--async")
    assert code == 0, lines
    assert (targets(), policies(), alarms()) == ([], [], [])


def test_async_with_a_floor_above_zero_needs_no_wake_alarm(config: LaunchConfig) -> None:
    code, lines = run("--async", "--min-capacity", "1", "--max-capacity", "2")
    assert code == 0, lines
    assert [p["PolicyName"] for p in policies()] == ["mpg-backlog-per-instance"]
    assert alarms() == []
