"""`mpg-launch pipeline ...` and `mpg-launch registry ...` against a real moto server: the
pipeline is created then updated, executions start with checked overrides and are listed and
followed; model packages are listed with their metrics, approved, rejected and deployed.

moto stores pipelines and executions but runs no step: an execution is Succeeded at once and
ListPipelineExecutionSteps is not implemented, which `follow` reports in one line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.models import sagemaker_backends
from moto.server import ThreadedMotoServer

from mpg_launch.cli.main import main
from mpg_launch.errors import JobFailed
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.runs import _step_line, follow
from mpg_launch.settings.config import LaunchConfig
from tests.helpers.common import free_port, wait_until
from tests.helpers.launch import ACCOUNT, REGION

pytestmark = pytest.mark.aws
FAST = ["--poll-seconds", "0.05"]


@pytest.fixture
def config(moto_config: LaunchConfig) -> LaunchConfig:
    """``config`` here is moto's, with the images pushed (tests/aws/conftest.py)."""
    return moto_config


def run(argv: list[str]) -> tuple[int, list[str]]:
    lines: list[str] = []
    return main([*argv, *FAST], out=lines.append), lines


def _now(like: datetime) -> datetime:
    """Now, with the timezone (or none) of the service's timestamp ``like``."""
    return datetime.now(like.tzinfo)


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def stored(name: str = "mpg-pipeline") -> dict[str, Any]:
    return dict(json.loads(sagemaker().describe_pipeline(PipelineName=name)["PipelineDefinition"]))


def test_upsert_creates_then_updates(config: LaunchConfig, tmp_path: Path) -> None:
    code, lines = run(["pipeline", "upsert"])
    assert code == 0
    assert lines == [
        "created model package group mpg-models",
        "created pipeline mpg-pipeline: "
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mpg-pipeline",
    ]
    assert stored() == build_definition(config)
    group = sagemaker().describe_model_package_group(ModelPackageGroupName="mpg-models")
    assert group["ModelPackageGroupName"] == "mpg-models"

    settings = tmp_path / "mpg.toml"
    settings.write_text('[instances.processing]\ntype = "ml.c5.xlarge"\ncount = 2\n')
    code, lines = run(["pipeline", "upsert", "--config", str(settings)])
    assert code == 0
    assert lines == [
        f"updated pipeline mpg-pipeline: arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mpg-pipeline"
    ]
    declared = {p["Name"]: p["DefaultValue"] for p in stored()["Parameters"]}
    assert declared["ProcessingInstanceType"] == "ml.c5.xlarge"
    assert declared["ProcessingInstanceCount"] == 2
    assert len(sagemaker().list_pipelines()["PipelineSummaries"]) == 1


def test_upsert_writes_the_no_approved_model_readme_the_default_names(
    config: LaunchConfig,
) -> None:
    """ApprovedModelData's default is a prefix the kit owns, holding only a README (a
    ProcessingInput needs an object; the evaluate step finds no model there). A dry run
    writes nothing; upsert writes it before the pipeline that reads it."""
    s3 = boto3.client("s3", region_name=REGION)
    prefix = f"{config.prefix}/pipeline/no-approved-model/"

    def keys() -> list[str]:
        listed = s3.list_objects_v2(Bucket=config.bucket, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]

    assert run(["pipeline", "upsert", "--dry-run"])[0] == 0
    assert keys() == []
    assert run(["pipeline", "upsert"])[0] == 0
    assert keys() == [prefix + "README.txt"]
    body = s3.get_object(Bucket=config.bucket, Key=prefix + "README.txt")["Body"].read().decode()
    assert body.startswith("No approved model.")
    assert "model.tar.gz" in body
    declared = {p["Name"]: p["DefaultValue"] for p in stored()["Parameters"]}
    assert declared["ApprovedModelData"] == f"s3://{config.bucket}/{prefix}"


def test_upsert_refuses_an_image_missing_from_ecr(
    config: LaunchConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["pipeline", "upsert", "--image-tag", "git-nope"])[0] == 2
    assert "unknown image" in capsys.readouterr().err
    assert sagemaker().list_pipelines()["PipelineSummaries"] == []


