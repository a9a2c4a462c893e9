"""The pipeline definition: the contract's step names and types, every job step's Arguments
equal to the single-stage command's request once parameters and properties are resolved, and
parameters where a run changes them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mpg_launch.aws import names as layout
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.errors import ConfigError
from mpg_launch.jobs import requests as build
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.pipeline.checks import definition_errors
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.format import all_steps
from mpg_launch.pipeline.parameters import parse_overrides, wire_value, with_values
from mpg_launch.settings.config import Instances, LaunchConfig

EXECUTION = "exec1"


def steps_by_name(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Name"]: s for s in all_steps(definition["Steps"])}


def resolve(value: Any, definition: dict[str, Any], config: LaunchConfig) -> Any:
    """Evaluate the definition's expressions the way SageMaker would for an execution
    ``exec1`` with default parameters, whose steps' jobs were all named ``exec1``."""
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    properties = {
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri": (
            layout.preprocess_uri(config, EXECUTION, "features")
        ),
        "Steps.Preprocess.ProcessingOutputConfig.Outputs['preprocessor'].S3Output.S3Uri": (
            layout.preprocess_uri(config, EXECUTION, "preprocessor")
        ),
        "Steps.Train.ModelArtifacts.S3ModelArtifacts": layout.trained_model_uri(config, EXECUTION),
        "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri": (
            layout.s3_uri(config, "evaluate", EXECUTION, "evaluation") + "/"
        ),
        "Steps.CreateBatchModel.ModelName": EXECUTION,
        "Execution.PipelineExecutionId": EXECUTION,
    }
    if isinstance(value, dict):
        if set(value) == {"Get"}:
            path = value["Get"]
            if path.startswith("Parameters."):
                return defaults[path.removeprefix("Parameters.")]
            return properties[path]
        if set(value) == {"Std:Join"}:
            parts = [resolve(v, definition, config) for v in value["Std:Join"]["Values"]]
            return value["Std:Join"]["On"].join(str(p) for p in parts)
        return {k: resolve(v, definition, config) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, definition, config) for v in value]
    return value


def without(request: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k != key}


