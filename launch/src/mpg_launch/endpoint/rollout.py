"""Rollouts that protect themselves: the requests of a guarded UpdateEndpoint, and the checks
that refuse what SageMaker's deployment guardrails do not support, before anything is sent.

Pure functions (a config and names in, boto3 request dicts out), validated against botocore's
service model by the caller like every other request:

* :func:`alarm_requests`: CloudWatch ``PutMetricAlarm`` for the new fleet, on the metrics
  SageMaker publishes with the dimension ``EndpointConfigName`` of the new config once it
  receives traffic (developer guide, "Auto-Rollback Configuration and Monitoring"): the share
  of 5xx answers (``Invocation5XXErrors``, Average) and the p99 of ``ModelLatency``
  (microseconds);
* :func:`update_request`: ``UpdateEndpoint`` with ``DeploymentConfig``
  (``BlueGreenUpdatePolicy``: ``TrafficRoutingConfiguration``, ``TerminationWaitInSeconds``,
  ``MaximumExecutionTimeoutInSeconds``; ``AutoRollbackConfiguration``: the alarms);
* :func:`guardrail_problems`: what the guardrails exclude ("Exclusions": Marketplace
  containers, Inf1 instances, a variant name that changes; serverless endpoints, which have no
  instance fleet to shift by capacity), autoscaling in the same update, and the sizes the API
  documents for canaries and linear steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.aws.names import VARIANT
from mpg_launch.endpoint.rollout_settings import LINEAR_PERCENT, Rollout
from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

Request = dict[str, Any]
NAMESPACE = "AWS/SageMaker"
ERRORS_METRIC = "Invocation5XXErrors"
LATENCY_METRIC = "ModelLatency"  # microseconds
LATENCY_STATISTIC = "p99"
# arn:aws:sagemaker:<region>:<account>:model-package/<name>[/<version>]
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:(\d{12}):model-package/")


def _account(arn: str) -> str:
    match = _ARN_ACCOUNT.match(arn)
    return match.group(1) if match else ""


def alarm_names(endpoint_config: str) -> list[str]:
    """The alarms deploy creates for the new fleet, named after its endpoint config."""
    return [f"{endpoint_config}-5xx-rate", f"{endpoint_config}-p99-latency"]


def alarm_requests(rollout: Rollout, endpoint: str, endpoint_config: str) -> list[Request]:
    """PutMetricAlarm for the new fleet's 5xx share and p99 latency ([] when not created)."""
    if not rollout.create_alarms:
        return []
    dimensions = [
        {"Name": "EndpointName", "Value": endpoint},
        {"Name": "VariantName", "Value": VARIANT},
        {"Name": "EndpointConfigName", "Value": endpoint_config},
    ]
    common = {
        "Namespace": NAMESPACE,
        "Dimensions": dimensions,
        "Period": rollout.alarm_period_seconds,
        "EvaluationPeriods": rollout.alarm_evaluation_periods,
        "ComparisonOperator": "GreaterThanThreshold",
        # No traffic yet on the new fleet is no evidence against it.
        "TreatMissingData": "notBreaching",
    }
    errors_name, latency_name = alarm_names(endpoint_config)
    return [
        {
            "AlarmName": errors_name,
            "AlarmDescription": f"5xx share of {endpoint} on {endpoint_config} (rollout)",
            "MetricName": ERRORS_METRIC,
            "Statistic": "Average",
            "Threshold": rollout.max_5xx_rate,
            **common,
        },
        {
            "AlarmName": latency_name,
            "AlarmDescription": f"p99 model latency of {endpoint} on {endpoint_config} (rollout)",
            "MetricName": LATENCY_METRIC,
            "ExtendedStatistic": LATENCY_STATISTIC,
            "Threshold": rollout.max_latency_p99_ms * 1000,
            "Unit": "Microseconds",
            **common,
        },
    ]


def rollback_alarms(rollout: Rollout, endpoint_config: str) -> list[str]:
    return (alarm_names(endpoint_config) if rollout.create_alarms else []) + list(rollout.alarms)


def _capacity(rollout: Rollout) -> dict[str, Any]:
    if rollout.step_instances is not None:
        return {"Type": "INSTANCE_COUNT", "Value": rollout.step_instances}
    return {"Type": "CAPACITY_PERCENT", "Value": round(rollout.step_share(1) * 100)}


def deployment_config(rollout: Rollout, alarms: Sequence[str], instance_count: int) -> Request:
    routing: Request = {
        "Type": rollout.mode.upper(),
        "WaitIntervalInSeconds": rollout.wait_seconds if rollout.shifts else 0,
    }
    if rollout.mode == "canary":
        routing["CanarySize"] = _capacity(rollout)
    elif rollout.mode == "linear":
        routing["LinearStepSize"] = _capacity(rollout)
    config: Request = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": rollout.bake_seconds,
            "MaximumExecutionTimeoutInSeconds": rollout.execution_timeout(instance_count),
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def update_request(
    rollout: Rollout, endpoint: str, endpoint_config: str, instance_count: int
) -> Request:
    """UpdateEndpoint onto ``endpoint_config`` with the rollout's DeploymentConfig."""
    alarms = rollback_alarms(rollout, endpoint_config)
    return {
        "EndpointName": endpoint,
        "EndpointConfigName": endpoint_config,
        "DeploymentConfig": deployment_config(rollout, alarms, instance_count),
    }


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
            "the endpoint's autoscaling would change in the same update (UpdateEndpoint "
            "fails on a registered variant, so deploy deregisters it, and the fleet would not "
            "scale for the whole rollout); deploy the rollout without [autoscaling] onto an "
            "endpoint that is not autoscaled, then add autoscaling with a plain deploy"
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


def delete_alarms(cloudwatch: Any, endpoint: str) -> list[str]:
    """Delete the alarms earlier rollouts created for ``endpoint`` (named after its endpoint
    configs, ``<endpoint>-<YYYYmmdd-HHMMSS>-...``): each bills while it exists."""
    pattern = re.compile(rf"^{re.escape(endpoint)}-\d{{8}}-\d{{6}}-(5xx-rate|p99-latency)$")
    found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{endpoint}-").get("MetricAlarms", [])
    names = sorted(a["AlarmName"] for a in found if pattern.match(a["AlarmName"]))
    if names:
        cloudwatch.delete_alarms(AlarmNames=names)
    return names
