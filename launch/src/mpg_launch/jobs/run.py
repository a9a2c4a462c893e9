"""What each subcommand does, as plain functions over a config and clients (tests call these
directly; :mod:`mpg_launch.cli.verbs` turns the parsed flags into these calls and prints).

Every submission goes the same way: build the request (pure), validate it against the service
model, then either print it (dry run) or send it and wait.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mpg_launch.aws import names as layout
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.validation import validate_request
from mpg_launch.aws.waiting import (
    JOB_KINDS,
    Out,
    wait_for_endpoint,
    wait_for_endpoint_deleted,
    wait_for_job,
)
from mpg_launch.endpoint import async_scaling, autoscaling, rollout
from mpg_launch.endpoint import settings as endpoint_options
from mpg_launch.errors import ConfigError, JobFailed, LaunchError
from mpg_launch.images.ecr import check_images_exist, images_in
from mpg_launch.jobs import requests as build
from mpg_launch.settings.config import LaunchConfig


@dataclass(frozen=True)
class Submission:
    operation: str  # botocore operation name, e.g. CreateTrainingJob
    request: dict[str, Any]
    service: str = "sagemaker"  # botocore service name

    @property
    def method(self) -> str:
        return "".join("_" + c.lower() if c.isupper() else c for c in self.operation)[1:]


def dry_run_text(submissions: list[Submission]) -> str:
    return "\n".join(
        json.dumps(
            {"operation": s.operation, "request": s.request, "service": s.service},
            indent=2,
            sort_keys=True,
            default=str,
        )
        for s in submissions
    )


@dataclass(frozen=True)
class Runner:
    """Sends validated requests (or prints them when ``dry_run``) and waits."""

    config: LaunchConfig
    clients: Clients | None
    out: Out = print
    dry_run: bool = False
    poll_seconds: float = 10.0

    @staticmethod
    def check(*submissions: Submission) -> None:
        """Validate every request of a command before the first is sent (submit validates
        each again as it goes, which costs microseconds)."""
        for s in submissions:
            validate_request(s.service, s.operation, s.request)

    def submit(self, *submissions: Submission) -> list[dict[str, Any]]:
        self.check(*submissions)
        if self.dry_run:
            self.out(dry_run_text(list(submissions)))
            return []
        assert self.clients is not None
        if self.clients.ecr is not None:  # --local has no ECR: it checks local images
            for s in submissions:
                check_images_exist(self.clients.ecr, images_in(s.request))
        return [getattr(self._client(s.service), s.method)(**s.request) for s in submissions]

    def _client(self, service: str) -> Any:
        assert self.clients is not None
        clients = {
            "sagemaker": self.clients.sagemaker,
            "application-autoscaling": self.clients.autoscaling,
            "cloudwatch": self.clients.cloudwatch,
        }
        if clients.get(service) is None:
            raise LaunchError(f"no {service} client here (--local has none)")
        return clients[service]

    def wait_job(self, kind: str, name: str) -> dict[str, Any]:
        assert self.clients is not None
        return wait_for_job(
            self.clients.sagemaker,
            kind,
            name,
            logs=self.clients.logs,
            out=self.out,
            poll_seconds=self.poll_seconds,
        )


def preprocess(runner: Runner, job_name: str, wait: bool = True) -> dict[str, Any] | None:
    request = build.processing_request(runner.config, job_name)
    if not runner.submit(Submission("CreateProcessingJob", request)) or not wait:
        return None
    job = runner.wait_job("processing", job_name)
    for output in request["ProcessingOutputConfig"]["Outputs"]:
        runner.out(f"{output['OutputName']}: {output['S3Output']['S3Uri']}")
    return job


def train(
    runner: Runner,
    job_name: str,
    preprocessing_job: str,
    with_preprocessor: bool = True,
    hyperparameters: Mapping[str, str] | None = None,
    wait: bool = True,
) -> dict[str, Any] | None:
    request = build.training_request(
        runner.config, job_name, preprocessing_job, with_preprocessor, hyperparameters
    )
    if not runner.submit(Submission("CreateTrainingJob", request)) or not wait:
        return None
    job = runner.wait_job("training", job_name)
    for metric in job.get("FinalMetricDataList", []):
        runner.out(f"{metric['MetricName']} = {metric['Value']}")
    runner.out(f"model: {job.get('ModelArtifacts', {}).get('S3ModelArtifacts')}")
    return job


def tune(
    runner: Runner,
    job_name: str,
    preprocessing_job: str,
    max_jobs: int,
    max_parallel: int,
    wait: bool = True,
) -> dict[str, Any] | None:
    request = build.tuning_request(
        runner.config,
        layout.checked_name(job_name, layout.TUNING_NAME_LIMIT),
        preprocessing_job,
        max_jobs,
        max_parallel,
    )
    if not runner.submit(Submission("CreateHyperParameterTuningJob", request)) or not wait:
        return None
    job = runner.wait_job("tuning", job_name)
    best = job.get("BestTrainingJob") or {}
    if best:
        metric = best.get("FinalHyperParameterTuningJobObjectiveMetric", {})
        runner.out(
            f"best: {best.get('TrainingJobName')} {metric.get('MetricName')}="
            f"{metric.get('Value')} {best.get('TunedHyperParameters')}"
        )
    return job


def deploy(
    runner: Runner,
    endpoint: str,
    stamp: str,
    training_job: str | None = None,
    model_data: str | None = None,
    pipeline: bool = False,
    preprocessing_job: str | None = None,
    wait: bool = True,
    model_package: str | None = None,
) -> dict[str, Any] | None:
    """Create a model and an endpoint config named ``<endpoint>-<stamp>``; create the endpoint,
    or move an existing one to the new config (blue/green, no downtime). The model serves a
    training job's artifact, or a registered ``model_package`` (ARN). With autoscaling the
    variant is registered once InService; an existing registration is removed before the update
    (UpdateEndpoint fails on it) and put back if the update fails."""
    config = runner.config
    if not (training_job or model_data or model_package):
        raise ConfigError("deploy needs --training-job NAME or --model-data s3://.../model.tar.gz")
    endpoint_options.check_deploy(config, pipeline)
    for note in endpoint_options.deploy_notes(config):
        runner.out(f"note: {note}")
    data_url = model_data or layout.trained_model_uri(config, str(training_job))
    name = layout.checked_name(f"{endpoint}-{stamp}")
    if model_package:
        model = build.model_package_model_request(config, name, model_package)
    elif pipeline:
        if not preprocessing_job:
            raise ConfigError(
                "deploy --pipeline needs --preprocessing-job NAME (its "
                "preprocessor is the first container)"
            )
        model = build.pipeline_model_request(
            config, name, layout.preprocessor_model_uri(config, preprocessing_job), data_url
        )
    else:
        model = build.model_request(config, name, data_url)
    endpoint_config = build.endpoint_config_request(config, name, name)
    # Every request checked before the first is sent (a read included): a bad endpoint
    # name must not fail after the model was created.
    runner.check(
        Submission("CreateModel", model),
        Submission("CreateEndpointConfig", endpoint_config),
        Submission("CreateEndpoint", build.endpoint_request(config, endpoint, name)),
        Submission("UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": name}),
        *_autoscaling_submissions(config, endpoint),
    )
    exists = False
    if not runner.dry_run:
        assert runner.clients is not None
        exists = _endpoint_exists(runner.clients.sagemaker, endpoint)
        if exists and config.serverless:
            _refuse_move_to_serverless(runner.clients.sagemaker, endpoint)
    if exists:
        last = Submission("UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": name})
    else:
        last = Submission("CreateEndpoint", build.endpoint_request(config, endpoint, name))
    scaling = _autoscaling_submissions(config, endpoint)
    saved = _registration(runner, endpoint) if exists else []
    alarms: list[Submission] = []
    if config.rollout and (exists or runner.dry_run):
        alarms, last = _guarded_update(runner, endpoint, name, model, endpoint_config, saved)
    elif config.rollout:
        runner.out(f"note: rollout: endpoint {endpoint} is new, so it starts on its one config")
    if (scaling or saved) and not (wait or runner.dry_run):
        raise LaunchError("autoscaling is (re)registered once the endpoint is InService: wait")
    paused: list[Submission] = []  # the registration removed for the update, to put back
    try:
        runner.submit(Submission("CreateModel", model))
        runner.submit(Submission("CreateEndpointConfig", endpoint_config))
        paused = _deregister(runner, endpoint, saved)
        if alarms:
            runner.submit(*alarms)
        runner.submit(last)
        if runner.dry_run or not wait:
            if scaling:
                _register(runner, endpoint, scaling)
            return None
        assert runner.clients is not None
        described = wait_for_endpoint(
            runner.clients.sagemaker, endpoint, out=runner.out, poll_seconds=runner.poll_seconds
        )
        _check_serves(described, name)
    except Exception:
        _restore(runner, endpoint, paused)
        raise
    runner.out(f"endpoint {endpoint} is InService (model {name})")
    if scaling:
        _register(runner, endpoint, scaling)
        runner.out(f"autoscaling: {_scaling_text(config)}")
    elif saved:
        runner.out(f"note: endpoint {endpoint} is no longer autoscaled (no autoscaling settings)")
    return described


def _guarded_update(
    runner: Runner,
    endpoint: str,
    config_name: str,
    model: dict[str, Any],
    endpoint_config: dict[str, Any],
    saved: list[Submission],
) -> tuple[list[Submission], Submission]:
    """The alarms and the UpdateEndpoint of a rollout, refused (ConfigError) when SageMaker's
    deployment guardrails would not run it as asked. A dry run cannot describe the endpoint,
    so it checks only what the request itself shows."""
    guard = runner.config.rollout
    assert guard is not None
    current = None
    if not runner.dry_run:
        assert runner.clients is not None
        current = rollout.describe_current(runner.clients.sagemaker, endpoint, bool(saved))
    rollout.check_guardrails(runner.config, guard, model, endpoint_config, current)
    if not runner.dry_run:
        assert runner.clients is not None
        if guard.alarms and runner.clients.cloudwatch is None:
            raise LaunchError("no CloudWatch client here to check the rollback alarms")
        if runner.clients.cloudwatch is not None:
            rollout.check_alarms_exist(runner.clients.cloudwatch, guard.alarms)
    count = endpoint_options.initial_instance_count(runner.config)
    alarms = [
        Submission("PutMetricAlarm", request, "cloudwatch")
        for request in rollout.alarm_requests(guard, endpoint, config_name)
    ]
    update = rollout.update_request(guard, endpoint, config_name, count)
    shares = ", ".join(f"{s:.0%}" for s in guard.shares(count))
    runner.out(
        f"rollout {guard.mode}: traffic to the new fleet in steps of {shares}, "
        f"{guard.wait_seconds} s apart, then {guard.bake_seconds} s of bake; rolled back by "
        + ", ".join(rollout.rollback_alarms(guard, config_name))
    )
    if runner.config.local:
        runner.out(
            "note: --local: the alarms are evaluated on the local router's requests of each "
            "wait and of the bake, not on CloudWatch periods"
        )
    return alarms, Submission("UpdateEndpoint", update)


def _autoscaling_submissions(config: LaunchConfig, endpoint: str) -> list[Submission]:
    """RegisterScalableTarget then PutScalingPolicy ([] without autoscaling, or locally)."""
    if config.async_inference and not config.local:
        return [
            Submission(operation, request, "application-autoscaling")
            for operation, request in async_scaling.requests(config, endpoint)
        ]
    if not config.autoscaling or config.local:
        return []
    return [
        Submission(
            "RegisterScalableTarget",
            build.scalable_target_request(config, endpoint),
            "application-autoscaling",
        ),
        Submission(
            "PutScalingPolicy",
            build.scaling_policy_request(config, endpoint),
            "application-autoscaling",
        ),
    ]


def _register(runner: Runner, endpoint: str, scaling: list[Submission]) -> None:
    """Send the registration; then an asynchronous endpoint's wake alarm, whose action is the
    ARN PutScalingPolicy answered."""
    answers = runner.submit(*scaling)
    sent = [s.request for s in scaling]
    alarm = async_scaling.wake_alarm(runner.config, endpoint, sent, answers)
    if alarm:
        runner.submit(Submission("PutMetricAlarm", alarm, "cloudwatch"))


def _scaling_text(config: LaunchConfig) -> str:
    if config.async_inference:
        return async_scaling.text(config)
    scaling = config.autoscaling
    assert scaling is not None
    return (
        f"{scaling.min_instances}..{scaling.max_instances} instances holding "
        f"{scaling.target_invocations_per_instance:g} invocations per instance per minute "
        f"(cooldowns: out {scaling.scale_out_cooldown} s, in {scaling.scale_in_cooldown} s)"
    )


def _registration(runner: Runner, endpoint: str) -> list[Submission]:
    """The endpoint variant's current autoscaling, as the requests that re-create it."""
    assert runner.clients is not None
    if runner.clients.autoscaling is None:
        return []
    return [
        Submission(operation, request, "application-autoscaling")
        for operation, request in autoscaling.registration(runner.clients.autoscaling, endpoint)
    ]


