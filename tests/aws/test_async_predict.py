"""``predict --async``: the exact InvokeEndpointAsync requests (botocore's Stubber), and the
whole flow against moto, whose sagemaker-runtime writes a configured answer or failure to S3
for --wait to find."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.cli.main import main
from mpg_launch.endpoint import async_invoke
from mpg_launch.errors import JobFailed
from mpg_launch.settings.config import LaunchConfig, load_config
from tests.helpers.launch import STUB_ROLE

REGION = "us-east-1"
ROW = b"4,97,88,2130,14.5,70,3\n"
pytestmark = pytest.mark.aws


def _stubbed(config: LaunchConfig) -> tuple[Clients, Stubber, Stubber]:
    session = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    runtime, s3 = session.client("sagemaker-runtime"), session.client("s3")
    return Clients(sagemaker=None, runtime=runtime, s3=s3, logs=None), Stubber(runtime), Stubber(s3)


@pytest.fixture
def stub_config() -> LaunchConfig:
    return load_config(
        env={"MPG_REGION": REGION, "MPG_ROLE_ARN": STUB_ROLE, "MPG_BUCKET": "my-bucket"}
    )


ANSWER = {
    "InferenceId": "id-1",
    "OutputLocation": "s3://my-bucket/mpg/async/output/id-1.out",
    "FailureLocation": "s3://my-bucket/mpg/async/failures/id-1-error.out",
}


def test_a_small_file_goes_inline_with_the_invocation_timeout(
    stub_config: LaunchConfig, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_bytes(ROW * 100)
    clients, runtime, _ = _stubbed(stub_config)
    expected = {
        "EndpointName": "mpg",
        "ContentType": "text/csv",
        "Accept": "text/csv",
        "InvocationTimeoutSeconds": 900,
        "Body": ROW * 100,
        "InferenceId": "mine",
    }
    runtime.add_response("invoke_endpoint_async", ANSWER, expected)
    lines: list[str] = []
    with runtime:
        queued = async_invoke.predict(
            stub_config, clients, "mpg", str(rows), "text/csv", "text/csv", lines.append, "mine"
        )
    runtime.assert_no_pending_responses()
    assert queued.output_location == ANSWER["OutputLocation"]
    assert lines == [
        "inference id: id-1",
        f"output: {ANSWER['OutputLocation']}",
        f"failure: {ANSWER['FailureLocation']}",
    ]


def test_an_s3_input_is_named_not_read(stub_config: LaunchConfig) -> None:
    clients, runtime, _ = _stubbed(stub_config)
    expected = {
        "EndpointName": "mpg",
        "ContentType": "application/jsonlines",
        "Accept": "text/csv",
        "InvocationTimeoutSeconds": 900,
        "InputLocation": "s3://data/cars.jsonl",
    }
    runtime.add_response("invoke_endpoint_async", ANSWER, expected)
    with runtime:
        async_invoke.predict(
            stub_config,
            clients,
            "mpg",
            "s3://data/cars.jsonl",
            "application/jsonlines",
            "text/csv",
            lambda s: None,
        )
    runtime.assert_no_pending_responses()


def _moto_results(moto_url: str, results: list[dict[str, object]]) -> None:
    request = urllib.request.Request(
        f"{moto_url}/moto-api/static/sagemaker/async-endpoint-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_wait_prints_the_answer_and_a_big_file_is_uploaded_first(
    bucket: str, moto_url: str, tmp_path: Path
) -> None:
    _moto_results(moto_url, [{"data": "25.5\n31.0\n"}])
    big = tmp_path / "cars.csv"
    big.write_bytes(ROW * 6000)  # 138,000 bytes: over the inline limit
    lines: list[str] = []
    argv = ["predict", "--async", "--input", str(big), "--wait", "--poll-seconds", "0.1"]
    assert main(argv, out=lines.append) == 0, lines
    assert lines[0].startswith(f"uploaded {big} to s3://{bucket}/mpg/async/input/")
    uploaded = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=bucket, Prefix="mpg/async/input/"
    )["Contents"]
    assert [o["Size"] for o in uploaded] == [len(ROW) * 6000]
    assert lines[-1] == "25.5\n31.0"


def test_wait_turns_a_failure_object_into_exit_1_with_its_reason(
    bucket: str, moto_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _moto_results(moto_url, [{"is_failure": True, "data": "line 3: 2 values; expected 7"}])
    argv = ["predict", "--async", "--input", f"s3://{bucket}/in.csv", "--wait"]
    assert main([*argv, "--poll-seconds", "0.1"], out=lambda s: None) == 1
    assert "failed" in (err := capsys.readouterr().err) and "line 3: 2 values; expected 7" in err


def test_wait_saves_the_answer_to_a_file(bucket: str, moto_url: str, tmp_path: Path) -> None:
    _moto_results(moto_url, [{"data": "25.5\n"}])
    saved = tmp_path / "answer.csv"
    argv = ["predict", "--async", "--input", f"s3://{bucket}/in.csv", "--wait", "--output"]
    lines: list[str] = []
    assert main([*argv, str(saved), "--poll-seconds", "0.1"], out=lines.append) == 0
    assert saved.read_text() == "25.5\n" and lines[-1] == f"saved the answer to {saved}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--async"], "predict --async needs --input"),
        (["--input", "s3://b/k"], "predict --async needs --input"),
        (["--async", "--input", "s3://b/k", "--output", "x"], "add --wait"),
        (["--async", "--input", "/no/such/file.csv"], "no such file"),
        (["--async", "--input", "s3://bucket-only"], "is not an s3://bucket/key URI"),
    ],
)
def test_bad_async_flags_are_one_line_and_exit_2(
    argv: list[str], message: str, stub_config: LaunchConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"MPG_REGION": REGION, "MPG_BUCKET": "my-bucket", "AWS_ACCESS_KEY_ID": "x"}
    assert main(["predict", *argv], env=env, factory=lambda c, o: None, out=print) == 2  # type: ignore[arg-type,return-value]
    assert message in capsys.readouterr().err


def test_wait_gives_up_at_its_deadline(stub_config: LaunchConfig) -> None:
    clients, _, s3 = _stubbed(stub_config)
    queued = async_invoke.Queued("id-1", ANSWER["OutputLocation"], None)
    s3.add_client_error("head_object", "404", http_status_code=404)
    with s3, pytest.raises(JobFailed, match="no answer or failure in S3 after 0 s"):
        async_invoke.wait(clients.s3, queued, 0, 0)
