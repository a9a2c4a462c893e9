"""The pipeline definition's expressions, spelled as the SageMaker SDK's ``Pipeline.definition()``
emits them (tests/launch/test_pipeline_sdk_shape.py holds the spelling to the SDK's)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

Expression = dict[str, Any]
GET, JOIN, JSON_GET = "Get", "Std:Join", "Std:JsonGet"
# Execution variables a definition may read with {"Get": "Execution.<name>"}.
EXECUTION_VARIABLES = (
    "StartDateTime",
    "CurrentDateTime",
    "PipelineName",
    "PipelineArn",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "TrainingJobName",
    "ProcessingJobName",
)


def parameter(name: str) -> Expression:
    return {GET: f"Parameters.{name}"}


def execution(name: str) -> Expression:
    return {GET: f"Execution.{name}"}


def step_property(step: str, path: str) -> Expression:
    """``path`` as the SDK prints properties: ``ModelArtifacts.S3ModelArtifacts``,
    ``ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri``."""
    return {GET: f"Steps.{step}.{path}"}


def processing_output_uri(step: str, output: str) -> Expression:
    return step_property(step, f"ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


def property_file(step: str, name: str) -> Expression:
    return {GET: f"Steps.{step}.PropertyFiles.{name}"}


def join(values: Sequence[Any], on: str = "") -> Expression:
    return {JOIN: {"On": on, "Values": list(values)}}


def json_get(step: str, file: str, path: str) -> Expression:
    return {JSON_GET: {"PropertyFile": property_file(step, file), "Path": path}}


def is_expression(value: Any) -> bool:
    return (
        isinstance(value, dict) and len(value) == 1 and next(iter(value)) in (GET, JOIN, JSON_GET)
    )


def gets_in(value: Any) -> Iterator[str]:
    """Every ``Get`` path in ``value``, inside joins and JSON gets too."""
    if isinstance(value, dict):
        if GET in value and len(value) == 1:
            yield str(value[GET])
            return
        for item in value.values():
            yield from gets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from gets_in(item)
