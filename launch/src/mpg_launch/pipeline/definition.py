"""The pipeline definition, built by pure functions from one config.

Preprocess (Processing, cached) -> Train (Training) -> Evaluate (Processing with the training
image; PropertyFile EvaluationReport) -> CheckRmse (Condition: the report's ``gate.passed``) ->
if true: Register (RegisterModel), CreateBatchModel (Model) and BatchPredict (Transform); else
RmseTooHigh (Fail, naming the check that decided). A classification schema's steps are
CheckBalancedAccuracy and BalancedAccuracyTooLow (:mod:`mpg_launch.table.tasks`).

The gate is the evaluate step's verdict (:mod:`mpg_core.gate`), the one ``evaluate`` writes
too: beat the trivial baseline by a margin; be no worse than the approved version
(ApprovedModelData, scored on the same test rows) when there is one; meet the absolute
threshold (RmseThreshold or BalancedAccuracyThreshold), handed to the evaluate step.

Each job step's ``Arguments`` is the request the single-stage command builds (one source per
request shape, :mod:`mpg_launch.jobs.requests`), minus the job name, with pipeline parameters
and step properties substituted where a run differs: the builders are called with placeholder
names, whose S3 URIs are then rebased onto ``{"Get": ...}`` expressions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpg_launch.aws import names
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.jobs import requests as build
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.pipeline import format as expr
from mpg_launch.pipeline import parameters as params
from mpg_launch.pipeline.format import Expression
from mpg_launch.settings.config import LaunchConfig
from mpg_launch.table import tasks
from mpg_launch.table.tasks import REGRESSION, Gate

VERSION = "2020-12-01"
PREPROCESS, TRAIN, EVALUATE = "Preprocess", "Train", "Evaluate"
REGISTER, CREATE_BATCH_MODEL, BATCH_PREDICT = "Register", "CreateBatchModel", "BatchPredict"
# Regression's gate (Auto MPG's): the names the pipeline always had. Classification's gate has
# names of its own (mpg_launch.table.tasks).
CHECK_RMSE, RMSE_TOO_HIGH = REGRESSION.gate.step, REGRESSION.gate.fail_step
EVALUATION_REPORT = "EvaluationReport"
RMSE_PATH = REGRESSION.gate.report_path
# Placeholders handed to the builders, replaced below; none may survive (see _resolved).
_EXECUTION = "PIPELINE-EXECUTION"
_PREPROCESSING_JOB = "PIPELINE-PREPROCESS"
_MODEL_DATA = "s3://pipeline-placeholder/model.tar.gz"
_MODEL_NAME = "PIPELINE-MODEL"
_REPORT = "s3://pipeline-placeholder/evaluation.json"
_APPROVED_MODEL = "s3://pipeline-placeholder/approved/"
_THRESHOLD = -1.0  # the absolute threshold, replaced by its parameter
_PLACEHOLDERS = (_EXECUTION, _PREPROCESSING_JOB, _MODEL_DATA, _MODEL_NAME, _REPORT, _APPROVED_MODEL)
# Preprocessing is deterministic in its inputs: an unchanged run reuses the last month's job.
CACHE = {"Enabled": True, "ExpireAfter": "P30D"}
# Job steps retry when SageMaker has no capacity or fails internally, with backoff.
JOB_RETRY = [
    {
        "BackoffRate": 2.0,
        "IntervalSeconds": 60,
        "MaxAttempts": 5,
        "ExceptionType": ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR"],
    }
]


def _rebase(value: Any, prefixes: Mapping[str, Expression]) -> Any:
    """Strings that start with one of ``prefixes`` become that expression joined with the
    rest; strings holding the execution placeholder become joins with the execution id."""
    if isinstance(value, dict):
        return {k: _rebase(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v, prefixes) for v in value]
    if not isinstance(value, str):
        return value
    for prefix, expression in prefixes.items():
        if value.startswith(prefix):
            rest = value[len(prefix) :]
            return expr.join([expression, rest]) if rest else expression
    if _EXECUTION in value:
        parts: list[Any] = []
        for i, part in enumerate(value.split(_EXECUTION)):
            if i:
                parts.append(expr.execution("PipelineExecutionId"))
            if part:
                parts.append(part)
        return expr.join(parts)
    return value


def _resolved(arguments: dict[str, Any], step: str) -> dict[str, Any]:
    """Fail loudly when a builder started using a placeholder in a way not substituted."""
    left = [p for p in _PLACEHOLDERS if p in repr(arguments)]
    if left:
        raise RuntimeError(f"step {step}: placeholder(s) {left} left in its Arguments")
    return arguments


def _set(mapping: dict[str, Any], key: str, value: Any) -> None:
    """Replace a member the builder wrote (a KeyError here means the request shape moved)."""
    if key not in mapping:
        raise KeyError(f"the request has no {key!r} to substitute")
    mapping[key] = value


def _without(request: dict[str, Any], name_key: str) -> dict[str, Any]:
    """A Create* request as step Arguments: the job or model name is the pipeline's to give."""
    return {k: v for k, v in request.items() if k != name_key}


