"""boto3 clients for one config, with retries sized for long-running launches.

The endpoint comes from boto3's own settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``...),
which is how tests point every client at a moto server; the region always comes from the
config, never from a silent default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from mpg_launch.settings.config import LaunchConfig

# Standard retry mode backs off on throttling; describe calls are polled for hours.
_RETRIES = Config(retries={"max_attempts": 10, "mode": "standard"})
# InvokeEndpoint answers within 60 s; read a little longer than the container may take.
_RUNTIME = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=70)


@dataclass(frozen=True)
class Clients:
    """The clients a command needs. ``--local`` swaps sagemaker/runtime for the local runner
    and keeps S3 real (or moto); it has no ECR and no Application Auto Scaling."""

    sagemaker: Any
    runtime: Any
    s3: Any
    logs: Any | None
    ecr: Any | None = None
    autoscaling: Any | None = None  # application-autoscaling
    cloudwatch: Any | None = None  # alarms: rollout rollbacks, async endpoints' wake-up from zero
    # The monitor's alarms: on the CloudWatch the AWS settings reach, with --local too (they
    # watch metrics the local double does not keep); and its EventBridge Scheduler (AWS only).
    monitor_cloudwatch: Any | None = None
    scheduler: Any | None = None


def session(config: LaunchConfig) -> boto3.Session:
    return boto3.Session(region_name=config.region)


def aws_clients(config: LaunchConfig) -> Clients:
    s = session(config)
    cloudwatch = s.client("cloudwatch", config=_RETRIES)
    return Clients(
        sagemaker=s.client("sagemaker", config=_RETRIES),
        runtime=s.client("sagemaker-runtime", config=_RUNTIME),
        s3=s.client("s3", config=_RETRIES),
        logs=s.client("logs", config=_RETRIES),
        ecr=s.client("ecr", config=_RETRIES),
        autoscaling=s.client("application-autoscaling", config=_RETRIES),
        cloudwatch=cloudwatch,
        monitor_cloudwatch=cloudwatch,
        scheduler=s.client("scheduler", config=_RETRIES),
    )


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
