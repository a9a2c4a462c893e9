"""What SageMaker would refuse of a deploy, checked before a request is sent: the combinations
of instances, serverless, async, autoscaling and data capture (:func:`check_deploy`, with
:func:`deploy_notes` saying what a request leaves out), and a rollout's deployment guardrails
against the endpoint it updates (:func:`check_guardrails`, :func:`check_alarms_exist`).
Each failure is a one-line :class:`~mpg_launch.errors.ConfigError` (exit 2), nothing sent."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.endpoint import async_settings as async_options
from mpg_launch.endpoint.rollout_settings import LINEAR_PERCENT, Rollout
from mpg_launch.endpoint.settings import (
    SERVERLESS_MAX_PAYLOAD_MB,
    SERVERLESS_STARTUP_SECONDS,
    DeployConfig,
    initial_instance_count,
)
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

# arn:aws:sagemaker:<region>:<account>:model-package/<name>[/<version>]
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(\d{12}):model-package/")


def _account(arn: str) -> str:
    match = _ARN_ACCOUNT.match(arn)
    return match.group(1) if match else ""


def check_deploy(config: DeployConfig, pipeline: bool = False) -> None:
    """Refuse what SageMaker would refuse, before anything is built or sent."""
    if config.async_inference:
        for failed, what, fix in async_options.refused(config, pipeline):
            if failed:
                raise ConfigError(
                    f"asynchronous endpoints (--async) do not take {what}; {fix}, or deploy "
                    "a real-time endpoint (--no-async)"
                )
    if config.serverless:
        refused = [
            (pipeline, "inference pipelines (--pipeline)", "deploy one container"),
            (bool(config.autoscaling), "instance autoscaling", "drop [autoscaling] and its flags"),
            (bool(config.data_capture), "data capture", "drop [data_capture] and its flags"),
            (bool(config.subnets), "a VPC (subnets)", "drop subnets and security_group_ids"),
        ]
        for failed, what, fix in refused:
            if failed:
                raise ConfigError(
                    f"serverless endpoints do not support {what} (AWS: serverless feature "
                    f"exclusions); {fix}, or deploy on instances (--no-serverless)"
                )


def deploy_notes(config: DeployConfig) -> list[str]:
    """What the requests leave out or the local engine does not do, one line each."""
    notes: list[str] = []
    count = config.instance("serving").count
    if not config.serverless and initial_instance_count(config) != count:
        notes.append(
            f"autoscaling: the endpoint starts with {initial_instance_count(config)} instances, "
            f"not [instances.serving] count={count}, which is outside min_instances.."
            "max_instances"
        )
    if config.serverless:
        notes.append(
            "serverless: one worker per container and bodies up to "
            f"{SERVERLESS_MAX_PAYLOAD_MB} MB; the model must load and pass /ping within "
            f"{SERVERLESS_STARTUP_SECONDS // 60} minutes; the first request after idle waits "
            "for a cold start"
        )
        if "serving" in config.instances:
            notes.append("serverless: [instances.serving] is not used (no instances)")
        if config.network_isolation:
            notes.append(
                "serverless: EnableNetworkIsolation left out of CreateModel (not supported "
                "on serverless endpoints)"
            )
        if config.kms_key_id:
            notes.append(
                "serverless: KmsKeyId left out of CreateEndpointConfig (it encrypts instance "
                "storage volumes, and serverless endpoints have none)"
            )
    notes += async_options.notes(config)
    if config.local:
        for on, what in (
            (config.autoscaling, "autoscaling is not emulated: the instances stay as started"),
            (config.data_capture, "data capture writes one S3 object per captured inference"),
            (
                config.serverless,
                "serverless runs as one always-on container: no cold starts, no memory size",
            ),
        ):
            if on:
                notes.append(f"--local: {what}")
    return notes


@dataclass(frozen=True)
class CurrentEndpoint:
    """What the guardrail checks need to know about the endpoint being updated."""

    name: str
    config_name: str
    variants: tuple[Mapping[str, Any], ...]
    autoscaled: bool = False


def describe_current(sagemaker: Any, endpoint: str, autoscaled: bool) -> CurrentEndpoint:
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    return CurrentEndpoint(
        endpoint, described["EndpointConfigName"], tuple(config["ProductionVariants"]), autoscaled
    )


def _containers(model_request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(model_request.get("Containers") or [model_request.get("PrimaryContainer", {})])


def guardrail_problems(
    config: LaunchConfig,
    rollout: Rollout,
    model_request: Mapping[str, Any],
    endpoint_config_request: Mapping[str, Any],
    current: CurrentEndpoint | None,
) -> list[str]:
    """Why SageMaker would not run this update as the guarded rollout asked (empty: it would).
    ``current`` is None in a dry run, which cannot describe the endpoint."""
    problems = []
    new_variants = endpoint_config_request["ProductionVariants"]
    instance_types = [v.get("InstanceType", "") for v in new_variants]
    if current is not None:
        instance_types += [v.get("InstanceType", "") for v in current.variants]
    if config.serverless or (current and any("ServerlessConfig" in v for v in current.variants)):
        problems.append(
            "serverless endpoints have no instance fleet to shift traffic by capacity; "
            "deploy serverless without --rollout (it is updated all at once)"
        )
    if config.autoscaling or (current is not None and current.autoscaled):
        problems.append(
            "the endpoint's autoscaling would change in the same update (deploy removes "
            "mpg-launch's registration for an update, so the fleet would not scale for the "
            "whole rollout, and UpdateEndpoint fails on a registered variant whose instance "
            "type changes); deploy the rollout without [autoscaling] onto an endpoint that is "
            "not autoscaled, then add autoscaling with a plain deploy"
        )
    if any(t.startswith("ml.inf1.") for t in instance_types):
        problems.append(
            "endpoints on Inf1 (Inferentia) instances are excluded from deployment guardrails "
            "(SageMaker would fall back to all at once with no bake); use another instance type "
            "or deploy without --rollout"
        )
    packages = [str(c.get("ModelPackageName", "")) for c in _containers(model_request)]
    foreign = [p for p in packages if _ARN_ACCOUNT.match(p) and _account(p) != config.account]
    if foreign:
        problems.append(
            f"model package {foreign[0]} is in another account, as AWS Marketplace packages "
            "are (in their sellers'), and Marketplace containers are excluded from deployment "
            "guardrails (SageMaker would fall back to all at once with no bake); deploy it "
            "without --rollout"
        )
    if current is not None:
        names = sorted(str(v.get("VariantName")) for v in current.variants)
        wanted = sorted(str(v.get("VariantName")) for v in new_variants)
        if names != wanted:
            problems.append(
                f"endpoint {current.name} serves variant(s) {names} and the new config "
                f"{wanted}: a guarded update keeps the variant name; delete the endpoint first "
                "or deploy under another --endpoint name"
            )
    count = sum(int(v.get("InitialInstanceCount", 1)) for v in new_variants)
    if rollout.step_instances is not None and rollout.shifts:
        share = rollout.step_instances / count * 100
        low, high = (1, 50) if rollout.mode == "canary" else LINEAR_PERCENT
        if not low <= share <= high:
            problems.append(
                f"rollout step_instances={rollout.step_instances} is {share:.0f}% of the "
                f"{count} instance(s); a {rollout.mode} step must be {low}-{high}% of the "
                "variant's instances: use more instances or --rollout-step-percent"
            )
    if rollout.max_execution_seconds is not None:
        needed = rollout.total_wait_seconds(count)
        if rollout.max_execution_seconds <= needed:
            problems.append(
                f"rollout max_execution_seconds={rollout.max_execution_seconds} must be above "
                f"the waits and the bake ({needed} s; MaximumExecutionTimeoutInSeconds)"
            )
    elif rollout.total_wait_seconds(count) + 60 > rollout.execution_timeout(count):
        problems.append(
            f"the waits and the bake ({rollout.total_wait_seconds(count)} s) do not fit in "
            "SageMaker's 8-hour MaximumExecutionTimeoutInSeconds; shorten them"
        )
    return problems


def check_guardrails(
    config: LaunchConfig,
    rollout: Rollout,
    model_request: Mapping[str, Any],
    endpoint_config_request: Mapping[str, Any],
    current: CurrentEndpoint | None,
) -> None:
    """Raise ConfigError (exit 2) with every reason the rollout cannot run as asked."""
    problems = guardrail_problems(config, rollout, model_request, endpoint_config_request, current)
    if problems:
        raise ConfigError(f"deploy --rollout {rollout.mode}: " + "; ".join(problems))


def check_alarms_exist(cloudwatch: Any, names: Sequence[str]) -> None:
    """The user's alarms must exist: SageMaker would otherwise watch nothing (or fail)."""
    if not names:
        return
    try:
        found = cloudwatch.describe_alarms(AlarmNames=list(names))
    except Exception as exc:
        if error_code(exc):
            raise ConfigError(
                f"cannot read the rollback alarms {list(names)} ({error_code(exc)}); the "
                "caller and SageMaker's execution role need cloudwatch:DescribeAlarms"
            ) from None
        raise
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    known = {a["AlarmName"] for a in alarms}
    missing = [n for n in names if n not in known]
    if missing:
        raise ConfigError(
            f"rollback alarm(s) {missing} do not exist in CloudWatch; create them or fix "
            "--rollback-alarm / [rollout] alarms"
        )