def _raw_data(config: LaunchConfig) -> dict[str, Expression]:
    return {names.s3_uri(config, config.raw_prefix): expr.parameter(params.INPUT_DATA)}


def _step(name: str, kind: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": kind, "Arguments": _resolved(arguments, name), **extra}


def preprocess_step(config: LaunchConfig) -> dict[str, Any]:
    request = _without(build.processing_request(config, _EXECUTION), "ProcessingJobName")
    cluster = request["ProcessingResources"]["ClusterConfig"]
    _set(cluster, "InstanceType", expr.parameter(params.PROCESSING_INSTANCE_TYPE))
    _set(cluster, "InstanceCount", expr.parameter(params.PROCESSING_INSTANCE_COUNT))
    arguments = _rebase(request, _raw_data(config))
    return _step(
        PREPROCESS, "Processing", arguments, CacheConfig=dict(CACHE), RetryPolicies=JOB_RETRY
    )


def train_step(config: LaunchConfig) -> dict[str, Any]:
    placeholders = {key: f"PIPELINE-{name}" for name, key in params.HYPERPARAMETERS.items()}
    request = _without(
        build.training_request(config, _EXECUTION, _PREPROCESSING_JOB, True, placeholders),
        "TrainingJobName",
    )
    _set(request["ResourceConfig"], "InstanceType", expr.parameter(params.TRAINING_INSTANCE_TYPE))
    for name, key in params.HYPERPARAMETERS.items():
        _set(request["HyperParameters"], key, expr.parameter(name))
    outputs = {
        names.preprocess_uri(config, _PREPROCESSING_JOB, output): expr.processing_output_uri(
            PREPROCESS, output
        )
        for output in ("features", "preprocessor")
    }
    return _step(TRAIN, "Training", _rebase(request, outputs), RetryPolicies=JOB_RETRY)


def evaluate_step(config: LaunchConfig) -> dict[str, Any]:
    gate = tasks.goals(config).gate
    request = _without(
        build.evaluation_request(
            config,
            _EXECUTION,
            _MODEL_DATA,
            names.raw_uri(config, "test"),
            approved_model_uri=_APPROVED_MODEL,
            absolute_threshold=_THRESHOLD,
        ),
        "ProcessingJobName",
    )
    _set(
        request["ProcessingResources"]["ClusterConfig"],
        "InstanceType",
        expr.parameter(params.PROCESSING_INSTANCE_TYPE),
    )
    flags = request["AppSpecification"]["ContainerArguments"]
    flag = f"{build.ABSOLUTE_THRESHOLD_FLAG}{_THRESHOLD}"
    flags[flags.index(flag)] = expr.join(
        [build.ABSOLUTE_THRESHOLD_FLAG, expr.parameter(gate.parameter)]
    )
    model = {
        _MODEL_DATA: expr.step_property(TRAIN, "ModelArtifacts.S3ModelArtifacts"),
        _APPROVED_MODEL: expr.parameter(params.APPROVED_MODEL_DATA),
    }
    arguments = _rebase(request, {**model, **_raw_data(config)})
    report = {
        "PropertyFileName": EVALUATION_REPORT,
        "OutputName": "evaluation",
        "FilePath": build.EVALUATION_REPORT,
    }
    return _step(EVALUATE, "Processing", arguments, PropertyFiles=[report], RetryPolicies=JOB_RETRY)


def register_step(config: LaunchConfig) -> dict[str, Any]:
    request = registry_requests.model_package_request(
        config, _MODEL_DATA, _REPORT, "PendingManualApproval"
    )
    _set(request, "ModelApprovalStatus", expr.parameter(params.MODEL_APPROVAL_STATUS))
    report = expr.join(
        [expr.processing_output_uri(EVALUATE, "evaluation"), build.EVALUATION_REPORT]
    )
    model = expr.step_property(TRAIN, "ModelArtifacts.S3ModelArtifacts")
    return _step(REGISTER, "RegisterModel", _rebase(request, {_MODEL_DATA: model, _REPORT: report}))


def create_batch_model_step(config: LaunchConfig) -> dict[str, Any]:
    request = _without(
        endpoint_requests.model_request(config, _MODEL_NAME, _MODEL_DATA), "ModelName"
    )
    model = expr.step_property(TRAIN, "ModelArtifacts.S3ModelArtifacts")
    return _step(CREATE_BATCH_MODEL, "Model", _rebase(request, {_MODEL_DATA: model}))


def batch_predict_step(config: LaunchConfig) -> dict[str, Any]:
    request = _without(build.transform_request(config, _EXECUTION, _MODEL_NAME), "TransformJobName")
    _set(request, "ModelName", expr.step_property(CREATE_BATCH_MODEL, "ModelName"))
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    _set(source, "S3Uri", expr.parameter(params.BATCH_INPUT_DATA))
    resources = request["TransformResources"]
    _set(resources, "InstanceType", expr.parameter(params.TRANSFORM_INSTANCE_TYPE))
    _set(resources, "InstanceCount", expr.parameter(params.TRANSFORM_INSTANCE_COUNT))
    return _step(BATCH_PREDICT, "Transform", _rebase(request, {}), RetryPolicies=JOB_RETRY)


def shortfall_step(gate: Gate) -> dict[str, Any]:
    """The Fail step when the gate refuses the model (RmseTooHigh for regression): the metric,
    and the verdict's reason, which names the comparison that decided."""
    message = expr.join(
        [
            gate.label,
            expr.json_get(EVALUATE, EVALUATION_REPORT, gate.report_path),
            "- the gate",
            expr.json_get(EVALUATE, EVALUATION_REPORT, tasks.GATE_REASON_PATH),
            "- the model was not registered",
        ],
        on=" ",
    )
    return _step(gate.fail_step, "Fail", {"ErrorMessage": message})


def gate_step(config: LaunchConfig) -> dict[str, Any]:
    """The task's gate (:mod:`mpg_launch.table.tasks`): the evaluate step's verdict,
    ``gate.passed`` in its report, as ConditionEquals(JsonGet, True) writes it."""
    gate = tasks.goals(config).gate
    condition = {
        "Type": "Equals",
        "LeftValue": expr.json_get(EVALUATE, EVALUATION_REPORT, tasks.GATE_PASSED_PATH),
        "RightValue": True,
    }
    arguments = {
        "Conditions": [condition],
        "IfSteps": [
            register_step(config),
            create_batch_model_step(config),
            batch_predict_step(config),
        ],
        "ElseSteps": [shortfall_step(gate)],
    }
    return _step(gate.step, "Condition", arguments)


def build_definition(config: LaunchConfig) -> dict[str, Any]:
    return {
        "Version": VERSION,
        "Metadata": {},
        "Parameters": [p.declaration() for p in params.pipeline_parameters(config)],
        # What the SDK emits: each execution is a trial of an experiment named after the pipeline.
        "PipelineExperimentConfig": {
            "ExperimentName": expr.execution("PipelineName"),
            "TrialName": expr.execution("PipelineExecutionId"),
        },
        "Steps": [
            preprocess_step(config),
            train_step(config),
            evaluate_step(config),
            gate_step(config),
        ],
    }
