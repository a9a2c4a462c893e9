"""``deploy --local --async`` and ``predict --async``: a 50 MB CSV body read from S3 (moto),
streamed through the serving image and its answer written back to S3, end to end; a refused
body becomes the failure object, with its reason, as SageMaker writes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import numpy as np
import pytest

from mpg_core.artifact.files import pack_model_tarball
from mpg_launch.cli.main import main
from tests.helpers.common import Trained
from tests.helpers.launch import containers_of

REGION = "us-east-1"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(600)]
ROWS = [b"4,97,88,2130,14.5,70,3\n", b"8,307,130,3504,12,70,1\n", b"4,113,95,2228,14,71,3\n"]


def test_local_async_endpoint_answers_a_50_mb_body_from_s3_and_records_failures(
    env: dict[str, str],
    bucket: str,
    trained: Trained,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    tarball = pack_model_tarball(trained.pipeline_dir, tmp_path / "model.tar.gz")
    s3.upload_file(str(tarball), bucket, "m/model.tar.gz")
    argv = ["--local", "--endpoint", "big"]
    lines: list[str] = []
    deploy = ["deploy", *argv, "--async", "--model-data", f"s3://{bucket}/m/model.tar.gz"]
    assert main([*deploy, "--invocation-timeout", "600"], env=env, out=lines.append) == 0, lines
    assert any(
        line.startswith("note: --local: async requests run when they are sent") for line in lines
    )
    (name,) = containers_of(Path(env["MPG_LOCAL_STATE_DIR"]))
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", name],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    environment = json.loads(inspected.stdout)
    assert "MPG_ASYNC_MAX_PAYLOAD_MB=1024" in environment
    assert "SAGEMAKER_MODEL_SERVER_TIMEOUT=600" in environment

    block = b"".join(ROWS)
    body = block * (50 * 1024 * 1024 // len(block) + 1)  # just over 50 MiB: many slices
    rows = body.count(b"\n")
    s3.put_object(Bucket=bucket, Key="in/cars.csv", Body=body)
    answer = tmp_path / "answer.csv"
    out: list[str] = []
    predict = ["predict", *argv, "--async", "--input", f"s3://{bucket}/in/cars.csv", "--wait"]
    assert main([*predict, "--output", str(answer)], env=env, out=out.append) == 0, out
    inference_id = out[0].removeprefix("inference id: ")
    assert out[1] == f"output: s3://{bucket}/mpg/async/output/{inference_id}.out"
    assert out[2] == f"failure: s3://{bucket}/mpg/async/failures/{inference_id}-error.out"
    predictions = np.loadtxt(answer)
    assert predictions.shape == (rows,)
    # Row i of the body is ROWS[i % 3]: every third answer is the same, and all differ.
    assert len(set(predictions[:3])) == 3 and (predictions[::3] == predictions[0]).all()
    assert (predictions[1::3] == predictions[1]).all() and (
        predictions[2::3] == predictions[2]
    ).all()
    assert predictions.min() > 5 and predictions.max() < 50
    record = json.loads(
        (
            Path(env["MPG_LOCAL_STATE_DIR"]) / "async-invocations" / f"{inference_id}.json"
        ).read_text()
    )
    assert record["Status"] == "Completed" and record["OutputLocation"] == out[1].removeprefix(
        "output: "
    )

    # A header line without one of the model's columns: the container refuses the body
    # (400); the failure object says why.
    header = b"cylinders,displacement,horsepower,weight,acceleration,model_year\n"
    s3.put_object(Bucket=bucket, Key="in/header.csv", Body=header + block * 10)
    capsys.readouterr()
    predict = ["predict", *argv, "--async", "--input", f"s3://{bucket}/in/header.csv", "--wait"]
    assert main(predict, env=env, out=lambda s: None) == 1
    assert "Received client error (400)" in (err := capsys.readouterr().err)
    assert "line 1 is a header without the model's column(s) ['origin']" in err
    failed = next(
        json.loads(p.read_text())
        for p in (Path(env["MPG_LOCAL_STATE_DIR"]) / "async-invocations").glob("*.json")
        if json.loads(p.read_text())["Status"] == "Failed"
    )
    assert "line 1 is a header without the model's column(s)" in failed["FailureReason"]
    bucket_name, _, key = failed["OutputLocation"].removeprefix("s3://").partition("/")
    assert s3.list_objects_v2(Bucket=bucket_name, Prefix=key)["KeyCount"] == 0  # no answer

    # A small file goes inline (Body), as InvokeEndpointAsync allows up to 128,000 bytes.
    small = tmp_path / "small.csv"
    small.write_bytes(block)
    out = []
    predict = ["predict", *argv, "--async", "--input", str(small), "--wait"]
    assert main(predict, env=env, out=out.append) == 0, out
    assert [float(x) for x in out[-1].split()] == list(predictions[:3])

    assert main(["delete", *argv], env=env, out=lambda s: None) == 0
    assert containers_of(Path(env["MPG_LOCAL_STATE_DIR"])) == []
