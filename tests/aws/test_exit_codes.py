"""Exit codes a script can trust, per subcommand of the CLI's own table:

0 done; 1 the job, execution or endpoint failed or was stopped, or AWS said no; 2 a usage or
validation error, nothing sent; 130 interrupted.

Failures come from botocore's Stubber (the exact Describe answer: a job that Failed, an
execution that Stopped) or from the moto server (a bucket that does not exist); Stubber
answers are filled from the service model's output shapes, so they are what boto3 returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.model import Shape
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.cli.main import main, subcommand_table
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.settings.config import load_config
from tests.helpers.launch import REGION

EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mpg-pipeline/execution/abc123def456"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mpg-models/1"
FAST = ["--poll-seconds", "0"]
MODEL = "s3://my-bucket/mpg/training/t1/output/model.tar.gz"


def minimal(shape: Shape | None, overrides: dict[str, Any] | None = None) -> Any:
    """The smallest value of ``shape`` botocore accepts (required members only), with
    ``overrides`` at the top."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        value = {
            name: minimal(shape.members[name])  # type: ignore[attr-defined]
            for name in shape.required_members  # type: ignore[attr-defined]
        }
        return {**value, **(overrides or {})}
    if kind == "string":
        enum = getattr(shape, "enum", None)
        return enum[0] if enum else "x" * max(1, shape.metadata.get("min", 1))
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime(2026, 1, 1, tzinfo=UTC)
    if kind == "list":
        return [minimal(shape.member) for _ in range(shape.metadata.get("min", 0))]  # type: ignore[attr-defined]
    if kind == "map":
        return {}
    return b""


class Stubs:
    """Stubbed sagemaker, runtime and logs clients; S3 is the moto server's."""

    def __init__(self, moto_url: str) -> None:
        def client(service: str) -> Any:
            # The endpoint is moto's, for the one helper that copies a client (follow's
            # step listing without retries): moto answers it "not implemented".
            return boto3.client(service, region_name=REGION, endpoint_url=moto_url)

        self.sagemaker, self.runtime, self.logs = (
            client(s) for s in ("sagemaker", "sagemaker-runtime", "logs")
        )
        self.stubbers = {
            name: Stubber(getattr(self, name)) for name in ("sagemaker", "runtime", "logs")
        }
        self.s3 = boto3.client("s3", region_name=REGION)
        self.uses_logs = False  # jobs tail logs only when there is a logs client

    def answer(self, method: str, **overrides: Any) -> None:
        shape = self.sagemaker.meta.service_model.operation_model(
            self.sagemaker.meta.method_to_api_mapping[method]
        ).output_shape
        self.stubbers["sagemaker"].add_response(method, minimal(shape, overrides))

    def refuse(self, method: str, code: str, client: str = "sagemaker", status: int = 400) -> None:
        self.uses_logs = self.uses_logs or client == "logs"
        self.stubbers[client].add_client_error(
            method,
            service_error_code=code,
            service_message=f"{code} (stubbed)",
            http_status_code=status,
        )

    def clients(self) -> Clients:
        logs = self.logs if self.uses_logs else None
        return Clients(sagemaker=self.sagemaker, runtime=self.runtime, s3=self.s3, logs=logs)


@pytest.fixture
def stubs(moto_url: str, aws_env: dict[str, str]) -> Iterator[Stubs]:
    made = Stubs(moto_url)
    for stubber in made.stubbers.values():
        stubber.activate()
    yield made
    for stubber in made.stubbers.values():
        stubber.assert_no_pending_responses()  # every stubbed request was sent, in order
        stubber.deactivate()


def failed_job(kind: str, name_key: str, status_key: str) -> Callable[[Stubs], None]:
    def setup(s: Stubs) -> None:
        s.answer(f"create_{kind}")
        s.answer(
            f"describe_{kind}",
            **{name_key: "j1", status_key: "Failed", "FailureReason": "AlgorithmError: boom"},
        )

    return setup


def recorded_monitor(s: Stubs) -> None:
    """The endpoint read, and the monitor recorded on it (before the job is created)."""
    s.answer(
        "describe_endpoint", EndpointArn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/e1"
    )
    s.answer("list_tags")
    s.answer("add_tags")