def test_start_with_overrides_list_and_follow(config: LaunchConfig) -> None:
    assert run(["pipeline", "upsert"])[0] == 0
    code, lines = run(
        ["pipeline", "start", "-P", "RmseThreshold=3.5", "-P", "ProcessingInstanceCount=2"]
    )
    assert code == 0
    (line,) = lines
    assert line.startswith(f"started arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/mpg-pipeline/")
    first = line.removeprefix("started ")
    parameters = sagemaker().list_pipeline_parameters_for_execution(PipelineExecutionArn=first)
    assert parameters["PipelineParameters"] == [
        {"Name": "RmseThreshold", "Value": "3.5"},
        {"Name": "ProcessingInstanceCount", "Value": "2"},
    ]
    started = sagemaker().describe_pipeline_execution(PipelineExecutionArn=first)["CreationTime"]
    wait_until(lambda: _now(started) > started, 5, "distinct start times")
    code, lines = run(["pipeline", "start", "--display-name", "second", "--follow"])
    assert code == 0
    second = lines[0].removeprefix("started ")
    assert lines[1] == (
        "note: this service does not list execution steps; following the execution status only"
    )
    assert lines[2].startswith(f"execution {second.rsplit('/', 1)[-1]}: Succeeded after 0m0")
    assert len(lines) == 3

    code, lines = run(["pipeline", "list"])
    assert code == 0
    assert [line.split()[0] for line in lines] == ["Succeeded", "Succeeded"]
    assert second in lines[0] and lines[0].endswith("second")
    assert first in lines[1]

    started = time.monotonic()
    code, lines = run(["pipeline", "follow"])  # the latest execution
    assert code == 0
    assert lines[-1].startswith(f"execution {second.rsplit('/', 1)[-1]}: Succeeded after ")
    assert time.monotonic() - started < 10  # moto's HTTP 500 for the steps is not retried
    assert run(["pipeline", "follow", first])[1][-1].startswith(
        f"execution {first.rsplit('/', 1)[-1]}: Succeeded after "
    )


def test_start_checks_overrides_before_starting(
    config: LaunchConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["pipeline", "upsert"])[0] == 0
    for override, message in (
        ("TrainingInstanceType=ml.m5.huge", "(the value of parameter TrainingInstanceType)"),
        ("ModelApprovalStatus=Maybe", "(the value of parameter ModelApprovalStatus)"),
        ("ProcessingInstanceCount=many", "ProcessingInstanceCount is Integer; give an integer"),
        ("Seed=1", "-P Seed: the pipeline declares no such parameter"),
    ):
        code, _ = run(["pipeline", "start", "-P", override])
        assert code == 2
        assert message in capsys.readouterr().err
    summaries = sagemaker().list_pipeline_executions(PipelineName="mpg-pipeline")
    assert summaries["PipelineExecutionSummaries"] == []


def test_commands_on_a_missing_pipeline_say_how_to_create_it(
    config: LaunchConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["pipeline", "start"], ["pipeline", "follow"], ["pipeline", "list"]):
        assert run(argv)[0] == 1
        err = capsys.readouterr().err
        assert (
            "pipeline mpg-pipeline does not exist; create it with `mpg-launch pipeline upsert`"
            in err
        )


# The registry: packages made directly with boto3, as a pipeline's Register step would.
def make_package(bucket: str, status: str, metrics: dict[str, float] | None) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    key = f"mpg/evaluate/{status}/evaluation/evaluation.json"
    if metrics is not None:
        report = {
            "regression_metrics": {
                name: {"value": value, "standard_deviation": 0.1} for name, value in metrics.items()
            }
        }
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(report).encode())
    answer = sagemaker().create_model_package(
        ModelPackageGroupName="mpg-models",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/mpg-serving:latest",
                    "ModelDataUrl": f"s3://{bucket}/mpg/training/t1/output/model.tar.gz",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus=status,
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{bucket}/{key}"}
            }
        },
    )
    return str(answer["ModelPackageArn"])


@pytest.fixture
def packages(config: LaunchConfig, bucket: str) -> list[str]:
    sagemaker().create_model_package_group(ModelPackageGroupName="mpg-models")
    first = make_package(
        bucket, "PendingManualApproval", {"rmse": 2.8123, "mae": 2.01, "r2": 0.871}
    )
    created = sagemaker().describe_model_package(ModelPackageName=first)["CreationTime"]
    wait_until(lambda: _now(created) > created, 5, "distinct creation times")
    second = make_package(bucket, "Approved", None)  # its report is missing
    return [first, second]


