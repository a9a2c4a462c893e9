"""botocore Stubber where the exact request matters: a transform of files that start with the
table's header line sends MPG_CSV_HEADER in the job's Environment (the serving image reads
every mini-batch in that layout); headerless files, the default input and an InputFilter
send none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mpg_launch.aws.clients import Clients
from mpg_launch.aws.submit import Runner
from mpg_launch.jobs import requests as build
from mpg_launch.jobs import run as jobs_run
from mpg_launch.local.clients.s3 import LocalS3
from mpg_launch.settings.config import LaunchConfig

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
        ("s3://my-bucket/own/", {"data_processing": {"InputFilter": "$[1:]"}}),
    ],
)
def test_other_input_sends_no_environment(
    config: LaunchConfig, s3: LocalS3, input_uri: str | None, options: dict[str, Any]
) -> None:
    _sends(config, s3, input_uri, expect_environment=None, **options)
