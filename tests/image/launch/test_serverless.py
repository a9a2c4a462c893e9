"""``deploy --local --serverless``: one container of the serving image with the serverless
environment (one worker, 4 MB bodies), on the local engine; S3 on moto."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest

from mpg_core.artifact.files import pack_model_tarball
from mpg_launch.cli.main import main
from tests.helpers.common import Trained
from tests.helpers.launch import containers_of

REGION = "us-east-1"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(300)]


def test_local_serverless_runs_one_single_worker_container(
    env: dict[str, str],
    bucket: str,
    trained: Trained,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tarball = pack_model_tarball(trained.pipeline_dir, tmp_path / "model.tar.gz")
    boto3.client("s3", region_name=REGION).upload_file(str(tarball), bucket, "m/model.tar.gz")
    lines: list[str] = []
    argv = ["--local", "--endpoint", "sls"]
    model = f"s3://{bucket}/m/model.tar.gz"
    assert (
        main(["deploy", *argv, "--serverless", "--model-data", model], env=env, out=lines.append)
        == 0
    )
    assert "note: --local: serverless runs as one always-on container: no cold starts, " in (
        "\n".join(lines)
    )
    (name,) = containers_of(Path(env["MPG_LOCAL_STATE_DIR"]))
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", name],
        capture_output=True,
        text=True,
        check=True,
    )
    environment = json.loads(inspected.stdout)
    assert "SAGEMAKER_MODEL_SERVER_WORKERS=1" in environment
    assert "SAGEMAKER_MAX_PAYLOAD_IN_MB=4" in environment

    rows = tmp_path / "rows.csv"
    rows.write_text("4,97,88,2130,14.5,70,3\n")
    answer: list[str] = []
    assert main(["predict", *argv, "--file", str(rows)], env=env, out=answer.append) == 0
    assert 20 < float(answer[-1]) < 45
    # 5 MiB: under real-time's 6 MiB, over serverless's 4 MB: refused before the container.
    big = tmp_path / "big.csv"
    big.write_bytes(b"4,97,88,2130,14.5,70,3\n" * (5 * 1024 * 1024 // 23))
    capsys.readouterr()
    assert main(["predict", *argv, "--file", str(big)], env=env, out=lambda s: None) != 0
    assert f"accepts at most {4 * 1024 * 1024}" in capsys.readouterr().err

    assert main(["delete", *argv], env=env, out=lambda s: None) == 0
    assert containers_of(Path(env["MPG_LOCAL_STATE_DIR"])) == []
