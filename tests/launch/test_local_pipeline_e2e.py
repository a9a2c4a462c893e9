"""A whole SageMaker Pipeline on the local engine with the real containers and moto's S3:
Preprocess -> Train -> Evaluate -> CheckRmse -> Register + CreateBatchModel + BatchPredict |
RmseTooHigh, run twice, once with an RMSE threshold the model meets and once with one it
misses. The definition is built here, in SageMaker's JSON shape, from the launcher's own
request builders (each step's Arguments: the request minus its name)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_launch.config import LaunchConfig, load_config
from mpg_launch.data import upload_splits
from mpg_launch.layout import batch_input_uri, s3_uri, split_s3_uri
from mpg_launch.local.sagemaker import local_clients
from mpg_launch.local.state import state_label
from mpg_launch.request_builders import (
    PROCESSING_ROOT,
    model_request,
    processing_request,
    training_request,
    transform_request,
)
from tests.launch.pipeline_shapes import (
    condition_step,
    definition,
    fail_step,
    get,
    join,
    json_get,
    parameter,
)

REGION = "us-east-1"
GROUP = "mpg-e2e"
PIPELINE = "mpg-e2e"
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


def arguments(request: dict[str, Any], name_field: str) -> dict[str, Any]:
    """A step's Arguments: the Create* request without the name the pipeline gives it."""
    return {k: v for k, v in request.items() if k != name_field}


def run_uri(config: LaunchConfig, step: str, output: str) -> dict[str, Any]:
    """Outputs under the execution's id, as the SDK lays out a step's default outputs."""
    base = s3_uri(config, "pipelines", PIPELINE)
    return join("/", base, get("Execution.PipelineExecutionId"), step, output)


def _processing_io(template: dict[str, Any], name: str, uri: Any, local: str) -> dict[str, Any]:
    kind = "S3Input" if "S3Input" in template else "S3Output"
    key = "InputName" if kind == "S3Input" else "OutputName"
    return {**template, key: name, kind: {**template[kind], "S3Uri": uri, "LocalPath": local}}


