"""The local pipeline engine on small definitions in SageMaker's JSON shape, through the local
client's pipeline and registry calls, against moto's S3. The three container job runners are
replaced by fakes that answer as the real ones do (a Describe* record; the evaluate job writes
its report to S3), because the engine is under test here, not the containers (the end-to-end
test runs the real ones); models and the model registry are the real local ones."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.errors import ConfigError, RequestInvalid
from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.engine.pipeline_expressions import ExpressionError, lookup
from mpg_launch.local.engine.pipeline_runs import StepRunners
from mpg_launch.local.state import LocalState
from mpg_launch.pipeline.format import CONDITION_TYPES, PipelineDefinitionError
from tests.helpers.pipeline_shapes import (
    condition_step,
    definition,
    fail_step,
    get,
    join,
    json_get,
    parameter,
    shape_errors,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerExecution"
GROUP = "mpg-models"
pytestmark = pytest.mark.aws


class FakeJobs:
    """Processing, training and transform runners answering like the local ones."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rmse = 2.5
        self.gate: dict[str, Any] | None = None  # the evaluate step's verdict, when given
        self.fail: set[str] = set()  # job kinds that end Failed

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"

    def processing(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("Processing", request))
        if "Processing" in self.fail:
            return {
                **request,
                "ProcessingJobArn": self._arn("processing-job", request["ProcessingJobName"]),
                "ProcessingJobStatus": "Failed",
                "FailureReason": "AlgorithmError: DataError: train: missing column(s)",
            }
        if request["AppSpecification"].get("ContainerEntrypoint") == ["evaluate"]:
            output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
            bucket, key = split_s3_uri(output.rstrip("/") + "/evaluation.json")
            report: dict[str, Any] = {
                "regression_metrics": {"rmse": {"value": self.rmse, "standard_deviation": 0.1}}
            }
            if self.gate is not None:
                report["gate"] = self.gate
            self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(report).encode())
        return {
            **request,
            "ProcessingJobArn": self._arn("processing-job", request["ProcessingJobName"]),
            "ProcessingJobStatus": "Completed",
        }

    def training(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("Training", request))
        name = request["TrainingJobName"]
        base = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        return {
            **request,
            "TrainingJobArn": self._arn("training-job", name),
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"{base}/{name}/output/model.tar.gz"},
        }

    def transform(self, request: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("Transform", request))
        return {
            **request,
            "TransformJobArn": self._arn("transform-job", request["TransformJobName"]),
            "TransformJobStatus": "Completed",
        }

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


class FakeJobsSageMaker(LocalSageMaker):
    """The local client with the container runners swapped for :class:`FakeJobs`."""

    def __init__(self, s3: Any, state: LocalState, jobs: FakeJobs, lines: list[str]) -> None:
        super().__init__(s3, state, REGION, ACCOUNT, out=lines.append)
        self.jobs = jobs

    def _step_runners(self) -> StepRunners:
        return replace(
            super()._step_runners(),
            processing=self.jobs.processing,
            training=self.jobs.training,
            transform=self.jobs.transform,
        )


@pytest.fixture
def s3(bucket: str) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def jobs(s3: Any) -> FakeJobs:
    return FakeJobs(s3)


@pytest.fixture
def sm(s3: Any, jobs: FakeJobs, tmp_path: Path) -> FakeJobsSageMaker:
    client = FakeJobsSageMaker(s3, LocalState(tmp_path / "state"), jobs, [])
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    return client


def processing_step(
    name: str, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]], entrypoint: str
) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": get("Parameters.ProcessingInstanceCount"),
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": "mpg-training:test",
                "ContainerEntrypoint": [entrypoint],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {
                    "InputName": input_name,
                    "AppManaged": False,
                    "S3Input": {
                        "S3Uri": uri,
                        "LocalPath": f"/opt/ml/processing/input/{input_name}",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                        "S3CompressionType": "None",
                    },
                }
                for input_name, uri in inputs
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": output_name,
                        "AppManaged": False,
                        "S3Output": {
                            "S3Uri": uri,
                            "LocalPath": f"/opt/ml/processing/output/{output_name}",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                    for output_name, uri in outputs
                ]
            },
        },
    }


def run_output(bucket: str, step: str, output: str) -> dict[str, Any]:
    """Where a step writes: under the execution's id, as the SDK's default outputs are."""
    return join("/", "s3:/", bucket, "runs", get("Execution.PipelineExecutionId"), step, output)


