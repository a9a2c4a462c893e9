"""Our definition against the SageMaker SDK's (v2, a dev-only dependency): the equivalent
pipeline built with the SDK's steps, offline (a PipelineSession with telemetry off, explicit
S3 destinations, and an endpoint nobody answers on, so any AWS call would fail), and the two
``definition()``s compared by shape: top-level keys, step types, step-level keys, parameter
objects, retry/cache/property-file objects, condition and fail arguments, and where each
``Get``/``Std:Join``/``Std:JsonGet`` sits and how it is spelled. Not byte equality: a shape
comparison that fails if our JSON drifts from what SageMaker accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from mpg_launch.aws import names as layout
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.format import all_steps
from mpg_launch.settings.config import LaunchConfig, load_config
from tests.helpers.common import free_port
from tests.helpers.launch import STUB_ROLE

pytestmark = pytest.mark.slow  # importing the SDK takes seconds
SDK_SUFFIXES = re.compile(r"-(RegisterModel|CreateModel)\b")  # names of the SDK's collections
PROCESSING = "/opt/ml/processing"
SPLITS = ("train", "validation", "test")
# Members the SDK adds to its requests that ours leave out, on purpose: no debugger/profiler
# (a custom image has no smdebug hook), no explicit empty bias/explainability metrics.
SDK_ONLY = {
    "DebugHookConfig",
    "ProfilerConfig",
    "SkipModelValidation",
    "Environment",
    "Bias",
    "Explainability",
}


CONFIG = load_config(
    env={
        "MPG_REGION": "eu-west-1",
        "MPG_ROLE_ARN": STUB_ROLE,
        "MPG_BUCKET": "my-bucket",
        "MPG_IMAGE_TAG": "git-abc",
    }
)


@pytest.fixture(scope="module")
def sdk_definition() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        # Nothing listens here: an SDK call to AWS would fail the test instead of leaving.
        env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
        return _sdk_definition(CONFIG)


def _sdk_definition(config: LaunchConfig) -> dict[str, Any]:
    import boto3
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
    )
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TransformStep

    session = PipelineSession(
        boto_session=boto3.Session(region_name=config.region),
        default_bucket=config.bucket,
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )
    role = config.role_arn
    input_data = ParameterString("InputData", default_value=layout.s3_uri(config, "data/bronze"))
    batch_input = ParameterString("BatchInputData", default_value=layout.batch_input_uri(config))
    processing_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.large")
    processing_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    training_type = ParameterString("TrainingInstanceType", default_value="ml.m5.large")
    n_estimators = ParameterString("NEstimators", default_value="")
    max_depth = ParameterString("MaxDepth", default_value="")
    threshold = ParameterFloat("RmseThreshold", default_value=4.0)
    approval = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    approved_model = ParameterString(
        "ApprovedModelData", default_value=layout.no_approved_model_uri(config)
    )
    transform_type = ParameterString("TransformInstanceType", default_value="ml.m5.large")
    transform_count = ParameterInteger("TransformInstanceCount", default_value=1)
    retry = [
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.INTERNAL_ERROR,
            ],
            max_attempts=5,
            interval_seconds=60,
            backoff_rate=2.0,
        )
    ]

    def run_output(step: str, output: str) -> Any:
        return Join(
            on="",
            values=[
                layout.s3_uri(config, step) + "/",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                f"/{output}/",
            ],
        )

    preprocessing = Processor(
        role=role,
        image_uri=config.image_uri("preprocessing"),
        instance_count=processing_count,
        instance_type=processing_type,
        sagemaker_session=session,
    )
    preprocess = ProcessingStep(
        "Preprocess",
        step_args=preprocessing.run(
            # The whole train split to fit on (every host), then each split's share.
            inputs=[
                ProcessingInput(
                    source=Join(on="", values=[input_data, f"/{split}/"]),
                    destination=f"{PROCESSING}/input/{name}",
                    input_name=name,
                    s3_data_distribution_type=distribution,
                )
                for name, split, distribution in [
                    ("fit", "train", "FullyReplicated"),
                    *((s, s, "ShardedByS3Key") for s in SPLITS),
                ]
            ],
            outputs=[
                ProcessingOutput(
                    output_name=name,
                    source=f"{PROCESSING}/output/{name}",
                    destination=run_output("preprocess", name),
                )
                for name in ("features", "preprocessor")
            ],
        ),
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
        retry_policies=retry,
    )
    features = preprocess.properties.ProcessingOutputConfig.Outputs["features"].S3Output.S3Uri
    preprocessor = preprocess.properties.ProcessingOutputConfig.Outputs[
        "preprocessor"
    ].S3Output.S3Uri
    estimator = Estimator(
        image_uri=config.image_uri("training"),
        role=role,
        instance_count=1,
        instance_type=training_type,
        output_path=layout.training_output_uri(config),
        hyperparameters={"n_estimators": n_estimators, "max_depth": max_depth},
        sagemaker_session=session,
    )
    channels = {
        split: TrainingInput(
            s3_data=Join(on="", values=[features, f"{split}/"]), content_type="text/csv"
        )
        for split in SPLITS
    }
    channels["preprocessor"] = TrainingInput(
        s3_data=preprocessor, content_type="application/x-gzip"
    )
    train = TrainingStep("Train", step_args=estimator.fit(inputs=channels), retry_policies=retry)
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluation = Processor(
        role=role,
        image_uri=config.image_uri("training"),
        entrypoint=["evaluate"],
        instance_count=1,
        instance_type=processing_type,
        sagemaker_session=session,
    )
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=evaluation.run(
            inputs=[
                ProcessingInput(
                    source=model_data, destination=f"{PROCESSING}/input/model", input_name="model"
                ),
                ProcessingInput(
                    source=Join(on="", values=[input_data, "/test/"]),
                    destination=f"{PROCESSING}/input/test",
                    input_name="test",
                ),
                ProcessingInput(
                    source=approved_model,
                    destination=f"{PROCESSING}/input/approved",
                    input_name="approved",
                ),
            ],
            arguments=[
                f"--model={PROCESSING}/input/model",
                f"--test={PROCESSING}/input/test",
                f"--report={PROCESSING}/output/evaluation",
                f"--approved-model={PROCESSING}/input/approved",
                Join(on="", values=["--absolute-threshold=", threshold]),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source=f"{PROCESSING}/output/evaluation",
                    destination=run_output("evaluate", "evaluation"),
                )
            ],
        ),
        property_files=[report],
        retry_policies=retry,
    )
    rmse = JsonGet(
        step_name="Evaluate", property_file=report, json_path="regression_metrics.rmse.value"
    )
    passed = JsonGet(step_name="Evaluate", property_file=report, json_path="gate.passed")
    reason = JsonGet(step_name="Evaluate", property_file=report, json_path="gate.reason")
    evaluation_uri = evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri
    types = ["text/csv", "application/json", "application/jsonlines"]
    model = Model(
        image_uri=config.image_uri("serving"),
        model_data=model_data,
        role=role,
        sagemaker_session=session,
    )
    register = ModelStep(
        "Register",
        step_args=model.register(
            content_types=types,
            response_types=types,
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=config.model_package_group,
            approval_status=approval,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(
                    s3_uri=Join(on="", values=[evaluation_uri, "evaluation.json"]),
                    content_type="application/json",
                )
            ),
        ),
    )
    create_model = ModelStep("CreateBatchModel", step_args=model.create())
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_count=transform_count,
        instance_type=transform_type,
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_payload=6,
        output_path=Join(
            on="",
            values=[
                layout.s3_uri(config, "transform") + "/",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
                "/",
            ],
        ),
        sagemaker_session=session,
    )
    batch_predict = TransformStep(
        "BatchPredict",
        step_args=transformer.transform(
            data=batch_input, content_type="text/csv", split_type="Line", compression_type="None"
        ),
        retry_policies=retry,
    )
    too_high = FailStep(
        "RmseTooHigh",
        error_message=Join(
            on=" ",
            values=[
                "Test RMSE",
                rmse,
                "- the gate",
                reason,
                "- the model was not registered",
            ],
        ),
    )
    check = ConditionStep(
        "CheckRmse",
        conditions=[ConditionEquals(left=passed, right=True)],
        if_steps=[register, create_model, batch_predict],
        else_steps=[too_high],
    )
    pipeline = Pipeline(
        config.pipeline_name,
        parameters=[
            input_data,
            batch_input,
            processing_type,
            processing_count,
            training_type,
            n_estimators,
            max_depth,
            threshold,
            approval,
            approved_model,
            transform_type,
            transform_count,
        ],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=session,
    )
    text = SDK_SUFFIXES.sub("", pipeline.definition())  # Register-RegisterModel -> Register
    return dict(json.loads(text))


def steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in all_steps(definition["Steps"])}


def expressions(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(where, kind, body) of every expression: where is the JSON path inside the step."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet"):
            ((kind, body),) = value.items()
            yield path, kind, body
            inner = body.get("Values", []) if kind == "Std:Join" else []
            for i, item in enumerate(inner):
                yield from expressions(item, f"{path}.Values[{i}]")
            return
        for key, item in value.items():
            if key not in ("IfSteps", "ElseSteps"):
                yield from expressions(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from expressions(item, f"{path}[{i}]")


@pytest.fixture
def ours() -> dict[str, Any]:
    return build_definition(CONFIG)


def test_top_level_and_parameters(ours: dict[str, Any], sdk_definition: dict[str, Any]) -> None:
    assert set(ours) == set(sdk_definition)
    for key in ("Version", "Metadata", "PipelineExperimentConfig", "Parameters"):
        assert ours[key] == sdk_definition[key], key


def test_same_steps_types_and_step_level_keys(
    ours: dict[str, Any], sdk_definition: dict[str, Any]
) -> None:
    mine, theirs = steps(ours), steps(sdk_definition)
    assert {n: s["Type"] for n, s in mine.items()} == {n: s["Type"] for n, s in theirs.items()}
    for name, step in mine.items():
        assert set(step) == set(theirs[name]), name
        for key in ("DependsOn", "PropertyFiles", "CacheConfig", "RetryPolicies"):
            assert step.get(key) == theirs[name].get(key), (name, key)


def test_condition_and_fail_arguments_are_the_sdks(
    ours: dict[str, Any], sdk_definition: dict[str, Any]
) -> None:
    mine, theirs = steps(ours), steps(sdk_definition)
    assert mine["RmseTooHigh"]["Arguments"] == theirs["RmseTooHigh"]["Arguments"]
    condition, sdk_condition = mine["CheckRmse"]["Arguments"], theirs["CheckRmse"]["Arguments"]
    assert set(condition) == set(sdk_condition) == {"Conditions", "IfSteps", "ElseSteps"}
    assert condition["Conditions"] == sdk_condition["Conditions"]
    for branch in ("IfSteps", "ElseSteps"):
        assert [s["Name"] for s in condition[branch]] == [s["Name"] for s in sdk_condition[branch]]


def test_job_arguments_carry_the_sdks_members(
    ours: dict[str, Any], sdk_definition: dict[str, Any]
) -> None:
    """Every request member the SDK writes, ours writes too (except the SDK's own extras),
    down to the second level."""
    mine, theirs = steps(ours), steps(sdk_definition)
    for name, step in mine.items():
        if step["Type"] in ("Condition", "Fail"):
            continue
        arguments, sdk_arguments = step["Arguments"], theirs[name]["Arguments"]
        assert set(sdk_arguments) - set(arguments) <= SDK_ONLY, name
        for key, value in sdk_arguments.items():
            if isinstance(value, dict) and key in arguments and value:
                missing = set(value) - set(arguments[key]) - SDK_ONLY
                assert not missing, (name, key, missing)


def test_expressions_sit_where_the_sdks_do_and_are_spelled_alike(
    ours: dict[str, Any], sdk_definition: dict[str, Any]
) -> None:
    mine, theirs = steps(ours), steps(sdk_definition)
    for name, step in mine.items():
        found = {
            (where, kind, json.dumps(body, sort_keys=True))
            for where, kind, body in expressions(step["Arguments"])
        }
        sdk_found = {
            (where, kind, json.dumps(body, sort_keys=True))
            for where, kind, body in expressions(theirs[name]["Arguments"])
        }
        assert found == sdk_found, (name, found ^ sdk_found)