def _deregister(runner: Runner, endpoint: str, saved: list[Submission]) -> list[Submission]:
    """Remove the registration ``saved`` describes; returns what to put back on failure."""
    if not saved:
        return []
    assert runner.clients is not None
    for removed in autoscaling.deregister(runner.clients.autoscaling, endpoint):
        runner.out(f"removed {removed} for the update (UpdateEndpoint fails on it)")
    return saved


def _restore(runner: Runner, endpoint: str, saved: list[Submission]) -> None:
    """Put the autoscaling back after a failed update: the endpoint still serves its old
    config, which should scale as before."""
    if not saved:
        return
    try:
        runner.submit(*saved)
    except Exception as exc:
        runner.out(f"could not restore the autoscaling of {endpoint}: {exc}; deploy again")
    else:
        runner.out(f"restored the autoscaling of {endpoint} as it was before the update")


def _check_serves(described: Mapping[str, Any], config_name: str) -> None:
    """A failed update is rolled back to InService on the old config: that is a failure."""
    serving = described.get("EndpointConfigName")
    if serving != config_name:
        reason = " ".join(str(described.get("FailureReason", "no FailureReason")).split())
        raise JobFailed(
            f"endpoint {described.get('EndpointName')} was not updated and still serves "
            f"{serving}: {reason}"
        )