def test_steps_names_and_types_follow_the_contract(config: LaunchConfig) -> None:
    definition = build_definition(config)
    assert list(definition) == [
        "Version",
        "Metadata",
        "Parameters",
        "PipelineExperimentConfig",
        "Steps",
    ]
    assert definition["Version"] == "2020-12-01"
    assert [s["Name"] for s in definition["Steps"]] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckRmse",
    ]
    types = {name: step["Type"] for name, step in steps_by_name(definition).items()}
    assert types == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckRmse": "Condition",
        "Register": "RegisterModel",
        "CreateBatchModel": "Model",
        "BatchPredict": "Transform",
        "RmseTooHigh": "Fail",
    }
    check = steps_by_name(definition)["CheckRmse"]["Arguments"]
    assert [s["Name"] for s in check["IfSteps"]] == ["Register", "CreateBatchModel", "BatchPredict"]
    assert [s["Name"] for s in check["ElseSteps"]] == ["RmseTooHigh"]
    # The evaluate step's verdict decides, as ConditionEquals(JsonGet(...), True) writes it:
    # the pipeline and `evaluate` gate the same way (mpg_core.gate).
    assert check["Conditions"] == [
        {
            "Type": "Equals",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                    "Path": "gate.passed",
                }
            },
            "RightValue": True,
        }
    ]
    evaluate = steps_by_name(definition)["Evaluate"]
    assert evaluate["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


def test_parameters_are_declared_with_config_defaults(config: LaunchConfig) -> None:
    config = replace(
        config,
        instances={
            "processing": Instances("ml.c5.xlarge", 2),
            "transform": Instances("ml.m5.xlarge", 3),
        },
        hyperparameters={"n_estimators": "250"},
    )
    declared = {
        p["Name"]: (p["Type"], p["DefaultValue"]) for p in build_definition(config)["Parameters"]
    }
    assert declared == {
        "InputData": ("String", "s3://my-bucket/mpg/data/bronze"),
        "BatchInputData": ("String", "s3://my-bucket/mpg/data/batch/"),
        "ProcessingInstanceType": ("String", "ml.c5.xlarge"),
        "ProcessingInstanceCount": ("Integer", 2),
        "TrainingInstanceType": ("String", "ml.m5.large"),
        "NEstimators": ("String", "250"),
        "MaxDepth": ("String", ""),  # not configured: the image's own default
        "RmseThreshold": ("Float", 4.0),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        # No approved version: the kit's own prefix, which holds a README and no model.
        "ApprovedModelData": ("String", "s3://my-bucket/mpg/pipeline/no-approved-model/"),
        "TransformInstanceType": ("String", "ml.m5.xlarge"),
        "TransformInstanceCount": ("Integer", 3),
    }


def test_the_approved_model_default_does_not_follow_the_input_data(config: LaunchConfig) -> None:
    """A run on other data (another raw prefix, or ``-P InputData``) needs no ApprovedModelData
    of its own: the default is the kit's "no approved model" prefix, not a split of InputData."""

    def defaults(config: LaunchConfig) -> dict[str, Any]:
        return {p["Name"]: p["DefaultValue"] for p in build_definition(config)["Parameters"]}

    ours, theirs = defaults(config), defaults(replace(config, raw_prefix="elsewhere/raw"))
    assert ours["InputData"] != theirs["InputData"]
    assert ours["ApprovedModelData"] == theirs["ApprovedModelData"]
    for values in (ours, theirs):
        assert not values["ApprovedModelData"].startswith(values["InputData"])


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"spot": True, "max_wait_seconds": 7200},
        {
            "subnets": ("subnet-0123abcd",),
            "security_group_ids": ("sg-0123abcd",),
            "kms_key_id": "alias/mpg",
            "tags": {"team": "ml"},
        },
    ],
    ids=["default", "spot", "vpc-kms-tags"],
)
def test_job_steps_are_the_single_stage_requests(
    config: LaunchConfig, settings: dict[str, Any]
) -> None:
    """Resolved for one execution, each step's Arguments equal the request the single-stage
    command builds, minus the job or model name: one source per request shape."""
    config = replace(config, **settings)
    definition = build_definition(config)
    assert definition_errors(definition) == []
    steps = steps_by_name(definition)

    def arguments(name: str) -> Any:
        return resolve(steps[name]["Arguments"], definition, config)

    assert arguments("Preprocess") == without(
        build.processing_request(config, EXECUTION), "ProcessingJobName"
    )
    # Not configured: empty, which the image reads as not given (what `train` sends).
    hyperparameters = {"n_estimators": "", "max_depth": ""}
    assert arguments("Train") == without(
        build.training_request(config, EXECUTION, EXECUTION, True, hyperparameters),
        "TrainingJobName",
    )
    model_uri = layout.trained_model_uri(config, EXECUTION)
    test_uri = layout.raw_uri(config, "test")
    assert arguments("Evaluate") == without(
        build.evaluation_request(
            config,
            EXECUTION,
            model_uri,
            test_uri,
            approved_model_uri=layout.no_approved_model_uri(config),
            absolute_threshold=4.0,
        ),
        "ProcessingJobName",
    )
    assert arguments("CreateBatchModel") == without(
        endpoint_requests.model_request(config, EXECUTION, model_uri), "ModelName"
    )
    report = layout.s3_uri(config, "evaluate", EXECUTION, "evaluation", "evaluation.json")
    assert arguments("Register") == registry_requests.model_package_request(
        config, model_uri, report, "PendingManualApproval"
    )
    assert arguments("BatchPredict") == without(
        build.transform_request(config, EXECUTION, EXECUTION), "TransformJobName"
    )


