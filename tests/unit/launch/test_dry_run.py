"""--dry-run is dry by construction: every subcommand of the CLI's own table runs with
--dry-run, prints the validated requests it would send (for read commands the Describe/List
request) and exits 0, while botocore cannot send, no subprocess (docker) can start and the
clients factory must not be called. A subcommand added to the table without a case here
fails ``test_every_subcommand_has_a_dry_run_case``.
(The headline case, ``delete --dry-run`` against a moto server, is in
tests/aws/test_dry_run_delete.py.)
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from mpg_launch.aws.dry_run import DryRunRefused, DryRunStop, RefusingClient
from mpg_launch.cli.main import main, subcommand_table
from tests.helpers.launch import printed_requests

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mpg-models/1"
EXECUTION = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/mpg-pipeline/execution/abc123def456"
ROWS = "8,307,130,3504,12,70,1\n"
MODEL = "s3://my-bucket/mpg/training/t1/output/model.tar.gz"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/Scheduler"

# command key -> (argv after the command words, the operations printed, in order).
CASES: dict[str, list[tuple[list[str], list[str]]]] = {
    # The schema inferred (printed), the splits' uploads, then the first job; it stops there.
    "quickstart": [
        (["--table", "{table}", "--target", "y"], ["PutObject"] * 5 + ["CreateProcessingJob"])
    ],
    "push": [(["--tag", "git-1"], [])],  # prints the push targets; ECR calls need docker first
    "data": [(["--shards", "2"], ["PutObject"] * 9)],
    "preprocess": [([], ["CreateProcessingJob"])],
    "train": [(["--preprocessing-job", "p1", "-H", "n_estimators=10"], ["CreateTrainingJob"])],
    "tune": [(["--preprocessing-job", "p1"], ["CreateHyperParameterTuningJob"])],
    "deploy": [
        (["--training-job", "t1"], ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]),
        (
            ["--training-job", "t1", "--max-instances", "3", "--target-invocations", "50"],
            [
                "CreateModel",
                "CreateEndpointConfig",
                "CreateEndpoint",
                "RegisterScalableTarget",
                "PutScalingPolicy",
            ],
        ),
        (
            ["--training-job", "t1", "--local"],
            ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"],
        ),
    ],
    "predict": [(["--endpoint", "e1", "--file", "{rows}"], ["InvokeEndpoint"])],
    "transform": [
        (["--model", "m1"], ["CreateTransformJob"]),
        (["--endpoint", "e1"], ["DescribeEndpoint"]),  # its model is the endpoint's
        (["--model", "m1", "--local"], ["CreateTransformJob"]),
    ],
    "status": [
        (["endpoint", "e1"], ["DescribeEndpoint"]),
        (["training", "t1"], ["DescribeTrainingJob"]),
        (["tuning", "t1"], ["DescribeHyperParameterTuningJob"]),
    ],
    "logs": [(["processing", "p1"], ["DescribeLogStreams"])],
    "delete": [
        (["--endpoint", "victim"], ["DescribeEndpoint"]),
        (["--local"], ["DescribeEndpoint"]),
    ],
    "pipeline definition": [([], [])],  # prints the definition itself; sends nothing anyway
    # The "no approved model" README ApprovedModelData defaults to, then the group, the pipeline.
    "pipeline upsert": [([], ["PutObject", "CreateModelPackageGroup", "CreatePipeline"])],
    "pipeline start": [
        (["-P", "RmseThreshold=3", "-P", "NEstimators=50"], ["StartPipelineExecution"]),
        (["--local"], ["StartPipelineExecution"]),
    ],
    "pipeline follow": [
        ([], ["ListPipelineExecutions"]),
        ([EXECUTION], ["DescribePipelineExecution"]),
    ],
    "pipeline list": [([], ["ListPipelineExecutions"])],
    "registry list": [
        ([], ["DescribeModelPackageGroup"]),
        (["--local"], ["DescribeModelPackageGroup"]),
    ],
    "registry approve": [
        ([PACKAGE], ["UpdateModelPackage"]),
        (["3"], ["DescribeModelPackageGroup"]),  # a version number is looked up first
    ],
    "registry reject": [([PACKAGE, "--description", "too slow"], ["UpdateModelPackage"])],
    "registry deploy": [
        ([PACKAGE, "--endpoint", "e1"], ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"])
    ],
    # The monitor (issue 26): its record on the endpoint (AddTags, so delete removes what it
    # makes), then an alarm per Auto MPG column and the predictions.
    "monitor run": [
        (
            ["--endpoint", "e1", "--model-data", MODEL],
            ["AddTags", "CreateProcessingJob"] + ["PutMetricAlarm"] * 8,
        ),
        (
            ["--endpoint", "e1", "--model-data", MODEL, "--local"],
            ["AddTags", "CreateProcessingJob"] + ["PutMetricAlarm"] * 8,
        ),
        (["--endpoint", "e1"], ["DescribeEndpoint"]),  # its model holds the baseline
    ],
    "monitor schedule": [
        (
            ["--endpoint", "e1", "--model-data", MODEL, "--schedule-role", SCHEDULER_ROLE],
            ["AddTags", "CreateSchedule"] + ["PutMetricAlarm"] * 8,
        )
    ],
    "monitor list": [([], ["ListSchedules"])],
    "monitor delete": [(["--endpoint", "e1"], ["DescribeAlarms"])],
}
PARAMS = [
    pytest.param(key, argv, operations, id=f"{key}-{i}")
    for key, cases in CASES.items()
    for i, (argv, operations) in enumerate(cases)
]


def no_clients(config: object, out: object) -> object:
    raise AssertionError("a dry run must not call the clients factory")


@pytest.fixture
def nothing_can_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: no botocore request and no subprocess (docker) during a dry run."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"a dry run tried to send or start something: {args[:2]}")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def test_every_subcommand_has_a_dry_run_case() -> None:
    assert set(CASES) == set(subcommand_table())


@pytest.mark.parametrize(("key", "argv", "operations"), PARAMS)
def test_every_subcommand_dry_runs_without_reaching_aws(
    key: str,
    argv: list[str],
    operations: list[str],
    nothing_can_leave: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(ROWS)
    table = tmp_path / "table.csv"  # a headered table of the user's (quickstart)
    table.write_text("x,y\n" + "".join(f"{i},{i * 1.5 + i % 7}\n" for i in range(40)))
    files = {"{rows}": str(rows), "{table}": str(table)}
    argv = [files.get(a, a) for a in argv]
    lines: list[str] = []
    env = {**ENV, "MPG_LOCAL_STATE_DIR": str(tmp_path / "state")}
    code = main([*key.split(), *argv, "--dry-run"], env=env, factory=no_clients, out=lines.append)
    err = capsys.readouterr().err
    assert code == 0, err
    printed = printed_requests(lines)
    assert [p["operation"] for p in printed] == operations
    for p in printed:
        assert set(p) == {"operation", "request", "service"}
    if key == "pipeline definition":
        assert json.loads(lines[0])["Version"] == "2020-12-01"
    if key == "push":
        assert "123456789012.dkr.ecr.us-east-1.amazonaws.com/mpg-serving:git-1" in "\n".join(lines)
    if key in ("delete", "status", "pipeline follow", "registry list"):
        assert "stopped at" in err and "nothing was sent" in err
    assert not (tmp_path / "state").exists()  # --local under --dry-run records nothing


def test_the_printed_read_request_is_the_one_a_real_run_sends() -> None:
    lines: list[str] = []
    argv = ["status", "training", "t-7", "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    assert printed_requests(lines) == [
        {
            "operation": "DescribeTrainingJob",
            "request": {"TrainingJobName": "t-7"},
            "service": "sagemaker",
        }
    ]


def test_predict_dry_run_prints_the_body_as_sent(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(ROWS)
    lines: list[str] = []
    argv = ["predict", "--endpoint", "e1", "--file", str(rows), "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    (request,) = printed_requests(lines)
    assert request["request"] == {
        "EndpointName": "e1",
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "Body": ROWS,
    }


def test_async_dry_run_with_a_big_input_file_stops_at_its_upload(tmp_path: Path) -> None:
    """Over 128,000 bytes the body is uploaded first: the dry run used to exit 1 on
    upload_file (no API call); it prints the PutObject the upload amounts to and exits 0."""
    body = tmp_path / "big.csv"
    body.write_text(ROWS * (128_001 // len(ROWS) + 1))
    lines: list[str] = []
    argv = ["predict", "--endpoint", "e1", "--async", "--input", str(body), "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    (request,) = printed_requests(lines)
    assert request["operation"] == "PutObject"
    assert request["request"]["ContentLength"] == body.stat().st_size > 128_000
    assert request["request"]["Key"].endswith("-big.csv")


def test_refusing_client_validates_then_stops() -> None:
    client = RefusingClient("sagemaker")
    with pytest.raises(DryRunStop) as stopped:
        client.delete_endpoint(EndpointName="victim")
    assert stopped.value.submission.operation == "DeleteEndpoint"
    with pytest.raises(DryRunRefused, match="'meta' would reach AWS"):
        _ = client.meta
    with pytest.raises(Exception, match="EndpointName"):
        client.describe_endpoint(EndpointName="bad_name")  # checked like a real call


def test_refusing_client_escapes_broad_except() -> None:
    """No ``except Exception`` on the way can swallow the stop and carry on."""
    client = RefusingClient("s3")
    with pytest.raises(DryRunStop):
        try:
            client.get_object(Bucket="bkt", Key="k")
        except Exception:
            pytest.fail("the dry-run stop was caught as an Exception")


def test_async_dry_run_prints_its_plan_and_checks_the_invocation_before_the_upload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """predict --async is one plan (upload, then invoke) applied by the Runner: a dry run
    prints the small file's InvokeEndpointAsync with its Body as sent and stops after the plan
    (no stop at a refused call), and a big file's invocation is checked before the upload is
    shown."""
    small = tmp_path / "rows.csv"
    small.write_text(ROWS)
    lines: list[str] = []
    argv = ["predict", "--endpoint", "e1", "--async", "--input", str(small), "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    (request,) = printed_requests(lines)
    assert request["operation"] == "InvokeEndpointAsync"
    assert request["request"]["Body"] == ROWS
    assert "stopped at" not in capsys.readouterr().err

    big = tmp_path / "big.csv"
    big.write_text(ROWS * (128_001 // len(ROWS) + 1))
    lines = []
    argv = ["predict", "--endpoint", "e1", "--async", "--input", str(big), "--dry-run"]
    assert main(argv, env=ENV, factory=no_clients, out=lines.append) == 0
    (upload,) = printed_requests(lines)
    assert (
        lines[-1]
        == f"then InvokeEndpointAsync on e1 reading s3://my-bucket/{upload['request']['Key']}"
    )
    # The invocation, printed as a line after the upload, is checked all the same, before it.
    from mpg_launch.aws.submit import Runner
    from mpg_launch.endpoint import async_invoke, async_requests
    from mpg_launch.settings.config import load_config

    config = load_config(env=ENV)
    request = async_requests.invoke_request("bad_name", "text/csv", "text/csv", 900, "s3://b/k")
    upload = async_invoke.Upload(big, "s3://b/k")
    with pytest.raises(Exception, match="EndpointName"):
        async_invoke.plan(Runner(config, None, lines.append, dry_run=True), request, upload)


def test_no_command_decides_on_a_dry_run() -> None:
    """Only aws/ (the Runner, the plan, the refusing clients) and the CLI's edge, which reads
    the flag, test for a dry run; a command observes, plans and applies."""
    package = Path(__file__).resolve().parents[3] / "launch" / "src" / "mpg_launch"
    deciding = re.compile(r"\bif\b[^\n]*dry_run|RefusingClient")
    found = [
        str(path.relative_to(package))
        for path in sorted(package.rglob("*.py"))
        if path.parent.name != "aws"
        and path.relative_to(package).as_posix() != "cli/main.py"
        and deciding.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []
