"""The requests of an asynchronous endpoint, as pure functions of the config (validated
against botocore's service models by whoever sends them).

* CreateEndpointConfig's ``AsyncInferenceConfig`` and the container's limits;
* scaling to zero (AWS Developer Guide, "Autoscale an asynchronous endpoint"): the variant's
  instance count registered from ``min_capacity`` (0) to ``max_capacity``, a target-tracking
  policy on ``ApproximateBacklogSizePerInstance``, and a step policy, set off by a CloudWatch
  alarm on ``HasBacklogWithoutCapacity``, that adds one instance when requests wait and no
  instance runs (target tracking alone would wait for the backlog to pass its target);
* InvokeEndpointAsync: the body's S3 location, or the body itself when it is small.
"""

from __future__ import annotations

from typing import Any

from mpg_core.platform import ASYNC_MAX_PAYLOAD_ENV, MODEL_SERVER_TIMEOUT_ENV
from mpg_launch.aws import names
from mpg_launch.endpoint.async_settings import INLINE_BODY_BYTES, AsyncInference
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

Request = dict[str, Any]
METRICS_NAMESPACE = "AWS/SageMaker"
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"
WAKE_METRIC = "HasBacklogWithoutCapacity"
BACKLOG_POLICY_NAME = "mpg-backlog-per-instance"
WAKE_POLICY_NAME = "mpg-wake-on-backlog"
# The docs' wake-up alarm: the metric's 1-minute average at 1 or more, twice in a row.
WAKE_PERIOD_SECONDS = 60
WAKE_EVALUATION_PERIODS = 2
WAKE_COOLDOWN_SECONDS = 300


def settings(config: LaunchConfig) -> AsyncInference:
    if not config.async_inference:
        raise ConfigError("not an asynchronous deploy: add [async] or --async")
    return config.async_inference


def output_path(config: LaunchConfig) -> str:
    return settings(config).output_path or f"s3://{config.bucket}/{config.prefix}/async/output/"


def failure_path(config: LaunchConfig) -> str:
    return settings(config).failure_path or f"s3://{config.bucket}/{config.prefix}/async/failures/"


def input_prefix(config: LaunchConfig) -> str:
    """Where ``predict --async`` uploads a local file too big to go inline."""
    return f"s3://{config.bucket}/{config.prefix}/async/input/"


def async_inference_config(config: LaunchConfig) -> Request:
    """CreateEndpointConfig's AsyncInferenceConfig."""
    s = settings(config)
    output: Request = {"S3OutputPath": output_path(config), "S3FailurePath": failure_path(config)}
    topics = {"SuccessTopic": s.success_topic, "ErrorTopic": s.error_topic}
    if any(topics.values()):
        output["NotificationConfig"] = {k: v for k, v in topics.items() if v}
    if config.kms_key_id:
        output["KmsKeyId"] = config.kms_key_id
    request: Request = {"OutputConfig": output}
    if s.max_concurrent_invocations is not None:
        request["ClientConfig"] = {
            "MaxConcurrentInvocationsPerInstance": s.max_concurrent_invocations
        }
    return request


def container_environment(config: LaunchConfig) -> dict[str, str]:
    """The serving container's body limit and worker timeout: the endpoint's, not real-time's
    6 MB and 60 s ({} when not asynchronous)."""
    s = config.async_inference
    if not s:
        return {}
    return {
        ASYNC_MAX_PAYLOAD_ENV: str(s.max_payload_mb),
        MODEL_SERVER_TIMEOUT_ENV: str(s.invocation_timeout),
    }


def _endpoint_dimension(endpoint: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}]


def backlog_policy_request(config: LaunchConfig, endpoint: str) -> Request:
    """PutScalingPolicy: target tracking holds the queue near ``target_backlog_per_instance``
    requests per instance (the metric is per endpoint, not per variant)."""
    s = settings(config)
    return {
        "PolicyName": BACKLOG_POLICY_NAME,
        **names.scalable_variant(endpoint),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(s.target_backlog_per_instance),
            "CustomizedMetricSpecification": {
                "MetricName": BACKLOG_METRIC,
                "Namespace": METRICS_NAMESPACE,
                "Dimensions": _endpoint_dimension(endpoint),
                "Statistic": "Average",
            },
            "ScaleInCooldown": s.scale_in_cooldown,
            "ScaleOutCooldown": s.scale_out_cooldown,
        },
    }


def wake_policy_request(config: LaunchConfig, endpoint: str) -> Request:
    """PutScalingPolicy: one more instance each time the wake alarm fires."""
    return {
        "PolicyName": WAKE_POLICY_NAME,
        **names.scalable_variant(endpoint),
        "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {
            "AdjustmentType": "ChangeInCapacity",
            "MetricAggregationType": "Average",
            "Cooldown": WAKE_COOLDOWN_SECONDS,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        },
    }


def wake_alarm_name(endpoint: str) -> str:
    return f"{endpoint}-{WAKE_METRIC}"


def wake_alarm_request(config: LaunchConfig, endpoint: str, policy_arn: str) -> Request:
    """PutMetricAlarm: requests wait and no instance runs, for two minutes -> the step policy.
    Missing data (an endpoint with nothing queued publishes nothing) is not a breach."""
    request: Request = {
        "AlarmName": wake_alarm_name(endpoint),
        "AlarmDescription": f"wakes {endpoint} (scaled in to 0) when requests are queued",
        "Namespace": METRICS_NAMESPACE,
        "MetricName": WAKE_METRIC,
        "Dimensions": _endpoint_dimension(endpoint),
        "Statistic": "Average",
        "Period": WAKE_PERIOD_SECONDS,
        "EvaluationPeriods": WAKE_EVALUATION_PERIODS,
        "DatapointsToAlarm": WAKE_EVALUATION_PERIODS,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "missing",
        "AlarmActions": [policy_arn],
    }
    if config.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]
    return request


def wakes(config: LaunchConfig) -> bool:
    """Whether the endpoint may scale in to zero, and so needs the wake alarm."""
    s = config.async_inference
    return bool(s and s.autoscaled and s.min_capacity == 0)


def invoke_request(
    endpoint: str,
    content_type: str,
    accept: str,
    timeout: int,
    input_location: str | None = None,
    body: bytes | None = None,
    inference_id: str | None = None,
) -> Request:
    """InvokeEndpointAsync: ``input_location`` (s3://) or an inline ``body`` of at most
    128,000 bytes, never both."""
    if (input_location is None) == (body is None):
        raise ConfigError("an asynchronous request takes an s3:// input or a body, not both")
    if body is not None and len(body) > INLINE_BODY_BYTES:
        raise ConfigError(
            f"a body of {len(body)} bytes is over InvokeEndpointAsync's inline "
            f"{INLINE_BODY_BYTES}; upload it to S3 and pass its s3:// URI"
        )
    request: Request = {
        "EndpointName": endpoint,
        "ContentType": content_type,
        "Accept": accept,
        "InvocationTimeoutSeconds": timeout,
    }
    if input_location is not None:
        request["InputLocation"] = input_location
    else:
        request["Body"] = body
    if inference_id:
        request["InferenceId"] = inference_id
    return request
