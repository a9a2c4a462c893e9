"""A SageMaker Pipelines definition (the JSON ``Pipeline.definition()`` emits), read and checked
for the local engine: parameters and their types, every step (those of Condition branches
included), what each step depends on, and an order to run them in.

What is refused here, with the step and the fix named: JSON that is not a definition, unknown
or duplicate step names, step types and condition types the local engine does not run, a
``Get`` of an unknown parameter, step or execution variable, dependency cycles, bad
CacheConfig durations.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mpg_launch.errors import ConfigError

# Step types the local engine runs; anything else is refused by name.
JOB_STEP_TYPES = ("Processing", "Training", "Transform")
STEP_TYPES = (*JOB_STEP_TYPES, "Model", "RegisterModel", "Condition", "Fail")
COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
# Execution variables a definition may Get (the SDK's ExecutionVariables).
EXECUTION_VARIABLES = (
    "Execution.PipelineExecutionId",
    "Execution.PipelineExecutionArn",
    "Execution.PipelineName",
    "Execution.PipelineArn",
    "Execution.StartDateTime",
    "Execution.CurrentDateTime",
    "Execution.PipelineExperimentConfig.ExperimentName",
    "Execution.PipelineExperimentConfig.TrialName",
)
_DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_INTEGER = re.compile(r"^[+-]?\d+$")


class PipelineDefinitionError(ConfigError):
    """A definition (or a start request's parameters) the local engine cannot run."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: Any = None  # None: the execution must give a value
    enum: tuple[str, ...] = ()

    def coerce(self, value: Any, where: str) -> Any:
        """``value`` (a string from StartPipelineExecution, or a typed default) as this
        parameter's type; a PipelineDefinitionError naming the parameter when it is not one."""
        text = value if isinstance(value, str) else json.dumps(value)
        try:
            if self.type == "String":
                if not isinstance(value, str):
                    raise ValueError
                typed: Any = value
            elif self.type == "Integer":
                if isinstance(value, bool) or not (
                    isinstance(value, int) or _INTEGER.match(str(value).strip())
                ):
                    raise ValueError
                typed = int(value)
            elif self.type == "Float":
                if isinstance(value, bool):
                    raise ValueError
                typed = float(value)
                if not math.isfinite(typed):
                    raise ValueError
            else:  # Boolean
                if isinstance(value, bool):
                    typed = value
                elif str(value).strip().lower() in ("true", "false"):
                    typed = str(value).strip().lower() == "true"
                else:
                    raise ValueError
        except (TypeError, ValueError):
            raise PipelineDefinitionError(
                f"{where}: parameter {self.name} is of type {self.type}; {text} is not one"
            ) from None
        if self.enum and str(typed) not in self.enum:
            raise PipelineDefinitionError(
                f"{where}: parameter {self.name}={text} is not one of {list(self.enum)}"
            )
        return typed


@dataclass(frozen=True)
class PropertyFile:
    name: str
    output_name: str
    file_path: str


@dataclass(frozen=True)
class Step:
    name: str
    type: str
    arguments: Mapping[str, Any]
    depends_on: frozenset[str]  # DependsOn, every step a Get reads, and the owning Condition
    branch: tuple[str, bool] | None  # (Condition step, the outcome that runs this step)
    property_files: Mapping[str, PropertyFile]
    cache_expires_after: timedelta | None  # None: no caching
    cached: bool


@dataclass(frozen=True)
class Definition:
    parameters: Mapping[str, Parameter]
    steps: Mapping[str, Step]  # in definition order, branch steps after their Condition
    order: tuple[str, ...]  # every step after all it depends on

    def parameter_values(self, given: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """StartPipelineExecution's ``PipelineParameters`` over the defaults, typed."""
        values: dict[str, Any] = {}
        for item in given:
            name = str(item.get("Name"))
            if name not in self.parameters:
                raise PipelineDefinitionError(
                    f"unknown pipeline parameter {name!r}; the pipeline takes "
                    f"{sorted(self.parameters)}"
                )
            values[name] = self.parameters[name].coerce(item.get("Value"), "PipelineParameters")
        for name, parameter in self.parameters.items():
            if name not in values:
                if parameter.default is None:
                    raise PipelineDefinitionError(
                        f"parameter {name} has no default value; pass it in PipelineParameters"
                    )
                values[name] = parameter.default
        return values


def _fail(message: str) -> PipelineDefinitionError:
    return PipelineDefinitionError(f"pipeline definition: {message}")


def _parameters(raw: Any) -> dict[str, Parameter]:
    if not isinstance(raw, list):
        raise _fail("'Parameters' must be a list")
    parameters: dict[str, Parameter] = {}
    for item in raw:
        name, kind = item.get("Name"), item.get("Type")
        if not isinstance(name, str) or kind not in PARAMETER_TYPES:
            raise _fail(f"parameter {item!r} needs a Name and a Type in {PARAMETER_TYPES}")
        if name in parameters:
            raise _fail(f"parameter {name} is defined twice")
        parameter = Parameter(name, kind, enum=tuple(str(v) for v in item.get("EnumValues", [])))
        if item.get("DefaultValue") is not None:
            default = parameter.coerce(item["DefaultValue"], "pipeline definition DefaultValue")
            parameter = Parameter(name, kind, default, parameter.enum)
        parameters[name] = parameter
    return parameters


def references(value: Any) -> Iterator[str]:
    """Every ``Get`` path inside ``value`` (Std:Join and Std:JsonGet included)."""
    if isinstance(value, Mapping):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _conditions(conditions: Any, step: str) -> None:
    if not isinstance(conditions, list) or not conditions:
        raise _fail(f"Condition step {step} needs a non-empty 'Conditions' list")
    for condition in conditions:
        kind = condition.get("Type") if isinstance(condition, Mapping) else None
        if kind not in CONDITION_TYPES:
            raise _fail(
                f"step {step}: condition type {kind!r} is not supported locally; "
                f"use one of {list(CONDITION_TYPES)}"
            )
        needed = {
            "In": ("QueryValue", "Values"),
            "Not": ("Condition",),
            "Or": ("Conditions",),
        }.get(kind, ("LeftValue", "RightValue"))
        missing = [k for k in needed if k not in condition]
        if missing:
            raise _fail(f"step {step}: a {kind} condition needs {missing}")
        if kind == "Not":
            _conditions([condition["Condition"]], step)
        elif kind == "Or":
            _conditions(condition["Conditions"], step)


def duration(text: Any, step: str) -> timedelta:
    """An ISO 8601 duration (CacheConfig.ExpireAfter: P30D, PT1H, P1Y2M...), months as 30
    days and years as 365."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise _fail(
            f"step {step}: CacheConfig.ExpireAfter {text!r} is not an ISO 8601 duration "
            "(like P30D or PT12H)"
        )
    n = {k: int(v or 0) for k, v in match.groupdict().items()}
    return timedelta(
        days=365 * n["years"] + 30 * n["months"] + 7 * n["weeks"] + n["days"],
        hours=n["hours"],
        minutes=n["minutes"],
        seconds=n["seconds"],
    )


def _step(raw: Any, branch: tuple[str, bool] | None) -> Step:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Name"), str):
        raise _fail(f"every step needs a Name; got {str(raw)[:200]}")
    name, kind = raw["Name"], raw.get("Type")
    if kind not in STEP_TYPES:
        raise _fail(
            f"step {name} has type {kind!r}, which the local engine does not run; "
            f"it runs {list(STEP_TYPES)} (run this pipeline on SageMaker instead)"
        )
    arguments = raw.get("Arguments", {})
    if not isinstance(arguments, Mapping):
        raise _fail(f"step {name}: 'Arguments' must be an object")
    if kind == "Condition":
        _conditions(arguments.get("Conditions"), name)
        own = arguments.get("Conditions")
    elif kind == "Fail":
        own = arguments.get("ErrorMessage", "")
    else:
        own = arguments
    depends = set(raw.get("DependsOn", []))
    depends |= {ref.split(".")[1] for ref in references(own) if ref.startswith("Steps.")}
    if branch:
        depends.add(branch[0])
    files = {}
    for item in raw.get("PropertyFiles", []):
        try:
            files[item["PropertyFileName"]] = PropertyFile(
                item["PropertyFileName"], item["OutputName"], item["FilePath"]
            )
        except (KeyError, TypeError):
            raise _fail(
                f"step {name}: a property file needs PropertyFileName, OutputName and FilePath"
            ) from None
    cache = raw.get("CacheConfig") or {}
    enabled = bool(cache.get("Enabled"))
    expires = duration(cache["ExpireAfter"], name) if enabled and "ExpireAfter" in cache else None
    for policy in raw.get("RetryPolicies", []):  # accepted; no retried failure happens locally
        if not isinstance(policy, Mapping):
            raise _fail(f"step {name}: RetryPolicies must be objects")
    return Step(
        name=name,
        type=kind,
        arguments=arguments,
        depends_on=frozenset(depends),
        branch=branch,
        property_files=files,
        cache_expires_after=expires,
        cached=enabled,
    )


def _flatten(raw_steps: Any, branch: tuple[str, bool] | None) -> Iterator[Step]:
    if not isinstance(raw_steps, list):
        raise _fail("'Steps' (and a Condition's IfSteps/ElseSteps) must be lists")
    for raw in raw_steps:
        step = _step(raw, branch)
        yield step
        if step.type == "Condition":
            yield from _flatten(step.arguments.get("IfSteps", []), (step.name, True))
            yield from _flatten(step.arguments.get("ElseSteps", []), (step.name, False))


def _check_references(steps: Mapping[str, Step], parameters: Mapping[str, Any]) -> None:
    for step in steps.values():
        unknown_steps = sorted(step.depends_on - set(steps))
        if unknown_steps:
            raise _fail(f"step {step.name} depends on unknown step(s) {unknown_steps}")
        own = step.arguments.get("Conditions") if step.type == "Condition" else step.arguments
        for ref in references(own):
            root = ref.split(".")[0]
            if root == "Parameters" and ref.split(".", 1)[-1] not in parameters:
                raise _fail(f"step {step.name} reads unknown parameter {ref}")
            if root == "Execution" and ref not in EXECUTION_VARIABLES:
                raise _fail(f"step {step.name} reads unknown execution variable {ref}")
            if root not in ("Parameters", "Execution", "Steps"):
                raise _fail(f"step {step.name}: cannot Get {ref!r}")


def _order(steps: Mapping[str, Step]) -> tuple[str, ...]:
    """Kahn's algorithm, ties broken by definition order; what is left over is a cycle."""
    waiting = {name: set(step.depends_on) for name, step in steps.items()}
    order: list[str] = []
    while True:
        ready = [name for name, deps in waiting.items() if not deps]
        if not ready:
            break
        name = ready[0]
        order.append(name)
        del waiting[name]
        for deps in waiting.values():
            deps.discard(name)
    if waiting:
        raise _fail(
            f"steps {sorted(waiting)} depend on each other in a cycle; "
            "remove a DependsOn or a Get that closes it"
        )
    return tuple(order)


def parse_definition(text: str) -> Definition:
    """Read and check a definition; a PipelineDefinitionError names what is wrong."""
    try:
        raw = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise _fail(f"not valid JSON ({exc})") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("Steps"), list):
        raise _fail("expected an object with a 'Steps' list (as Pipeline.definition() gives)")
    parameters = _parameters(raw.get("Parameters", []))
    steps: dict[str, Step] = {}
    for step in _flatten(raw["Steps"], None):
        if step.name in steps:
            raise _fail(f"step name {step.name} is used twice; step names must be unique")
        steps[step.name] = step
    if not steps:
        raise _fail("the pipeline has no steps")
    _check_references(steps, parameters)
    return Definition(parameters=parameters, steps=steps, order=_order(steps))
