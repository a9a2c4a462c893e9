"""Definitions in the JSON shape SageMaker's SDK emits (``Pipeline.definition()``, checked
against sagemaker 2.257), and a check that a local response has boto3's output shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.model import Shape

from mpg_launch.aws.validation import operation_model


def get(path: str) -> dict[str, str]:
    return {"Get": path}


def join(on: str, *values: Any) -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def json_get(step: str, property_file: str, path: str) -> dict[str, Any]:
    return {
        "Std:JsonGet": {
            "PropertyFile": get(f"Steps.{step}.PropertyFiles.{property_file}"),
            "Path": path,
        }
    }


def parameter(name: str, kind: str, default: Any = None) -> dict[str, Any]:
    entry = {"Name": name, "Type": kind}
    if default is not None:
        entry["DefaultValue"] = default
    return entry


def definition(parameters: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": parameters,
        "PipelineExperimentConfig": {
            "ExperimentName": get("Execution.PipelineName"),
            "TrialName": get("Execution.PipelineExecutionId"),
        },
        "Steps": steps,
    }


def condition_step(
    name: str,
    conditions: list[dict[str, Any]],
    if_steps: Sequence[dict[str, Any]] = (),
    else_steps: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Condition",
        "Arguments": {
            "Conditions": conditions,
            "IfSteps": list(if_steps),
            "ElseSteps": list(else_steps),
        },
    }


def fail_step(name: str, message: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "Fail", "Arguments": {"ErrorMessage": message}}


def _check(value: Any, shape: Shape, path: str) -> list[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, Mapping):
            return [f"{path}: {type(value).__name__}, not a structure"]
        errors = []
        for key, item in value.items():
            if key not in shape.members:
                errors.append(f"{path}.{key}: not a member of {shape.name}")
            else:
                errors += _check(item, shape.members[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [e for i, v in enumerate(value) for e in _check(v, shape.member, f"{path}[{i}]")]
    if kind == "map":
        return [e for k, v in value.items() for e in _check(v, shape.value, f"{path}[{k}]")]
    expected = {
        "string": str,
        "timestamp": datetime,
        "integer": int,
        "long": int,
        "boolean": bool,
        "double": (int, float),
        "float": (int, float),
    }.get(kind, object)
    if not isinstance(value, expected):
        return [f"{path}: {value!r} is not a {kind}"]
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        return [f"{path}: {value!r} is not one of {enum}"]
    return []


def shape_errors(operation: str, response: Mapping[str, Any]) -> list[str]:
    """Members, types and enums of ``response`` that boto3's ``operation`` would not give."""
    output = operation_model("sagemaker", operation).output_shape
    assert output is not None
    return _check(response, output, operation)