def _refuse_move_to_serverless(sagemaker: Any, endpoint: str) -> None:
    """SageMaker cannot update an instance endpoint to serverless (only the other way)."""
    config_name = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    if not any("ServerlessConfig" in v for v in variants["ProductionVariants"]):
        raise ConfigError(
            f"endpoint {endpoint} runs on instances, and SageMaker cannot update it to "
            f"serverless; delete it first (mpg-launch delete --endpoint {endpoint}) or deploy "
            "under another --endpoint name"
        )


def _endpoint_exists(sagemaker: Any, name: str) -> bool:
    try:
        sagemaker.describe_endpoint(EndpointName=name)
    except Exception as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return False
        raise
    return True


def predict(
    clients: Clients, endpoint: str, body: bytes, content_type: str, accept: str
) -> tuple[str, bytes]:
    """Invoke the endpoint; returns (content type, body)."""
    if not body.strip():
        raise ConfigError("nothing to predict: give rows in a file or on stdin")
    try:
        answer = clients.runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept=accept, Body=body
        )
    except Exception as exc:
        if error_code(exc) in ("ModelError", "ValidationError", "ValidationException"):
            raise LaunchError(
                f"endpoint {endpoint} refused the request: {' '.join(str(exc).split())}"
            ) from None
        raise
    return str(answer.get("ContentType", "")), answer["Body"].read()


