"""Rollouts that protect themselves: the requests of a guarded UpdateEndpoint (the checks that
refuse what SageMaker's deployment guardrails do not support are in
:mod:`mpg_launch.endpoint.checks`).

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
* ``checks.guardrail_problems``: what the guardrails exclude ("Exclusions": Marketplace
  containers, Inf1 instances, a variant name that changes; serverless endpoints, which have no
  instance fleet to shift by capacity), autoscaling in the same update, and the sizes the API
  documents for canaries and linear steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpg_launch.aws.names import VARIANT
from mpg_launch.endpoint.rollout_settings import Rollout

Request = dict[str, Any]
NAMESPACE = "AWS/SageMaker"
ERRORS_METRIC = "Invocation5XXErrors"
LATENCY_METRIC = "ModelLatency"  # microseconds
LATENCY_STATISTIC = "p99"


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
