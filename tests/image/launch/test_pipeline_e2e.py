"""The project's own SageMaker Pipeline, end to end on the local engine, through the command line
a user types: `mpg-launch data`, `pipeline upsert`, `pipeline start -P ...`, `pipeline follow`,
`registry list|approve|deploy`, with the real containers and moto's S3. It runs twice: once
with an RMSE threshold the model meets (a model package is registered with its model-quality
report and batch predictions are written), once with one it misses (the execution fails at
RmseTooHigh with a message naming the RMSE and the check that decided; the first three steps
come from the cache). Once the first version is approved, `pipeline start` hands its model to
the evaluate step: a weaker model (one shallow tree) beats the trivial baseline but is refused
as worse than the approved version."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_launch.aws.names import batch_input_uri
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.cli.clients import local_clients
from mpg_launch.cli.main import main
from mpg_launch.settings.config import load_config
from tests.helpers.launch import containers_of

REGION = "us-east-1"
STEPS_WHEN_GOOD = [
    "Preprocess",
    "Train",
    "Evaluate",
    "CheckRmse",
    "Register",
    "CreateBatchModel",
    "BatchPredict",
]

pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]


def _read(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())


def _steps(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def _report_of(sm: Any, steps: dict[str, dict[str, Any]]) -> str:
    """The S3 URI of the Evaluate step's evaluation.json."""
    job = steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    described = sm.describe_processing_job(ProcessingJobName=job)
    (output,) = described["ProcessingOutputConfig"]["Outputs"]
    return str(output["S3Output"]["S3Uri"]).rstrip("/") + "/evaluation.json"


