"""The pipeline against ``clients.sagemaker``: create or update it, start an execution with
checked parameter overrides, follow an execution step by step, list executions.

Only boto3's method names and shapes are used, so ``--local`` (whose ``LocalSageMaker`` runs a
stored definition on the Docker engine) behaves the same. Requests go through
:class:`mpg_launch.aws.submit.Runner`: validated against botocore's model, printed on
``--dry-run``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.aws.plan import do, send
from mpg_launch.aws.submit import Runner, Submission
from mpg_launch.aws.waiting import Out
from mpg_launch.errors import JobFailed, LaunchError
from mpg_launch.images.ecr import check_images_exist, images_in
from mpg_launch.model_registry import requests as registry_requests
from mpg_launch.pipeline import requests as pipeline_requests
from mpg_launch.pipeline.checks import check_definition
from mpg_launch.pipeline.definition import build_definition
from mpg_launch.pipeline.parameters import (
    APPROVED_MODEL_DATA,
    parse_overrides,
    wire_value,
    with_values,
)
from mpg_launch.table.schema import schema_steps

SUCCEEDED = "Succeeded"
# Executions end in one of these; only Succeeded is a success.
EXECUTION_TERMINAL = (SUCCEEDED, "Failed", "Stopped", "CompletedWithFailures")
_MISSING = ("ValidationException", "ResourceNotFound")
# ListPipelineExecutions' MaxResults range.
MAX_RESULTS = 100
# How a stand-in (moto) answers an operation it does not implement.
_UNSUPPORTED = ("500", "501", "NotImplemented", "UnknownOperationException", "InvalidAction")


def exists(describe: Callable[..., Any], **name: str) -> bool:
    try:
        describe(**name)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return False
        raise
    return True


def definition_json(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, separators=(",", ":"))


def _s3(runner: Runner) -> Any:
    assert runner.clients is not None
    return runner.clients.s3


def _check_images(clients: Any, definition: Mapping[str, Any]) -> None:
    if clients.ecr is not None:  # the images sit inside the definition string
        check_images_exist(clients.ecr, images_in(definition))


def upsert(runner: Runner, definition: Mapping[str, Any], description: str | None = None) -> str:
    """Check the definition, write the "no approved model" README its ApprovedModelData
    defaults to, make sure the model package group exists, then create the pipeline or update
    it. Returns the pipeline ARN (a dry run prints the plan and stops)."""
    check_definition(definition)
    config = runner.config
    body = definition_json(definition)
    group = Submission(
        "CreateModelPackageGroup", registry_requests.model_package_group_request(config)
    )
    create = Submission(
        "CreatePipeline",
        pipeline_requests.pipeline_request(config, body, str(uuid.uuid4()), description),
    )
    update = Submission(
        "UpdatePipeline", pipeline_requests.pipeline_update_request(config, body, description)
    )
    # The README ApprovedModelData's default names, before the pipeline that reads it.
    marker = Submission("PutObject", pipeline_requests.no_approved_model_request(config), "s3")
    runner.check(marker, group, create, update)  # all of them before the first is sent
    # Observe (a dry run assumes neither exists, and looks at no image), plan, apply.
    runner.observe(lambda c: _check_images(c, definition), dry=lambda: None)
    group_exists = runner.observe(
        lambda c: exists(
            c.sagemaker.describe_model_package_group,
            ModelPackageGroupName=config.model_package_group,
        ),
        dry=lambda: False,
    )
    pipeline_exists = runner.observe(
        lambda c: exists(c.sagemaker.describe_pipeline, PipelineName=config.pipeline_name),
        dry=lambda: False,
    )
    plan = schema_steps(config, lambda: _s3(runner), runner.out)
    plan.append(do(lambda: _s3(runner).put_object(**marker.request), marker))
    if not group_exists:
        plan.append(send(group))
    plan.append(send(update if pipeline_exists else create))
    *_, (answer,) = runner.apply(plan)
    if not group_exists:
        runner.out(f"created model package group {config.model_package_group}")
    verb = "updated" if pipeline_exists else "created"
    arn = str(answer["PipelineArn"])
    runner.out(f"{verb} pipeline {config.pipeline_name}: {arn}")
    return arn


def stored_definition(sagemaker: Any, pipeline: str) -> dict[str, Any]:
    try:
        described = sagemaker.describe_pipeline(PipelineName=pipeline)
    except Exception as exc:
        if error_code(exc) in _MISSING:
            raise LaunchError(
                f"pipeline {pipeline} does not exist; create it with `mpg-launch pipeline upsert`"
            ) from None
        raise
    return dict(json.loads(described["PipelineDefinition"]))


def approved_version(sagemaker: Any, group: str) -> tuple[str, str] | None:
    """(ARN, model data URL) of the group's newest Approved model package; None when the
    group has none (or does not exist yet)."""
    try:
        page = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )
    except Exception as exc:
        if error_code(exc) in _MISSING:
            return None
        raise
    summaries = page.get("ModelPackageSummaryList") or []
    if not summaries:
        return None
    arn = str(summaries[0]["ModelPackageArn"])
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    url = containers[0].get("ModelDataUrl") if containers else None
    return (arn, str(url)) if url else None


def start(runner: Runner, overrides: Sequence[str], display_name: str | None = None) -> str | None:
    """Start an execution. ``-P NAME=VALUE`` overrides are checked against the stored
    definition's parameters and types, and the definition is checked with their values (a bad
    instance type fails here, not in the step). A dry run checks against the definition the
    config builds (what ``upsert`` sends).

    When the model package group holds an Approved version (and no ``-P ApprovedModelData``
    is given), its model data goes to the evaluate step, which scores it on the same test
    rows: the gate then also requires the new model to be no worse."""
    config = runner.config
    definition = runner.observe(
        lambda c: stored_definition(c.sagemaker, config.pipeline_name),
        dry=lambda: build_definition(config),
    )
    values = parse_overrides(overrides, definition.get("Parameters") or [])
    declared = {str(p.get("Name")) for p in definition.get("Parameters") or []}
    if APPROVED_MODEL_DATA in declared and APPROVED_MODEL_DATA not in values:
        approved = runner.observe(
            lambda c: approved_version(c.sagemaker, config.model_package_group),
            dry=lambda: None,
        )
        if approved is not None:
            values[APPROVED_MODEL_DATA] = approved[1]
            runner.out(f"the gate compares with the approved version {approved[0]}")
    check_definition(with_values(definition, values))
    request = pipeline_requests.pipeline_execution_request(
        config, {k: wire_value(v) for k, v in values.items()}, str(uuid.uuid4()), display_name
    )
    start = send(Submission("StartPipelineExecution", request))
    *_, (answer,) = runner.apply([*schema_steps(config, lambda: _s3(runner), runner.out), start])
    arn = str(answer["PipelineExecutionArn"])
    runner.out(f"started {arn}")
    return arn


def executions(sagemaker: Any, pipeline: str, max_results: int = 20) -> list[dict[str, Any]]:
    """The pipeline's executions, newest first."""
    try:
        page = sagemaker.list_pipeline_executions(
            PipelineName=pipeline,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=max_results,
        )
    except Exception as exc:
        if error_code(exc) in _MISSING:
            raise LaunchError(
                f"pipeline {pipeline} does not exist; create it with `mpg-launch pipeline upsert`"
            ) from None
        raise
    found = [dict(s) for s in page.get("PipelineExecutionSummaries", [])]
    # Sorted here too: not every implementation of the API honours SortBy.
    found.sort(key=lambda s: _timestamp(s.get("StartTime")), reverse=True)
    return found[:max_results]


