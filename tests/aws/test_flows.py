"""Flows against a real moto server: S3 uploads, job submission and waiting with CloudWatch
log tailing, deploy and delete leaving nothing behind."""

from __future__ import annotations

import time

import boto3
import pytest

from mpg_launch.aws.clients import aws_clients
from mpg_launch.aws.submit import Runner
from mpg_launch.cli.main import main
from mpg_launch.endpoint.delete import kit_tags
from mpg_launch.jobs import run as jobs_run
from mpg_launch.settings.config import LaunchConfig

REGION = "us-east-1"
pytestmark = pytest.mark.aws


@pytest.fixture
def config(moto_config: LaunchConfig) -> LaunchConfig:
    """``config`` here is moto's, with the images pushed (tests/aws/conftest.py)."""
    return moto_config


def test_unknown_image_tag_fails_before_submitting(
    config: LaunchConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["preprocess", "--image-tag", "git-nope"], out=lambda s: None) == 2
    err = capsys.readouterr().err
    assert (
        "unknown image 123456789012.dkr.ecr.us-east-1.amazonaws.com/mpg-preprocessing:git-nope"
        in err
    )
    assert "mpg-launch push" in err
    listed = boto3.client("sagemaker", region_name=REGION).list_processing_jobs()
    assert listed["ProcessingJobSummaries"] == []


def test_data_uploads_the_seeded_splits(bucket: str) -> None:
    lines: list[str] = []
    assert main(["data"], out=lines.append) == 0
    s3 = boto3.client("s3", region_name=REGION)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        "mpg/data/batch-joined/test.csv",
        "mpg/data/batch/test.csv",
        "mpg/data/bronze/test/test.csv",
        "mpg/data/bronze/train/train.csv",
        "mpg/data/bronze/validation/validation.csv",
    ]
    header = s3.get_object(Bucket=bucket, Key="mpg/data/bronze/train/train.csv")["Body"].read()
    assert header.decode().splitlines()[0].startswith("mpg,cylinders,displacement")
    batch = s3.get_object(Bucket=bucket, Key="mpg/data/batch/test.csv")["Body"].read().decode()
    assert len(batch.splitlines()[0].split(",")) == 7  # raw features, no header, no target
    joined = s3.get_object(Bucket=bucket, Key="mpg/data/batch-joined/test.csv")["Body"].read()
    rows = [line.split(",") for line in joined.decode().splitlines()]
    # id, true mpg, then the very rows of data/batch/ (the DataProcessing example's input)
    assert [r[2:] for r in rows] == [line.split(",") for line in batch.splitlines()]
    assert all(r[0].isdigit() and 5 < float(r[1]) < 50 for r in rows)


def test_training_job_is_submitted_and_its_logs_tailed(config: LaunchConfig) -> None:
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/TrainingJobs"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="train-moto/algo-1-1700000000")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="train-moto/algo-1-1700000000",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "validation:rmse=2.5"}],
    )
    lines: list[str] = []
    runner = Runner(config, aws_clients(config), lines.append, poll_seconds=0.1)
    job = jobs_run.train(runner, "train-moto", "prep-moto")
    assert job is not None and job["TrainingJobStatus"] == "Completed"
    assert "validation:rmse=2.5" in lines
    described = boto3.client("sagemaker", region_name=REGION).describe_training_job(
        TrainingJobName="train-moto"
    )
    assert described["AlgorithmSpecification"]["TrainingImage"].endswith("mpg-training:latest")
    assert described["EnableNetworkIsolation"] is True


def test_processing_then_status_via_the_cli(config: LaunchConfig) -> None:
    lines: list[str] = []
    assert (
        main(["preprocess", "--job-name", "prep-moto", "--poll-seconds", "0.1"], out=lines.append)
        == 0
    )
    assert "features: s3://" in "\n".join(lines)
    lines.clear()
    assert main(["status", "processing", "prep-moto"], out=lines.append) == 0
    assert '"ProcessingJobStatus": "Completed"' in lines[0]


def test_deploy_then_delete_leaves_nothing(config: LaunchConfig) -> None:
    sm = boto3.client("sagemaker", region_name=REGION)
    argv = ["--poll-seconds", "0.1"]
    assert (
        main(
            ["deploy", "--endpoint", "mpg-moto", "--training-job", "t1", *argv], out=lambda s: None
        )
        == 0
    )
    assert sm.describe_endpoint(EndpointName="mpg-moto")["EndpointStatus"] == "InService"
    # What an earlier deploy (blue/green update) leaves behind, tagged as deploy tags it:
    # moto has no UpdateEndpoint.
    old = "mpg-moto-20240101-000000"
    sm.create_model(
        ModelName=old,
        ExecutionRoleArn=config.role_arn,
        PrimaryContainer={"Image": "x"},
        Tags=kit_tags("mpg-moto"),
    )
    sm.create_endpoint_config(
        EndpointConfigName=old,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": old,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        Tags=kit_tags("mpg-moto"),
    )
    assert main(["delete", "--endpoint", "mpg-moto", *argv], out=lambda s: None) == 0
    assert sm.list_endpoints()["Endpoints"] == []
    assert sm.list_endpoint_configs()["EndpointConfigs"] == []
    assert sm.list_models()["Models"] == []
    # Deleting again is not an error: nothing is there.
    assert main(["delete", "--endpoint", "mpg-moto", *argv], out=lambda s: None) == 0


def test_tuning_job_is_submitted(config: LaunchConfig) -> None:
    lines: list[str] = []
    assert (
        main(
            [
                "tune",
                "--job-name",
                "tune-moto",
                "--preprocessing-job",
                "p1",
                "--poll-seconds",
                "0.1",
            ],
            out=lines.append,
        )
        == 0
    )
    sm = boto3.client("sagemaker", region_name=REGION)
    job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-moto")
    objective = job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective["MetricName"] == "validation:rmse"


def test_no_credentials_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["status", "endpoint", "x"], out=lambda s: None) != 0
    assert "no AWS credentials" in capsys.readouterr().err


def test_logs_prints_a_jobs_log_lines(aws_env: dict[str, str], bucket: str) -> None:
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/TrainingJobs"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="train-moto/algo-1-1700000000")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="train-moto/algo-1-1700000000",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "validation:rmse=2.500000"}],
    )
    lines: list[str] = []
    assert main(["logs", "training", "train-moto"], out=lines.append) == 0
    assert lines == ["validation:rmse=2.500000"]
    lines.clear()
    assert main(["logs", "endpoint", "nothing-here"], out=lines.append) == 0
    assert lines == ["no log events in /aws/sagemaker/Endpoints/nothing-here for AllTraffic/"]
