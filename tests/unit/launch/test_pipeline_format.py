"""One reader of the pipeline definition format (mpg_launch.pipeline.format): the checker run
before anything is sent and the local engine both read through it, so they agree on what a
definition means and on what is wrong with it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mpg_launch.local.clients.pipelines import local_definition
from mpg_launch.pipeline import format as fmt
from mpg_launch.pipeline.checks import definition_errors
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.settings.config import LaunchConfig


def _step(definition: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [s for s in fmt.all_steps(definition["Steps"]) if s["Name"] == name]
    return found


def test_the_kits_definition_reads_into_typed_objects(config: LaunchConfig) -> None:
    reading = fmt.read_definition(build_definition(config))
    assert reading.problems == []
    definition = reading.definition
    threshold = definition.parameters["RmseThreshold"]
    assert threshold.type == "Float" and isinstance(threshold.default, float)
    steps = definition.steps
    assert steps["Register"].branch == ("CheckRmse", True)
    assert steps["RmseTooHigh"].branch == ("CheckRmse", False)
    assert steps["CheckRmse"].branch is None
    assert {"CheckRmse", "CreateBatchModel"} <= steps["BatchPredict"].depends_on
    assert "Train" in steps["Evaluate"].depends_on  # its model is Train's artifact
    assert "Evaluate" in steps["CheckRmse"].depends_on  # read through Std:JsonGet
    assert set(steps["Evaluate"].property_files) == {"EvaluationReport"}
    assert steps["Preprocess"].cached and steps["Preprocess"].cache_expires_after is not None
    order = definition.order
    assert order[0] == "Preprocess" and set(order) == set(steps)
    for name, step in steps.items():
        assert all(order.index(need) < order.index(name) for need in step.depends_on)
    # The condition's branches are steps of their own, not part of what it reads.
    assert "IfSteps" not in steps["CheckRmse"].own


def test_the_execution_variables_are_the_sdks() -> None:
    sdk = pytest.importorskip("sagemaker.workflow.execution_variables")
    names = [v for v in vars(sdk.ExecutionVariables).values() if hasattr(v, "name")]
    assert {v.name for v in names} == set(fmt.EXECUTION_VARIABLES)


BROKEN = [
    ("Execution.JobId", "no execution variable 'JobId'"),
    ("Execution.PipelineExperimentConfig.ExperimentName", "no execution variable"),
    ("Parameters.Nope", "no parameter 'Nope'"),
    ("Steps.Nope.Outcome", "no step 'Nope'"),
    ("Pipeline.Name", "a Get reads Parameters., Execution. or Steps."),
]


@pytest.mark.parametrize(("get", "message"), BROKEN)
def test_the_checker_and_the_local_engine_name_the_same_problem(
    config: LaunchConfig, get: str, message: str
) -> None:
    definition = copy.deepcopy(build_definition(config))
    _step(definition, "RmseTooHigh")["Arguments"]["ErrorMessage"] = {"Get": get}
    (checked,) = [e for e in definition_errors(definition) if message in e]
    with pytest.raises(fmt.PipelineDefinitionError) as refused:
        local_definition(json.dumps(definition))
    assert checked in str(refused.value)
    assert refused.value.exit_code == 2


@pytest.mark.parametrize(
    "get",
    [
        "Execution.TrainingJobName",
        "Execution.ProcessingJobName",
        "Execution.CurrentDateTime",
        "PipelineExperimentConfig.TrialName",
    ],
)
def test_both_accept_every_variable_the_sdk_writes(config: LaunchConfig, get: str) -> None:
    definition = copy.deepcopy(build_definition(config))
    _step(definition, "RmseTooHigh")["Arguments"]["ErrorMessage"] = {"Get": get}
    assert definition_errors(definition) == []
    local_definition(json.dumps(definition))  # does not raise


def test_a_step_type_is_the_readers_choice(config: LaunchConfig) -> None:
    """Tuning is SageMaker's (the checker knows it); the local engine refuses it by name."""
    reading = fmt.read_definition({"Steps": [{"Name": "T", "Type": "Tuning", "Arguments": {}}]})
    assert reading.problems == []
    refused = fmt.read_definition(
        {"Steps": [{"Name": "T", "Type": "Tuning", "Arguments": {}}]},
        ("Processing",),
        "the local engine",
    )
    assert refused.problems == [
        "step T: Type 'Tuning' is not one the local engine runs; use one of ['Processing']"
    ]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "ModelArtifacts.S3ModelArtifacts",
            [("member", "ModelArtifacts"), ("member", "S3ModelArtifacts")],
        ),
        ("Outputs['a b'].S3Uri", [("member", "Outputs"), ("key", "a b"), ("member", "S3Uri")]),
        ('.List[0]["k"]', [("member", "List"), ("index", 0), ("key", "k")]),
        ("a..b", None),
        ("Outputs[", None),
    ],
)
def test_property_paths(path: str, expected: list[tuple[str, Any]] | None) -> None:
    segments = fmt.property_path(path)
    assert (None if segments is None else [(s.kind, s.value) for s in segments]) == expected
