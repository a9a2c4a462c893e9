"""botocore Stubber where the exact request matters: a transform of files that start with the
table's header line sends MPG_CSV_HEADER in the job's Environment (the serving image reads
every mini-batch in that layout), cut by the InputFilter as SageMaker cuts every record;
headerless files and the default input send none, and a filter that cannot cut the header is
refused before anything is sent. Then the same through the CLI on a moto server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.submit import Runner
from mpg_launch.cli.main import main
from mpg_launch.errors import ConfigError
from mpg_launch.jobs import requests as build
from mpg_launch.jobs import run as jobs_run
from mpg_launch.local.clients.s3 import LocalS3
from mpg_launch.settings.config import LaunchConfig
from tests.helpers.launch import REGION

ARN = "arn:aws:sagemaker:eu-west-1:111122223333:transform-job/t1"
HEADER = "car_name,weight,model year,origin,cylinders,displacement,horsepower,acceleration,mpg"


def _sends(config: LaunchConfig, s3: Any, input_uri: str | None, **options: Any) -> None:
    """Stubber fails the test unless the CreateTransformJob request the launcher sends is
    exactly the one built with the Environment the test expects."""
    sm = boto3.client(
        "sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    lines: list[str] = []
    environment = options.pop("expect_environment")
    expected = build.transform_request(
        config, "t1", "m1", input_uri, environment=environment, **options
    )
    with Stubber(sm) as stub:
        stub.add_response("create_transform_job", {"TransformJobArn": ARN}, expected)
        runner = Runner(config, Clients(sm, None, s3, None), lines.append, poll_seconds=0)
        jobs_run.transform(runner, "t1", "m1", None, input_uri, wait=False, **options)
        stub.assert_no_pending_responses()


@pytest.fixture
def s3(tmp_path: Path) -> LocalS3:
    for key, text in {
        "own/part-1.csv": f"{HEADER}\nchevy,3504,70,1,8,307,130,12,18\n",
        "own/part-2.csv": f"{HEADER}\nford,3693,70,1,8,350,165,11.5,15\n",
        "plain/rows.csv": "8,307.0,130.0,3504,12.0,70,1\n",
    }.items():
        path = tmp_path / "my-bucket" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return LocalS3(tmp_path)


def test_headered_files_send_their_header(config: LaunchConfig, s3: LocalS3) -> None:
    _sends(config, s3, "s3://my-bucket/own/", expect_environment={"MPG_CSV_HEADER": HEADER})


@pytest.mark.parametrize(
    ("input_uri", "options"),
    [
        ("s3://my-bucket/plain/", {}),  # headerless rows in the model's order
        (None, {}),  # data's batch input: headerless, as data writes it
        ("s3://my-bucket/own/", {"content_type": "application/jsonlines"}),
        ("s3://my-bucket/plain/", {"data_processing": {"InputFilter": "$[1:]"}}),
    ],
)
def test_other_input_sends_no_environment(
    config: LaunchConfig, s3: LocalS3, input_uri: str | None, options: dict[str, Any]
) -> None:
    _sends(config, s3, input_uri, expect_environment=None, **options)


def test_a_filtered_input_sends_its_header_as_the_filter_cuts_it(
    config: LaunchConfig, s3: LocalS3
) -> None:
    _sends(
        config,
        s3,
        "s3://my-bucket/own/",
        data_processing={"InputFilter": "$[1:]"},
        expect_environment={"MPG_CSV_HEADER": HEADER.removeprefix("car_name,")},
    )


def test_a_filter_that_cannot_cut_the_header_sends_nothing(
    config: LaunchConfig, s3: LocalS3
) -> None:
    sm = boto3.client(
        "sagemaker", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(sm):  # no response queued: any request would fail the test otherwise
        runner = Runner(config, Clients(sm, None, s3, None), print, poll_seconds=0)
        with pytest.raises(ConfigError, match=r"--input-filter '\$\[12\]' cannot be applied"):
            jobs_run.transform(
                runner,
                "t1",
                "m1",
                None,
                "s3://my-bucket/own/",
                data_processing={"InputFilter": "$[12]"},
            )


@pytest.mark.aws
def test_the_cli_sends_the_cut_header_to_moto(
    bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``transform --input-filter '$[1:]'`` on a headered file: the job moto records carries
    the header without its first column; a filter that cannot cut it is one error line (exit
    2) and no job."""
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket, Key="own/cars.csv", Body=f"{HEADER}\nchevy,3504,70,1,8,307,130,12,18\n"
    )
    sm = boto3.client("sagemaker", region_name=REGION)
    given = ["transform", "--model", "m1", "--input", f"s3://{bucket}/own/"]
    lines: list[str] = []
    argv = [*given, "--input-filter", "$[1:]", "--job-name", "cut", "--poll-seconds", "0.05"]
    assert main(argv, out=lines.append) == 0, lines
    job = sm.describe_transform_job(TransformJobName="cut")
    assert job["Environment"] == {"MPG_CSV_HEADER": HEADER.removeprefix("car_name,")}
    assert job["DataProcessing"]["InputFilter"] == "$[1:]"

    argv = [*given, "--input-filter", "$[9]", "--job-name", "refused"]  # 9 columns: 0-8
    assert main(argv, out=lines.append) == 2
    (error,) = capsys.readouterr().err.strip().splitlines()
    assert error.startswith(
        "mpg-launch: error: --input-filter '$[9]' cannot be applied to the input's header line"
    )
    names = [j["TransformJobName"] for j in sm.list_transform_jobs()["TransformJobSummaries"]]
    assert names == ["cut"]
