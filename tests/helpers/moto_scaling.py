"""Helpers the moto scaling tests share: Application Auto Scaling's view of the test endpoint
and a deploy of it through the CLI."""

from __future__ import annotations

from typing import Any

import boto3

from mpg_launch.cli.main import main
from tests.helpers.launch import REGION

RESOURCE = "endpoint/mpg-moto/variant/AllTraffic"


def aas() -> Any:
    return boto3.client("application-autoscaling", region_name=REGION)


def targets() -> list[dict[str, Any]]:
    return list(aas().describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"])


def policies() -> list[dict[str, Any]]:
    return list(aas().describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"])


def run(*argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    base = ["deploy", "--endpoint", "mpg-moto", "--training-job", "t1", "--poll-seconds", "0.1"]
    return main([*base, *argv], out=lines.append), lines
