"""Checks before anything is sent: every request against botocore's service model, the
schedule's target input as Scheduler will send it, and the role Scheduler assumes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mpg_launch.aws.validation import validate_request
from mpg_launch.errors import ConfigError
from mpg_launch.monitor import requests

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


def check_job(request: Mapping[str, Any]) -> None:
    validate_request("sagemaker", "CreateProcessingJob", request)


def check_alarms(alarms: list[dict[str, Any]]) -> None:
    for alarm in alarms:
        validate_request("cloudwatch", "PutMetricAlarm", alarm)


def check_schedule(request: Mapping[str, Any]) -> None:
    """The schedule, and the CreateProcessingJob request inside it once Scheduler has
    filled in its context attributes."""
    validate_request("scheduler", "CreateSchedule", request)
    check_job(requests.sample_input(request["Target"]["Input"]))


def schedule_role(role: str | None) -> str:
    if not role:
        raise ConfigError(
            "monitor schedule needs the role EventBridge Scheduler assumes: --schedule-role "
            "or [monitor] schedule_role (trusting scheduler.amazonaws.com, allowed "
            "sagemaker:CreateProcessingJob and iam:PassRole on the execution role)"
        )
    if not _ROLE_ARN.match(role):
        raise ConfigError(f"schedule_role {role!r} is not an IAM role ARN")
    return role
