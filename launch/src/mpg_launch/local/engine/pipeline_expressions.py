"""The values of a running pipeline (whose format :mod:`mpg_launch.pipeline.format` reads):
``Get`` (parameters, execution variables, properties of the steps that ran), ``Std:Join``,
``Std:JsonGet`` (a Processing step's property file, or an S3 URI), and the conditions of a
Condition step.

A step's properties are what its Describe* call answers (DescribeProcessingJob for a
Processing step, DescribeModel for a Model step...), so ``Steps.Train.ModelArtifacts.
S3ModelArtifacts`` and ``Steps.Preprocess.ProcessingOutputConfig.Outputs['features'].S3Output.
S3Uri`` are read from the very records the local runners return. A list indexed by a name
(``Outputs['features']``, ``FinalMetricDataList['validation:rmse']``) picks the element whose
``OutputName`` / ``MetricName`` / ... is that name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mpg_launch.errors import LaunchError
from mpg_launch.pipeline.format import (
    COMPARISONS,
    EXPERIMENT,
    PropertyFile,
    Reference,
    property_path,
)

# Fields that name the elements of the lists a property path indexes by name.
NAME_FIELDS = ("OutputName", "InputName", "ChannelName", "MetricName", "VariantName", "Name")


class ExpressionError(LaunchError):
    """A value that cannot be resolved at run time; the step that needs it fails with this."""


@dataclass
class Scope:
    """What expressions of one execution can read."""

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]  # "Execution.PipelineExecutionId" (a Get's path) -> value
    read_json: Callable[[str], Any]  # an S3 URI -> its parsed JSON
    property_files: Mapping[str, Mapping[str, PropertyFile]]  # step -> name -> file
    properties: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # steps that ran
    _documents: dict[str, Any] = field(default_factory=dict)

    def document(self, uri: str) -> Any:
        if uri not in self._documents:
            self._documents[uri] = self.read_json(uri)
        return self._documents[uri]


def lookup(document: Any, path: str, where: str) -> Any:
    """The value at ``path`` in ``document`` (dicts by key, lists by index or by name)."""
    segments = property_path(path)
    if segments is None:
        raise ExpressionError(f"{where}: cannot read the path {path!r}")
    value = document
    for token in (s.value for s in segments):
        by_index = isinstance(token, int) and isinstance(value, list) and token < len(value)
        by_key = isinstance(token, str) and isinstance(value, Mapping) and token in value
        if by_index or by_key:
            value = value[token]
        elif isinstance(token, str) and isinstance(value, list):
            named = [
                item
                for item in value
                if isinstance(item, Mapping) and any(item.get(f) == token for f in NAME_FIELDS)
            ]
            if not named:
                raise ExpressionError(f"{where}: no element named {token!r} in {path}")
            value = named[0]
        else:
            has = sorted(value) if isinstance(value, Mapping) else type(value).__name__
            raise ExpressionError(f"{where}: {path} has no {token!r} (found {has})")
    return value


def text(value: Any) -> str:
    """How Std:Join writes a value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _get(path: str, scope: Scope) -> Any:
    ref = Reference.parse(path)
    if ref.root == "Parameters":
        if ref.name not in scope.parameters:
            raise ExpressionError(f"unknown parameter {path}")
        return scope.parameters[ref.name]
    if ref.root in ("Execution", EXPERIMENT):
        if path == "Execution.CurrentDateTime":  # the time of this evaluation
            return datetime.now(UTC).isoformat()
        if path not in scope.execution:
            raise ExpressionError(f"{path} has no value here")
        return scope.execution[path]
    if ref.root != "Steps":
        raise ExpressionError(f"cannot Get {path!r}")
    if ref.name not in scope.properties:
        raise ExpressionError(f"{path}: step {ref.name} has not run in this execution")
    if ref.is_property_file:
        raise ExpressionError(f"{path}: a property file is read with Std:JsonGet, not Get")
    return lookup(scope.properties[ref.name], ref.path, f"Get {path}")


