"""What the job subcommands do (preprocess, train, tune, transform, status), as plain
functions over a config and clients (tests call these directly; :mod:`mpg_launch.cli.verbs`
turns the parsed flags into these calls and prints).

Each is a plan of one request: build it (pure), then the Runner validates it and sends it (or a
dry run prints it and stops), and the function waits and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpg_launch.aws import names
from mpg_launch.aws.clients import Clients
from mpg_launch.aws.plan import Step, do, send
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.aws.waiting import JOB_KINDS
from mpg_launch.endpoint.run import endpoint_models
from mpg_launch.errors import ConfigError
from mpg_launch.jobs import requests as build
from mpg_launch.table.schema import schema_steps


def _schema(runner: Runner) -> list[Step]:
    """The table's schema, uploaded before the first job (:mod:`mpg_launch.table.schema`)."""
    return schema_steps(runner.config, lambda: _clients(runner).s3, runner.out)


def _clients(runner: Runner) -> Clients:
    assert runner.clients is not None
    return runner.clients


def preprocess_steps(runner: Runner, job_name: str, wait: bool = True) -> list[Step]:
    """The schema's upload, the job's request and (``wait``) its wait and outputs."""
    request = build.processing_request(runner.config, job_name)
    plan = [*_schema(runner), send(Submission("CreateProcessingJob", request))]
    if wait:
        plan.append(do(lambda: _processed(runner, job_name, request)))
    return plan


def _processed(runner: Runner, job_name: str, request: Mapping[str, Any]) -> dict[str, Any]:
    job = runner.wait_job("processing", job_name)
    for output in request["ProcessingOutputConfig"]["Outputs"]:
        runner.out(f"{output['OutputName']}: {output['S3Output']['S3Uri']}")
    return job


def preprocess(runner: Runner, job_name: str, wait: bool = True) -> dict[str, Any] | None:
    *_, last = runner.apply(preprocess_steps(runner, job_name, wait))
    return dict(last) if wait else None


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
    runner.submit(Submission("CreateTrainingJob", request))
    if not wait:
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
        names.checked_name(job_name, names.TUNING_NAME_LIMIT),
        preprocessing_job,
        max_jobs,
        max_parallel,
    )
    runner.submit(Submission("CreateHyperParameterTuningJob", request))
    if not wait:
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
        # A dry run stops at this read: its refusing client prints DescribeEndpoint.
        assert runner.clients is not None
        model_name = endpoint_models(runner.clients.sagemaker, endpoint)[1][0]
    if input_uri and options.get("content_type", build.CSV) == build.CSV:
        options["environment"] = _header_environment(runner, input_uri, options)
    request = build.transform_request(runner.config, job_name, model_name, input_uri, **options)
    runner.submit(Submission("CreateTransformJob", request))
    if not wait:
        return None
    job = runner.wait_job("transform", job_name)
    runner.out(f"output: {request['TransformOutput']['S3OutputPath']}")
    return job


def _header_environment(runner: Runner, input_uri: str, options: dict[str, Any]) -> dict[str, str]:
    """MPG_CSV_HEADER when the input's files start with the table's header line (the default
    input, which ``data`` writes, has none), so every mini-batch is read in the file's column
    order. An InputFilter cuts every record, the header line included: the container is then
    given the header as the filter cuts it, or nothing is sent when it cannot be cut."""
    from mpg_core.table_schema import default_schema
    from mpg_launch.table.header import filtered_header, header_environment, input_header
    from mpg_launch.table.schema import config_schema

    schema = config_schema(runner.config) or default_schema()
    assert runner.clients is not None
    columns = (*(c.name for c in schema.columns), schema.target)
    header = input_header(runner.clients.s3, input_uri, columns)
    input_filter = (options.get("data_processing") or {}).get("InputFilter")
    if header is not None and input_filter:
        header = filtered_header(header, input_filter, columns)
    environment = header_environment(header)
    cut = f", cut by --input-filter {input_filter}" if input_filter else ""
    for name, value in environment.items():
        runner.out(
            f"input: its files start with a header line, given to the container{cut}: {name}"
        )
        runner.out(f"  {value[:200]}")
    return environment


def status(clients: Clients, kind: str, name: str) -> dict[str, Any]:
    if kind == "endpoint":
        return dict(clients.sagemaker.describe_endpoint(EndpointName=name))
    spec = JOB_KINDS[kind]
    return dict(getattr(clients.sagemaker, spec.describe)(**{spec.name_key: name}))