def test_pipeline_registers_a_good_model_and_stops_a_bad_one(
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("MPG_LOCAL_STATE_DIR", str(state))
    lines: list[str] = []

    def cli(*argv: str) -> int:
        return main([*argv, "--local", "--poll-seconds", "0.2"], out=lines.append)

    config = load_config(env=dict(os.environ), overrides={"local": True})
    sm = local_clients(config, out=lines.append).sagemaker

    def run(threshold: str, exit_code: int = 0, *overrides: str) -> tuple[dict[str, Any], float]:
        began = time.monotonic()
        given = overrides or ("-P", "NEstimators=30")
        code = cli("pipeline", "start", "-P", f"RmseThreshold={threshold}", *given)
        assert code == exit_code, lines[-40:]
        (latest, *_) = sm.list_pipeline_executions(PipelineName=config.pipeline_name)[
            "PipelineExecutionSummaries"
        ]
        arn = latest["PipelineExecutionArn"]
        return sm.describe_pipeline_execution(PipelineExecutionArn=arn), time.monotonic() - began

    try:
        # data writes to S3 (here moto) with or without --local, so it takes no --local.
        assert main(["data"], out=lines.append) == 0, lines[-20:]
        assert cli("pipeline", "upsert") == 0, lines[-20:]
        good, good_seconds = run("10")
        assert good["PipelineExecutionStatus"] == "Succeeded", lines[-40:]
        assert cli("pipeline", "follow") == 0
        steps = _steps(sm, good["PipelineExecutionArn"])
        step_seconds = {
            n: round((s["EndTime"] - s["StartTime"]).total_seconds(), 1) for n, s in steps.items()
        }
        assert list(steps) == STEPS_WHEN_GOOD
        assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
        assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "True"}

        # The registered package's ModelMetrics point at the evaluate job's report, whose RMSE
        # is the one the training job printed for the same test rows.
        group = config.model_package_group
        (summary,) = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
        assert summary["ModelApprovalStatus"] == "PendingManualApproval"
        package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        execution_id = good["PipelineExecutionArn"].rsplit("/", 1)[-1]
        assert report_uri.endswith(f"/{execution_id}/evaluation/evaluation.json")
        rmse = json.loads(_read(report_uri))["regression_metrics"]["rmse"]["value"]
        train_job = sm.describe_training_job(
            TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
        )
        printed = {m["MetricName"]: m["Value"] for m in train_job["FinalMetricDataList"]}
        assert rmse == pytest.approx(printed["test:rmse"], abs=1e-5)
        assert train_job["HyperParameters"]["n_estimators"] == "30"
        container = package["InferenceSpecification"]["Containers"][0]
        assert container["ModelDataUrl"] == train_job["ModelArtifacts"]["S3ModelArtifacts"]

        # Batch predictions: one per row of the batch input, plausible mpg values.
        transform = sm.describe_transform_job(
            TransformJobName=steps["BatchPredict"]["Metadata"]["TransformJob"]["Arn"].rsplit(
                "/", 1
            )[-1]
        )
        out = transform["TransformOutput"]["S3OutputPath"].rstrip("/") + "/test.csv.out"
        predictions = _read(out).decode().splitlines()
        rows = _read(batch_input_uri(config) + "test.csv").decode().splitlines()
        assert len(predictions) == len(rows) > 10
        assert all(5 < float(p) < 60 for p in predictions)

        # The registry loop: listed with its metrics, approved by version.
        lines.clear()
        assert cli("registry", "list") == 0
        listed = "\n".join(lines)
        assert "PendingManualApproval" in listed and f"{rmse:.3f}"[:4] in listed
        assert cli("registry", "approve", "1") == 0
        approved = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        assert approved["ModelApprovalStatus"] == "Approved"

        bad, bad_seconds = run("1.0", exit_code=1)  # the gate failed the execution
        assert bad["PipelineExecutionStatus"] == "Failed"
        assert cli("pipeline", "follow") != 0
        steps = _steps(sm, bad["PipelineExecutionArn"])
        assert list(steps) == ["Preprocess", "Train", "Evaluate", "CheckRmse", "RmseTooHigh"]
        assert steps["Preprocess"]["CacheHitResult"] == {
            "SourcePipelineExecutionArn": good["PipelineExecutionArn"]
        }
        assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "False"}
        message = (
            f"Test RMSE {rmse} - the gate failed the absolute check: rmse {rmse:.6g} not <= 1 "
            "(rmse at most 1) - the model was not registered"
        )
        assert steps["RmseTooHigh"]["StepStatus"] == "Failed"
        assert steps["RmseTooHigh"]["Metadata"]["Fail"] == {"ErrorMessage": message}
        assert bad["FailureReason"] == f"Step RmseTooHigh failed: {message}"
        # The same model as the approved one: the approved check passed, the threshold decided.
        report = json.loads(_read(_report_of(sm, steps)))
        assert [(c["check"], c["passed"]) for c in report["gate"]["checks"]] == [
            ("baseline", True),
            ("approved", True),
            ("absolute", False),
        ]
        listed_after = sm.list_model_packages(ModelPackageGroupName=group)
        assert len(listed_after["ModelPackageSummaryList"]) == 1  # nothing new registered

        # A weaker model under a threshold it meets: refused as worse than the approved one.
        weak, _ = run("10", 1, "-P", "NEstimators=1", "-P", "MaxDepth=1")
        steps = _steps(sm, weak["PipelineExecutionArn"])
        assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "False"}
        report = json.loads(_read(_report_of(sm, steps)))
        assert report["gate"]["decided_by"] == "approved", report["gate"]
        assert report["gate"]["checks"][0] == {**report["gate"]["checks"][0], "passed": True}
        assert report["gate"]["approved"]["metrics"]["rmse"] == pytest.approx(rmse, abs=1e-6)
        assert "failed the approved check" in steps["RmseTooHigh"]["FailureReason"]
        listed_after = sm.list_model_packages(ModelPackageGroupName=group)
        assert len(listed_after["ModelPackageSummaryList"]) == 1
        assert containers_of(state) == []  # every job and transform container is gone
        with capsys.disabled():
            print(
                f"\nlocal pipeline e2e: passing execution {good_seconds:.1f} s, "
                f"failing execution {bad_seconds:.1f} s; steps of the first {step_seconds}"
            )
    finally:
        for name in containers_of(state):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