def test_registry_list_shows_status_and_metrics(packages: list[str]) -> None:
    code, lines = run(["registry", "list"])
    assert code == 0
    assert len(lines) == 2
    newest, oldest = lines
    assert newest.split()[:2] == ["2", "Approved"]
    assert "metrics unreadable (NoSuchKey)" in newest and newest.endswith(packages[1])
    assert oldest.split()[:5] == [
        "1",
        "PendingManualApproval",
        "rmse=2.812",
        "mae=2.01",
        "r2=0.871",
    ]
    assert oldest.endswith(packages[0])


def test_registry_approve_and_reject(packages: list[str]) -> None:
    code, lines = run(["registry", "approve", "1", "--description", "rmse fine"])
    assert code == 0
    assert lines == [f"{packages[0]}: Approved"]
    described = sagemaker().describe_model_package(ModelPackageName=packages[0])
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "rmse fine"
    code, lines = run(["registry", "reject", packages[1]])
    assert code == 0
    described = sagemaker().describe_model_package(ModelPackageName=packages[1])
    assert described["ModelApprovalStatus"] == "Rejected"


def test_registry_names_a_missing_version_or_group(
    packages: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["registry", "approve", "7"])[0] == 2
    assert "model package group mpg-models has no version 7" in capsys.readouterr().err
    assert run(["registry", "list", "--model-package-group", "other"])[0] == 1
    assert "model package group other does not exist" in capsys.readouterr().err


def test_registry_deploys_an_approved_package(packages: list[str]) -> None:
    code, lines = run(["registry", "deploy", "2", "--endpoint", "mpg-reg"])
    assert code == 0
    assert lines[-1].startswith("endpoint mpg-reg is InService (model mpg-reg-")
    sm = sagemaker()
    endpoint = sm.describe_endpoint(EndpointName="mpg-reg")
    assert endpoint["EndpointStatus"] == "InService"
    variant = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])[
        "ProductionVariants"
    ][0]
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"] == {"ModelPackageName": packages[1]}
    assert model["ExecutionRoleArn"].endswith(":role/SageMakerExecution")


def test_registry_refuses_to_deploy_a_pending_package(
    packages: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["registry", "deploy", "1", "--endpoint", "mpg-reg"])[0] == 1
    err = capsys.readouterr().err
    assert f"model package {packages[0]} is PendingManualApproval, not Approved" in err
    assert f"mpg-launch registry approve {packages[0]}" in err
    sm = sagemaker()
    assert sm.list_models()["Models"] == []
    assert sm.list_endpoints()["Endpoints"] == []


# follow's step-by-step and failure paths, on an in-process moto server whose stored execution
# is moved along between polls (moto itself never changes an execution's status).
@pytest.fixture(scope="module")
def threaded_moto() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def started_execution(url: str) -> tuple[Any, Any]:
    sm = boto3.client("sagemaker", region_name=REGION, endpoint_url=url)
    name = f"p{time.monotonic_ns()}"
    sm.create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}),
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/R",
        ClientRequestToken="t" * 32,
    )
    arn = sm.start_pipeline_execution(PipelineName=name, ClientRequestToken="u" * 32)[
        "PipelineExecutionArn"
    ]
    stored_execution = sagemaker_backends[ACCOUNT][REGION].pipelines[name].pipeline_executions[arn]
    stored_execution.pipeline_execution_status = "Executing"
    return sm, stored_execution


def test_follow_prints_each_change_until_success(
    threaded_moto: str, aws_env: dict[str, str]
) -> None:
    sm, execution = started_execution(threaded_moto)
    lines: list[str] = []
    polls = iter(["Executing", "Succeeded"])

    def sleep(_: float) -> None:
        execution.pipeline_execution_status = next(polls)

    described = follow(sm, execution.arn, lines.append, poll_seconds=0, sleep=sleep)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    run_id = execution.arn.rsplit("/", 1)[-1]
    assert lines[0].startswith("note: this service does not list execution steps")
    assert [line.split(" after ")[0] for line in lines[1:]] == [
        f"execution {run_id}: Executing",
        f"execution {run_id}: Succeeded",
    ]