def test_run_dependent_members_are_parameters_and_properties(config: LaunchConfig) -> None:
    steps = steps_by_name(build_definition(config))
    preprocess = steps["Preprocess"]["Arguments"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceType"] == {
        "Get": "Parameters.ProcessingInstanceType"
    }
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {
        "Get": "Parameters.ProcessingInstanceCount"
    }
    assert preprocess["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {
        "Std:Join": {"On": "", "Values": [{"Get": "Parameters.InputData"}, "/train/"]}
    }
    train = steps["Train"]["Arguments"]
    assert train["HyperParameters"] == {
        "n_estimators": {"Get": "Parameters.NEstimators"},
        "max_depth": {"Get": "Parameters.MaxDepth"},
    }
    features = "Steps.Preprocess.ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri"
    assert train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Std:Join": {"On": "", "Values": [{"Get": features}, "train/"]}
    }
    register = steps["Register"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = register["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert register["InferenceSpecification"]["SupportedContentTypes"] == [
        "text/csv",
        "application/json",
        "application/jsonlines",
    ]
    transform = steps["BatchPredict"]["Arguments"]
    assert transform["ModelName"] == {"Get": "Steps.CreateBatchModel.ModelName"}
    assert transform["TransformResources"] == {
        "InstanceType": {"Get": "Parameters.TransformInstanceType"},
        "InstanceCount": {"Get": "Parameters.TransformInstanceCount"},
    }
    evaluate = steps["Evaluate"]["Arguments"]
    assert evaluate["AppSpecification"]["ContainerArguments"][-1] == {
        "Std:Join": {
            "On": "",
            "Values": ["--absolute-threshold=", {"Get": "Parameters.RmseThreshold"}],
        }
    }
    (approved,) = [i for i in evaluate["ProcessingInputs"] if i["InputName"] == "approved"]
    assert approved["S3Input"]["S3Uri"] == {"Get": "Parameters.ApprovedModelData"}
    fail = steps["RmseTooHigh"]["Arguments"]["ErrorMessage"]["Std:Join"]
    paths = [v["Std:JsonGet"]["Path"] for v in fail["Values"] if isinstance(v, dict)]
    assert paths == ["regression_metrics.rmse.value", "gate.reason"]


def test_caching_and_retries(config: LaunchConfig) -> None:
    steps = steps_by_name(build_definition(config))
    assert steps["Preprocess"]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    assert not any("CacheConfig" in s for n, s in steps.items() if n != "Preprocess")
    for name in ("Preprocess", "Train", "Evaluate", "BatchPredict"):
        (policy,) = steps[name]["RetryPolicies"]
        assert policy["ExceptionType"] == [
            "SageMaker.CAPACITY_ERROR",
            "SageMaker.JOB_INTERNAL_ERROR",
        ]


def test_local_definition_names_the_local_images(config: LaunchConfig) -> None:
    local = replace(config, local=True, local_image_tag="pipelines")
    steps = steps_by_name(build_definition(local))
    assert (
        steps["Evaluate"]["Arguments"]["AppSpecification"]["ImageUri"] == "mpg-training:pipelines"
    )
    assert steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerEntrypoint"] == ["evaluate"]


DECLARED = [
    {"Name": "InputData", "Type": "String", "DefaultValue": "s3://b/mpg/data/bronze"},
    {"Name": "ProcessingInstanceCount", "Type": "Integer", "DefaultValue": 1},
    {"Name": "RmseThreshold", "Type": "Float", "DefaultValue": 4.0},
    {"Name": "Flag", "Type": "Boolean", "DefaultValue": False},
]


def test_overrides_are_typed() -> None:
    values = parse_overrides(
        ["ProcessingInstanceCount=3", "RmseThreshold=2.5", "Flag=TRUE", "InputData=s3://x/y"],
        DECLARED,
    )
    assert values == {
        "ProcessingInstanceCount": 3,
        "RmseThreshold": 2.5,
        "Flag": True,
        "InputData": "s3://x/y",
    }
    assert [wire_value(v) for v in values.values()] == ["3", "2.5", "true", "s3://x/y"]
    changed = with_values({"Parameters": DECLARED, "Steps": []}, values)
    assert changed["Parameters"][1] == {
        "Name": "ProcessingInstanceCount",
        "Type": "Integer",
        "DefaultValue": 3,
    }
    assert DECLARED[1]["DefaultValue"] == 1  # the original is untouched


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("Nope=1", "-P Nope: the pipeline declares no such parameter; declared: ["),
        ("RmseThreshold", "write NAME=VALUE"),
        ("ProcessingInstanceCount=two", "ProcessingInstanceCount is Integer; give an integer"),
        ("ProcessingInstanceCount=1.5", "give an integer"),
        ("RmseThreshold=nan", "RmseThreshold is Float; give a number"),
        ("Flag=maybe", "Flag is Boolean; give true or false"),
        ("InputData=s3://b/mpg/data/bronze/", "without the trailing '/'"),
    ],
)
def test_bad_overrides_name_the_fix(pair: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as raised:
        parse_overrides([pair], DECLARED)
    assert message in str(raised.value)


@pytest.mark.parametrize("configured", [{}, {"algorithm": "random_forest"}, {"max_depth": "6"}])
def test_an_execution_without_overrides_trains_what_train_trains(
    config: LaunchConfig, configured: dict[str, str]
) -> None:
    """One resolution of hyperparameters and defaults: the training image resolves the Train
    step's HyperParameters (the parameters' defaults filled in) to the very settings it
    resolves `train`'s request to, given to every family's size rule unchanged."""
    from mpg_core.hyperparameters import for_table_rows, parse_hyperparameters

    config = replace(config, hyperparameters=configured)
    definition = build_definition(config)
    steps = steps_by_name(definition)
    sent = resolve(steps["Train"]["Arguments"], definition, config)["HyperParameters"]
    train = build.training_request(config, EXECUTION, EXECUTION, True).get("HyperParameters", {})
    from_pipeline, from_train = parse_hyperparameters(sent), parse_hyperparameters(train)
    assert from_pipeline == from_train
    assert from_pipeline.given == from_train.given
    for rows in (300, 100_000):  # the size rule sees the same settings as given
        assert for_table_rows(from_pipeline, rows) == for_table_rows(from_train, rows)