def failed_endpoint(s: Stubs) -> None:
    s.refuse("describe_endpoint", "ValidationException")  # does not exist yet: created
    s.answer("create_model")
    s.answer("create_endpoint_config")
    s.answer("create_endpoint")
    s.answer(
        "describe_endpoint",
        EndpointName="e1",
        EndpointStatus="Failed",
        FailureReason="the primary container did not pass the ping health check",
    )


def failed_start(s: Stubs) -> None:
    config = load_config(env={**dict_env(), "MPG_BUCKET": "b-unused"})
    s.answer("describe_pipeline", PipelineDefinition=json.dumps(build_definition(config)))
    s.answer("list_model_packages", ModelPackageSummaryList=[])  # no approved version
    s.answer("start_pipeline_execution", PipelineExecutionArn=EXECUTION)
    s.answer(
        "describe_pipeline_execution",
        PipelineExecutionStatus="Failed",
        FailureReason="Step Train failed",
    )


def stopped_execution(s: Stubs) -> None:
    s.answer(
        "describe_pipeline_execution",
        PipelineExecutionArn=EXECUTION,
        PipelineExecutionStatus="Stopped",
    )


def dict_env() -> dict[str, str]:
    return {
        "MPG_REGION": REGION,
        "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/SageMakerExecution",
    }


