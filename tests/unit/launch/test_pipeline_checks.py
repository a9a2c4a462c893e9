"""check_definition: each rule broken once, with an error that names the step and what is
wrong; the kit's own definition passes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mpg_launch.errors import RequestInvalid
from mpg_launch.pipeline.checks import check_definition, definition_errors
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.format import all_steps
from mpg_launch.settings.config import LaunchConfig

Definition = dict[str, Any]


def step(definition: Definition, name: str) -> dict[str, Any]:
    (found,) = [s for s in all_steps(definition["Steps"]) if s["Name"] == name]
    return found


def parameter(definition: Definition, name: str) -> dict[str, Any]:
    (found,) = [p for p in definition["Parameters"] if p["Name"] == name]
    return found


def set_get(path: str) -> Callable[[Definition], None]:
    """Point the Evaluate step's model input at ``path``."""

    def change(d: Definition) -> None:
        step(d, "Evaluate")["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] = {"Get": path}

    return change


def test_the_kits_definition_passes(config: LaunchConfig) -> None:
    definition = build_definition(config)
    assert definition_errors(definition) == []
    check_definition(definition)  # does not raise


BROKEN: list[tuple[str, Callable[[Definition], None], list[str]]] = [
    (
        "arguments-type",
        lambda d: step(d, "Train")["Arguments"]["ResourceConfig"].update(VolumeSizeInGB="thirty"),
        ["step Train (CreateTrainingJob)", "ResourceConfig.VolumeSizeInGB"],
    ),
    (
        "arguments-missing-member",
        lambda d: step(d, "BatchPredict")["Arguments"].pop("TransformOutput"),
        ["step BatchPredict (CreateTransformJob)", "TransformOutput"],
    ),
    (
        "arguments-unknown-member",
        lambda d: step(d, "Register")["Arguments"].update(ModelQuality={}),
        ["step Register (CreateModelPackage)", "ModelQuality"],
    ),
    (
        "arguments-name-given",
        lambda d: step(d, "Preprocess")["Arguments"].update(ProcessingJobName="prep-1"),
        ["step Preprocess", "leave it out"],
    ),
    (
        "parameter-default-rejected",
        lambda d: parameter(d, "TransformInstanceType").update(DefaultValue="ml.huge"),
        [
            "step BatchPredict (CreateTransformJob)",
            "'ml.huge' is not one of",
            "(the value of parameter TransformInstanceType)",
        ],
    ),
    (
        "parameter-of-wrong-type",
        lambda d: parameter(d, "NEstimators").update(Type="Integer", DefaultValue=100),
        ["step Train (CreateTrainingJob)", "HyperParameters", "parameter NEstimators"],
    ),
    (
        "unknown-parameter",
        set_get("Parameters.ModelData"),
        ["step Evaluate", "no parameter 'ModelData'; declared: ["],
    ),
    (
        "unknown-execution-variable",
        set_get("Execution.JobId"),
        ["step Evaluate", "no execution variable 'JobId'"],
    ),
    (
        "unknown-step",
        set_get("Steps.Training.ModelArtifacts.S3ModelArtifacts"),
        ["step Evaluate", "no step 'Training'; steps: ["],
    ),
    (
        "unknown-first-property",
        set_get("Steps.Train.ModelArtefacts.S3ModelArtifacts"),
        ["step Evaluate", "DescribeTrainingJob has no output member 'ModelArtefacts'"],
    ),
    (
        "unknown-nested-property",
        set_get("Steps.Train.ModelArtifacts.S3Uri"),
        ["step Evaluate", "has no ModelArtifacts member 'S3Uri'; it has: S3ModelArtifacts"],
    ),
    (
        "property-of-another-step-type",
        set_get("Steps.Preprocess.ModelArtifacts.S3ModelArtifacts"),
        ["step Evaluate", "DescribeProcessingJob has no output member 'ModelArtifacts'"],
    ),
    (
        "unknown-processing-output",
        set_get("Steps.Preprocess.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"),
        ["step Evaluate", "step Preprocess has no output 'model'; its outputs: ['features'"],
    ),
    (
        "not-a-property-path",
        set_get("Steps.Train.ModelArtifacts..S3ModelArtifacts"),
        ["step Evaluate", "is not a property path"],
    ),
    (
        "unknown-root",
        set_get("Pipeline.Name"),
        ["step Evaluate", "a Get reads Parameters., Execution. or Steps."],
    ),
    (
        "unknown-property-file",
        lambda d: step(d, "CheckRmse")["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"][
            "PropertyFile"
        ].update(Get="Steps.Evaluate.PropertyFiles.Report"),
        ["step CheckRmse", "step Evaluate declares no property file 'Report'"],
    ),
    (
        "property-file-of-unknown-output",
        lambda d: step(d, "Evaluate")["PropertyFiles"][0].update(OutputName="metrics"),
        ["step Evaluate", "reads OutputName 'metrics', which the step does not write"],
    ),
    (
        "json-get-without-path",
        lambda d: step(d, "CheckRmse")["Arguments"]["Conditions"][0]["LeftValue"][
            "Std:JsonGet"
        ].pop("Path"),
        ["step CheckRmse", "Std:JsonGet needs a Path"],
    ),
    (
        "duplicate-step-name",
        lambda d: step(d, "RmseTooHigh").update(Name="Train"),
        ["step Train", "the name is used by another step"],
    ),
    (
        "invalid-step-name",
        lambda d: step(d, "RmseTooHigh").update(Name="RMSE too high!"),
        ["step 'RMSE too high!'", "names are 1-64 letters, digits, '-' or '_'"],
    ),
    (
        "step-name-too-long",
        lambda d: step(d, "RmseTooHigh").update(Name="R" * 65),
        [f"step {'R' * 65!r}", "names are 1-64"],
    ),
    (
        "depends-on-unknown-step",
        lambda d: step(d, "Train").update(DependsOn=["Prepare"]),
        ["step Train", "DependsOn names no step 'Prepare'"],
    ),
    (
        "cycle-through-depends-on",
        lambda d: step(d, "Preprocess").update(DependsOn=["Evaluate"]),
        ["the steps depend on each other in a cycle: ", "Preprocess -> Evaluate"],
    ),
    (
        "cycle-through-a-condition-branch",
        lambda d: step(d, "Preprocess").update(DependsOn=["Register"]),
        ["cycle", "CheckRmse", "Register"],
    ),
    (
        "unknown-step-type",
        lambda d: step(d, "RmseTooHigh").update(Type="Lambda"),
        ["step RmseTooHigh", "Type 'Lambda' is not one this kit runs"],
    ),
    (
        "unknown-step-key",
        lambda d: step(d, "Train").update(Retry=[]),
        ["step Train", "unknown key(s) ['Retry']"],
    ),
    (
        "bad-cache-duration",
        lambda d: step(d, "Preprocess")["CacheConfig"].update(ExpireAfter="30 days"),
        ["step Preprocess", "'30 days' is not an ISO 8601 duration"],
    ),
    (
        "job-retry-on-a-model-step",
        lambda d: step(d, "CreateBatchModel").update(
            RetryPolicies=[{"ExceptionType": ["SageMaker.CAPACITY_ERROR"], "MaxAttempts": 2}]
        ),
        ["step CreateBatchModel", "ExceptionType ['SageMaker.CAPACITY_ERROR'] not among"],
    ),
    (
        "unknown-condition",
        lambda d: step(d, "CheckRmse")["Arguments"]["Conditions"][0].update(Type="AtMost"),
        ["step CheckRmse", "condition Type 'AtMost' is not one of"],
    ),
    (
        "fail-without-message",
        lambda d: step(d, "RmseTooHigh")["Arguments"].clear(),
        ["step RmseTooHigh", "needs Arguments.ErrorMessage"],
    ),
    (
        "bad-parameter-type",
        lambda d: parameter(d, "RmseThreshold").update(Type="Double"),
        ["parameter 'RmseThreshold'", "Type must be one of"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_each_broken_rule_is_named(
    config: LaunchConfig, change: Callable[[Definition], None], expected: list[str]
) -> None:
    definition = copy.deepcopy(build_definition(config))
    change(definition)
    errors = definition_errors(definition)
    assert any(all(part in error for part in expected) for error in errors), errors
    with pytest.raises(RequestInvalid) as raised:
        check_definition(definition)
    assert raised.value.exit_code == 2
    assert str(raised.value).startswith("pipeline definition rejected: ")
    assert "\n" not in str(raised.value)


def test_every_error_is_reported_at_once(config: LaunchConfig) -> None:
    definition = copy.deepcopy(build_definition(config))
    set_get("Parameters.Nope")(definition)
    step(definition, "RmseTooHigh").update(Name="Train")
    errors = definition_errors(definition)
    assert len(errors) == 2, errors
