"""End to end with ``--local`` against moto's S3: data, push, preprocess, train, deploy,
predict, transform, delete, through the CLI's ``main`` as a user would run it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import boto3
import pytest

from mpg_launch.cli.main import main
from tests.helpers.launch import containers_of

REGION = "us-east-1"

pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]

RAW_ROWS = "8,307,130,3504,12,70,1\n4,97,88,2130,14.5,70,3\n"


def _keys(bucket: str, prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _read(bucket: str, key: str) -> bytes:
    s3 = boto3.client("s3", region_name=REGION)
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_whole_pipeline_locally(
    bucket: str,
    registry: str,
    docker_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state"
    local = ["--local"]
    lines: list[str] = []

    env = {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    try:
        assert main(["data"], env=env, out=lines.append) == 0
        assert _keys(bucket, "mpg/data/bronze/") == [
            f"mpg/data/bronze/{s}/{s}.csv" for s in ("test", "train", "validation")
        ]

        assert (
            main(["push", "--tag", "e2e", "--registry", registry], env=env, out=lines.append) == 0
        )
        for image in ("preprocessing", "training", "serving"):
            subprocess.run(
                ["docker", "pull", f"{registry}/mpg-{image}:e2e"], check=True, capture_output=True
            )

        assert (
            main(["preprocess", *local, "--job-name", "prep-e2e"], env=env, out=lines.append) == 0
        )
        keys = _keys(bucket, "mpg/preprocess/prep-e2e/")
        assert "mpg/preprocess/prep-e2e/preprocessor/model.tar.gz" in keys
        assert "mpg/preprocess/prep-e2e/features/train/train.csv" in keys

        assert (
            main(
                [
                    "train",
                    *local,
                    "--job-name",
                    "train-e2e",
                    "--preprocessing-job",
                    "prep-e2e",
                    "-H",
                    "n_estimators=30",
                ],
                env=env,
                out=lines.append,
            )
            == 0
        )
        assert any(line.startswith("validation:rmse = ") for line in lines)
        model_tar = _read(bucket, "mpg/training/train-e2e/output/model.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(model_tar)) as tar:
            assert {"estimator.joblib", "artifact.json"} <= set(tar.getnames())
        manifest = json.loads(tar_member(model_tar, "artifact.json"))
        assert manifest["kind"] == "pipeline"

        assert (
            main(
                ["deploy", *local, "--endpoint", "mpg-e2e", "--training-job", "train-e2e"],
                env=env,
                out=lines.append,
            )
            == 0
        )
        rows = tmp_path / "rows.csv"
        rows.write_text(RAW_ROWS)
        lines.clear()
        assert (
            main(
                ["predict", *local, "--endpoint", "mpg-e2e", "--file", str(rows)],
                env=env,
                out=lines.append,
            )
            == 0
        )
        predictions = [float(v) for v in lines[-1].split()]
        assert len(predictions) == 2
        assert 8 < predictions[0] < 25 < predictions[1] < 45  # a V8 vs a small Japanese car

        assert (
            main(
                ["transform", *local, "--job-name", "bt-e2e", "--endpoint", "mpg-e2e"],
                env=env,
                out=lines.append,
            )
            == 0
        )
        out = _read(bucket, "mpg/transform/bt-e2e/test.csv.out").decode().splitlines()
        batch_in = _read(bucket, "mpg/data/batch/test.csv").decode().splitlines()
        assert len(out) == len(batch_in) > 10
        assert all(5 < float(v) < 60 for v in out)

        # The two-container inference pipeline: preprocessor, then a features->mpg model
        # (SAGEMAKER_BIND_TO_PORT: both containers share one network namespace).
        assert (
            main(
                [
                    "train",
                    *local,
                    "--job-name",
                    "train-feat",
                    "--preprocessing-job",
                    "prep-e2e",
                    "--no-preprocessor",
                    "-H",
                    "n_estimators=30",
                ],
                env=env,
                out=lines.append,
            )
            == 0
        )
        assert (
            main(
                [
                    "deploy",
                    *local,
                    "--pipeline",
                    "--endpoint",
                    "mpg-pipe",
                    "--training-job",
                    "train-feat",
                    "--preprocessing-job",
                    "prep-e2e",
                ],
                env=env,
                out=lines.append,
            )
            == 0
        )
        # One single-container endpoint, one two-container one.
        assert len(containers_of(state)) == 3
        lines.clear()
        assert (
            main(
                ["predict", *local, "--endpoint", "mpg-pipe", "--file", str(rows)],
                env=env,
                out=lines.append,
            )
            == 0
        )
        # Same features, trees and seed: the pipeline predicts what the single model does.
        assert [float(v) for v in lines[-1].split()] == pytest.approx(predictions)

        assert main(["delete", *local, "--endpoint", "mpg-e2e"], env=env, out=lines.append) == 0
        assert main(["delete", *local, "--endpoint", "mpg-pipe"], env=env, out=lines.append) == 0
        assert containers_of(state) == []
        assert main(["status", *local, "endpoint", "mpg-e2e"], env=env, out=lines.append) != 0
    finally:
        for name in containers_of(state):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        for image in ("preprocessing", "training", "serving"):  # the tags this test made
            subprocess.run(
                ["docker", "rmi", f"{registry}/mpg-{image}:e2e"], capture_output=True, check=False
            )


def tar_member(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()
