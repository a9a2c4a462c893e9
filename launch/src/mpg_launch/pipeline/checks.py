"""Check a pipeline definition before anything is sent, as far as botocore's service model and
the definition itself allow.

The format's own rules (names, keys, types, references, caching, retries, conditions, cycles)
are :mod:`mpg_launch.pipeline.format`'s; on top of them, with botocore's model:

- every job step's ``Arguments``, with parameters and properties replaced by placeholder values
  of their type (a parameter's default, a property's shape in the Describe* output), against
  botocore's model of its Create* request (:mod:`mpg_launch.aws.validation`);
- every ``Get`` of a step's property names a property that step type has (its Describe*
  output shape), and a Processing output the step writes.

Errors name the step and the bad reference; all are reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from mpg_launch.aws.validation import _pattern, operation_model, request_errors
from mpg_launch.errors import RequestInvalid
from mpg_launch.pipeline import format as fmt


class DefinitionInvalid(RequestInvalid):
    """A pipeline definition SageMaker would refuse or fail on; nothing was sent."""


@dataclass(frozen=True)
class StepKind:
    create: str  # the Create* operation whose request the step's Arguments are
    name_member: str | None  # the name the pipeline gives (absent from Arguments)
    describe: str  # the Describe* operation whose output the step's properties follow


STEP_KINDS = {
    "Processing": StepKind("CreateProcessingJob", "ProcessingJobName", "DescribeProcessingJob"),
    "Training": StepKind("CreateTrainingJob", "TrainingJobName", "DescribeTrainingJob"),
    "Tuning": StepKind(
        "CreateHyperParameterTuningJob",
        "HyperParameterTuningJobName",
        "DescribeHyperParameterTuningJob",
    ),
    "Transform": StepKind("CreateTransformJob", "TransformJobName", "DescribeTransformJob"),
    "Model": StepKind("CreateModel", "ModelName", "DescribeModel"),
    "RegisterModel": StepKind("CreateModelPackage", None, "DescribeModelPackage"),
}
_EXECUTION_PLACEHOLDERS = {
    "PipelineExecutionId": "a1b2c3d4e5f6",
    "PipelineExecutionArn": (
        "arn:aws:sagemaker:us-east-1:000000000000:pipeline/placeholder/execution/a1b2c3d4e5f6"
    ),
    "PipelineName": "placeholder",
    "PipelineArn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/placeholder",
    "StartDateTime": "2024-01-01T00:00:00Z",
    "CurrentDateTime": "2024-01-01T00:00:00Z",
    "TrainingJobName": "pipelines-a1b2c3d4e5f6-Train-placeholder",
    "ProcessingJobName": "pipelines-a1b2c3d4e5f6-Preprocess-placeholder",
    "ExperimentName": "placeholder",
    "TrialName": "a1b2c3d4e5f6",
}
# Candidates for a property's string placeholder; the first its shape accepts is used.
_STRING_CANDIDATES = (
    "s3://placeholder-bucket/placeholder/",
    "arn:aws:sagemaker:us-east-1:000000000000:model-package/placeholder/1",
    "placeholder",
)
_TYPE_PLACEHOLDERS: dict[str, Any] = {
    "String": "placeholder",
    "Integer": 1,
    "Float": 1.0,
    "Boolean": False,
}


def _string_placeholder(shape: Shape) -> str:
    enum = getattr(shape, "enum", None)
    if enum:
        return str(enum[0])
    compiled = _pattern(shape.metadata["pattern"]) if "pattern" in shape.metadata else None
    for candidate in _STRING_CANDIDATES:
        if compiled is None or compiled.fullmatch(candidate):
            return candidate
    return _STRING_CANDIDATES[-1]


def _shape_placeholder(shape: Shape | None) -> Any:
    if shape is None or shape.type_name == "string":
        return _string_placeholder(shape) if shape is not None else "placeholder"
    return {"integer": 1, "long": 1, "float": 1.0, "double": 1.0, "boolean": True}.get(
        shape.type_name, "placeholder"
    )


class _Checker:
    """What botocore's model adds to the format's reading; ``errors`` collects it all."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        reading = fmt.read_definition(definition, tuple(STEP_KINDS) + fmt.CONTROL_TYPES)
        self.definition = reading.definition
        self.errors = list(reading.problems)
        self.sources: dict[str, str] = {}

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def property_shape(self, where: str, get: str, step: fmt.Step, rest: str) -> Shape | None:
        """The shape of ``Steps.<step>.<rest>`` in the step's Describe* output, or None after
        recording why the path is not there."""
        kind = STEP_KINDS.get(step.type)
        if kind is None:
            if step.type != "Condition" or rest != "Outcome":
                self.error(where, f"{{'Get': {get!r}}}: a {step.type} step has no {rest}")
            return None
        segments = fmt.property_path(rest)
        if not rest or segments is None:
            self.error(where, f"{{'Get': {get!r}}}: {rest!r} is not a property path")
            return None
        shape: Shape | None = operation_model("sagemaker", kind.describe).output_shape
        walked: list[str] = []  # the members found so far
        for segment in segments:
            if segment.kind == "member" and isinstance(shape, StructureShape):
                if segment.value not in shape.members:
                    self.error(
                        where,
                        f"{{'Get': {get!r}}}: {kind.describe} has no "
                        f"{'.'.join(walked) or 'output'} member {segment.value!r}; it has: "
                        f"{', '.join(sorted(shape.members))}",
                    )
                    return None
                shape = shape.members[str(segment.value)]
                walked.append(str(segment.value))
            elif segment.kind != "member" and isinstance(shape, ListShape | MapShape):
                outputs = walked == ["ProcessingOutputConfig", "Outputs"]
                if segment.kind == "key" and outputs and segment.value not in step.output_names:
                    self.error(
                        where,
                        f"{{'Get': {get!r}}}: step {step.name} has no output "
                        f"{segment.value!r}; its outputs: {sorted(step.output_names)}",
                    )
                    return None
                shape = shape.member if isinstance(shape, ListShape) else shape.value
            else:
                self.error(
                    where,
                    f"{{'Get': {get!r}}}: {'.'.join(walked) or kind.describe} is not indexed "
                    f"that way ({segment.value!r})",
                )
                return None
        return shape

    def check_properties(self, where: str, value: Any) -> None:
        """Every step property read in ``value`` is one its step type has."""
        for get in fmt.gets_in(value):
            ref = fmt.Reference.parse(get)
            step = self.definition.steps.get(ref.name) if ref.root == fmt.STEPS else None
            if step is not None and not ref.is_property_file:
                self.property_shape(where, get, step, ref.path)

    def placeholder(self, get: str) -> tuple[bool, Any]:
        """(known, a placeholder value of its type) for one ``Get``."""
        ref = fmt.Reference.parse(get)
        if ref.root == fmt.PARAMETERS and ref.name in self.definition.parameters:
            declared = self.definition.parameters[ref.name]
            if declared.default is not None:
                return True, declared.default
            return True, _TYPE_PLACEHOLDERS.get(declared.type, "placeholder")
        if ref.root in (fmt.EXECUTION, fmt.EXPERIMENT) and ref.name in _EXECUTION_PLACEHOLDERS:
            return True, _EXECUTION_PLACEHOLDERS[ref.name]
        step = self.definition.steps.get(ref.name) if ref.root == fmt.STEPS else None
        if step is None:
            return False, None
        if ref.is_property_file:
            return True, "placeholder"
        errors_before = len(self.errors)
        shape = self.property_shape("", get, step, ref.path)
        del self.errors[errors_before:]  # reported by check_properties
        return shape is not None or ref.path == "Outcome", _shape_placeholder(shape)

    def placeholders(self, value: Any, shape: Shape | None, path: str = "") -> Any:
        """``value`` with every expression replaced by a placeholder of its type; where a
        parameter's value lands is remembered in ``sources`` (to name it in errors)."""
        if isinstance(value, dict) and fmt.is_expression(value):
            ((key, body),) = value.items()
            if key == fmt.GET:
                known, placeholder = self.placeholder(str(body))
                if known and str(body).startswith(f"{fmt.PARAMETERS}."):
                    self.sources[path] = str(body).removeprefix(f"{fmt.PARAMETERS}.")
                return placeholder if known else _shape_placeholder(shape)
            if key == fmt.JOIN:
                parts = [self.placeholders(v, None, path) for v in body.get("Values", [])]
                return str(body.get("On", "")).join(
                    str(p).lower() if isinstance(p, bool) else str(p) for p in parts
                )
            return _shape_placeholder(shape)  # Std:JsonGet: whatever the member takes
        if isinstance(value, dict):
            members = shape.members if isinstance(shape, StructureShape) else {}
            inner = shape.value if isinstance(shape, MapShape) else None
            return {
                k: self.placeholders(v, members.get(k, inner), f"{path}.{k}".lstrip("."))
                for k, v in value.items()
            }
        if isinstance(value, list):
            item = shape.member if isinstance(shape, ListShape) else None
            return [self.placeholders(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def check_arguments(self, step: fmt.Step) -> None:
        kind = STEP_KINDS.get(step.type)
        if kind is None or not isinstance(step.raw.get("Arguments"), dict):
            return
        shape = operation_model("sagemaker", kind.create).input_shape
        self.sources = {}
        request = self.placeholders(dict(step.arguments), shape)
        if kind.name_member:
            if kind.name_member in step.arguments:
                self.error(
                    f"step {step.name}",
                    f"Arguments name the {kind.name_member}; leave it out, the pipeline names it",
                )
            request[kind.name_member] = "placeholder"
        for problem in request_errors("sagemaker", kind.create, request):
            # The deepest member path in the problem that a parameter filled, if any.
            paths = sorted((p for p in self.sources if p and p in problem), key=len)
            if paths:
                problem += f" (the value of parameter {self.sources[paths[-1]]})"
            self.error(f"step {step.name} ({kind.create})", problem)

    def run(self) -> list[str]:
        for step in self.definition.steps.values():
            self.check_properties(f"step {step.name}", step.own)
            self.check_arguments(step)
        self.check_properties("PipelineExperimentConfig", self.definition.experiment_config)
        return self.errors


def definition_errors(definition: Mapping[str, Any]) -> list[str]:
    """Every problem found in ``definition`` (empty when it passes)."""
    return _Checker(definition).run()


def check_definition(definition: Mapping[str, Any]) -> None:
    """Raise :class:`DefinitionInvalid` naming each problem (exit code 2)."""
    errors = definition_errors(definition)
    if errors:
        raise DefinitionInvalid("pipeline definition rejected: " + "; ".join(errors))