def _property_file_uri(reference: Any, scope: Scope) -> str:
    """The S3 URI of the file a ``{"Get": "Steps.X.PropertyFiles.Y"}`` names: the file's path
    under the S3 URI of step X's output that holds it."""
    path = reference.get("Get") if isinstance(reference, Mapping) else None
    ref = Reference.parse(path) if isinstance(path, str) else None
    if ref is None or ref.property_file is None:
        raise ExpressionError(
            f"Std:JsonGet PropertyFile must be {{'Get': 'Steps.<step>.PropertyFiles.<name>'}}, "
            f"got {reference!r}"
        )
    files = scope.property_files.get(ref.name, {})
    if ref.property_file not in files:
        raise ExpressionError(f"step {ref.name} declares no property file {ref.property_file!r}")
    file = files[ref.property_file]
    output = _get(
        f"Steps.{ref.name}.ProcessingOutputConfig.Outputs['{file.output_name}'].S3Output.S3Uri",
        scope,
    )
    return f"{str(output).rstrip('/')}/{file.file_path.lstrip('/')}"


def property_file_uri(step: str, name: str, scope: Scope) -> str:
    """Where step ``step``'s property file ``name`` is (the step has run)."""
    return _property_file_uri({"Get": f"Steps.{step}.PropertyFiles.{name}"}, scope)


def _json_get(arguments: Mapping[str, Any], scope: Scope) -> Any:
    if "PropertyFile" in arguments:
        uri = _property_file_uri(arguments["PropertyFile"], scope)
    elif "S3Uri" in arguments:
        uri = text(resolve(arguments["S3Uri"], scope))
    else:
        raise ExpressionError("Std:JsonGet needs a PropertyFile or an S3Uri")
    path = text(resolve(arguments.get("Path", ""), scope))
    return lookup(scope.document(uri), path, f"Std:JsonGet {path!r} of {uri}")


def resolve(value: Any, scope: Scope) -> Any:
    """``value`` with every expression in it replaced by what it means now."""
    if isinstance(value, Mapping):
        if set(value) == {"Get"}:
            return _get(str(value["Get"]), scope)
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            return text(join.get("On", "")).join(
                text(resolve(v, scope)) for v in join.get("Values", [])
            )
        if set(value) == {"Std:JsonGet"}:
            return _json_get(value["Std:JsonGet"], scope)
        unknown = [k for k in value if str(k).startswith("Std:")]
        if unknown:
            raise ExpressionError(f"function {unknown[0]} is not supported locally")
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(kind: str, left: Any, right: Any) -> bool:
    """Numbers compare as numbers (a JsonGet number with a Float parameter, a numeric string
    with an Integer); anything else compares as it is, and ordering needs the same type."""
    a, b = _number(left), _number(right)
    numeric = (
        a is not None and b is not None and not (isinstance(left, str) and isinstance(right, str))
    )
    if numeric:
        assert a is not None and b is not None
        pair: tuple[Any, Any] = (a, b)
    elif kind == "Equals" or type(left) is type(right):
        pair = (left, right)
    else:
        raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}")
    x, y = pair
    if kind == "Equals":
        return bool(x == y)
    try:
        return bool(
            {
                "GreaterThan": lambda: x > y,
                "GreaterThanOrEqualTo": lambda: x >= y,
                "LessThan": lambda: x < y,
                "LessThanOrEqualTo": lambda: x <= y,
            }[kind]()
        )
    except TypeError:
        raise ExpressionError(f"{kind}: cannot order {left!r} and {right!r}") from None


def condition_holds(condition: Mapping[str, Any], scope: Scope) -> bool:
    kind = condition["Type"]
    if kind in COMPARISONS:
        return _compare(
            kind, resolve(condition["LeftValue"], scope), resolve(condition["RightValue"], scope)
        )
    if kind == "In":
        query = resolve(condition["QueryValue"], scope)
        return any(_compare("Equals", query, resolve(v, scope)) for v in condition["Values"])
    if kind == "Not":
        return not condition_holds(condition["Condition"], scope)
    if kind == "Or":
        return any(condition_holds(c, scope) for c in condition["Conditions"])
    raise ExpressionError(f"condition type {kind!r} is not supported locally")


def conditions_hold(conditions: list[Mapping[str, Any]], scope: Scope) -> bool:
    """A Condition step's outcome: every one of its conditions holds."""
    return all(condition_holds(c, scope) for c in conditions)
