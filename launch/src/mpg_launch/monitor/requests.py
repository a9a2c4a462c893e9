"""Pure request builders: the monitoring job (CreateProcessingJob), its alarms
(PutMetricAlarm) and its schedule (EventBridge Scheduler CreateSchedule with the universal
target ``aws-sdk:sagemaker:createProcessingJob``). Nothing here talks to AWS.

The schedule's target input is the job's CreateProcessingJob request with two of Scheduler's
context attributes in it: ``<aws.scheduler.execution-id>`` makes each run's job name and
report folder unique, ``<aws.scheduler.scheduled-time>`` ends its window. Scheduler
substitutes them when it calls SageMaker; :func:`sample_input` puts sample values in their
place so the request can be checked against botocore's model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from mpg_core.monitoring.names import (
    HIGHER_IS_BETTER,
    NAMESPACE,
    dimensions,
    drift_metric_name,
    quality_metric_name,
)
from mpg_launch.aws import names
from mpg_launch.aws.request_parts import PROCESSING_ROOT, processing_input
from mpg_launch.monitor.settings import MonitorSettings
from mpg_launch.settings.config import LaunchConfig

Request = dict[str, Any]
ENTRYPOINT: Final = ["monitor"]
UNIVERSAL_TARGET: Final = "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob"
EXECUTION_ID: Final = "<aws.scheduler.execution-id>"
SCHEDULED_TIME: Final = "<aws.scheduler.scheduled-time>"
# What Scheduler puts in their place (its documented examples), to check the request.
SAMPLES: Final = {EXECUTION_ID: "d32c5kddcf5bb8c3", SCHEDULED_TIME: "2026-12-07T09:00:00Z"}
PREDICTION: Final = "prediction"
# Alarms: one period per run; a run that sent nothing is not a breach.
ALARM_PERIOD_SECONDS: Final = 3600


def capture_uri(config: LaunchConfig, settings: MonitorSettings, endpoint: str) -> str:
    """The endpoint's capture: deploy's default destination, its one variant."""
    return settings.capture_uri or f"{names.data_capture_uri(config)}{endpoint}/AllTraffic/"


def report_uri(config: LaunchConfig, settings: MonitorSettings, job_name: str) -> str:
    return names.s3_uri(config, "monitoring", settings.monitor_name, job_name) + "/"


def job_arguments(
    settings: MonitorSettings,
    endpoint: str,
    window_end: str | None,
    emit_metrics: bool = True,
) -> list[str]:
    args = [
        f"--endpoint={endpoint}",
        f"--monitor-name={settings.monitor_name}",
        f"--window-hours={settings.window_hours:g}",
    ]
    if window_end:
        args.append(f"--window-end={window_end}")
    if settings.ground_truth_uri:
        args.append(f"--ground-truth={PROCESSING_ROOT}/input/ground_truth")
    args += [f"--{k.replace('_', '-')}={v:g}" for k, v in settings.job_thresholds().items()]
    if not emit_metrics:
        args.append("--no-metrics")
    return args


def processing_request(
    config: LaunchConfig,
    settings: MonitorSettings,
    job_name: str,
    endpoint: str,
    model_data: str,
    window_end: str | None = None,
    emit_metrics: bool = True,
) -> Request:
    """The monitoring job over ``endpoint``'s capture, against the baseline in
    ``model_data`` (the model's model.tar.gz). Network isolation is off: the job sends its
    metrics to CloudWatch itself."""
    inputs = [
        processing_input("capture", capture_uri(config, settings, endpoint)),
        processing_input("baseline", model_data),
    ]
    if settings.ground_truth_uri:
        inputs.append(processing_input("ground_truth", settings.ground_truth_uri))
    output_config: dict[str, Any] = {
        "Outputs": [
            {
                "OutputName": "report",
                "S3Output": {
                    "S3Uri": report_uri(config, settings, job_name),
                    "LocalPath": f"{PROCESSING_ROOT}/output/report",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    cluster: dict[str, Any] = {
        "InstanceCount": 1,
        "InstanceType": settings.instance_type,
        "VolumeSizeInGB": config.volume_size_gb,
    }
    if config.kms_key_id:
        output_config["KmsKeyId"] = config.kms_key_id
        cluster["VolumeKmsKeyId"] = config.kms_key_id
    network: dict[str, Any] = {"EnableNetworkIsolation": False}
    if config.subnets:
        network["VpcConfig"] = {
            "Subnets": list(config.subnets),
            "SecurityGroupIds": list(config.security_group_ids),
        }
    request: Request = {
        "ProcessingJobName": job_name,
        "RoleArn": config.role_arn,
        "AppSpecification": {
            "ImageUri": config.image_uri("preprocessing"),
            "ContainerEntrypoint": list(ENTRYPOINT),
            "ContainerArguments": job_arguments(settings, endpoint, window_end, emit_metrics),
        },
        "Environment": {"AWS_DEFAULT_REGION": config.region},
        "ProcessingResources": {"ClusterConfig": cluster},
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": output_config,
        "StoppingCondition": {"MaxRuntimeInSeconds": config.max_runtime_seconds},
        "NetworkConfig": network,
    }
    if config.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(config.tags.items())]
    return request


def alarm_prefix(monitor: str, endpoint: str) -> str:
    """What every alarm of ``monitor`` on ``endpoint`` starts with (delete lists by it, then
    keeps only the alarms whose tags say the kit made them for this endpoint)."""
    return f"{monitor}-{endpoint}-"


def alarm_name(settings: MonitorSettings, endpoint: str, metric: str) -> str:
    return alarm_prefix(settings.monitor_name, endpoint) + metric


def _alarm(
    settings: MonitorSettings,
    endpoint: str,
    metric: str,
    threshold: float,
    operator: str,
    description: str,
) -> Request:
    return {
        "AlarmName": alarm_name(settings, endpoint, metric),
        "AlarmDescription": description,
        "Namespace": NAMESPACE,
        "MetricName": metric,
        "Dimensions": dimensions(endpoint, settings.monitor_name),
        "Statistic": "Maximum",
        "Period": ALARM_PERIOD_SECONDS,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": operator,
        "TreatMissingData": "notBreaching",
    }


def alarm_requests(
    settings: MonitorSettings, endpoint: str, columns: Sequence[str]
) -> list[Request]:
    """An alarm per column (and the predictions) on its drift score, and one per
    ``[monitor.quality_alarms]`` metric."""
    alarms = [
        _alarm(
            settings,
            endpoint,
            drift_metric_name(column),
            settings.alarm_threshold,
            "GreaterThanThreshold",
            f"{column} of {endpoint}'s traffic drifted from the training baseline",
        )
        for column in (*columns, PREDICTION)
    ]
    for metric, threshold in sorted(settings.quality_alarms.items()):
        higher = metric in HIGHER_IS_BETTER
        alarms.append(
            _alarm(
                settings,
                endpoint,
                quality_metric_name(metric),
                threshold,
                "LessThanThreshold" if higher else "GreaterThanThreshold",
                f"{metric} of {endpoint} on labelled traffic crossed {threshold}",
            )
        )
    return alarms


def schedule_name(settings: MonitorSettings, endpoint: str) -> str:
    return monitor_schedule_name(settings.monitor_name, endpoint)


def monitor_schedule_name(monitor: str, endpoint: str) -> str:
    return f"{monitor}-{endpoint}"[:64]


def watched(schedule: Mapping[str, Any]) -> tuple[str, str] | None:
    """(endpoint, monitor) of the kit's monitoring job a schedule (GetSchedule's answer)
    starts; None for any other schedule. EventBridge Scheduler keeps no tags on a schedule,
    so this, with the monitor recorded on the endpoint, is how delete knows it is the kit's:
    its name alone is cut to 64 characters and could be anyone's."""
    target = schedule.get("Target", {})
    if target.get("Arn") != UNIVERSAL_TARGET:
        return None
    try:
        job = json.loads(target.get("Input", ""))
        app = job["AppSpecification"]
        args = app["ContainerArguments"]
    except (ValueError, KeyError, TypeError):
        return None
    if app.get("ContainerEntrypoint") != ENTRYPOINT or not isinstance(args, list):
        return None
    given = dict(str(a).partition("=")[::2] for a in args)
    endpoint, monitor = given.get("--endpoint"), given.get("--monitor-name")
    return (endpoint, monitor) if endpoint and monitor else None