def _timestamp(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def latest_execution(sagemaker: Any, pipeline: str) -> str:
    found = executions(sagemaker, pipeline, max_results=1)
    if not found:
        raise LaunchError(
            f"pipeline {pipeline} has no executions; start one with `mpg-launch pipeline start`"
        )
    return str(found[0]["PipelineExecutionArn"])


def execution_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for s in summaries:
        started = s.get("StartTime")
        when = started.isoformat(timespec="seconds") if isinstance(started, datetime) else started
        name = s.get("PipelineExecutionDisplayName") or ""
        lines.append(
            f"{s.get('PipelineExecutionStatus', '?'):<12} {when}  "
            f"{s['PipelineExecutionArn']}  {name}".rstrip()
        )
    return lines


def _without_retries(sagemaker: Any) -> Any:
    """A copy of a boto3 client that does not retry: moto answers an operation it lacks with
    HTTP 500, which the kit's long-wait retry policy would retry for a minute. Other clients
    (the local one) are returned as they are."""
    meta = getattr(sagemaker, "meta", None)
    if meta is None or getattr(meta, "service_model", None) is None:
        return sagemaker
    import boto3
    from botocore.config import Config

    return boto3.Session(region_name=meta.region_name).client(
        "sagemaker",
        endpoint_url=meta.endpoint_url,
        config=meta.config.merge(Config(retries={"max_attempts": 1, "mode": "standard"})),
    )


def execution_steps(sagemaker: Any, arn: str) -> list[dict[str, Any]]:
    """Every step of an execution, in the order they started."""
    steps: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"PipelineExecutionArn": arn, "SortOrder": "Ascending"}
    while True:
        page = sagemaker.list_pipeline_execution_steps(**kwargs)
        steps += [dict(s) for s in page.get("PipelineExecutionSteps", [])]
        if not page.get("NextToken"):
            return steps
        kwargs["NextToken"] = page["NextToken"]