def test_follow_fails_non_zero_when_the_execution_fails(
    threaded_moto: str, aws_env: dict[str, str]
) -> None:
    sm, execution = started_execution(threaded_moto)

    def sleep(_: float) -> None:
        execution.pipeline_execution_status = "Failed"

    with pytest.raises(JobFailed) as raised:
        follow(sm, execution.arn, lambda s: None, poll_seconds=0, sleep=sleep)
    assert raised.value.exit_code == 1
    # moto answers FailureReason "" (SageMaker names the step and its reason).
    assert str(raised.value) == f"pipeline execution {execution.arn} Failed: no FailureReason given"


def test_step_lines_show_cache_hits_and_failure_reasons() -> None:
    """What `follow` prints per step where the service lists steps (SageMaker, --local)."""
    assert _step_line({"StepName": "Train", "StepStatus": "Executing"}) == "Train: Executing"
    cached = {
        "StepName": "Preprocess",
        "StepStatus": "Succeeded",
        "CacheHitResult": {"SourcePipelineExecutionArn": "arn:x/execution/abc"},
    }
    assert _step_line(cached) == "Preprocess: Succeeded (cached from arn:x/execution/abc)"
    failed = {
        "StepName": "RmseTooHigh",
        "StepStatus": "Failed",
        "FailureReason": "Test RMSE 5.1 is above\nRmseThreshold 4.0",
    }
    assert _step_line(failed) == "RmseTooHigh: Failed: Test RMSE 5.1 is above RmseThreshold 4.0"


def test_follow_shows_the_executions_own_elapsed_time() -> None:
    """Not the time since `follow` began: an execution started 5 minutes ago and still
    running shows 5 minutes; an ended one its run time, however late it is followed."""
    from datetime import UTC, datetime, timedelta

    from mpg_launch.pipeline.runs import elapsed

    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    running = {"PipelineExecutionStatus": "Executing", "CreationTime": now - timedelta(minutes=5)}
    assert elapsed(running, now) == "after 5m00s"
    ended = {
        "PipelineExecutionStatus": "Stopped",
        "CreationTime": now - timedelta(hours=2),
        "LastModifiedTime": now - timedelta(hours=2) + timedelta(seconds=75),
    }
    assert elapsed(ended, now) == "after 1m15s"
    assert elapsed({"PipelineExecutionStatus": "Executing"}, now) == "(start time unknown)"


def test_start_hands_the_approved_versions_model_to_the_gate(
    config: LaunchConfig, bucket: str
) -> None:
    """The group's newest Approved version's model data goes to the evaluate step (which
    scores it on the same test rows); a pending one is not compared with, and an explicit
    -P ApprovedModelData wins."""
    assert run(["pipeline", "upsert"])[0] == 0
    code, lines = run(["pipeline", "start"])
    assert code == 0 and len(lines) == 1  # no approved version: nothing said, nothing passed
    first = lines[0].removeprefix("started ")
    listed = sagemaker().list_pipeline_parameters_for_execution(PipelineExecutionArn=first)
    assert listed["PipelineParameters"] == []

    approved = make_package(bucket, "Approved", None)
    created = sagemaker().describe_model_package(ModelPackageName=approved)["CreationTime"]
    wait_until(lambda: _now(created) > created, 5, "distinct creation times")
    make_package(bucket, "PendingManualApproval", None)  # newer, but not approved
    code, lines = run(["pipeline", "start", "-P", "RmseThreshold=3.5"])
    assert code == 0
    assert lines[0] == f"the gate compares with the approved version {approved}"
    arn = lines[1].removeprefix("started ")
    listed = sagemaker().list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert listed["PipelineParameters"] == [
        {"Name": "RmseThreshold", "Value": "3.5"},
        {
            "Name": "ApprovedModelData",
            "Value": f"s3://{bucket}/mpg/training/t1/output/model.tar.gz",
        },
    ]

    mine = f"s3://{bucket}/mpg/training/t0/output/model.tar.gz"
    code, lines = run(["pipeline", "start", "-P", f"ApprovedModelData={mine}"])
    assert code == 0 and len(lines) == 1
    arn = lines[0].removeprefix("started ")
    listed = sagemaker().list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert listed["PipelineParameters"] == [{"Name": "ApprovedModelData", "Value": mine}]
