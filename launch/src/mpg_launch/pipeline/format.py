"""The SageMaker Pipelines definition format (the JSON ``Pipeline.definition()`` emits), read in
one place into typed objects, the way ``botocore.model`` reads a service's JSON once.

- the vocabulary: step, parameter and condition types, execution variables, the expressions
  ``Get``, ``Std:Join`` and ``Std:JsonGet`` as the SDK spells them (and builders for them);
- :func:`read_definition`: parameters, steps (those of Condition branches included, each
  knowing its branch), what each step reads, what it depends on and an order to run them in,
  with every problem of the format found on the way, each naming where it is and the fix;
- :func:`parse_definition`: the same from JSON text, raising when anything is wrong.

Two readers use it: :mod:`mpg_launch.pipeline.checks` (before a definition is sent; it adds
what botocore's service model knows) and the local engine
(:mod:`mpg_launch.local.engine.pipeline_runs`).
Which step types a reader runs is its own business: it passes them in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from mpg_launch.errors import ConfigError

# Expressions, spelled as the SDK spells them (tests/unit/launch/test_pipeline_sdk_shape.py).
Expression = dict[str, Any]
GET, JOIN, JSON_GET = "Get", "Std:Join", "Std:JsonGet"
# What a Get may read: {"Get": "<root>.<rest>"}.
PARAMETERS, EXECUTION, STEPS, EXPERIMENT = (
    "Parameters",
    "Execution",
    "Steps",
    "PipelineExperimentConfig",
)
# The SDK's ExecutionVariables ({"Get": "Execution.<name>"}); the two job names are those of
# the step that reads them.
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
# The SDK's PipelineExperimentConfigProperties ({"Get": "PipelineExperimentConfig.<name>"}).
EXPERIMENT_VARIABLES = ("ExperimentName", "TrialName")

PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
JOB_TYPES = ("Processing", "Training", "Tuning", "Transform")
RESOURCE_TYPES = ("Model", "RegisterModel")
CONTROL_TYPES = ("Condition", "Fail")
# Step types this kit knows; a reader passes the subset it runs.
STEP_TYPES = (*JOB_TYPES, *RESOURCE_TYPES, *CONTROL_TYPES)
COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")
# The members each condition type needs (Not wraps one condition, as ConditionNot writes it).
CONDITION_MEMBERS = {"In": ("QueryValue", "Values"), "Not": ("Condition",), "Or": ("Conditions",)}
STEP_KEYS = frozenset(
    {
        "Name",
        "Type",
        "Arguments",
        "DependsOn",
        "DisplayName",
        "Description",
        "CacheConfig",
        "RetryPolicies",
        "PropertyFiles",
    }
)
STEP_EXCEPTIONS = ("Step.SERVICE_FAULT", "Step.THROTTLING")
JOB_EXCEPTIONS = (
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
)
# SageMaker's StepName: letters, digits, '-' and '_', at most 64.
_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
# ISO 8601 durations, as CacheConfig.ExpireAfter takes them (P30D, PT1H, P1Y2M...).
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_INTEGER = re.compile(r"^[+-]?\d+$")
# One segment of a property path: .Name (or Name first), [0], ['key'] or ["key"].
_SEGMENT = re.compile(r"\.?([^.\[\]'\"]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class PipelineDefinitionError(ConfigError):
    """A definition (or a start request's parameters) that cannot run; nothing ran."""


# Builders: what pipeline/definition.py writes.
def parameter(name: str) -> Expression:
    return {GET: f"{PARAMETERS}.{name}"}


def execution(name: str) -> Expression:
    return {GET: f"{EXECUTION}.{name}"}


def step_property(step: str, path: str) -> Expression:
    """``path`` as the SDK prints properties: ``ModelArtifacts.S3ModelArtifacts``,
    ``ProcessingOutputConfig.Outputs['features'].S3Output.S3Uri``."""
    return {GET: f"{STEPS}.{step}.{path}"}


def processing_output_uri(step: str, output: str) -> Expression:
    return step_property(step, f"ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri")


def property_file(step: str, name: str) -> Expression:
    return {GET: f"{STEPS}.{step}.PropertyFiles.{name}"}


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
    if isinstance(value, Mapping):
        if set(value) == {GET} and isinstance(value[GET], str):
            yield value[GET]
            return
        for item in value.values():
            yield from gets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from gets_in(item)


@dataclass(frozen=True)
class Segment:
    """One step of a property path: a structure ``member``, a list ``index`` or a ``key``
    (a map's key, or the name of a list element: ``Outputs['features']``)."""

    kind: str  # "member", "index" or "key"
    value: str | int


def property_path(path: str) -> list[Segment] | None:
    """``a.b[0]['c d'].e`` as segments; None when ``path`` is not a property path."""
    found: list[Segment] = []
    position = 0
    while position < len(path):
        match = _SEGMENT.match(path, position)
        if not match or match.end() == position:
            return None
        member, index, single, double = match.groups()
        if member is not None:
            found.append(Segment("member", member))
        elif index is not None:
            found.append(Segment("index", int(index)))
        else:
            found.append(Segment("key", single if single is not None else double))
        position = match.end()
    return found


@dataclass(frozen=True)
class Reference:
    """One ``Get``: ``root`` and, for Steps, the step and the path within it."""

    text: str
    root: str
    name: str  # the parameter, variable or step read
    path: str = ""  # Steps only: what follows the step's name ("ModelArtifacts...")

    @classmethod
    def parse(cls, text: str) -> Reference:
        root, _, rest = text.partition(".")
        if root != STEPS:
            return cls(text, root, rest)
        match = re.match(r"^([^.\[]+)\.?(.*)$", rest)
        step, path = match.groups() if match else (rest, "")
        return cls(text, root, step, path)

    @property
    def property_file(self) -> str | None:
        """The property file a ``Steps.<step>.PropertyFiles.<name>`` names."""
        return self.path.removeprefix("PropertyFiles.") if self.is_property_file else None

    @property
    def is_property_file(self) -> bool:
        return self.root == STEPS and self.path.startswith("PropertyFiles.")


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
            typed = _typed(self.type, value)
        except (TypeError, ValueError):
            raise PipelineDefinitionError(
                f"{where}: parameter {self.name} is of type {self.type}; {text} is not one"
            ) from None
        if self.enum and str(typed) not in self.enum:
            raise PipelineDefinitionError(
                f"{where}: parameter {self.name}={text} is not one of {list(self.enum)}"
            )
        return typed


def _typed(kind: str, value: Any) -> Any:
    if kind == "String":
        if not isinstance(value, str):
            raise ValueError
        return value
    if kind == "Integer":
        if isinstance(value, bool) or not (
            isinstance(value, int) or _INTEGER.match(str(value).strip())
        ):
            raise ValueError
        return int(value)
    if kind == "Float":
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if not math.isfinite(number):
            raise ValueError
        return number
    if isinstance(value, bool):  # Boolean
        return value
    if str(value).strip().lower() in ("true", "false"):
        return str(value).strip().lower() == "true"
    raise ValueError


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
    cached: bool
    cache_expires_after: timedelta | None  # None: no expiry (or no caching)
    raw: Mapping[str, Any]

    @property
    def own(self) -> dict[str, Any]:
        """What the step itself reads: a condition's branches are steps of their own."""
        return {k: v for k, v in self.arguments.items() if k not in ("IfSteps", "ElseSteps")}

    @property
    def references(self) -> list[Reference]:
        return [Reference.parse(get) for get in gets_in(self.own)]

    @property
    def output_names(self) -> set[str]:
        """A Processing step's output names."""
        return output_names(self.arguments)


def output_names(arguments: Any) -> set[str]:
    """The OutputNames of a Processing step's ``Arguments``."""
    config = arguments.get("ProcessingOutputConfig") if isinstance(arguments, Mapping) else None
    outputs = config.get("Outputs") if isinstance(config, Mapping) else None
    return {str(o.get("OutputName")) for o in outputs or [] if isinstance(o, Mapping)}


@dataclass(frozen=True)
class Definition:
    parameters: Mapping[str, Parameter]
    steps: Mapping[str, Step]  # in definition order, branch steps after their Condition
    order: tuple[str, ...]  # every step after all it depends on (empty when cyclic)
    experiment_config: Mapping[str, Any]
    raw: Mapping[str, Any]

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
        for name, declared in self.parameters.items():
            if name not in values:
                if declared.default is None:
                    raise PipelineDefinitionError(
                        f"parameter {name} has no default value; pass it in PipelineParameters"
                    )
                values[name] = declared.default
        return values


def all_steps(steps: Any) -> Iterator[dict[str, Any]]:
    """Every raw step, those in condition branches too (depth first)."""
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            for branch in ("IfSteps", "ElseSteps"):
                yield from all_steps(list(arguments.get(branch) or []))


def duration(text: str) -> timedelta | None:
    """An ISO 8601 duration (months as 30 days, years as 365); None when it is not one."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        return None
    n = {k: int(v or 0) for k, v in match.groupdict().items()}
    return timedelta(
        days=365 * n["years"] + 30 * n["months"] + 7 * n["weeks"] + n["days"],
        hours=n["hours"],
        minutes=n["minutes"],
        seconds=n["seconds"],
    )


@dataclass
class Reading:
    """What :func:`read_definition` found: the definition as far as it could be read, and
    every problem (``"<where>: <what and the fix>"``); empty problems mean it is sound."""

    definition: Definition
    problems: list[str]


class _Reader:
    def __init__(self, raw: Mapping[str, Any], step_types: Sequence[str], runner: str) -> None:
        self.raw = raw
        self.step_types = tuple(step_types)
        self.runner = runner
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # Parameters.
    def parameters(self) -> dict[str, Parameter]:
        found: dict[str, Parameter] = {}
        declared = self.raw.get("Parameters", [])
        if not isinstance(declared, list):
            self.problem("definition", "Parameters must be a list")
            return found
        for item in declared:
            name = item.get("Name") if isinstance(item, dict) else item
            where = f"parameter {name!r}"
            if not isinstance(item, dict) or item.get("Type") not in PARAMETER_TYPES:
                self.problem(where, f"Type must be one of {list(PARAMETER_TYPES)}")
                if isinstance(name, str):  # known by name: its readers are not blamed too
                    found[name] = Parameter(name, str(item.get("Type")))
                continue
            if not isinstance(name, str) or not name:
                self.problem(where, "a parameter needs a Name")
                continue
            if name in found:
                self.problem(where, "is declared twice; names are unique")
                continue
            enum = tuple(str(v) for v in item.get("EnumValues") or [])
            declared_parameter = Parameter(name, item["Type"], enum=enum)
            default = item.get("DefaultValue")
            if default is not None:
                try:
                    default = declared_parameter.coerce(default, "DefaultValue")
                except PipelineDefinitionError as exc:
                    self.problem(where, str(exc))
                    default = None
            found[name] = Parameter(name, item["Type"], default, enum)
        return found

    # Steps.
    def steps(self) -> dict[str, tuple[dict[str, Any], tuple[str, bool] | None]]:
        steps = self.raw.get("Steps")
        if not isinstance(steps, list) or not steps:
            self.problem("definition", "Steps must be a non-empty list")
            return {}
        found: dict[str, tuple[dict[str, Any], tuple[str, bool] | None]] = {}
        for raw, branch in self._walk(steps, None):
            name = raw.get("Name")
            if not isinstance(name, str) or not _STEP_NAME.match(name):
                self.problem(f"step {name!r}", "names are 1-64 letters, digits, '-' or '_'")
            elif name in found:
                self.problem(f"step {name}", "the name is used by another step; names are unique")
            else:
                found[name] = (raw, branch)
        return found

    def _walk(
        self, steps: Any, branch: tuple[str, bool] | None
    ) -> Iterator[tuple[dict[str, Any], tuple[str, bool] | None]]:
        if not isinstance(steps, list):
            self.problem("definition", "Steps, IfSteps and ElseSteps must be lists")
            return
        for raw in steps:
            if not isinstance(raw, dict):
                self.problem("definition", f"a step must be an object, not {str(raw)[:100]}")
                continue
            yield raw, branch
            if raw.get("Type") == "Condition" and isinstance(raw.get("Arguments"), dict):
                name = str(raw.get("Name"))
                yield from self._walk(raw["Arguments"].get("IfSteps") or [], (name, True))
                yield from self._walk(raw["Arguments"].get("ElseSteps") or [], (name, False))

    def step(
        self,
        raw: dict[str, Any],
        branch: tuple[str, bool] | None,
        names: set[str],
        parameters: Mapping[str, Parameter],
    ) -> Step:
        name, kind = str(raw["Name"]), raw.get("Type")
        where = f"step {name}"
        unknown = sorted(set(raw) - STEP_KEYS)
        if unknown:
            self.problem(where, f"unknown key(s) {unknown}; a step takes {sorted(STEP_KEYS)}")
        if kind not in self.step_types:
            self.problem(
                where,
                f"Type {kind!r} is not one {self.runner} runs; use one of "
                f"{sorted(self.step_types)}",
            )
        arguments = raw.get("Arguments")
        if not isinstance(arguments, dict):
            self.problem(where, "Arguments must be an object")
            arguments = {}
        depends = raw.get("DependsOn") or []
        if not isinstance(depends, list):
            self.problem(where, "DependsOn must be a list of step names")
            depends = []
        for dependency in depends:
            if str(dependency) not in names:
                self.problem(where, f"DependsOn names no step {dependency!r}")
        files = self.property_files(where, raw, kind)
        cached, expires = self.cache(where, raw.get("CacheConfig"))
        self.retries(where, raw.get("RetryPolicies") or [], kind)
        if kind == "Condition":
            self.conditions(where, arguments.get("Conditions"))
        if kind == "Fail" and "ErrorMessage" not in arguments:
            self.problem(where, "a Fail step needs Arguments.ErrorMessage")
        step = Step(
            name=name,
            type=str(kind),
            arguments=arguments,
            depends_on=frozenset(),
            branch=branch,
            property_files=files,
            cached=cached,
            cache_expires_after=expires,
            raw=raw,
        )
        needed = {str(d) for d in depends} | {r.name for r in step.references if r.root == STEPS}
        if branch:
            needed.add(branch[0])
        self.expressions(where, step.own)
        return replace(step, depends_on=frozenset(needed & names))

    def property_files(self, where: str, raw: dict[str, Any], kind: Any) -> dict[str, PropertyFile]:
        declared = raw.get("PropertyFiles") or []
        if declared and kind != "Processing":
            self.problem(where, "only Processing steps have PropertyFiles")
            return {}
        outputs = output_names(raw.get("Arguments"))
        files: dict[str, PropertyFile] = {}
        for item in declared:
            if not isinstance(item, dict) or not {
                "PropertyFileName",
                "OutputName",
                "FilePath",
            } <= set(item):
                self.problem(where, "a PropertyFile needs PropertyFileName, OutputName, FilePath")
                continue
            if item["OutputName"] not in outputs:
                self.problem(
                    where,
                    f"PropertyFile {item['PropertyFileName']} reads OutputName "
                    f"{item['OutputName']!r}, which the step does not write; its outputs: "
                    f"{sorted(outputs)}",
                )
            files[str(item["PropertyFileName"])] = PropertyFile(
                str(item["PropertyFileName"]), str(item["OutputName"]), str(item["FilePath"])
            )
        return files

    def cache(self, where: str, cache: Any) -> tuple[bool, timedelta | None]:
        if cache is None:
            return False, None
        if not isinstance(cache, dict) or not isinstance(cache.get("Enabled"), bool):
            self.problem(where, "CacheConfig needs Enabled (true or false)")
            return False, None
        expire = cache.get("ExpireAfter")
        expires = duration(expire) if expire is not None else None
        if expire is not None and expires is None:
            self.problem(
                where,
                f"CacheConfig.ExpireAfter {expire!r} is not an ISO 8601 duration "
                "(like P30D or PT12H)",
            )
        return cache["Enabled"], expires

    def retries(self, where: str, policies: Any, kind: Any) -> None:
        allowed = STEP_EXCEPTIONS + (JOB_EXCEPTIONS if kind in JOB_TYPES else ())
        for policy in policies if isinstance(policies, list) else [policies]:
            kinds = policy.get("ExceptionType") if isinstance(policy, dict) else None
            if not isinstance(kinds, list) or not kinds:
                self.problem(where, "each RetryPolicies entry needs an ExceptionType list")
                continue
            bad = [k for k in kinds if k not in allowed]
            if bad:
                self.problem(where, f"RetryPolicies ExceptionType {bad} not among {list(allowed)}")
            attempts = policy.get("MaxAttempts", 1)
            if not isinstance(attempts, int) or not 1 <= attempts <= 20:
                self.problem(where, f"RetryPolicies MaxAttempts {attempts!r} must be 1-20")

    def conditions(self, where: str, conditions: Any) -> None:
        if not isinstance(conditions, list) or not conditions:
            self.problem(where, "a Condition step needs a non-empty Conditions list")
            return
        for condition in conditions:
            kind = condition.get("Type") if isinstance(condition, dict) else None
            if kind not in CONDITION_TYPES:
                self.problem(
                    where, f"condition Type {kind!r} is not one of {list(CONDITION_TYPES)}"
                )
                continue
            needed = CONDITION_MEMBERS.get(kind, ("LeftValue", "RightValue"))
            missing = [k for k in needed if k not in condition]
            if missing:
                self.problem(where, f"condition {kind} needs {missing}")
            elif kind == "Not":
                self.conditions(where, [condition["Condition"]])
            elif kind == "Or":
                self.conditions(where, condition["Conditions"])

    # References.
    def expressions(self, where: str, value: Any) -> None:
        """Every expression in ``value`` is well formed; its references are checked later,
        when every step is known (:meth:`references`)."""
        if isinstance(value, list):
            for item in value:
                self.expressions(where, item)
            return
        if not isinstance(value, dict):
            return
        if set(value) == {JSON_GET}:
            body = value[JSON_GET]
            file = body.get("PropertyFile") if isinstance(body, dict) else None
            get = file.get(GET) if isinstance(file, dict) else None
            by_file = isinstance(get, str) and Reference.parse(get).is_property_file
            if not by_file and not (isinstance(body, dict) and "S3Uri" in body):
                self.problem(
                    where,
                    "Std:JsonGet needs PropertyFile: {'Get': 'Steps.<step>.PropertyFiles.<name>'}"
                    " (or an S3Uri)",
                )
            if not isinstance(body, dict) or not body.get("Path"):
                self.problem(where, "Std:JsonGet needs a Path (e.g. regression_metrics.rmse.value)")
            return
        if set(value) == {JOIN}:
            body = value[JOIN]
            if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
                self.problem(where, "Std:Join needs On and a Values list")
                return
            self.expressions(where, body["Values"])
            return
        unknown = [k for k in value if str(k).startswith("Std:") and k not in (JOIN, JSON_GET)]
        if unknown:
            self.problem(where, f"function {unknown[0]} is not one of {[JOIN, JSON_GET]}")
        for item in value.values():
            self.expressions(where, item)

    def reference(
        self, where: str, ref: Reference, parameters: Mapping[str, Any], steps: Mapping[str, Step]
    ) -> None:
        get = f"{{'Get': {ref.text!r}}}"
        if ref.root == PARAMETERS and ref.name not in parameters:
            self.problem(where, f"{get}: no parameter {ref.name!r}; declared: {sorted(parameters)}")
        elif ref.root == EXECUTION and ref.name not in EXECUTION_VARIABLES:
            self.problem(
                where,
                f"{get}: no execution variable {ref.name!r}; known: {list(EXECUTION_VARIABLES)}",
            )
        elif ref.root == EXPERIMENT and ref.name not in EXPERIMENT_VARIABLES:
            self.problem(where, f"{get}: PipelineExperimentConfig has {list(EXPERIMENT_VARIABLES)}")
        elif ref.root == STEPS:
            if ref.name not in steps:
                self.problem(where, f"{get}: no step {ref.name!r}; steps: {sorted(steps)}")
            elif ref.is_property_file and ref.property_file not in steps[ref.name].property_files:
                self.problem(
                    where,
                    f"{get}: step {ref.name} declares no property file {ref.property_file!r}; "
                    f"it declares: {sorted(steps[ref.name].property_files)}",
                )
        elif ref.root not in (PARAMETERS, EXECUTION, EXPERIMENT, STEPS):
            self.problem(
                where,
                f"{get}: a Get reads Parameters., Execution. or Steps. "
                "(or PipelineExperimentConfig.)",
            )

    # Order.
    def order(self, steps: Mapping[str, Step]) -> tuple[str, ...]:
        """Kahn's algorithm, ties broken by definition order; a cycle is reported as a path."""
        waiting = {name: set(step.depends_on) for name, step in steps.items()}
        order: list[str] = []
        while ready := [name for name, needs in waiting.items() if not needs]:
            order.append(ready[0])
            del waiting[ready[0]]
            for needs in waiting.values():
                needs.discard(ready[0])
        if waiting:
            cycle = _cycle({name: steps[name].depends_on for name in waiting})
            self.problem(
                f"step {cycle[0]}",
                "the steps depend on each other in a cycle: "
                + " -> ".join(cycle)
                + "; remove a DependsOn or a Get that closes it",
            )
            return ()
        return tuple(order)

    def read(self) -> Definition:
        parameters = self.parameters()
        raw_steps = self.steps()
        names = set(raw_steps)
        steps = {
            name: self.step(raw, branch, names, parameters)
            for name, (raw, branch) in raw_steps.items()
        }
        for step in steps.values():
            for ref in step.references:
                self.reference(f"step {step.name}", ref, parameters, steps)
        experiment = self.raw.get("PipelineExperimentConfig") or {}
        self.expressions("PipelineExperimentConfig", experiment)
        for get in gets_in(experiment):
            self.reference("PipelineExperimentConfig", Reference.parse(get), parameters, steps)
        order = self.order(steps) if steps else ()
        return Definition(parameters, steps, order, experiment, self.raw)


def _cycle(graph: Mapping[str, frozenset[str]]) -> list[str]:
    """One cycle of ``graph`` (every node is on or leads to one), as a path back to its start."""
    path = [min(graph)]
    while True:
        following = sorted(n for n in graph[path[-1]] if n in graph)
        step = next((n for n in following if n in path), following[0])
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)


def read_definition(
    raw: Any, step_types: Sequence[str] = STEP_TYPES, runner: str = "this kit"
) -> Reading:
    """Read a parsed definition; ``step_types`` are those the caller runs."""
    if not isinstance(raw, Mapping):
        empty = Definition({}, {}, (), {}, {})
        return Reading(empty, ["definition: expected an object (as Pipeline.definition() gives)"])
    reader = _Reader(raw, step_types, runner)
    definition = reader.read()
    return Reading(definition, reader.problems)


def parse_definition(
    text: str, step_types: Sequence[str] = STEP_TYPES, runner: str = "this kit"
) -> Definition:
    """Read a definition from its JSON text; a PipelineDefinitionError names every problem."""
    try:
        raw = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise PipelineDefinitionError(f"pipeline definition: not valid JSON ({exc})") from None
    reading = read_definition(raw, step_types, runner)
    if reading.problems:
        raise PipelineDefinitionError("pipeline definition: " + "; ".join(reading.problems))
    return reading.definition