def quality_pipeline(bucket: str, cache: str | None = "P30D") -> dict[str, Any]:
    """Preprocess -> Train -> Evaluate -> CheckRmse -> Register + CreateBatchModel +
    BatchPredict | RmseTooHigh, listed out of order so the engine must sort them."""
    preprocess = processing_step(
        "Preprocess",
        [("train", join("/", get("Parameters.InputData"), "train"))],
        [("features", run_output(bucket, "Preprocess", "features"))],
        "preprocess",
    )
    if cache:
        preprocess["CacheConfig"] = {"Enabled": True, "ExpireAfter": cache}
    preprocess["RetryPolicies"] = [
        {
            "BackoffRate": 2.0,
            "IntervalSeconds": 1,
            "MaxAttempts": 3,
            "ExceptionType": ["Step.THROTTLING"],
        }
    ]
    train = {
        "Name": "Train",
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": "mpg-training:test",
            },
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/training/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "ResourceConfig": {
                "VolumeSizeInGB": 30,
                "InstanceCount": 1,
                "InstanceType": "ml.m5.large",
            },
            "RoleArn": ROLE,
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": get(
                                "Steps.Preprocess.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri"
                            ),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "ChannelName": "train",
                }
            ],
            "HyperParameters": {"n_estimators": get("Parameters.NEstimators")},
        },
    }
    evaluate = processing_step(
        "Evaluate",
        [("model", get("Steps.Train.ModelArtifacts.S3ModelArtifacts"))],
        [("evaluation", run_output(bucket, "Evaluate", "evaluation"))],
        "evaluate",
    )
    evaluate["PropertyFiles"] = [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]
    rmse = json_get("Evaluate", "EvaluationReport", "regression_metrics.rmse.value")
    register = {
        "Name": "Register",
        "Type": "RegisterModel",
        "Arguments": {
            "ModelPackageGroupName": GROUP,
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": join(
                            "/",
                            get(
                                "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
                            ),
                            "evaluation.json",
                        ),
                    }
                }
            },
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": "mpg-serving:test",
                        "ModelDataUrl": get("Steps.Train.ModelArtifacts.S3ModelArtifacts"),
                    }
                ],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelApprovalStatus": get("Parameters.ModelApprovalStatus"),
        },
    }
    model = {
        "Name": "CreateBatchModel",
        "Type": "Model",
        "Arguments": {
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {
                "Image": "mpg-serving:test",
                "Environment": {},
                "ModelDataUrl": get("Steps.Train.ModelArtifacts.S3ModelArtifacts"),
            },
        },
    }
    transform = {
        "Name": "BatchPredict",
        "Type": "Transform",
        "Arguments": {
            "ModelName": get("Steps.CreateBatchModel.ModelName"),
            "TransformInput": {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/batch/"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            "TransformOutput": {"S3OutputPath": run_output(bucket, "BatchPredict", "out")},
            "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large"},
        },
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
        [register, model, transform],
        [
            fail_step(
                "RmseTooHigh",
                join(" ", "RMSE", rmse, "is above the threshold", get("Parameters.RmseThreshold")),
            )
        ],
    )
    return definition(
        [
            parameter("InputData", "String", f"s3://{bucket}/raw"),
            parameter("ProcessingInstanceCount", "Integer", 1),
            parameter("NEstimators", "String", "30"),
            parameter("RmseThreshold", "Float", 3.0),
            parameter("ModelApprovalStatus", "String", "PendingManualApproval"),
        ],
        [check, evaluate, train, preprocess],
    )


def start(sm: LocalSageMaker, name: str = "p", **parameters: str) -> dict[str, Any]:
    arn = sm.start_pipeline_execution(
        PipelineName=name,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
    )["PipelineExecutionArn"]
    return sm.describe_pipeline_execution(PipelineExecutionArn=arn)