def output_uri(step: str, output: str) -> dict[str, str]:
    return get(f"Steps.{step}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


def pipeline_definition(config: LaunchConfig) -> dict[str, Any]:
    cached = {"CacheConfig": {"Enabled": True, "ExpireAfter": "P1D"}}
    model_data = get("Steps.Train.ModelArtifacts.S3ModelArtifacts")

    preprocess = arguments(processing_request(config, "unused"), "ProcessingJobName")
    for item in preprocess["ProcessingInputs"]:
        item["S3Input"]["S3Uri"] = join("/", get("Parameters.InputData"), item["InputName"])
    for item in preprocess["ProcessingOutputConfig"]["Outputs"]:
        item["S3Output"]["S3Uri"] = run_uri(config, "Preprocess", item["OutputName"])
    preprocess["ProcessingResources"]["ClusterConfig"].update(
        InstanceType=get("Parameters.ProcessingInstanceType"),
        InstanceCount=get("Parameters.ProcessingInstanceCount"),
    )

    train = arguments(training_request(config, "unused", "unused"), "TrainingJobName")
    for channel in train["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        name = channel["ChannelName"]
        source["S3Uri"] = (
            output_uri("Preprocess", "preprocessor")
            if name == "preprocessor"
            else join("/", output_uri("Preprocess", "features"), name)
        )
    train["HyperParameters"] = {
        "n_estimators": get("Parameters.NEstimators"),
        "max_depth": get("Parameters.MaxDepth"),
    }
    train["OutputDataConfig"]["S3OutputPath"] = run_uri(config, "Train", "output")
    train["ResourceConfig"]["InstanceType"] = get("Parameters.TrainingInstanceType")

    # The evaluate job: the processing request with the training image's `evaluate` command.
    evaluate = arguments(processing_request(config, "unused"), "ProcessingJobName")
    evaluate["AppSpecification"] = {
        "ImageUri": config.image_uri("training"),
        "ContainerEntrypoint": ["evaluate"],
        "ContainerArguments": [
            f"--model={PROCESSING_ROOT}/input/model",
            f"--test={PROCESSING_ROOT}/input/test",
            f"--report={PROCESSING_ROOT}/output/evaluation",
        ],
    }
    an_input = evaluate["ProcessingInputs"][0]
    evaluate["ProcessingInputs"] = [
        _processing_io(an_input, "model", model_data, f"{PROCESSING_ROOT}/input/model"),
        _processing_io(
            an_input,
            "test",
            join("/", get("Parameters.InputData"), "test"),
            f"{PROCESSING_ROOT}/input/test",
        ),
    ]
    evaluate["ProcessingOutputConfig"]["Outputs"] = [
        _processing_io(
            evaluate["ProcessingOutputConfig"]["Outputs"][0],
            "evaluation",
            run_uri(config, "Evaluate", "evaluation"),
            f"{PROCESSING_ROOT}/output/evaluation",
        )
    ]
    rmse = json_get("Evaluate", "EvaluationReport", "regression_metrics.rmse.value")

    register = {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": get("Parameters.ModelApprovalStatus"),
        "InferenceSpecification": {
            "Containers": [{"Image": config.image_uri("serving"), "ModelDataUrl": model_data}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {
                    "ContentType": "application/json",
                    "S3Uri": join("/", output_uri("Evaluate", "evaluation"), "evaluation.json"),
                }
            }
        },
    }
    batch_model = arguments(
        model_request(config, "unused", "s3://unused/model.tar.gz"), "ModelName"
    )
    batch_model["PrimaryContainer"]["ModelDataUrl"] = model_data
    batch = arguments(transform_request(config, "unused", "unused"), "TransformJobName")
    batch["ModelName"] = get("Steps.CreateBatchModel.ModelName")
    batch["TransformOutput"]["S3OutputPath"] = run_uri(config, "BatchPredict", "predictions")
    batch["TransformResources"] = {
        "InstanceType": get("Parameters.TransformInstanceType"),
        "InstanceCount": get("Parameters.TransformInstanceCount"),
    }

    check = condition_step(
        "CheckRmse",
        [
            {
                "Type": "LessThanOrEqualTo",
                "LeftValue": rmse,
                "RightValue": get("Parameters.RmseThreshold"),
            }
        ],
        [
            {"Name": "Register", "Type": "RegisterModel", "Arguments": register},
            {"Name": "CreateBatchModel", "Type": "Model", "Arguments": batch_model},
            {"Name": "BatchPredict", "Type": "Transform", "Arguments": batch},
        ],
        [
            fail_step(
                "RmseTooHigh",
                join(
                    " ",
                    "test RMSE",
                    rmse,
                    "is above the threshold RmseThreshold =",
                    get("Parameters.RmseThreshold"),
                ),
            )
        ],
    )
    return definition(
        [
            parameter("InputData", "String", s3_uri(config, config.raw_prefix)),
            parameter("ProcessingInstanceType", "String", "ml.m5.large"),
            parameter("ProcessingInstanceCount", "Integer", 1),
            parameter("TrainingInstanceType", "String", "ml.m5.large"),
            parameter("NEstimators", "String", "100"),
            parameter("MaxDepth", "String", "None"),
            parameter("RmseThreshold", "Float", 3.5),
            parameter("ModelApprovalStatus", "String", "PendingManualApproval"),
            parameter("TransformInstanceType", "String", "ml.m5.large"),
            parameter("TransformInstanceCount", "Integer", 1),
        ],
        [
            {"Name": "Preprocess", "Type": "Processing", "Arguments": preprocess, **cached},
            {"Name": "Train", "Type": "Training", "Arguments": train, **cached},
            {
                "Name": "Evaluate",
                "Type": "Processing",
                "Arguments": evaluate,
                "PropertyFiles": [
                    {
                        "PropertyFileName": "EvaluationReport",
                        "OutputName": "evaluation",
                        "FilePath": "evaluation.json",
                    }
                ],
                **cached,
            },
            check,
        ],
    )


def _read(uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())


def _ours(state_dir: Path) -> list[str]:
    label = f"mpg-launch.state={state_label(state_dir)}"
    done = subprocess.run(
        ["docker", "ps", "--all", "--format", "{{.Names}}", "--filter", f"label={label}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def _steps(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def test_pipeline_registers_a_good_model_and_stops_a_bad_one(
    bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    config = load_config(
        env=dict(os.environ), overrides={"local": True, "local_state_dir": str(state)}
    )
    lines: list[str] = []
    clients = local_clients(config, out=lines.append)
    sm = clients.sagemaker
    upload_splits(config, clients.s3)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    sm.create_pipeline(
        PipelineName=PIPELINE,
        PipelineDefinition=json.dumps(pipeline_definition(config)),
        RoleArn=config.role_arn,
    )

    def start(threshold: str) -> tuple[dict[str, Any], float]:
        began = time.monotonic()
        arn = sm.start_pipeline_execution(
            PipelineName=PIPELINE,
            PipelineParameters=[
                {"Name": "RmseThreshold", "Value": threshold},
                {"Name": "NEstimators", "Value": "30"},
            ],
        )["PipelineExecutionArn"]
        return sm.describe_pipeline_execution(PipelineExecutionArn=arn), time.monotonic() - began

    try:
        good, good_seconds = start("10")
        assert good["PipelineExecutionStatus"] == "Succeeded", (good, lines[-40:])
        steps = _steps(sm, good["PipelineExecutionArn"])
        step_seconds = {
            n: round((s["EndTime"] - s["StartTime"]).total_seconds(), 1) for n, s in steps.items()
        }
        assert list(steps) == STEPS_WHEN_GOOD
        assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
        assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "True"}

        # The registered package's ModelMetrics point at the evaluate job's report, whose
        # RMSE is the one the training job printed for the same test rows.
        (summary,) = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        assert summary["ModelApprovalStatus"] == "PendingManualApproval"
        package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        report_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
        execution_id = good["PipelineExecutionArn"].rsplit("/", 1)[-1]
        assert f"/{execution_id}/Evaluate/evaluation/evaluation.json" in report_uri
        rmse = json.loads(_read(report_uri))["regression_metrics"]["rmse"]["value"]
        train_job = sm.describe_training_job(
            TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
        )
        printed = {m["MetricName"]: m["Value"] for m in train_job["FinalMetricDataList"]}
        assert rmse == pytest.approx(printed["test:rmse"], abs=1e-5)
        assert train_job["HyperParameters"]["n_estimators"] == "30"
        assert (
            package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
            == (train_job["ModelArtifacts"]["S3ModelArtifacts"])
        )

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

        bad, bad_seconds = start("1.0")
        assert bad["PipelineExecutionStatus"] == "Failed"
        steps = _steps(sm, bad["PipelineExecutionArn"])
        assert list(steps) == ["Preprocess", "Train", "Evaluate", "CheckRmse", "RmseTooHigh"]
        for name in ("Preprocess", "Train", "Evaluate"):  # same inputs: the first run's
            assert steps[name]["CacheHitResult"] == {
                "SourcePipelineExecutionArn": good["PipelineExecutionArn"]
            }
        assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "False"}
        message = f"test RMSE {rmse} is above the threshold RmseThreshold = 1.0"
        assert steps["RmseTooHigh"]["StepStatus"] == "Failed"
        assert steps["RmseTooHigh"]["Metadata"]["Fail"] == {"ErrorMessage": message}
        assert bad["FailureReason"] == f"Step RmseTooHigh failed: {message}"
        listed = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        assert len(listed) == 1  # nothing registered by the failed execution
        assert _ours(state) == []  # every job and transform container is gone
        with capsys.disabled():
            print(
                f"\nlocal pipeline e2e: passing execution {good_seconds:.1f} s, "
                f"failing execution (cached) {bad_seconds:.1f} s; steps of the first {step_seconds}"
            )
    finally:
        for name in _ours(state):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
