"""Tables the kit does not ship, end to end through the real images on the local engine and
moto's S3, as a user types it: ``init`` on a CSV, ``data --source``, then

- diabetes (regression): preprocess, train, evaluate (the pipeline's evaluation job), deploy,
  predict;
- iris with string labels (classification): the local pipeline (preprocess, train, evaluate,
  the balanced-accuracy gate, register, batch predict), then the registered model approved,
  deployed and asked for labels and probabilities.

No file of the kit is edited and no image is rebuilt: the schema travels."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_launch.aws import names as layout
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.cli.clients import local_clients
from mpg_launch.cli.main import main
from mpg_launch.jobs import requests as build
from mpg_launch.settings.config import load_config
from tests.helpers.launch import containers_of
from tests.tables import write_table

REGION = "us-east-1"
IRIS_ROWS = "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,2.8,4.3,1.3\n"

pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(1200)]


def _read(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())


class Cli:
    """``mpg-launch ... --local`` as typed (``data`` without it), its output lines kept."""

    def __init__(self, schema: Path | None) -> None:
        self.lines: list[str] = []
        self.schema = schema

    def __call__(self, *argv: str) -> int:
        extra: list[str] = []
        if argv[0] != "init":  # init reads a local file and takes no settings
            # data writes to S3 (here the moto server) either way, so it takes no --local.
            extra = [] if argv[0] == "data" else ["--local", "--poll-seconds", "0.2"]
            extra += ["--schema", str(self.schema)] if self.schema else []
        return main([*argv, *extra], out=self.lines.append)

    def tail(self, n: int = 30) -> list[str]:
        return self.lines[-n:]


def _clean(state: Path) -> None:
    for name in containers_of(state):
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_a_regression_table_from_csv_to_predictions(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("MPG_LOCAL_STATE_DIR", str(state))
    table, target = write_table("diabetes", tmp_path)
    schema = tmp_path / "diabetes.toml"
    cli = Cli(schema)
    try:
        assert cli("init", "--table", str(table), "--target", target, "--out", str(schema)) == 0
        assert 'task = "regression"' in schema.read_text()
        assert cli("data", "--source", str(table)) == 0, cli.tail()
        assert cli("preprocess", "--job-name", "prep-diabetes") == 0, cli.tail()
        assert (
            cli(
                "train",
                "--job-name",
                "train-diabetes",
                "--preprocessing-job",
                "prep-diabetes",
                "-H",
                "n_estimators=50",
            )
            == 0
        ), cli.tail()
        printed = dict(
            line.split(" = ") for line in cli.lines if line.startswith("test:") and " = " in line
        )
        # A forest on diabetes: RMSE near 55-60 (the target's spread is 77), R^2 near 0.4.
        assert 40 < float(printed["test:rmse"]) < 70 and float(printed["test:r2"]) > 0.2

        assert cli("deploy", "--endpoint", "diabetes", "--training-job", "train-diabetes") == 0
        rows = tmp_path / "rows.csv"
        # Two patients: a young one with low BMI and blood sugar, an older one with high ones.
        rows.write_text("25,1,19.0,80,150,90,60,2,4.0,80\n60,2,35.0,110,220,140,35,6,5.4,110\n")
        cli.lines.clear()
        assert cli("predict", "--endpoint", "diabetes", "--file", str(rows)) == 0, cli.tail()
        low, high = (float(v) for v in cli.lines[-1].split())
        assert 25 <= low < high <= 346
        assert cli("delete", "--endpoint", "diabetes") == 0

        # The pipeline's evaluation job, on its own: the model and the raw test split in.
        config = load_config(env=dict(os.environ), overrides={"local": True, "schema": str(schema)})
        clients = local_clients(config, out=cli.lines.append)
        runner = Runner(config, clients, cli.lines.append, poll_seconds=0.2)
        model = _model_data(clients.sagemaker, "train-diabetes")
        request = build.evaluation_request(
            config, "eval-diabetes", model, layout.raw_uri(config, "test")
        )
        runner.submit(Submission("CreateProcessingJob", request))
        runner.wait_job("processing", "eval-diabetes")
        report_uri = layout.s3_uri(config, "evaluate/eval-diabetes/evaluation/evaluation.json")
        report = json.loads(_read(report_uri))
        assert report["regression_metrics"]["rmse"]["value"] == pytest.approx(
            float(printed["test:rmse"]), abs=1e-5
        )
    finally:
        _clean(state)


def _model_data(sagemaker: Any, training_job: str) -> str:
    job = sagemaker.describe_training_job(TrainingJobName=training_job)
    return str(job["ModelArtifacts"]["S3ModelArtifacts"])


def _steps(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def test_a_classification_table_through_the_pipeline_to_a_registered_endpoint(
    bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("MPG_LOCAL_STATE_DIR", str(state))
    table, target = write_table("iris", tmp_path)
    schema = tmp_path / "iris.toml"
    cli = Cli(schema)
    config = load_config(env=dict(os.environ), overrides={"local": True, "schema": str(schema)})
    try:
        assert cli("init", "--table", str(table), "--target", target, "--out", str(schema)) == 0
        assert cli("data", "--source", str(table)) == 0, cli.tail()
        assert cli("pipeline", "upsert") == 0, cli.tail()
        assert cli("pipeline", "start", "-P", "NEstimators=30") == 0, cli.tail()
        sm = local_clients(config, out=cli.lines.append).sagemaker
        (latest, *_) = sm.list_pipeline_executions(PipelineName=config.pipeline_name)[
            "PipelineExecutionSummaries"
        ]
        execution = sm.describe_pipeline_execution(
            PipelineExecutionArn=latest["PipelineExecutionArn"]
        )
        assert execution["PipelineExecutionStatus"] == "Succeeded", cli.tail(60)
        steps = _steps(sm, latest["PipelineExecutionArn"])
        assert list(steps) == [
            "Preprocess",
            "Train",
            "Evaluate",
            "CheckBalancedAccuracy",
            "Register",
            "CreateBatchModel",
            "BatchPredict",
        ]
        assert steps["CheckBalancedAccuracy"]["Metadata"]["Condition"] == {"Outcome": "True"}

        # The registered package: its report is the classification report the gate read.
        group = config.model_package_group
        (summary,) = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
        package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        report = json.loads(_read(package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]))
        assert report["classification_metrics"]["balanced_accuracy"]["value"] >= 0.7
        assert "multiclass_classification_metrics" in report

        # Batch predictions: one label per row of the batch input.
        transform_job = steps["BatchPredict"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1]
        transform = sm.describe_transform_job(TransformJobName=transform_job)
        out = transform["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out"
        labels = _read(out).decode().splitlines()
        batch = _read(layout.batch_input_uri(config) + "test.csv").decode().splitlines()
        assert len(labels) == len(batch) == 23
        assert set(labels) <= {"setosa", "versicolor", "virginica"}

        # Approve the registered model, deploy it and ask it.
        cli.lines.clear()
        assert cli("registry", "list") == 0
        listed = "\n".join(cli.lines)
        assert "PendingManualApproval" in listed and "balanced_accuracy=" in listed
        assert cli("registry", "approve", "1") == 0
        assert cli("registry", "deploy", "1", "--endpoint", "iris") == 0, cli.tail()
        rows = tmp_path / "rows.csv"
        rows.write_text(IRIS_ROWS)
        cli.lines.clear()
        assert cli("predict", "--endpoint", "iris", "--file", str(rows)) == 0, cli.tail()
        assert cli.lines[-1].split() == ["setosa", "virginica", "versicolor"]
        cli.lines.clear()
        argv = ["predict", "--endpoint", "iris", "--file", str(rows), "--accept"]
        assert cli(*argv, "application/json") == 0, cli.tail()
        answers = json.loads(cli.lines[-1])["predictions"]
        assert [a["label"] for a in answers] == ["setosa", "virginica", "versicolor"]
        for answer in answers:
            probabilities = answer["probabilities"]
            assert list(probabilities) == ["setosa", "versicolor", "virginica"]
            assert sum(probabilities.values()) == pytest.approx(1.0)
            assert max(probabilities, key=probabilities.get) == answer["label"]
        assert cli("delete", "--endpoint", "iris") == 0
        assert containers_of(state) == []
    finally:
        _clean(state)
