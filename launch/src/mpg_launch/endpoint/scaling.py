"""An endpoint variant's registration with Application Auto Scaling, real-time or asynchronous.

Read it as it stands (to put back what an update removed, if the update fails) and remove the
kit's part of it (:func:`remove`): only the policies deploy recorded, and the target with them
when no other policy is on it, by the rules of :mod:`mpg_launch.endpoint.delete`, before a
delete and before an update (SageMaker refuses an update that changes the instance type of a
registered variant, or removes it). An
asynchronous endpoint scales to zero and back: its registration adds a backlog policy, a
wake policy and the CloudWatch alarm that sets the wake policy off; delete
(:mod:`mpg_launch.endpoint.delete`) removes that alarm too, by its name and its tags, because
deleting a step policy leaves its alarm in place, and an alarm whose action is gone would sit
in ALARM state forever.

The requests are built in :mod:`mpg_launch.endpoint.requests` (the scalable target, one
builder for both kinds) and :mod:`mpg_launch.endpoint.async_requests` (the async policies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpg_launch.aws import names
from mpg_launch.endpoint import async_requests
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.settings.config import LaunchConfig

Requests = list[tuple[str, dict[str, Any]]]
# PutScalingPolicy members that DescribeScalingPolicies returns as they were put.
_POLICY_KEYS = (
    "PolicyName",
    "ServiceNamespace",
    "ResourceId",
    "ScalableDimension",
    "PolicyType",
    "TargetTrackingScalingPolicyConfiguration",
    "StepScalingPolicyConfiguration",
    "PredictiveScalingPolicyConfiguration",
)


def _target(client: Any, endpoint: str) -> dict[str, Any] | None:
    scalable = names.scalable_variant(endpoint)
    found = client.describe_scalable_targets(
        ServiceNamespace=scalable["ServiceNamespace"],
        ResourceIds=[scalable["ResourceId"]],
        ScalableDimension=scalable["ScalableDimension"],
    )["ScalableTargets"]
    return dict(found[0]) if found else None


def _policies(client: Any, endpoint: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("describe_scaling_policies").paginate(
        **names.scalable_variant(endpoint)
    )
    return [policy for page in pages for policy in page["ScalingPolicies"]]


def registration(client: Any, endpoint: str) -> Requests:
    """The RegisterScalableTarget and PutScalingPolicy requests that re-create the variant's
    registration as it is now ([] when it is not registered)."""
    target = _target(client, endpoint)
    if target is None:
        return []
    requests: Requests = [
        (
            "RegisterScalableTarget",
            names.scalable_variant(endpoint)
            | {"MinCapacity": target["MinCapacity"], "MaxCapacity": target["MaxCapacity"]},
        )
    ]
    for policy in _policies(client, endpoint):
        requests.append(("PutScalingPolicy", {k: policy[k] for k in _POLICY_KEYS if k in policy}))
    return requests


def observe(client: Any, endpoint: str) -> tuple[bool, list[str]]:
    """Whether the variant is registered, and the names of the policies on it."""
    if _target(client, endpoint) is None:
        return False, []
    return True, [policy["PolicyName"] for policy in _policies(client, endpoint)]


def remove(client: Any, endpoint: str, policies: Sequence[str], target: bool) -> list[str]:
    """Delete the named ``policies``, then deregister the variant when ``target`` (delete's
    and deploy's plans ask for that only when no other policy is on it). Returns what was
    removed."""
    scalable = names.scalable_variant(endpoint)
    removed = []
    for policy in policies:
        client.delete_scaling_policy(PolicyName=policy, **scalable)
        removed.append(f"scaling policy {policy}")
    if target:
        client.deregister_scalable_target(**scalable)
        removed.append(f"scalable target {scalable['ResourceId']}")
    return removed


# What a dry run prints for the wake policy's ARN, which only PutScalingPolicy's answer gives.
POLICY_ARN_PLACEHOLDER = (
    "arn:aws:autoscaling:<region>:<account>:scalingPolicy:<id>:resource/sagemaker/"
    f"<endpoint>:policyName/{async_requests.WAKE_POLICY_NAME}"
)


def register_requests(config: LaunchConfig, endpoint: str) -> Requests:
    """The requests that register the variant: for ``[async]``, RegisterScalableTarget, the
    backlog policy and (when it may reach zero) the wake policy; for ``[autoscaling]``,
    RegisterScalableTarget and the target-tracking policy; [] without either."""
    s = config.async_inference
    if s:
        if not s.autoscaled:
            return []
        found: Requests = [
            ("RegisterScalableTarget", endpoint_requests.scalable_target_request(config, endpoint)),
            ("PutScalingPolicy", async_requests.backlog_policy_request(config, endpoint)),
        ]
        if async_requests.wakes(config):
            found.append(("PutScalingPolicy", async_requests.wake_policy_request(config, endpoint)))
        return found
    if not config.autoscaling:
        return []
    return [
        ("RegisterScalableTarget", endpoint_requests.scalable_target_request(config, endpoint)),
        ("PutScalingPolicy", endpoint_requests.scaling_policy_request(config, endpoint)),
    ]


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


def async_text(config: LaunchConfig) -> str:
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