# command key -> the argv and stubbed answers that end in exit 1 (None: the subcommand cannot
# fail after sending anything: it sends nothing, or needs Docker images to get that far).
FAILS: dict[str, tuple[list[str], Callable[[Stubs], None]] | None] = {
    "push": None,
    "quickstart": None,  # always local: it sends nothing to AWS, and needs the images
    "data": (["--bucket", "no-such-bucket-here"], lambda s: None),
    "preprocess": (
        ["--job-name", "j1"],
        failed_job("processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    ),
    "train": (
        ["--job-name", "j1", "--preprocessing-job", "p1"],
        failed_job("training_job", "TrainingJobName", "TrainingJobStatus"),
    ),
    "tune": (
        ["--job-name", "j1", "--preprocessing-job", "p1"],
        failed_job(
            "hyper_parameter_tuning_job",
            "HyperParameterTuningJobName",
            "HyperParameterTuningJobStatus",
        ),
    ),
    "deploy": (["--training-job", "t1", "--endpoint", "e1"], failed_endpoint),
    "predict": (
        ["--endpoint", "e1", "--file", "{rows}"],
        lambda s: s.refuse("invoke_endpoint", "ModelError", "runtime", 424),
    ),
    "transform": (
        ["--job-name", "j1", "--model", "m1"],
        failed_job("transform_job", "TransformJobName", "TransformJobStatus"),
    ),
    "status": (
        ["endpoint", "e1"],
        lambda s: s.refuse("describe_endpoint", "AccessDeniedException"),
    ),
    "logs": (
        ["training", "t1"],
        lambda s: s.refuse("describe_log_streams", "AccessDeniedException", "logs"),
    ),
    "delete": (
        ["--endpoint", "e1"],
        lambda s: s.refuse("describe_endpoint", "AccessDeniedException"),
    ),
    "pipeline definition": None,
    "pipeline upsert": (
        [],
        lambda s: s.refuse("describe_model_package_group", "AccessDeniedException"),
    ),
    "pipeline start": ([], failed_start),
    "pipeline follow": ([EXECUTION], stopped_execution),
    "pipeline list": (
        [],
        lambda s: s.refuse("list_pipeline_executions", "ResourceNotFound"),
    ),
    "registry list": (
        [],
        lambda s: s.refuse("describe_model_package_group", "ValidationException"),
    ),
    "registry approve": (
        [PACKAGE],
        lambda s: s.refuse("update_model_package", "ValidationException"),
    ),
    "registry reject": (
        [PACKAGE],
        lambda s: s.refuse("update_model_package", "ConflictException"),
    ),
    "registry deploy": (
        [PACKAGE, "--endpoint", "e1"],
        lambda s: s.answer("describe_model_package", ModelApprovalStatus="Rejected"),
    ),
    # The monitor (issue 26); its alarms and schedules go to the moto server.
    "monitor run": (
        ["--endpoint", "e1", "--model-data", MODEL, "--job-name", "j1"],
        lambda s: (
            recorded_monitor(s),
            failed_job("processing_job", "ProcessingJobName", "ProcessingJobStatus")(s),
        ),
    ),
    "monitor schedule": (
        ["--endpoint", "e1", "--schedule-role", "arn:aws:iam::123456789012:role/S"],
        lambda s: s.refuse("describe_endpoint", "ValidationException"),
    ),
    # moto answers ListSchedules, DescribeAlarms and DeleteSchedule (a missing schedule is
    # reported, not an error); AWS's refusals of them exit 1 as every ClientError does.
    "monitor list": None,
    "monitor delete": None,
}
# What the one line says for each.
FAIL_MESSAGES = {
    "data": "bucket no-such-bucket-here does not exist; create it",
    "preprocess": "processing job j1 Failed: AlgorithmError: boom",
    "train": "training job j1 Failed: AlgorithmError: boom",
    "tune": "tuning job j1 Failed: AlgorithmError: boom",
    "deploy": "endpoint e1 Failed: the primary container did not pass the ping health check",
    "predict": "endpoint e1 refused the request",
    "transform": "transform job j1 Failed: AlgorithmError: boom",
    "status": "AWS refused DescribeEndpoint",
    "logs": "AWS refused DescribeLogStreams",
    "delete": "AWS refused DescribeEndpoint",
    "pipeline upsert": "AWS refused DescribeModelPackageGroup",
    "pipeline start": f"pipeline execution {EXECUTION} Failed: Step Train failed",
    "pipeline follow": f"pipeline execution {EXECUTION} Stopped",
    "pipeline list": "pipeline mpg-pipeline does not exist",
    "registry list": "model package group mpg-models does not exist",
    "registry approve": "AWS refused UpdateModelPackage",
    "registry reject": "AWS refused UpdateModelPackage",
    "registry deploy": "is Rejected, not Approved",
    "monitor run": "processing job j1 Failed: AlgorithmError: boom",
    "monitor schedule": "AWS refused DescribeEndpoint",
}
# command key -> argv refused before anything is sent (exit 2).
REFUSED: dict[str, list[str]] = {
    "push": ["--tag", "not a tag"],
    "quickstart": ["--table", "/no/such.csv", "--target", "y"],
    "data": ["--shards", "0"],
    "preprocess": ["--job-name", "x" * 64],
    "train": ["--preprocessing-job", "p1", "-H", "max_depth=0"],
    "tune": ["--preprocessing-job", "p1", "--max-jobs", "2", "--max-parallel", "3"],
    "deploy": ["--training-job", "t1", "--model-data", "s3://b/m.tar.gz"],
    "predict": ["--file", "/no/such/rows.csv"],
    "transform": ["--model", "m1", "--endpoint", "e1"],
    "status": ["endpoint", "bad_name"],
    "logs": ["training", "bad_name"],
    "delete": ["--endpoint", "bad_name"],
    "pipeline definition": ["--pipeline-name", "bad_name"],
    "pipeline upsert": ["--model-package-group", "bad_name"],
    "pipeline start": ["-P", "RmseThreshold=0"],
    "pipeline follow": ["--pipeline-name", "bad_name"],
    "pipeline list": ["--max-results", "0"],
    "registry list": ["--model-package-group", "bad_name"],
    "registry approve": ["latest"],
    "registry reject": ["v1"],
    "registry deploy": [PACKAGE, "--endpoint", "e" * 64],
    "monitor run": ["--endpoint", "e1", "--model-data", "http://not-s3/model.tar.gz"],
    "monitor schedule": ["--schedule", "every hour"],
    "monitor list": ["--monitor-name", "not a name"],
    "monitor delete": ["--endpoint", "e" * 64],
}
# command key -> argv whose dry run prints something (interrupted there: exit 130).
PRINTS: dict[str, list[str]] = {
    "push": ["--tag", "git-1"],
    "quickstart": ["--table", "{table}", "--target", "y"],
    "data": [],
    "preprocess": [],
    "train": ["--preprocessing-job", "p1"],
    "tune": ["--preprocessing-job", "p1"],
    "deploy": ["--training-job", "t1"],
    "predict": ["--file", "{rows}"],
    "transform": ["--model", "m1"],
    "status": ["endpoint", "e1"],
    "logs": ["training", "t1"],
    "delete": [],
    "pipeline definition": [],
    "pipeline upsert": [],
    "pipeline start": [],
    "pipeline follow": [],
    "pipeline list": [],
    "registry list": [],
    "registry approve": [PACKAGE],
    "registry reject": [PACKAGE],
    "registry deploy": [PACKAGE],
    "monitor run": ["--endpoint", "e1", "--model-data", MODEL],
    "monitor schedule": [
        "--endpoint",
        "e1",
        "--model-data",
        MODEL,
        "--schedule-role",
        "arn:aws:iam::123456789012:role/S",
    ],
    "monitor list": [],
    "monitor delete": ["--endpoint", "e1"],
}
ENV = {**dict_env(), "MPG_BUCKET": "my-bucket"}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("nothing may be sent: no clients")


@pytest.fixture
def rows(tmp_path: Path) -> str:
    path = tmp_path / "rows.csv"
    path.write_text("8,307,130,3504,12,70,1\n")
    # Beside it, a headered table of the user's (quickstart's {table}).
    table = "x,y\n" + "".join(f"{i},{i * 1.5 + i % 7}\n" for i in range(40))
    path.with_name("table.csv").write_text(table)
    return str(path)


def argv_of(key: str, argv: list[str], rows: str) -> list[str]:
    files = {"{rows}": rows, "{table}": str(Path(rows).with_name("table.csv"))}
    return [*key.split(), *(files.get(a, a) for a in argv)]


def test_every_subcommand_has_its_exit_codes() -> None:
    for table in (FAILS, REFUSED, PRINTS):
        assert set(table) == set(subcommand_table())


@pytest.mark.parametrize("key", sorted(PRINTS))
def test_exit_0_when_done(key: str, rows: str) -> None:
    argv = argv_of(key, PRINTS[key], rows)
    assert main([*argv, "--dry-run"], env=ENV, factory=no_clients, out=lambda s: None) == 0


@pytest.mark.parametrize("key", sorted(REFUSED))
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["real", "dry"])
def test_exit_2_when_refused_before_sending(
    key: str, dry_run: list[str], rows: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    code = main(
        [*argv_of(key, REFUSED[key], rows), *dry_run],
        env=ENV,
        factory=no_clients,
        out=lines.append,
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert lines == []
    assert err.count("\n") == 1 and "error: " in err  # one line (argparse's: usage + error)


@pytest.mark.parametrize("key", sorted(k for k, v in FAILS.items() if v))
def test_exit_1_when_the_job_or_aws_says_no(
    key: str, stubs: Stubs, bucket: str, rows: str, capsys: pytest.CaptureFixture[str]
) -> None:
    case = FAILS[key]
    assert case is not None
    argv, setup = case
    setup(stubs)
    code = main(
        [*argv_of(key, argv, rows), *FAST],
        factory=lambda config, out: stubs.clients(),
        out=lambda s: None,
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("mpg-launch: error: ") and len(err.strip().splitlines()) == 1
    assert FAIL_MESSAGES[key] in err


@pytest.mark.parametrize("key", sorted(PRINTS))
def test_exit_130_when_interrupted(key: str, rows: str, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(line: str) -> None:
        raise KeyboardInterrupt

    argv = [*argv_of(key, PRINTS[key], rows), "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=interrupted) == 130
    assert capsys.readouterr().err == "mpg-launch: interrupted\n"


def test_exit_1_without_a_traceback_when_the_output_pipe_is_closed(tmp_path: Path) -> None:
    """``mpg-launch ... | head -1`` once head has gone: the reader's end of stdout is closed
    before the command writes its first line."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [Path(sys.executable).parent / "mpg-launch", "push", "--tag", "t1", "--dry-run"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **ENV},
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "mpg-launch: stopped: the output's reader closed the pipe\n"
