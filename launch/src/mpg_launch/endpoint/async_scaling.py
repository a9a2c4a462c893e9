"""Scaling an asynchronous endpoint to zero and back, as ``deploy`` registers it and
``delete`` removes it.

The requests come from :mod:`mpg_launch.endpoint.async_requests`. Registration is removed
the way :mod:`mpg_launch.endpoint.autoscaling` removes any variant's (policies, then the
scalable target); the wake alarm is this module's to delete: deleting a step policy leaves
its CloudWatch alarm in place, and an alarm whose action is gone would sit in ALARM state forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.endpoint import async_requests
from mpg_launch.settings.config import LaunchConfig

Requests = list[tuple[str, dict[str, Any]]]
# What a dry run prints for the wake policy's ARN, which only PutScalingPolicy's answer gives.
POLICY_ARN_PLACEHOLDER = (
    "arn:aws:autoscaling:<region>:<account>:scalingPolicy:<id>:resource/sagemaker/"
    f"<endpoint>:policyName/{async_requests.WAKE_POLICY_NAME}"
)


def requests(config: LaunchConfig, endpoint: str) -> Requests:
    """RegisterScalableTarget, the backlog policy and (when it may reach zero) the wake
    policy; [] when ``[async]`` sets no max_capacity."""
    s = config.async_inference
    if not s or not s.autoscaled:
        return []
    found: Requests = [
        ("RegisterScalableTarget", async_requests.scalable_target_request(config, endpoint)),
        ("PutScalingPolicy", async_requests.backlog_policy_request(config, endpoint)),
    ]
    if async_requests.wakes(config):
        found.append(("PutScalingPolicy", async_requests.wake_policy_request(config, endpoint)))
    return found


def wake_alarm(
    config: LaunchConfig,
    endpoint: str,
    sent: Sequence[dict[str, Any]],
    answers: Sequence[dict[str, Any]],
) -> dict[str, Any] | None:
    """The PutMetricAlarm request that sets off the wake policy (None when there is none):
    its action is the policy's ARN, from PutScalingPolicy's answer among ``answers`` (the
    answers to the requests ``sent``; none in a dry run, which prints a placeholder)."""
    if not async_requests.wakes(config):
        return None
    arn = POLICY_ARN_PLACEHOLDER
    for request, answer in zip(sent, answers, strict=False):
        if request.get("PolicyName") == async_requests.WAKE_POLICY_NAME:
            arn = answer["PolicyARN"]
    return async_requests.wake_alarm_request(config, endpoint, arn)


def delete_alarm(cloudwatch: Any, endpoint: str) -> list[str]:
    """Delete the endpoint's wake alarm if it has one; returns what was deleted."""
    name = async_requests.wake_alarm_name(endpoint)
    try:
        found = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    except Exception as exc:
        if error_code(exc) in ("AccessDenied", "AccessDeniedException"):
            return []  # a caller that may not read alarms made none
        raise
    if not found:
        return []
    cloudwatch.delete_alarms(AlarmNames=[name])
    return [f"CloudWatch alarm {name}"]


def text(config: LaunchConfig) -> str:
    s = config.async_inference
    assert s is not None and s.max_capacity is not None
    woken = (
        f"; alarm {async_requests.WAKE_METRIC} wakes it from 0"
        if async_requests.wakes(config)
        else ""
    )
    return (
        f"{s.min_capacity}..{s.max_capacity} instances holding "
        f"{s.target_backlog_per_instance:g} queued requests per instance "
        f"(cooldowns: out {s.scale_out_cooldown} s, in {s.scale_in_cooldown} s){woken}"
    )