def scheduled_job_request(
    config: LaunchConfig, settings: MonitorSettings, endpoint: str, model_data: str
) -> Request:
    """The job request each scheduled run sends, with Scheduler's placeholders in it."""
    name = f"{settings.monitor_name}-{EXECUTION_ID}"
    return processing_request(config, settings, name, endpoint, model_data, SCHEDULED_TIME)


def schedule_request(
    config: LaunchConfig,
    settings: MonitorSettings,
    endpoint: str,
    model_data: str,
    role_arn: str,
) -> Request:
    job = scheduled_job_request(config, settings, endpoint, model_data)
    return {
        "Name": schedule_name(settings, endpoint),
        "Description": f"mpg model monitor {settings.monitor_name} of endpoint {endpoint}",
        "ScheduleExpression": settings.schedule,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": {
            "Arn": UNIVERSAL_TARGET,
            "RoleArn": role_arn,
            "Input": json.dumps(job, sort_keys=True),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
        },
    }


def sample_input(target_input: str) -> Request:
    """The target's input as Scheduler would send it, placeholders replaced by samples."""
    for placeholder, sample in SAMPLES.items():
        target_input = target_input.replace(placeholder, sample)
    parsed: Request = json.loads(target_input)
    return parsed


def put_metric_data_requests(metrics: Mapping[str, Any], batch: int = 20) -> list[Request]:
    """The job's ``metrics.json`` as PutMetricData requests (``--local`` sends them)."""
    data = list(metrics.get("MetricData", []))
    return [
        {"Namespace": metrics.get("Namespace", NAMESPACE), "MetricData": data[i : i + batch]}
        for i in range(0, len(data), batch)
    ]
