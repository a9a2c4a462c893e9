"""A guarded redeploy against real parts: CloudWatch on the moto server (the rollback alarms are
created there and the user's are looked up there), SageMaker through botocore's Stubber,
since moto has no UpdateEndpoint: the exact UpdateEndpoint, DeploymentConfig included, is
asserted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.submit import Runner
from mpg_launch.aws.validation import request_errors
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.endpoint import rollout
from mpg_launch.endpoint import run as endpoint_run
from mpg_launch.endpoint.delete import owned
from mpg_launch.endpoint.rollout_settings import Rollout
from mpg_launch.errors import ConfigError, JobFailed
from mpg_launch.settings.config import LaunchConfig, load_config

REGION = "us-east-1"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/mpg-moto"
OLD, NEW = "mpg-moto-20240101-000000", "mpg-moto-20250101-000000"
pytestmark = pytest.mark.aws


@pytest.fixture
def config(bucket: str, aws_env: dict[str, str]) -> LaunchConfig:
    canary = Rollout(mode="canary", step_percent=20, wait_seconds=120, bake_seconds=300)
    return replace(load_config(env=aws_env | {"MPG_BUCKET": bucket}), rollout=canary)


def cloudwatch() -> Any:
    return boto3.client("cloudwatch", region_name=REGION)


def _endpoint(config_name: str, **extra: str) -> dict[str, Any]:
    return {
        "EndpointName": "mpg-moto",
        "EndpointArn": ARN,
        "EndpointConfigName": config_name,
        "EndpointStatus": "InService",
        "CreationTime": "2025-01-01T00:00:00Z",
        "LastModifiedTime": "2025-01-01T00:00:00Z",
        **extra,
    }


def _old_config(variant: str = "AllTraffic") -> dict[str, Any]:
    return {
        "EndpointConfigName": OLD,
        "EndpointConfigArn": ARN,
        "CreationTime": "2025-01-01T00:00:00Z",
        "ProductionVariants": [
            {"VariantName": variant, "ModelName": OLD, "InstanceType": "ml.m5.large"}
        ],
    }


def _redeploy(
    config: LaunchConfig, after_update: dict[str, Any] | None, variant: str = "AllTraffic"
) -> list[str]:
    """SageMaker stubbed, its requests asserted; ``after_update`` None: the deploy must stop
    before CreateModel."""
    sm = boto3.client("sagemaker", region_name=REGION)
    model_uri = f"s3://{config.bucket}/mpg/training/t1/output/model.tar.gz"
    lines: list[str] = []
    with Stubber(sm) as stub:
        stub.add_response("describe_endpoint", _endpoint(OLD), {"EndpointName": "mpg-moto"})
        stub.add_response("describe_endpoint", _endpoint(OLD), {"EndpointName": "mpg-moto"})
        stub.add_response(
            "describe_endpoint_config", _old_config(variant), {"EndpointConfigName": OLD}
        )
        if after_update is not None:
            stub.add_response(
                "create_model",
                {"ModelArn": ARN},
                owned(endpoint_requests.model_request(config, NEW, model_uri), "mpg-moto"),
            )
            stub.add_response(
                "create_endpoint_config",
                {"EndpointConfigArn": ARN},
                owned(
                    endpoint_requests.endpoint_config_request(config, NEW, NEW),
                    "mpg-moto",
                    rollout.alarm_names(NEW) if config.rollout.create_alarms else (),
                ),
            )
            assert config.rollout is not None
            stub.add_response(
                "update_endpoint",
                {"EndpointArn": ARN},
                rollout.update_request(config.rollout, "mpg-moto", NEW, 1),
            )
            stub.add_response("describe_endpoint", after_update, {"EndpointName": "mpg-moto"})
        runner = Runner(
            config,
            Clients(sm, None, None, None, autoscaling=None, cloudwatch=cloudwatch()),
            lines.append,
            poll_seconds=0,
        )
        try:
            endpoint_run.deploy(runner, "mpg-moto", "20250101-000000", training_job="t1")
        finally:
            stub.assert_no_pending_responses()
    return lines


def test_canary_redeploy_creates_the_alarms_and_sends_the_guarded_update(
    config: LaunchConfig,
) -> None:
    cloudwatch().put_metric_alarm(
        AlarmName="team-4xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation4XXErrors",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert config.rollout is not None
    config = replace(config, rollout=replace(config.rollout, alarms=("team-4xx",)))
    lines = _redeploy(config, _endpoint(NEW))
    assert "endpoint mpg-moto is InService (model mpg-moto-20250101-000000)" in lines
    assert any(
        line.startswith("rollout canary: traffic to the new fleet in steps of 20%, 100%")
        for line in lines
    )
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch().describe_alarms(AlarmNames=rollout.alarm_names(NEW))["MetricAlarms"]
    }
    errors, latency = alarms[f"{NEW}-5xx-rate"], alarms[f"{NEW}-p99-latency"]
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == (
        "Invocation5XXErrors",
        "Average",
        0.01,
    )
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == (
        "ModelLatency",
        "p99",
        1_000_000,
    )
    assert {"Name": "EndpointConfigName", "Value": NEW} in latency["Dimensions"]


def test_the_update_request_is_valid_for_botocore(config: LaunchConfig) -> None:
    assert config.rollout is not None
    request = rollout.update_request(config.rollout, "mpg-moto", NEW, 1)
    assert request_errors("sagemaker", "UpdateEndpoint", request) == []
    policy = request["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 120,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20},
    }
    assert policy["TerminationWaitInSeconds"] == 300
    assert policy["MaximumExecutionTimeoutInSeconds"] > 120 + 300


def test_a_missing_user_alarm_stops_the_deploy_before_anything_is_created(
    config: LaunchConfig,
) -> None:
    assert config.rollout is not None
    config = replace(config, rollout=replace(config.rollout, alarms=("nobody-made-this",)))
    with pytest.raises(ConfigError, match=r"rollback alarm\(s\) \['nobody-made-this'\] do not"):
        _redeploy(config, None)
    assert cloudwatch().describe_alarms()["MetricAlarms"] == []


def test_a_changed_variant_name_is_refused_with_the_reason(config: LaunchConfig) -> None:
    with pytest.raises(ConfigError, match="a guarded update keeps the variant name"):
        _redeploy(config, None, variant="Blue")


def test_a_rolled_back_update_fails_the_deploy_with_sagemakers_reason(
    config: LaunchConfig,
) -> None:
    rolled_back = _endpoint(OLD, FailureReason=f"Alarm {NEW}-5xx-rate is in ALARM")
    with pytest.raises(JobFailed, match=f"still serves {OLD}: Alarm {NEW}-5xx-rate is in ALARM"):
        _redeploy(config, rolled_back)


def test_a_canary_onto_a_new_endpoint_is_refused_before_anything_is_created(
    config: LaunchConfig,
) -> None:
    """A new endpoint has no old fleet to shift traffic from: the real run used to accept it
    with a note while the dry run printed an UpdateEndpoint. Refused after the one Describe,
    before CreateModel (the Stubber has no other response to give)."""
    sm = boto3.client("sagemaker", region_name=REGION)
    with Stubber(sm) as stub:
        stub.add_client_error(
            "describe_endpoint",
            "ValidationException",
            'Could not find endpoint "mpg-new".',
            expected_params={"EndpointName": "mpg-new"},
        )
        runner = Runner(config, Clients(sm, None, None, None), lambda line: None, poll_seconds=0)
        with pytest.raises(ConfigError, match="endpoint mpg-new does not exist, so there is no"):
            endpoint_run.deploy(runner, "mpg-new", "20250101-000000", training_job="t1")
        stub.assert_no_pending_responses()