def _step_line(step: Mapping[str, Any]) -> str:
    line = f"{step.get('StepName')}: {step.get('StepStatus')}"
    cached = (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    if cached:
        line += f" (cached from {cached})"
    if step.get("FailureReason"):
        line += f": {' '.join(str(step['FailureReason']).split())}"
    return line


def elapsed(execution: Mapping[str, Any], now: datetime | None = None) -> str:
    """How long the execution itself has run (from its CreationTime; an ended one until its
    LastModifiedTime), not how long it has been followed."""
    started = execution.get("CreationTime")
    if not isinstance(started, datetime):
        return "(start time unknown)"
    ended = execution.get("LastModifiedTime")
    if execution.get("PipelineExecutionStatus") not in EXECUTION_TERMINAL or not isinstance(
        ended, datetime
    ):
        ended = now or datetime.now(started.tzinfo or UTC)
    seconds = max(0, int((ended - started).total_seconds()))
    return f"after {seconds // 60}m{seconds % 60:02d}s"


def follow(
    sagemaker: Any,
    arn: str,
    out: Out = print,
    poll_seconds: float = 10.0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Print each step's status as it changes until the execution ends; raise JobFailed
    naming the failed step and its FailureReason unless it Succeeded."""
    start_time = clock()
    shown: dict[str, str] = {}
    steps: list[dict[str, Any]] = []
    lists_steps: bool | None = None  # unknown until the first call
    last = None
    while True:
        execution = sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)
        status = str(execution["PipelineExecutionStatus"])
        if lists_steps is None:
            try:
                steps = execution_steps(_without_retries(sagemaker), arn)
                lists_steps = True
            except (AttributeError, NotImplementedError):
                lists_steps = False
            except Exception as exc:
                if error_code(exc) not in _UNSUPPORTED:
                    raise
                lists_steps = False
            if not lists_steps:
                out(
                    "note: this service does not list execution steps; following the "
                    "execution status only"
                )
        elif lists_steps:
            steps = execution_steps(sagemaker, arn)
        for step in steps:
            line = _step_line(step)
            if shown.get(str(step.get("StepName"))) != line:
                shown[str(step.get("StepName"))] = line
                out(line)
        if status != last:
            out(f"execution {arn.rsplit('/', 1)[-1]}: {status} {elapsed(execution)}")
            last = status
        if status in EXECUTION_TERMINAL:
            break
        if timeout is not None and clock() - start_time > timeout:
            raise LaunchError(
                f"execution {arn} still {status} after {timeout:.0f} s; it keeps running: "
                "follow it again with `mpg-launch pipeline follow`"
            )
        sleep(poll_seconds)
    if status == SUCCEEDED:
        return dict(execution)
    failed = [s for s in steps if s.get("StepStatus") == "Failed"]
    if failed:
        reason = f"step {failed[0].get('StepName')} failed: {failed[0].get('FailureReason')}"
    else:
        reason = str(execution.get("FailureReason") or "no FailureReason given")
    raise JobFailed(f"pipeline execution {arn} {status}: {' '.join(reason.split())}")
