"""The local pipeline engine: one execution of a checked definition, step after step.

Steps run one at a time, each after every step it depends on (DependsOn, and every ``Get`` of
another step's properties). A job step's ``Arguments`` are a Create* request without its name:
the engine resolves the expressions in it, names the job ``pipelines-<execution id>-<step>``,
checks the request against botocore's service model and hands it to a runner (the local
runners, through :class:`~mpg_launch.local.clients.sagemaker.LocalSageMaker`; unit tests pass their
own). A Condition step picks its IfSteps or its ElseSteps; the steps of the other branch, and
every step depending on them, do not run (nor are they listed), as on SageMaker. A Fail step,
or any failed step, ends the execution as Failed; the steps not yet run are not started.

Caching (``CacheConfig``) follows SageMaker: a Processing, Training or Transform step whose
cache-key attributes (resolved) equal those of the latest successful run of that step in the
same pipeline, within ``ExpireAfter``, is not run again: it takes that run's properties, its
job's ARN in ``Metadata`` and ``CacheHitResult.SourcePipelineExecutionArn``. ``RetryPolicies``
are accepted and not acted on: the errors they retry (throttling, capacity, service faults)
do not happen on the local engine.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.aws.validation import operation_model, validate_request
from mpg_launch.errors import LaunchError
from mpg_launch.local.engine.containers import USER_STOPPED
from mpg_launch.local.engine.pipeline_expressions import (
    Scope,
    conditions_hold,
    property_file_uri,
    resolve,
    text,
)
from mpg_launch.local.state import LocalState
from mpg_launch.pipeline.format import Definition, Step

Out = Callable[[str], None]
Runner = Callable[[dict[str, Any]], dict[str, Any]]  # a Create* request -> its Describe* record

# Per job step type: the Create* operation, the name field the engine fills in, the status
# field of the Describe* record, the ARN field, the Metadata key, and the attributes whose
# change makes a cached step run again (SageMaker's "default cache key attributes").
_JOBS: dict[str, dict[str, Any]] = {
    "Processing": {
        "operation": "CreateProcessingJob",
        "name": "ProcessingJobName",
        "status": "ProcessingJobStatus",
        "arn": "ProcessingJobArn",
        "metadata": "ProcessingJob",
        "cache_key": ("AppSpecification", "Environment", "ProcessingInputs"),
    },
    "Training": {
        "operation": "CreateTrainingJob",
        "name": "TrainingJobName",
        "status": "TrainingJobStatus",
        "arn": "TrainingJobArn",
        "metadata": "TrainingJob",
        "cache_key": (
            "AlgorithmSpecification",
            "CheckpointConfig",
            "DebugHookConfig",
            "DebugRuleConfigurations",
            "Environment",
            "HyperParameters",
            "InputDataConfig",
        ),
    },
    "Transform": {
        "operation": "CreateTransformJob",
        "name": "TransformJobName",
        "status": "TransformJobStatus",
        "arn": "TransformJobArn",
        "metadata": "TransformJob",
        "cache_key": ("DataProcessing", "Environment", "ModelName", "TransformInput"),
    },
}
# The step types the local engine runs (no Tuning: tune runs on SageMaker only).
STEP_TYPES = ("Processing", "Training", "Transform", "Model", "RegisterModel", "Condition", "Fail")
# Processing jobs may omit StoppingCondition; CreateProcessingJob then allows one day.
DEFAULT_PROCESSING_RUNTIME = 86400


def _now() -> datetime:
    return datetime.now(UTC)


def checked(operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """``request`` as boto3 sends it (idempotency tokens filled in), checked against the
    service model as boto3 checks it before sending."""
    shape = operation_model("sagemaker", operation).input_shape
    assert shape is not None
    tokens = {
        name: str(uuid.uuid4())
        for name, member in shape.members.items()
        if member.metadata.get("idempotencyToken") and name not in request
    }
    full = {**request, **tokens}
    validate_request("sagemaker", operation, full)
    return full


@dataclass(frozen=True)
class StepRunners:
    processing: Runner
    training: Runner
    transform: Runner
    model: Runner  # CreateModel request -> DescribeModel record
    register_model: Runner  # CreateModelPackage request -> DescribeModelPackage record

    def for_type(self, kind: str) -> Runner:
        return {
            "Processing": self.processing,
            "Training": self.training,
            "Transform": self.transform,
            "Model": self.model,
            "RegisterModel": self.register_model,
        }[kind]


@dataclass(frozen=True)
class Execution:
    """Who is running: the names and ARNs the execution variables give."""

    pipeline_name: str
    pipeline_arn: str
    execution_id: str
    execution_arn: str
    start: datetime

    def variables(self) -> dict[str, Any]:
        return {
            "Execution.PipelineExecutionId": self.execution_id,
            "Execution.PipelineExecutionArn": self.execution_arn,
            "Execution.PipelineName": self.pipeline_name,
            "Execution.PipelineArn": self.pipeline_arn,
            "Execution.StartDateTime": self.start.isoformat(),
            "PipelineExperimentConfig.ExperimentName": self.pipeline_name,
            "PipelineExperimentConfig.TrialName": self.execution_id,
        }


@dataclass(frozen=True)
class Outcome:
    status: str  # PipelineExecutionStatus: Succeeded or Failed
    failure_reason: str | None
    steps: list[dict[str, Any]]  # ListPipelineExecutionSteps entries, in the order they ran


class StepCache:
    """The latest successful run of each cacheable step of one pipeline, by cache key, kept
    in the state folder so later executions (other processes) find it."""

    def __init__(self, state: LocalState, pipeline: str) -> None:
        self.state = state
        self.kind = f"pipeline-cache/{pipeline}"

    @staticmethod
    def key(step: Step, request: Mapping[str, Any]) -> str:
        attributes = {a: request.get(a) for a in _JOBS[step.type]["cache_key"]}
        signature = json.dumps([step.name, step.type, attributes], sort_keys=True, default=str)
        return hashlib.sha256(signature.encode()).hexdigest()

    def find(self, step: Step, key: str, now: datetime) -> dict[str, Any] | None:
        if not step.cached or not self.state.exists(self.kind, key):
            return None
        entry = self.state.get(self.kind, key, "StartPipelineExecution")
        expires = step.cache_expires_after
        if expires is not None and datetime.fromisoformat(entry["Time"]) + expires < now:
            return None
        return entry

    def store(self, key: str, execution_arn: str, properties: Mapping[str, Any]) -> None:
        self.state.put(
            self.kind,
            key,
            {
                "SourcePipelineExecutionArn": execution_arn,
                "Time": _now().isoformat(),
                "Properties": properties,
            },
        )


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "step"


def resource_names(definition: Definition, execution_id: str) -> dict[str, str]:
    """``pipelines-<execution id>-<step>`` per step: unique, at most 63 characters, the
    alphabet SageMaker allows in job and model names."""
    names: dict[str, str] = {}
    for step in definition.steps:
        base = f"pipelines-{execution_id}-{_slug(step)}"[:60].rstrip("-")
        name, n = base, 1
        while name in names.values():
            n += 1
            name = f"{base}-{n}"
        names[step] = name
    return names


_SYMBOLS = {
    "Equals": "==",
    "GreaterThan": ">",
    "GreaterThanOrEqualTo": ">=",
    "LessThan": "<",
    "LessThanOrEqualTo": "<=",
}


def _label(value: Any) -> str:
    """What a condition operand reads, as a user named it: a JSON path or a parameter."""
    if isinstance(value, Mapping) and set(value) == {"Std:JsonGet"}:
        return f"{value['Std:JsonGet'].get('Path')} "
    if isinstance(value, Mapping) and set(value) == {"Get"}:
        return f"{str(value['Get']).rsplit('.', 1)[-1]} "
    return ""


def _took(entry: Mapping[str, Any]) -> str:
    seconds = int((entry["EndTime"] - entry["StartTime"]).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class _StepFailed(Exception):
    def __init__(self, reason: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.metadata = metadata or {}


class PipelineRun:
    """One execution: call :meth:`run`; ``on_change`` gets the step list after every change
    (the caller stores it, so describe/list calls from other processes see progress)."""

    def __init__(
        self,
        definition: Definition,
        parameters: Mapping[str, Any],
        execution: Execution,
        runners: StepRunners,
        cache: StepCache,
        read_json: Callable[[str], Any],
        on_change: Callable[[list[dict[str, Any]]], None] = lambda steps: None,
        out: Out = print,
    ) -> None:
        self.definition = definition
        self.execution = execution
        self.runners = runners
        self.cache = cache
        self.on_change = on_change
        self.out = out
        self.names = resource_names(definition, execution.execution_id)
        self.scope = Scope(
            parameters=parameters,
            execution=execution.variables(),
            read_json=read_json,
            property_files={n: s.property_files for n, s in definition.steps.items()},
        )
        self.steps: list[dict[str, Any]] = []
        self.outcomes: dict[str, bool] = {}  # Condition step -> outcome

    def _runs(self, step: Step) -> bool:
        """Whether ``step`` runs: its branch was taken and every step it needs ran."""
        if step.branch and self.outcomes.get(step.branch[0]) is not step.branch[1]:
            return False
        return all(dep in self.scope.properties for dep in step.depends_on)

    def run(self) -> Outcome:
        for name in self.definition.order:
            step = self.definition.steps[name]
            if not self._runs(step):
                continue
            entry: dict[str, Any] = {
                "StepName": name,
                "StartTime": _now(),
                "StepStatus": "Executing",
                "AttemptCount": 1,
                "Metadata": {},
            }
            self.steps.append(entry)
            self.on_change(self.steps)
            self.out(f"  {name} ({step.type}): Executing")
            try:
                properties = self._execute(step, entry)
            except _StepFailed as failed:
                entry.update(
                    StepStatus="Failed", FailureReason=failed.reason[:3072], EndTime=_now()
                )
                entry["Metadata"].update(failed.metadata)
                self.on_change(self.steps)
                self.out(f"  {name}: Failed after {_took(entry)}: {failed.reason}")
                return Outcome("Failed", f"Step {name} failed: {failed.reason}", self.steps)
            except BaseException:  # Ctrl-C: the step and the execution were stopped
                entry.update(StepStatus="Stopped", FailureReason=USER_STOPPED, EndTime=_now())
                self.on_change(self.steps)
                self.out(f"  {name}: Stopped after {_took(entry)} (Ctrl-C)")
                raise
            self.scope.properties[name] = properties
            entry.update(StepStatus="Succeeded", EndTime=_now())
            self.on_change(self.steps)
            hit = entry.get("CacheHitResult")
            line = f"  {name}: Succeeded in {_took(entry)}"
            if hit:
                line += f" (cached: {hit['SourcePipelineExecutionArn']})"
            details = self._details(step, properties)
            self.out(line + (f": {details}" if details else ""))
        return Outcome("Succeeded", None, self.steps)

    def _details(self, step: Step, properties: Mapping[str, Any]) -> str:
        """What a user looks for after a step: the gate against its threshold, the package
        version, where the report and plots, the model and the predictions are."""
        try:
            if step.type == "Condition":
                return self._gate(step)
            if step.type == "RegisterModel":
                return (
                    f"model package {properties.get('ModelPackageGroupName')} version "
                    f"{properties.get('ModelPackageVersion')} "
                    f"({properties.get('ModelApprovalStatus')}): "
                    f"{properties.get('ModelPackageArn')}"
                )
            if step.type == "Training":
                return f"model {properties['ModelArtifacts']['S3ModelArtifacts']}"
            if step.type == "Transform":
                return f"predictions in {properties['TransformOutput']['S3OutputPath']}"
            if step.type == "Processing" and step.property_files:
                reports = [property_file_uri(step.name, f, self.scope) for f in step.property_files]
                folders = sorted({r.rsplit("/", 1)[0] + "/" for r in reports})
                return f"report {', '.join(reports)} (plots beside it in {', '.join(folders)})"
        except (LaunchError, KeyError, TypeError):
            return ""  # a detail is a courtesy: never fail a step for it
        return ""

    def _gate(self, step: Step) -> str:
        """Each comparison with its values: ``rmse 2.91 <= RmseThreshold 4.0``."""
        parts = []
        for condition in step.arguments.get("Conditions", []):
            symbol = _SYMBOLS.get(condition.get("Type"))
            if symbol is None:
                parts.append(str(condition.get("Type")))
                continue
            left, right = condition["LeftValue"], condition["RightValue"]
            parts.append(
                f"{_label(left)}{text(resolve(left, self.scope))} {symbol} "
                f"{_label(right)}{text(resolve(right, self.scope))}"
            )
        outcome = self.outcomes.get(step.name)
        branch = "IfSteps" if outcome else "ElseSteps"
        return f"{' and '.join(parts)}: {outcome} ({branch} run)"

    def _execute(self, step: Step, entry: dict[str, Any]) -> Mapping[str, Any]:
        try:
            if step.type == "Condition":
                outcome = conditions_hold(list(step.arguments["Conditions"]), self.scope)
                self.outcomes[step.name] = outcome
                entry["Metadata"]["Condition"] = {"Outcome": str(outcome)}
                return {"Outcome": outcome}
            if step.type == "Fail":
                message = text(resolve(step.arguments.get("ErrorMessage", ""), self.scope))
                raise _StepFailed(message, {"Fail": {"ErrorMessage": message[:3072]}})
            return self._resource(step, entry)
        except _StepFailed:
            raise
        except (LaunchError, ClientError) as exc:
            raise _StepFailed(" ".join(str(exc).split())) from None
        except Exception as exc:  # a runner's unexpected error fails the step, not the engine
            raise _StepFailed(f"{type(exc).__name__}: {exc}") from exc

    def _resource(self, step: Step, entry: dict[str, Any]) -> Mapping[str, Any]:
        # Execution.TrainingJobName / ProcessingJobName: the job this very step runs.
        own = {f"Execution.{step.type}JobName": self.names[step.name]}
        scope = replace(self.scope, execution={**self.scope.execution, **own})
        request = dict(resolve(dict(step.arguments), scope))
        job = _JOBS.get(step.type)
        if step.type == "Model":
            request["ModelName"] = self.names[step.name]
            checked("CreateModel", request)
            record = self.runners.model(request)
            entry["Metadata"]["Model"] = {"Arn": record["ModelArn"]}
            return record
        if step.type == "RegisterModel":
            checked("CreateModelPackage", request)
            record = self.runners.register_model(request)
            entry["Metadata"]["RegisterModel"] = {"Arn": record["ModelPackageArn"]}
            return record
        assert job is not None
        request[job["name"]] = self.names[step.name]
        if step.type == "Processing":
            request.setdefault(
                "StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_PROCESSING_RUNTIME}
            )
        checked(job["operation"], request)
        key = StepCache.key(step, request)
        hit = self.cache.find(step, key, _now())
        if hit is not None:
            record = hit["Properties"]
            entry["CacheHitResult"] = {
                "SourcePipelineExecutionArn": hit["SourcePipelineExecutionArn"]
            }
        else:
            record = self.runners.for_type(step.type)(request)
        entry["Metadata"][job["metadata"]] = {"Arn": record[job["arn"]]}
        status = record.get(job["status"])
        if status != "Completed":
            reason = record.get("FailureReason") or record.get("ExitMessage") or "no reason given"
            raise _StepFailed(f"{job['operation'][6:]} {status}: {reason}", entry["Metadata"])
        if step.cached and hit is None:
            self.cache.store(key, self.execution.execution_arn, record)
        return record