def endpoint_models(sagemaker: Any, endpoint: str) -> tuple[str, list[str]]:
    """(endpoint config name, model names) of an endpoint."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    config_name = described["EndpointConfigName"]
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    return config_name, [v["ModelName"] for v in variants["ProductionVariants"]]


def transform(
    runner: Runner,
    job_name: str,
    model_name: str | None,
    endpoint: str | None,
    input_uri: str | None = None,
    wait: bool = True,
    **options: Any,
) -> dict[str, Any] | None:
    """``options``: the batch settings and DataProcessing of
    :func:`~mpg_launch.jobs.requests.transform_request`."""
    if not model_name:
        if not endpoint:
            raise ConfigError("transform needs --model NAME or --endpoint NAME (its model)")
        # A dry run stops here, printing the DescribeEndpoint request (mpg_launch.aws.dry_run).
        assert runner.clients is not None
        model_name = endpoint_models(runner.clients.sagemaker, endpoint)[1][0]
    request = build.transform_request(runner.config, job_name, model_name, input_uri, **options)
    if not runner.submit(Submission("CreateTransformJob", request)) or not wait:
        return None
    job = runner.wait_job("transform", job_name)
    runner.out(f"output: {request['TransformOutput']['S3OutputPath']}")
    return job


def status(clients: Clients, kind: str, name: str) -> dict[str, Any]:
    if kind == "endpoint":
        return dict(clients.sagemaker.describe_endpoint(EndpointName=name))
    spec = JOB_KINDS[kind]
    return dict(getattr(clients.sagemaker, spec.describe)(**{spec.name_key: name}))


def _delete_old_versions(sm: Any, endpoint: str, skip: set[str]) -> list[str]:
    """Models and endpoint configs that earlier deploys (blue/green updates) left behind:
    named ``<endpoint>-<YYYYmmdd-HHMMSS>`` by :func:`deploy`."""
    pattern = re.compile(rf"^{re.escape(endpoint)}-\d{{8}}-\d{{6}}$")
    deleted = []
    for lister, key, name_key, remover, what in (
        (
            "list_endpoint_configs",
            "EndpointConfigs",
            "EndpointConfigName",
            "delete_endpoint_config",
            "endpoint config",
        ),
        ("list_models", "Models", "ModelName", "delete_model", "model"),
    ):
        found = getattr(sm, lister)(NameContains=endpoint, MaxResults=100).get(key, [])
        for item in found:
            name = item[name_key]
            if pattern.match(name) and name not in skip:
                getattr(sm, remover)(**{name_key: name})
                deleted.append(f"{what} {name}")
    return deleted


def delete(
    clients: Clients,
    endpoint: str,
    out: Out = print,
    wait: Callable[[Any, str], None] | None = None,
) -> list[str]:
    """Delete the endpoint, then its endpoint config and models: nothing left billing.
    Returns what was deleted; a missing endpoint is not an error (delete is idempotent)."""
    sm = clients.sagemaker
    try:
        config_name, models = endpoint_models(sm, endpoint)
    except Exception as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            out(f"endpoint {endpoint} does not exist; nothing to delete")
            return []
        raise
    # Deregistered first, as the docs ask (Application Auto Scaling does it only when the
    # caller may call DeregisterScalableTarget).
    deleted = autoscaling.deregister(clients.autoscaling, endpoint) if clients.autoscaling else []
    if clients.cloudwatch is not None:
        deleted += async_scaling.delete_alarm(clients.cloudwatch, endpoint)
    sm.delete_endpoint(EndpointName=endpoint)
    (wait or wait_for_endpoint_deleted)(sm, endpoint)
    deleted.append(f"endpoint {endpoint}")
    sm.delete_endpoint_config(EndpointConfigName=config_name)
    deleted.append(f"endpoint config {config_name}")
    for model in models:
        sm.delete_model(ModelName=model)
        deleted.append(f"model {model}")
    deleted += _delete_old_versions(sm, endpoint, {config_name, *models})
    if clients.cloudwatch is not None:
        deleted += [f"alarm {a}" for a in rollout.delete_alarms(clients.cloudwatch, endpoint)]
    for item in deleted:
        out(f"deleted {item}")
    return deleted
