"""What each subcommand does, as plain functions over a config and clients (tests call these
directly; :mod:`mpg_launch.subcommands` turns the parsed flags into these calls and prints).

Every submission goes the same way: build the request (pure), validate it against the service
model, then either print it (dry run) or send it and wait.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mpg_launch import layout
from mpg_launch import request_builders as build
from mpg_launch.aws import Clients, error_code
from mpg_launch.config import LaunchConfig
from mpg_launch.ecr import check_images_exist, images_in
from mpg_launch.errors import LaunchError
from mpg_launch.validation import validate_request
from mpg_launch.waiting import (
    JOB_KINDS,
    Out,
    wait_for_endpoint,
    wait_for_endpoint_deleted,
    wait_for_job,
)


@dataclass(frozen=True)
class Submission:
    operation: str  # botocore operation name, e.g. CreateTrainingJob
    request: dict[str, Any]

    @property
    def method(self) -> str:
        return "".join("_" + c.lower() if c.isupper() else c for c in self.operation)[1:]


def dry_run_text(submissions: list[Submission]) -> str:
    return "\n".join(
        json.dumps(
            {"operation": s.operation, "request": s.request}, indent=2, sort_keys=True, default=str
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

    def submit(self, *submissions: Submission) -> list[dict[str, Any]]:
        for s in submissions:
            validate_request("sagemaker", s.operation, s.request)
        if self.dry_run:
            self.out(dry_run_text(list(submissions)))
            return []
        assert self.clients is not None
        if self.clients.ecr is not None:  # --local has no ECR: it checks local images
            for s in submissions:
                check_images_exist(self.clients.ecr, images_in(s.request))
        return [getattr(self.clients.sagemaker, s.method)(**s.request) for s in submissions]

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
) -> dict[str, Any] | None:
    """Create a model and an endpoint config named ``<endpoint>-<stamp>``; create the endpoint,
    or move an existing one to the new config (blue/green, no downtime)."""
    config = runner.config
    if not (training_job or model_data):
        raise LaunchError("deploy needs --training-job NAME or --model-data s3://.../model.tar.gz")
    data_url = model_data or layout.trained_model_uri(config, str(training_job))
    name = layout.checked_name(f"{endpoint}-{stamp}")
    if pipeline:
        if not preprocessing_job:
            raise LaunchError(
                "deploy --pipeline needs --preprocessing-job NAME (its "
                "preprocessor is the first container)"
            )
        model = build.pipeline_model_request(
            config, name, layout.preprocessor_model_uri(config, preprocessing_job), data_url
        )
    else:
        model = build.model_request(config, name, data_url)
    endpoint_config = build.endpoint_config_request(config, name, name)
    exists = False
    if not runner.dry_run:
        assert runner.clients is not None
        exists = _endpoint_exists(runner.clients.sagemaker, endpoint)
    if exists:
        last = Submission("UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": name})
    else:
        last = Submission("CreateEndpoint", build.endpoint_request(config, endpoint, name))
    for s in (
        Submission("CreateModel", model),
        Submission("CreateEndpointConfig", endpoint_config),
        last,
    ):
        runner.submit(s)
    if runner.dry_run or not wait:
        return None
    assert runner.clients is not None
    described = wait_for_endpoint(
        runner.clients.sagemaker, endpoint, out=runner.out, poll_seconds=runner.poll_seconds
    )
    runner.out(f"endpoint {endpoint} is InService (model {name})")
    return described


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
        raise LaunchError("nothing to predict: give rows in a file or on stdin")
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
    :func:`~mpg_launch.request_builders.transform_request`."""
    if not model_name:
        if not endpoint:
            raise LaunchError("transform needs --model NAME or --endpoint NAME (its model)")
        if runner.dry_run:
            raise LaunchError("a dry run cannot look up the endpoint's model: pass --model")
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
    sm.delete_endpoint(EndpointName=endpoint)
    (wait or wait_for_endpoint_deleted)(sm, endpoint)
    deleted = [f"endpoint {endpoint}"]
    sm.delete_endpoint_config(EndpointConfigName=config_name)
    deleted.append(f"endpoint config {config_name}")
    for model in models:
        sm.delete_model(ModelName=model)
        deleted.append(f"model {model}")
    deleted += _delete_old_versions(sm, endpoint, {config_name, *models})
    for item in deleted:
        out(f"deleted {item}")
    return deleted
