"""An endpoint variant's registration with Application Auto Scaling, as it stands: read it (to
put it back if an update fails) and remove it (before an update, which fails on an autoscaled
variant whose instance type changes or that goes away, and before delete).

The requests that register a variant are built in :mod:`mpg_launch.endpoint.requests`.
"""

from __future__ import annotations

from typing import Any

from mpg_launch.aws import names as layout

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
    scalable = layout.scalable_variant(endpoint)
    found = client.describe_scalable_targets(
        ServiceNamespace=scalable["ServiceNamespace"],
        ResourceIds=[scalable["ResourceId"]],
        ScalableDimension=scalable["ScalableDimension"],
    )["ScalableTargets"]
    return dict(found[0]) if found else None


def _policies(client: Any, endpoint: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("describe_scaling_policies").paginate(
        **layout.scalable_variant(endpoint)
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
            layout.scalable_variant(endpoint)
            | {"MinCapacity": target["MinCapacity"], "MaxCapacity": target["MaxCapacity"]},
        )
    ]
    for policy in _policies(client, endpoint):
        requests.append(("PutScalingPolicy", {k: policy[k] for k in _POLICY_KEYS if k in policy}))
    return requests


def deregister(client: Any, endpoint: str) -> list[str]:
    """Delete the variant's scaling policies, then deregister it, as the docs ask before an
    update or a delete. Returns what was removed (nothing when it was not registered)."""
    if _target(client, endpoint) is None:
        return []
    scalable = layout.scalable_variant(endpoint)
    removed = []
    for policy in _policies(client, endpoint):
        client.delete_scaling_policy(PolicyName=policy["PolicyName"], **scalable)
        removed.append(f"scaling policy {policy['PolicyName']}")
    client.deregister_scalable_target(**scalable)
    removed.append(f"scalable target {scalable['ResourceId']}")
    return removed