def steps_of(sm: LocalSageMaker, execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    listed = sm.list_pipeline_execution_steps(
        PipelineExecutionArn=execution["PipelineExecutionArn"], SortOrder="Ascending"
    )
    assert shape_errors("ListPipelineExecutionSteps", listed) == []
    return {s["StepName"]: s for s in listed["PipelineExecutionSteps"]}


def create(sm: LocalSageMaker, body: dict[str, Any], name: str = "p") -> None:
    sm.create_pipeline(PipelineName=name, PipelineDefinition=json.dumps(body), RoleArn=ROLE)


def test_steps_run_in_dependency_order_and_expressions_resolve(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    execution = start(sm)
    assert shape_errors("DescribePipelineExecution", execution) == []
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    execution_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    steps = steps_of(sm, execution)
    assert list(steps) == [
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckRmse",
        "Register",
        "CreateBatchModel",
        "BatchPredict",
    ]
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values())
    assert jobs.kinds() == ["Processing", "Training", "Processing", "Transform"]
    preprocess, train, evaluate, transform = (request for _, request in jobs.calls)
    # Std:Join of a parameter and of execution variables; typed parameters.
    assert preprocess["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{bucket}/raw/train"
    features = f"s3://{bucket}/runs/{execution_id}/Preprocess/features"
    assert preprocess["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == features
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert preprocess["ProcessingJobName"] == f"pipelines-{execution_id}-preprocess"
    # Get of another step's properties (an Outputs list indexed by OutputName).
    channel = train["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == features
    assert train["HyperParameters"] == {"n_estimators": "30"}
    model_tar = f"s3://{bucket}/training/{train['TrainingJobName']}/output/model.tar.gz"
    assert evaluate["ProcessingInputs"][0]["S3Input"]["S3Uri"] == model_tar
    model = sm.describe_model(ModelName=transform["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == model_tar
    assert steps["CreateBatchModel"]["Metadata"]["Model"]["Arn"] == model["ModelArn"]
    assert steps["Train"]["Metadata"]["TrainingJob"]["Arn"].endswith(train["TrainingJobName"])
    assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "True"}
    # The registered package points at the report the condition read.
    package = sm.describe_model_package(
        ModelPackageName=steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    )
    assert shape_errors("DescribeModelPackage", package) == []
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageVersion"] == 1
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert statistics == f"s3://{bucket}/runs/{execution_id}/Evaluate/evaluation/evaluation.json"


def test_overrides_are_typed_and_reach_the_requests(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    execution = start(
        sm,
        ProcessingInstanceCount="2",
        NEstimators="50",
        InputData=f"s3://{bucket}/other",
        ModelApprovalStatus="Approved",
    )
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    preprocess, train = jobs.calls[0][1], jobs.calls[1][1]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    assert preprocess["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{bucket}/other/train"
    assert train["HyperParameters"] == {"n_estimators": "50"}
    parameters = sm.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {"Name": "ProcessingInstanceCount", "Value": "2"} in parameters
    assert {"Name": "RmseThreshold", "Value": "3.0"} in parameters  # the default
    (package,) = sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    assert package["ModelApprovalStatus"] == "Approved"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ProcessingInstanceCount", "two", "parameter ProcessingInstanceCount is of type Integer"),
        ("ProcessingInstanceCount", "1.5", "parameter ProcessingInstanceCount is of type Integer"),
        ("RmseThreshold", "low", "parameter RmseThreshold is of type Float"),
        ("RmseThreshold", "nan", "parameter RmseThreshold is of type Float"),
        ("Nope", "1", "unknown pipeline parameter 'Nope'"),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str, name: str, value: str, expected: str
) -> None:
    create(sm, quality_pipeline(bucket))
    with pytest.raises(PipelineDefinitionError, match=expected) as raised:
        start(sm, **{name: value})
    assert raised.value.exit_code == 2
    assert jobs.calls == []
    assert sm.list_pipeline_executions(PipelineName="p")["PipelineExecutionSummaries"] == []


def test_parameters_without_default_and_typed_defaults(sm: FakeJobsSageMaker) -> None:
    body = definition(
        [parameter("Needed", "String"), parameter("Switch", "Boolean", True)],
        [
            condition_step(
                "C", [{"Type": "Equals", "LeftValue": get("Parameters.Switch"), "RightValue": True}]
            )
        ],
    )
    create(sm, body)
    with pytest.raises(PipelineDefinitionError, match="parameter Needed has no default value"):
        start(sm)
    with pytest.raises(PipelineDefinitionError, match="Switch is of type Boolean"):
        start(sm, Needed="x", Switch="maybe")
    execution = start(sm, Needed="x", Switch="FALSE")
    assert steps_of(sm, execution)["C"]["Metadata"]["Condition"] == {"Outcome": "False"}
    bad_default = definition([parameter("N", "Integer", "three")], body["Steps"])
    with pytest.raises(PipelineDefinitionError, match="parameter N is of type Integer"):
        create(sm, bad_default, name="q")


def test_json_get_failing_the_condition_runs_the_fail_step(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    jobs.rmse = 3.75
    execution = start(sm, RmseThreshold="3.5")
    assert execution["PipelineExecutionStatus"] == "Failed"
    steps = steps_of(sm, execution)
    assert list(steps) == ["Preprocess", "Train", "Evaluate", "CheckRmse", "RmseTooHigh"]
    assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": "False"}
    message = "RMSE 3.75 is above the threshold 3.5"
    assert steps["RmseTooHigh"]["StepStatus"] == "Failed"
    assert steps["RmseTooHigh"]["FailureReason"] == message
    assert steps["RmseTooHigh"]["Metadata"]["Fail"] == {"ErrorMessage": message}
    assert execution["FailureReason"] == f"Step RmseTooHigh failed: {message}"
    assert sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []
    summary = sm.list_pipeline_executions(PipelineName="p")["PipelineExecutionSummaries"][0]
    assert summary["PipelineExecutionStatus"] == "Failed"
    assert message in summary["PipelineExecutionFailureReason"]


@pytest.mark.parametrize("passed", [True, False])
def test_the_kits_gate_reads_the_evaluate_steps_verdict(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str, passed: bool
) -> None:
    """The kit's condition (mpg_launch.pipeline.definition.gate_step): ConditionEquals of the
    report's gate.passed (a JSON boolean) with true; the Fail step quotes gate.reason."""
    body = quality_pipeline(bucket)
    check = next(s for s in body["Steps"] if s["Name"] == "CheckRmse")
    verdict = json_get("Evaluate", "EvaluationReport", "gate.passed")
    check["Arguments"]["Conditions"] = [
        {"Type": "Equals", "LeftValue": verdict, "RightValue": True}
    ]
    reason = json_get("Evaluate", "EvaluationReport", "gate.reason")
    check["Arguments"]["ElseSteps"] = [fail_step("RmseTooHigh", join(" ", "the gate", reason))]
    create(sm, body)
    why = "failed the approved check: rmse 2.5 not <= 2.02 (...)"
    jobs.gate = {"passed": passed, "decided_by": "all" if passed else "approved", "reason": why}
    execution = start(sm, RmseThreshold="1.0")  # not in the condition: evaluate applies it
    steps = steps_of(sm, execution)
    assert steps["CheckRmse"]["Metadata"]["Condition"] == {"Outcome": str(passed)}
    if passed:
        assert execution["PipelineExecutionStatus"] == "Succeeded"
        assert "Register" in steps and "RmseTooHigh" not in steps
    else:
        assert execution["PipelineExecutionStatus"] == "Failed"
        assert steps["RmseTooHigh"]["FailureReason"] == f"the gate {why}"
        assert "Register" not in steps


def test_a_failed_job_fails_the_execution_and_nothing_after_it_runs(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    jobs.fail.add("Processing")
    execution = start(sm)
    assert execution["PipelineExecutionStatus"] == "Failed"
    steps = steps_of(sm, execution)
    assert list(steps) == ["Preprocess"]
    assert steps["Preprocess"]["StepStatus"] == "Failed"
    assert steps["Preprocess"]["FailureReason"] == (
        "ProcessingJob Failed: AlgorithmError: DataError: train: missing column(s)"
    )
    assert steps["Preprocess"]["Metadata"]["ProcessingJob"]["Arn"].endswith("-preprocess")
    assert jobs.kinds() == ["Processing"]


def test_a_missing_json_path_fails_the_condition_step(sm: FakeJobsSageMaker, bucket: str) -> None:
    body = quality_pipeline(bucket)
    check = body["Steps"][0]
    check["Arguments"]["Conditions"][0]["LeftValue"] = json_get(
        "Evaluate", "EvaluationReport", "regression_metrics.mape.value"
    )
    create(sm, body)
    execution = start(sm)
    step = steps_of(sm, execution)["CheckRmse"]
    assert step["StepStatus"] == "Failed"
    assert "regression_metrics.mape.value has no 'mape'" in step["FailureReason"]


def test_caching_reuses_the_earlier_processing_run(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    first = start(sm)
    second = start(sm)
    first_run = ["Processing", "Training", "Processing", "Transform"]
    assert jobs.kinds() == [*first_run, "Training", "Processing", "Transform"]
    before, after = steps_of(sm, first), steps_of(sm, second)
    assert "CacheHitResult" not in before["Preprocess"]
    assert after["Preprocess"]["CacheHitResult"] == {
        "SourcePipelineExecutionArn": first["PipelineExecutionArn"]
    }
    assert after["Preprocess"]["Metadata"] == before["Preprocess"]["Metadata"]
    assert "CacheHitResult" not in after["Train"]  # no CacheConfig: it runs again
    # The reused run's outputs feed the next step (the first execution's prefix).
    first_id = first["PipelineExecutionArn"].rsplit("/", 1)[-1]
    channel = jobs.calls[-3][1]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == f"s3://{bucket}/runs/{first_id}/Preprocess/features"
    # A changed cache-key attribute (the input) runs the step again.
    start(sm, InputData=f"s3://{bucket}/other")
    assert jobs.kinds().count("Processing") == 5


def test_an_expired_cache_entry_is_not_used(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket, cache="PT0S"))
    start(sm)
    second = start(sm)
    assert "CacheHitResult" not in steps_of(sm, second)["Preprocess"]
    assert jobs.kinds().count("Processing") == 4


CONDITION_CASES = [
    ({"Type": "Equals", "LeftValue": get("Parameters.I"), "RightValue": 3}, True),
    ({"Type": "Equals", "LeftValue": get("Parameters.S"), "RightValue": "b"}, False),
    ({"Type": "Equals", "LeftValue": get("Parameters.B"), "RightValue": True}, True),
    (
        {
            "Type": "GreaterThan",
            "LeftValue": get("Parameters.F"),
            "RightValue": get("Parameters.I"),
        },
        False,
    ),
    ({"Type": "GreaterThan", "LeftValue": get("Parameters.I"), "RightValue": 2.5}, True),
    ({"Type": "GreaterThanOrEqualTo", "LeftValue": get("Parameters.I"), "RightValue": 3}, True),
    ({"Type": "GreaterThanOrEqualTo", "LeftValue": get("Parameters.F"), "RightValue": 3}, False),
    (
        {"Type": "LessThan", "LeftValue": get("Parameters.F"), "RightValue": get("Parameters.I")},
        True,
    ),
    ({"Type": "LessThan", "LeftValue": get("Parameters.S"), "RightValue": "a"}, False),
    ({"Type": "LessThanOrEqualTo", "LeftValue": 3.0, "RightValue": get("Parameters.I")}, True),
    ({"Type": "LessThanOrEqualTo", "LeftValue": 3.01, "RightValue": get("Parameters.I")}, False),
    ({"Type": "In", "QueryValue": get("Parameters.S"), "Values": ["x", "a", "y"]}, True),
    ({"Type": "In", "QueryValue": get("Parameters.I"), "Values": [1, 2]}, False),
    (
        {
            "Type": "Not",
            "Condition": {"Type": "Equals", "LeftValue": get("Parameters.S"), "RightValue": "a"},
        },
        False,
    ),
    ({"Type": "Not", "Condition": {"Type": "In", "QueryValue": 5, "Values": [1]}}, True),
    (
        {
            "Type": "Or",
            "Conditions": [
                {"Type": "Equals", "LeftValue": get("Parameters.S"), "RightValue": "z"},
                {"Type": "LessThan", "LeftValue": get("Parameters.F"), "RightValue": 2.75},
            ],
        },
        True,
    ),
    (
        {
            "Type": "Or",
            "Conditions": [
                {"Type": "Equals", "LeftValue": get("Parameters.S"), "RightValue": "z"},
                {"Type": "Equals", "LeftValue": get("Parameters.B"), "RightValue": False},
            ],
        },
        False,
    ),
]


def test_the_condition_cases_cover_every_condition_type() -> None:
    assert {case["Type"] for case, _ in CONDITION_CASES} == set(CONDITION_TYPES)


@pytest.mark.parametrize(("condition", "expected"), CONDITION_CASES)
def test_condition_types(sm: FakeJobsSageMaker, condition: dict[str, Any], expected: bool) -> None:
    body = definition(
        [
            parameter("I", "Integer", 3),
            parameter("F", "Float", 2.5),
            parameter("S", "String", "a"),
            parameter("B", "Boolean", True),
        ],
        [
            condition_step(
                "Check",
                [condition],
                [fail_step("WhenTrue", "true branch")],
                [
                    fail_step(
                        "WhenFalse", join("-", "false", get("Parameters.S"), get("Parameters.B"))
                    )
                ],
            )
        ],
    )
    create(sm, body)
    execution = start(sm)
    steps = steps_of(sm, execution)
    assert steps["Check"]["Metadata"]["Condition"] == {"Outcome": str(expected)}
    taken = "WhenTrue" if expected else "WhenFalse"
    assert list(steps) == ["Check", taken]
    assert steps[taken]["FailureReason"] == ("true branch" if expected else "false-a-true")


def test_all_conditions_of_a_step_must_hold(sm: FakeJobsSageMaker) -> None:
    holds = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}
    fails = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    create(sm, definition([], [condition_step("C", [holds, fails])]))
    assert steps_of(sm, start(sm))["C"]["Metadata"]["Condition"] == {"Outcome": "False"}


def test_comparing_text_with_a_number_fails_the_step(sm: FakeJobsSageMaker) -> None:
    condition = {"Type": "LessThan", "LeftValue": "abc", "RightValue": 3}
    create(sm, definition([], [condition_step("C", [condition])]))
    execution = start(sm)
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "LessThan: cannot compare 'abc' with 3" in steps_of(sm, execution)["C"]["FailureReason"]


def _with_depends(step: dict[str, Any], *names: str) -> dict[str, Any]:
    return {**step, "DependsOn": list(names)}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            [
                _with_depends(fail_step("A", get("Steps.B.Outcome")), "C"),
                condition_step("B", [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}]),
                _with_depends(
                    condition_step("C", [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}]), "A"
                ),
            ],
            r"step A: the steps depend on each other in a cycle: A -> C -> A",
        ),
        (
            [{"Name": "Hook", "Type": "Lambda", "Arguments": {}}],
            r"step Hook: Type 'Lambda' is not one the local engine runs",
        ),
        (
            [condition_step("C", [{"Type": "Between", "LeftValue": 1, "RightValue": 2}])],
            r"step C: condition Type 'Between' is not one of",
        ),
        (
            [fail_step("A", "x"), fail_step("A", "y")],
            r"step A: the name is used by another step; names are unique",
        ),
        (
            [_with_depends(fail_step("A", "x"), "Ghost")],
            r"step A: DependsOn names no step 'Ghost'",
        ),
        (
            [fail_step("A", get("Parameters.Ghost"))],
            r"step A: \{'Get': 'Parameters.Ghost'\}: no parameter 'Ghost'",
        ),
        (
            [{**fail_step("A", "x"), "CacheConfig": {"Enabled": True, "ExpireAfter": "30 days"}}],
            r"CacheConfig.ExpireAfter '30 days' is not an ISO 8601 duration",
        ),
    ],
)
def test_bad_definitions_are_refused_when_stored(
    sm: FakeJobsSageMaker, steps: list[dict[str, Any]], expected: str
) -> None:
    with pytest.raises(PipelineDefinitionError, match=expected):
        create(sm, definition([], steps))
    assert sm.list_pipelines()["PipelineSummaries"] == []


def test_unknown_step_type_is_refused_inside_a_branch_too(sm: FakeJobsSageMaker) -> None:
    hook = {"Name": "Notify", "Type": "Callback", "Arguments": {}}
    body = definition(
        [], [condition_step("C", [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}], [hook])]
    )
    with pytest.raises(
        ConfigError, match="step Notify: Type 'Callback' is not one the local engine runs"
    ):
        create(sm, body)


def test_pipeline_calls_answer_like_boto3(sm: FakeJobsSageMaker, bucket: str) -> None:
    create(sm, quality_pipeline(bucket))
    described = sm.describe_pipeline(PipelineName="p")
    assert shape_errors("DescribePipeline", described) == []
    body = quality_pipeline(bucket, cache=None)
    updated = sm.update_pipeline(PipelineName="p", PipelineDefinition=json.dumps(body))
    assert updated["PipelineVersionId"] == 2
    assert (
        json.loads(
            sm.describe_pipeline(PipelineName=described["PipelineArn"])["PipelineDefinition"]
        )
        == body
    )
    with pytest.raises(ClientError) as missing:
        sm.describe_pipeline(PipelineName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError):
        create(sm, body)  # the name is taken
    with pytest.raises(RequestInvalid):
        sm.start_pipeline_execution(
            PipelineName="p", PipelineParameters=[{"Name": "NEstimators", "Value": 5}]
        )
    arns = [start(sm)["PipelineExecutionArn"] for _ in range(3)]
    pages = list(
        sm.get_paginator("list_pipeline_executions").paginate(PipelineName="p", MaxResults=2)
    )
    assert [len(p["PipelineExecutionSummaries"]) for p in pages] == [2, 1]
    for page in pages:
        assert shape_errors("ListPipelineExecutions", page) == []
    listed = [s["PipelineExecutionArn"] for p in pages for s in p["PipelineExecutionSummaries"]]
    assert listed == arns[::-1]  # newest first, as SageMaker lists them
    descending = sm.list_pipeline_execution_steps(PipelineExecutionArn=arns[0])
    assert descending["PipelineExecutionSteps"][0]["StepName"] == "BatchPredict"
    with pytest.raises(ClientError):
        sm.describe_pipeline_execution(PipelineExecutionArn=arns[0][:-1] + "x")
    assert shape_errors("ListPipelines", sm.list_pipelines()) == []


def test_registry_list_approve_and_models_from_a_package(
    sm: FakeJobsSageMaker, bucket: str
) -> None:
    create(sm, quality_pipeline(bucket))
    start(sm)
    start(sm, ModelApprovalStatus="Approved")
    listed = sm.list_model_packages(ModelPackageGroupName=GROUP, SortOrder="Descending")
    assert shape_errors("ListModelPackages", listed) == []
    newest, oldest = listed["ModelPackageSummaryList"]
    assert (newest["ModelPackageVersion"], oldest["ModelPackageVersion"]) == (2, 1)
    pending = sm.list_model_packages(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval"
    )
    assert [p["ModelPackageArn"] for p in pending["ModelPackageSummaryList"]] == [
        oldest["ModelPackageArn"]
    ]
    sm.update_model_package(
        ModelPackageArn=oldest["ModelPackageArn"],
        ModelApprovalStatus="Rejected",
        ApprovalDescription="worse",
    )
    rejected = sm.describe_model_package(ModelPackageName=oldest["ModelPackageArn"])
    assert (rejected["ModelApprovalStatus"], rejected["ApprovalDescription"]) == (
        "Rejected",
        "worse",
    )
    assert rejected["LastModifiedTime"] > rejected["CreationTime"]
    with pytest.raises(RequestInvalid):
        sm.update_model_package(
            ModelPackageArn=oldest["ModelPackageArn"], ModelApprovalStatus="Maybe"
        )
    group = sm.describe_model_package_group(ModelPackageGroupName=GROUP)
    assert shape_errors("DescribeModelPackageGroup", group) == []
    with pytest.raises(ClientError, match="does not exist"):
        sm.create_model_package(
            ModelPackageGroupName="nope", InferenceSpecification=rejected["InferenceSpecification"]
        )
    # A model made from a package gets the package's image and model data.
    sm.create_model(
        ModelName="from-package",
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": newest["ModelPackageArn"]}],
    )
    model = sm.describe_model(ModelName="from-package")
    package = sm.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
    assert model["PrimaryContainer"] == package["InferenceSpecification"]["Containers"][0]


def test_progress_is_recorded_while_the_execution_runs(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    """What another process (``pipeline follow``) reads while a step's job runs."""
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    run_training = jobs.training

    def training(request: dict[str, Any]) -> dict[str, Any]:
        (summary,) = sm.list_pipeline_executions(PipelineName="p")["PipelineExecutionSummaries"]
        arn = summary["PipelineExecutionArn"]
        steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn, SortOrder="Ascending")
        seen.append(
            (
                sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"],
                [(s["StepName"], s["StepStatus"]) for s in steps["PipelineExecutionSteps"]],
            )
        )
        return run_training(request)

    jobs.training = training
    create(sm, quality_pipeline(bucket))
    assert start(sm)["PipelineExecutionStatus"] == "Succeeded"
    assert seen == [("Executing", [("Preprocess", "Succeeded"), ("Train", "Executing")])]


def test_property_paths_index_lists_by_name_and_position() -> None:
    record = {
        "FinalMetricDataList": [
            {"MetricName": "train:rmse", "Value": 1.1},
            {"MetricName": "validation:rmse", "Value": 2.5},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [{"OutputName": "a b", "S3Output": {"S3Uri": "s3://x"}}]
        },
    }
    assert lookup(record, ".FinalMetricDataList['validation:rmse'].Value", "t") == 2.5
    assert lookup(record, '.FinalMetricDataList[0]["Value"]', "t") == 1.1
    assert lookup(record, "ProcessingOutputConfig.Outputs['a b'].S3Output.S3Uri", "t") == "s3://x"
    with pytest.raises(ExpressionError, match=r"no element named 'test:rmse'"):
        lookup(record, ".FinalMetricDataList['test:rmse'].Value", "t")
    with pytest.raises(ExpressionError, match=r"has no 'ModelArtifacts'"):
        lookup(record, ".ModelArtifacts.S3ModelArtifacts", "t")
    with pytest.raises(ExpressionError, match="cannot read the path"):
        lookup(record, ".Outputs[", "t")


def test_a_runner_error_fails_its_step_with_the_reason(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    def transform(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the engine is gone")

    jobs.transform = transform
    create(sm, quality_pipeline(bucket))
    execution = start(sm)
    assert execution["PipelineExecutionStatus"] == "Failed"
    step = steps_of(sm, execution)["BatchPredict"]
    assert (step["StepStatus"], step["FailureReason"]) == (
        "Failed",
        "RuntimeError: the engine is gone",
    )


def test_job_name_and_experiment_variables_resolve(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    """Execution.ProcessingJobName is the name of the job the reading step runs;
    PipelineExperimentConfig.ExperimentName the pipeline's name (the SDK's defaults)."""
    output = join("/", "s3:/", bucket, get("Execution.ProcessingJobName"))
    step = processing_step("Prep", [], [("out", output)], "preprocess")
    step["Arguments"]["Environment"] = {
        "EXPERIMENT": get("PipelineExperimentConfig.ExperimentName")
    }
    create(sm, definition([parameter("ProcessingInstanceCount", "Integer", 1)], [step]))
    assert start(sm)["PipelineExecutionStatus"] == "Succeeded"
    ((_, request),) = jobs.calls
    uri = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert uri == f"s3://{bucket}/{request['ProcessingJobName']}"
    assert request["Environment"] == {"EXPERIMENT": "p"}


def test_what_a_user_sees_while_the_pipeline_runs(
    s3: Any, jobs: FakeJobs, bucket: str, tmp_path: Path
) -> None:
    """One line per step change; the gate's value against its threshold, the registered
    package's version, where the report (and the plots beside it) and the model are."""
    lines: list[str] = []
    sm = FakeJobsSageMaker(s3, LocalState(tmp_path / "state"), jobs, lines)
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    create(sm, quality_pipeline(bucket))
    execution = start(sm)
    run_id = execution["PipelineExecutionArn"].rsplit("/", 1)[-1]
    text = "\n".join(lines)
    assert lines[0].endswith(f"/execution/{run_id}: Executing")
    assert len([line for line in lines if line.endswith("): Executing")]) == 7
    assert len([line for line in lines if ": Succeeded in " in line]) == 7
    assert re.search(
        r"CheckRmse: Succeeded in \d+s: regression_metrics.rmse.value 2.5 <= RmseThreshold 3.0: "
        r"True \(IfSteps run\)",
        text,
    ), text
    assert "Register: Succeeded in" in text and f"model package {GROUP} version 1 " in text
    report = f"s3://{bucket}/runs/{run_id}/Evaluate/evaluation/evaluation.json"
    assert f"report {report} (plots beside it in " in text
    assert re.search(r"Train: Succeeded in \d+s: model s3://.*/model.tar.gz", text), text
    assert re.fullmatch(r"pipeline execution Succeeded after \dm\d\ds", lines[-1]), lines[-1]


def test_ctrl_c_in_a_step_records_stopped_and_goes_on(
    sm: FakeJobsSageMaker, jobs: FakeJobs, bucket: str
) -> None:
    """The interrupt reaches the CLI (exit 130); the execution and the step say Stopped,
    not Failed, and no later step starts."""

    def interrupted(request: dict[str, Any]) -> dict[str, Any]:
        jobs.calls.append(("Training", request))
        raise KeyboardInterrupt

    jobs.training = interrupted  # type: ignore[method-assign]
    create(sm, quality_pipeline(bucket))
    with pytest.raises(KeyboardInterrupt):
        start(sm)
    (summary,) = sm.list_pipeline_executions(PipelineName="p")["PipelineExecutionSummaries"]
    assert summary["PipelineExecutionStatus"] == "Stopped"
    steps = steps_of(sm, summary)
    assert [(n, s["StepStatus"]) for n, s in steps.items()] == [
        ("Preprocess", "Succeeded"),
        ("Train", "Stopped"),
    ]
    assert steps["Train"]["FailureReason"] == "Stopped by the user (Ctrl-C)"
    assert jobs.kinds() == ["Processing", "Training"]
