"""Ctrl-C during a local pipeline's batch step, as a user gives it: SIGINT to the process
running ``mpg-launch pipeline start --local``, while the serving container starts (the moment
its PID 1 used to ignore SIGTERM, so Docker killed it only after the grace period).

The CLI must end within 5 s with exit code 130, say what it stopped, record Stopped (not
Failed) for the execution, the step and the transform job, and leave no container behind.
Also: the serving image ends on SIGTERM from its first instant, as SageMaker expects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_launch.cli.clients import local_clients
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.settings.config import LOCAL_ROLE_ARN, load_config
from tests.helpers.common import IMAGE_TAG, Trained, free_port, wait_until
from tests.helpers.launch import containers_of

REGION = "us-east-1"
MODEL = "mpg-interrupt-model"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.timeout(300)]


def _local_sagemaker(env: dict[str, str]) -> Any:
    config = load_config(env=env, overrides={"local": True})
    return local_clients(config, out=lambda s: None).sagemaker


@pytest.fixture
def env(bucket: str, tmp_path: Path, trained: Trained, images: dict[str, str]) -> dict[str, str]:
    """A one-step pipeline (BatchPredict, a Transform of a registered model) stored as the
    config's pipeline in a fresh local state folder; the model's tarball in moto's S3."""
    values = {
        **os.environ,
        "MPG_LOCAL_STATE_DIR": str(tmp_path / "state"),
        "MPG_LOCAL_IMAGE_TAG": IMAGE_TAG,
    }
    s3 = boto3.client("s3", region_name=REGION)
    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(trained.pipeline_dir.iterdir()):
            tar.add(path, arcname=path.name)
    s3.put_object(Bucket=bucket, Key="mpg/models/i/model.tar.gz", Body=tarball.read_bytes())
    # One request per row (SingleRecord) keeps the step busy for a while once it serves.
    s3.put_object(Bucket=bucket, Key="mpg/in/rows.csv", Body=b"8,307,130,3504,12,70,1\n" * 20_000)
    config = load_config(env=values, overrides={"local": True})
    sagemaker = _local_sagemaker(values)
    sagemaker.create_model(
        **endpoint_requests.model_request(config, MODEL, f"s3://{bucket}/mpg/models/i/model.tar.gz")
    )
    transform = {
        "ModelName": MODEL,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/mpg/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{bucket}/mpg/out/", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "SingleRecord",
    }
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "BatchPredict", "Type": "Transform", "Arguments": transform}],
    }
    sagemaker.create_pipeline(
        PipelineName=config.pipeline_name,
        PipelineDefinition=json.dumps(definition),
        RoleArn=LOCAL_ROLE_ARN,
    )
    return values


@pytest.mark.parametrize(
    ("after", "signum", "code"),
    [
        (0.0, signal.SIGINT, 130),
        (1.5, signal.SIGINT, 130),
        (4.0, signal.SIGINT, 130),
        (1.5, signal.SIGTERM, 143),  # CI runners, `timeout`, systemd
        (1.5, signal.SIGHUP, 129),  # the terminal closed
    ],
    ids=["created", "booting", "serving", "sigterm", "sighup"],
)
def test_ctrl_c_stops_the_batch_step_within_5_s_and_records_stopped(
    env: dict[str, str], after: float, signum: signal.Signals, code: int
) -> None:
    """``after``: seconds from the serving container's creation to Ctrl-C (it is being
    created, its server is starting, or it is up or nearly so). SIGTERM and SIGHUP are
    handled as Ctrl-C is, and exit 128 + the signal."""
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    process = subprocess.Popen(
        [sys.executable, "-m", "mpg_launch.cli.main", "pipeline", "start", "--local"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not containers_of(state):  # the serving container exists: it is starting
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "no serving container started"
            time.sleep(0.1)
        time.sleep(after)
        interrupted = time.monotonic()
        process.send_signal(signum)
        lines = []
        assert process.stdout is not None
        for line in process.stdout:  # each line with when it came, for the report
            lines.append(f"{time.monotonic() - interrupted:+6.2f} s  {line.rstrip()}")
        process.wait(timeout=60)
        took = time.monotonic() - interrupted
        output = "\n".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
    print(f"Ctrl-C to exit: {took:.2f} s\n{output}")  # the figure, with -s
    assert process.returncode == code, output
    assert took < 5, f"{took:.1f} s\n{output}"
    assert containers_of(state) == []
    # It says what it stopped.
    assert "Ctrl-C: stopping" in output and "BatchPredict: Stopped" in output, output
    assert ": Stopped after" in output and "interrupted" in output, output
    # And records it: the execution, its step and the job, Stopped (not Failed).
    sagemaker = _local_sagemaker(env)
    config = load_config(env=env, overrides={"local": True})
    (summary,) = sagemaker.list_pipeline_executions(PipelineName=config.pipeline_name)[
        "PipelineExecutionSummaries"
    ]
    assert summary["PipelineExecutionStatus"] == "Stopped"
    arn = summary["PipelineExecutionArn"]
    (step,) = sagemaker.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
        "PipelineExecutionSteps"
    ]
    assert step["StepName"] == "BatchPredict" and step["StepStatus"] == "Stopped"
    job = f"pipelines-{arn.rsplit('/', 1)[-1]}-batchpredict"
    record = sagemaker.describe_transform_job(TransformJobName=job)
    assert record["TransformJobStatus"] == "Stopped", record


def test_the_serving_image_ends_on_sigterm_while_it_starts(
    images: dict[str, str], trained: Trained, containers: list[str]
) -> None:
    """SageMaker sends SIGTERM and kills 30 s later; a PID 1 without a handler ignores it.
    ``serve`` installs its handler before it imports gunicorn, Flask and pandas or opens the
    model, so a stop during start-up ends it at once (only the interpreter's own start, a
    fraction of a second, comes before any handler can exist)."""
    name = f"mpg-sigterm-{free_port()}"
    containers.append(name)
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "-v",
            f"{trained.pipeline_dir}:/opt/ml/model:ro",
            images["serving"],
            "serve",
        ],
        check=True,
        capture_output=True,
    )

    def handled() -> bool:  # bit 15 of PID 1's caught-signals mask
        status = subprocess.run(
            ["docker", "exec", name, "cat", "/proc/1/status"], capture_output=True, text=True
        ).stdout
        mask = next((line.split()[1] for line in status.splitlines() if "SigCgt:" in line), "0")
        return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))

    wait_until(handled, 30, "serve's SIGTERM handler", interval=0.02)
    started = time.monotonic()
    subprocess.run(["docker", "stop", "-t", "30", name], check=True, capture_output=True)
    took = time.monotonic() - started
    assert took < 3, f"serve took {took:.1f} s to end on SIGTERM while starting"
    code = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.ExitCode}}", name], capture_output=True, text=True
    ).stdout.strip()
    assert code == "0"  # a clean stop, not SIGKILL's 137
