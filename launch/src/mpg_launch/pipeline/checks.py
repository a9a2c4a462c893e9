"""Check a pipeline definition before anything is sent, as far as botocore's service model and
the definition itself allow.

- every job step's ``Arguments``, with parameters and properties replaced by placeholder values
  of their type (a parameter's default, a property's shape in the Describe* output), against
  botocore's model of its Create* request (:mod:`mpg_launch.validation`);
- every ``Get`` names a declared parameter, an execution variable, an existing step and a
  property that step type has (its Describe* output shape), or a declared property file;
- step names are unique and valid; ``DependsOn`` names existing steps; the step graph
  (``DependsOn``, ``Get`` references and condition branches) has no cycle;
- step types, conditions, caching and retry policies are ones SageMaker knows.

Errors name the step and the bad reference; all are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from mpg_launch.errors import RequestInvalid
from mpg_launch.pipeline import expressions as expr
from mpg_launch.validation import _pattern, operation_model, request_errors

Step = dict[str, Any]


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
CONTROL_TYPES = ("Condition", "Fail")
CONDITION_TYPES = (
    "Equals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "In",
    "Not",
    "Or",
)
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
JOB_TYPES = ("Processing", "Training", "Tuning", "Transform")
# SageMaker's StepName: letters, digits, '-' and '_', at most 64.
_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
# ISO 8601 durations, as CacheConfig.ExpireAfter takes them (P30D, PT1H, P1Y2M...).
_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
# A property path: Name, .Name, [0] or ['key'].
_SEGMENT = re.compile(r"\.?([A-Za-z0-9_]+)|\[(\d+)\]|\['([^']*)'\]")
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


def all_steps(steps: list[Any]) -> Iterator[Step]:
    """Every step, those in condition branches too (depth first)."""
    for step in steps:
        if not isinstance(step, dict):
            continue
        yield step
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            for branch in ("IfSteps", "ElseSteps"):
                yield from all_steps(list(arguments.get(branch) or []))


def own_content(step: Step) -> dict[str, Any]:
    """What a step itself reads: a condition's branches are steps of their own."""
    arguments = dict(step.get("Arguments") or {})
    if step.get("Type") == "Condition":
        arguments.pop("IfSteps", None)
        arguments.pop("ElseSteps", None)
    return {"Arguments": arguments}


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
    """One pass over a definition; ``errors`` collects every problem found."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.definition = definition
        self.errors: list[str] = []
        declared = [p for p in definition.get("Parameters") or [] if isinstance(p, dict)]
        self.parameters = {str(p.get("Name")): p for p in declared}
        self.steps: dict[str, Step] = {}
        self.sources: dict[str, str] = {}

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    # Names, keys and graph.
    def check_parameters(self) -> None:
        for p in self.definition.get("Parameters") or []:
            if not isinstance(p, dict) or p.get("Type") not in _TYPE_PLACEHOLDERS:
                self.error(
                    f"parameter {p.get('Name') if isinstance(p, dict) else p!r}",
                    f"Type must be one of {list(_TYPE_PLACEHOLDERS)}",
                )

    def collect_steps(self) -> list[Step]:
        steps = self.definition.get("Steps")
        if not isinstance(steps, list) or not steps:
            self.error("definition", "Steps must be a non-empty list")
            return []
        found = list(all_steps(steps))
        for step in found:
            name = step.get("Name")
            if not isinstance(name, str) or not _STEP_NAME.match(name):
                self.error(
                    f"step {name!r}",
                    "names are 1-64 letters, digits, '-' or '_'; rename it",
                )
            elif name in self.steps:
                self.error(f"step {name}", "the name is used by another step; names are unique")
            else:
                self.steps[name] = step
        return found

    def check_step_shape(self, step: Step) -> None:
        name, kind = step.get("Name"), step.get("Type")
        where = f"step {name}"
        unknown = sorted(set(step) - STEP_KEYS)
        if unknown:
            self.error(where, f"unknown key(s) {unknown}; a step takes {sorted(STEP_KEYS)}")
        if kind not in STEP_KINDS and kind not in CONTROL_TYPES:
            self.error(
                where,
                f"Type {kind!r} is not one this kit runs; use one of "
                f"{sorted([*STEP_KINDS, *CONTROL_TYPES])}",
            )
        if not isinstance(step.get("Arguments"), dict):
            self.error(where, "Arguments must be an object")
        for dependency in step.get("DependsOn") or []:
            if dependency not in self.steps:
                self.error(where, f"DependsOn names no step {dependency!r}")
        self.check_cache(where, step)
        self.check_retries(where, step)
        self.check_property_files(where, step)

    def check_cache(self, where: str, step: Step) -> None:
        cache = step.get("CacheConfig")
        if cache is None:
            return
        if not isinstance(cache, dict) or not isinstance(cache.get("Enabled"), bool):
            self.error(where, "CacheConfig needs Enabled (true or false)")
            return
        expire = cache.get("ExpireAfter")
        if expire is not None and not _DURATION.match(str(expire)):
            self.error(where, f"CacheConfig.ExpireAfter {expire!r} is not an ISO 8601 duration")

    def check_retries(self, where: str, step: Step) -> None:
        allowed = STEP_EXCEPTIONS + (JOB_EXCEPTIONS if step.get("Type") in JOB_TYPES else ())
        for policy in step.get("RetryPolicies") or []:
            kinds = policy.get("ExceptionType") if isinstance(policy, dict) else None
            if not isinstance(kinds, list) or not kinds:
                self.error(where, "each RetryPolicies entry needs an ExceptionType list")
                continue
            bad = [k for k in kinds if k not in allowed]
            if bad:
                self.error(where, f"RetryPolicies ExceptionType {bad} not among {list(allowed)}")
            attempts = policy.get("MaxAttempts", 1)
            if not isinstance(attempts, int) or not 1 <= attempts <= 20:
                self.error(where, f"RetryPolicies MaxAttempts {attempts!r} must be 1-20")

    def check_property_files(self, where: str, step: Step) -> None:
        files = step.get("PropertyFiles") or []
        if files and step.get("Type") != "Processing":
            self.error(where, "only Processing steps have PropertyFiles")
            return
        outputs = self.output_names(step)
        for item in files:
            if not isinstance(item, dict) or not {
                "PropertyFileName",
                "OutputName",
                "FilePath",
            } <= set(item):
                self.error(where, "a PropertyFile needs PropertyFileName, OutputName, FilePath")
            elif item["OutputName"] not in outputs:
                self.error(
                    where,
                    f"PropertyFile {item['PropertyFileName']} reads OutputName "
                    f"{item['OutputName']!r}, which the step does not write; its outputs: "
                    f"{sorted(outputs)}",
                )

    @staticmethod
    def output_names(step: Step) -> set[str]:
        config = (step.get("Arguments") or {}).get("ProcessingOutputConfig") or {}
        return {
            str(o.get("OutputName")) for o in config.get("Outputs") or [] if isinstance(o, dict)
        }

    def dependencies(self, step: Step) -> set[str]:
        """The steps ``step`` needs finished first: DependsOn and every step it reads."""
        needed = {str(d) for d in step.get("DependsOn") or []}
        for path in expr.gets_in(own_content(step)):
            if path.startswith("Steps."):
                needed.add(path.split(".")[1].split("[")[0])
        return needed & set(self.steps)

    def check_cycles(self) -> None:
        graph = {name: self.dependencies(step) for name, step in self.steps.items()}
        for name, step in self.steps.items():  # a branch step runs after its condition
            if step.get("Type") == "Condition":
                arguments = step.get("Arguments") or {}
                for branch in ("IfSteps", "ElseSteps"):
                    for inner in arguments.get(branch) or []:
                        if isinstance(inner, dict) and inner.get("Name") in graph:
                            graph[inner["Name"]].add(name)
        state: dict[str, int] = {}  # 1 visiting, 2 done
        path: list[str] = []

        def visit(node: str) -> bool:
            state[node] = 1
            path.append(node)
            for needed in sorted(graph[node]):
                if state.get(needed) == 1:
                    cycle = [*path[path.index(needed) :], needed]
                    self.error(
                        f"step {needed}",
                        "the steps depend on each other in a cycle: " + " -> ".join(cycle),
                    )
                    return True
                if needed not in state and visit(needed):
                    return True
            path.pop()
            state[node] = 2
            return False

        for node in sorted(graph):
            if node not in state and visit(node):
                return

    # References.
    def property_shape(self, where: str, get: str, step: Step, rest: str) -> Shape | None:
        """The shape of ``Steps.<step>.<rest>`` in the step's Describe* output, or None after
        recording why the path is not there."""
        kind = STEP_KINDS.get(str(step.get("Type")))
        if kind is None:
            if step.get("Type") != "Condition" or rest != "Outcome":
                self.error(where, f"{{'Get': {get!r}}}: a {step.get('Type')} step has no {rest}")
            return None
        shape: Shape | None = operation_model("sagemaker", kind.describe).output_shape
        walked = ""  # the part of ``rest`` found so far
        position = 0
        for match in _SEGMENT.finditer(rest):
            if match.start() != position:
                break
            member, _index, key = match.groups()
            if member is not None and isinstance(shape, StructureShape):
                if member not in shape.members:
                    self.error(
                        where,
                        f"{{'Get': {get!r}}}: {kind.describe} has no {walked or 'output'} "
                        f"member {member!r}; it has: {', '.join(sorted(shape.members))}",
                    )
                    return None
                shape = shape.members[member]
            elif member is None and isinstance(shape, ListShape | MapShape):
                if key is not None and walked == "ProcessingOutputConfig.Outputs":
                    outputs = self.output_names(step)
                    if key not in outputs:
                        self.error(
                            where,
                            f"{{'Get': {get!r}}}: step {step.get('Name')} has no output "
                            f"{key!r}; its outputs: {sorted(outputs)}",
                        )
                        return None
                shape = shape.member if isinstance(shape, ListShape) else shape.value
            else:
                self.error(
                    where,
                    f"{{'Get': {get!r}}}: {walked or kind.describe} is not indexed that way "
                    f"({rest[position:]!r})",
                )
                return None
            position = match.end()
            walked = rest[:position]
        if not rest or position != len(rest):
            self.error(where, f"{{'Get': {get!r}}}: {rest!r} is not a property path")
            return None
        return shape

    def resolve_get(self, where: str, get: str) -> tuple[bool, Any]:
        """(known, placeholder value) for one ``Get``; unknown references are recorded."""
        root, _, rest = get.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                self.error(
                    where,
                    f"{{'Get': {get!r}}}: no parameter {rest!r}; declared: "
                    f"{sorted(self.parameters)}",
                )
                return False, None
            declared = self.parameters[rest]
            return True, declared.get(
                "DefaultValue", _TYPE_PLACEHOLDERS.get(str(declared.get("Type")), "placeholder")
            )
        if root == "Execution":
            if rest not in expr.EXECUTION_VARIABLES:
                self.error(
                    where,
                    f"{{'Get': {get!r}}}: no execution variable {rest!r}; known: "
                    f"{list(expr.EXECUTION_VARIABLES)}",
                )
                return False, None
            return True, _EXECUTION_PLACEHOLDERS[rest]
        if root == "Steps":
            step_name, _, path = rest.partition(".")
            if step_name not in self.steps:
                self.error(
                    where,
                    f"{{'Get': {get!r}}}: no step {step_name!r}; steps: {sorted(self.steps)}",
                )
                return False, None
            step = self.steps[step_name]
            if path.startswith("PropertyFiles."):
                file = path.removeprefix("PropertyFiles.")
                names = [f.get("PropertyFileName") for f in step.get("PropertyFiles") or []]
                if file not in names:
                    self.error(
                        where,
                        f"{{'Get': {get!r}}}: step {step_name} declares no property file "
                        f"{file!r}; it declares: {names}",
                    )
                    return False, None
                return True, "placeholder"
            shape = self.property_shape(where, get, step, path)
            return shape is not None or path == "Outcome", _shape_placeholder(shape)
        self.error(where, f"{{'Get': {get!r}}}: a Get reads Parameters., Execution. or Steps.")
        return False, None

    def check_expressions(self, where: str, value: Any) -> None:
        """Every expression in ``value`` is well formed and its references exist."""
        if isinstance(value, list):
            for item in value:
                self.check_expressions(where, item)
            return
        if not isinstance(value, dict):
            return
        if expr.GET in value and len(value) == 1:
            self.resolve_get(where, str(value[expr.GET]))
            return
        if expr.JSON_GET in value and len(value) == 1:
            body = value[expr.JSON_GET]
            file = body.get("PropertyFile") if isinstance(body, dict) else None
            get = file.get(expr.GET) if isinstance(file, dict) else None
            if not isinstance(get, str) or ".PropertyFiles." not in get:
                self.error(
                    where,
                    "Std:JsonGet needs PropertyFile: {'Get': 'Steps.<step>.PropertyFiles.<name>'}",
                )
            else:
                self.resolve_get(where, get)
            if not isinstance(body, dict) or not body.get("Path"):
                self.error(where, "Std:JsonGet needs a Path (e.g. regression_metrics.rmse.value)")
            return
        if expr.JOIN in value and len(value) == 1:
            body = value[expr.JOIN]
            if not isinstance(body, dict) or not isinstance(body.get("Values"), list):
                self.error(where, "Std:Join needs On and a Values list")
                return
            self.check_expressions(where, body["Values"])
            return
        for item in value.values():
            self.check_expressions(where, item)

    def placeholders(self, value: Any, shape: Shape | None, path: str = "") -> Any:
        """``value`` with every expression replaced by a placeholder of its type; where a
        parameter's value lands is remembered in ``sources`` (to name it in errors)."""
        if isinstance(value, dict) and expr.is_expression(value):
            ((key, body),) = value.items()
            if key == expr.GET:
                known, placeholder = self.resolve_get("", str(body))
                if known and str(body).startswith("Parameters."):
                    self.sources[path] = str(body).removeprefix("Parameters.")
                return placeholder if known else _shape_placeholder(shape)
            if key == expr.JOIN:
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

    def check_arguments(self, step: Step) -> None:
        kind = STEP_KINDS.get(str(step.get("Type")))
        arguments = step.get("Arguments")
        if kind is None or not isinstance(arguments, dict):
            return
        shape = operation_model("sagemaker", kind.create).input_shape
        errors_before = len(self.errors)
        self.sources = {}
        request = self.placeholders(arguments, shape)
        del self.errors[errors_before:]  # reference errors are reported by check_expressions
        if kind.name_member:
            if kind.name_member in arguments:
                self.error(
                    f"step {step.get('Name')}",
                    f"Arguments name the {kind.name_member}; leave it out, the pipeline names it",
                )
            request[kind.name_member] = "placeholder"
        for problem in request_errors("sagemaker", kind.create, request):
            # The deepest member path in the problem that a parameter filled, if any.
            paths = sorted((p for p in self.sources if p and p in problem), key=len)
            if paths:
                problem += f" (the value of parameter {self.sources[paths[-1]]})"
            self.error(f"step {step.get('Name')} ({kind.create})", problem)

    def check_control(self, step: Step) -> None:
        where = f"step {step.get('Name')}"
        arguments = step.get("Arguments") or {}
        if step.get("Type") == "Fail":
            if "ErrorMessage" not in arguments:
                self.error(where, "a Fail step needs Arguments.ErrorMessage")
            return
        if step.get("Type") != "Condition":
            return
        conditions = arguments.get("Conditions")
        if not isinstance(conditions, list) or not conditions:
            self.error(where, "a Condition step needs a non-empty Conditions list")
            return
        self.check_conditions(where, conditions)
        if not (arguments.get("IfSteps") or arguments.get("ElseSteps")):
            self.error(where, "a Condition step needs IfSteps or ElseSteps")

    def check_conditions(self, where: str, conditions: list[Any]) -> None:
        for condition in conditions:
            kind = condition.get("Type") if isinstance(condition, dict) else None
            if kind not in CONDITION_TYPES:
                self.error(where, f"condition Type {kind!r} is not one of {list(CONDITION_TYPES)}")
                continue
            needed = {
                "Not": ("Expression",),
                "Or": ("Conditions",),
                "In": ("QueryValue", "Values"),
            }.get(kind, ("LeftValue", "RightValue"))
            missing = [k for k in needed if k not in condition]
            if missing:
                self.error(where, f"condition {kind} needs {missing}")
            elif kind == "Not":
                self.check_conditions(where, [condition["Expression"]])
            elif kind == "Or":
                self.check_conditions(where, list(condition["Conditions"]))

    def run(self) -> list[str]:
        self.check_parameters()
        found = self.collect_steps()
        for step in found:
            self.check_step_shape(step)
            self.check_expressions(f"step {step.get('Name')}", own_content(step))
            self.check_arguments(step)
            self.check_control(step)
        if self.steps:
            self.check_cycles()
        experiment = self.definition.get("PipelineExperimentConfig") or {}
        self.check_expressions("PipelineExperimentConfig", experiment)
        return self.errors


def definition_errors(definition: Mapping[str, Any]) -> list[str]:
    """Every problem found in ``definition`` (empty when it passes)."""
    return _Checker(definition).run()


def check_definition(definition: Mapping[str, Any]) -> None:
    """Raise :class:`DefinitionInvalid` naming each problem (exit code 2)."""
    errors = definition_errors(definition)
    if errors:
        raise DefinitionInvalid("pipeline definition rejected: " + "; ".join(errors))
