"""The ``sagemaker`` client's pipeline and model-registry calls, on the local state folder, with
boto3's method names, request checks and response shapes, so the ``pipeline`` and ``registry``
commands run unchanged with ``--local``.

:class:`PipelineCalls` is a part of :class:`~mpg_launch.local.clients.sagemaker.LocalSageMaker`. A
pipeline is stored with its definition (checked when stored); ``start_pipeline_execution``
runs the execution to its end on the local engine
(:mod:`~mpg_launch.local.engine.pipeline_runs`), like
local jobs, and records the execution and each step's status as it goes, so
``describe_pipeline_execution`` and ``list_pipeline_execution_steps`` (from any process) read
them. The model registry is :class:`~mpg_launch.local.clients.model_registry.LocalRegistry`.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.local.clients.model_registry import LocalRegistry, summary
from mpg_launch.local.engine.jobs import LocalContext
from mpg_launch.local.engine.pipeline_expressions import ExpressionError, text
from mpg_launch.local.engine.pipeline_runs import (
    STEP_TYPES,
    Execution,
    PipelineRun,
    StepCache,
    StepRunners,
    checked,
)
from mpg_launch.local.engine.staging import download
from mpg_launch.local.state import LocalState, not_found, with_datetimes
from mpg_launch.pipeline.format import Definition, parse_definition

PIPELINES = "pipelines"
EXECUTIONS = "pipeline-executions"
# Execution record fields that DescribePipelineExecution does not answer.
_EXECUTION_EXTRAS = ("PipelineParameters", "PipelineDefinition", "Steps")


def missing(operation: str, message: str) -> ClientError:
    """The error SageMaker's pipeline calls answer for an unknown pipeline or execution."""
    error = not_found(operation, message)
    error.response["Error"]["Code"] = "ResourceNotFound"
    return error


def _since(start: datetime) -> str:
    seconds = int((datetime.now(UTC) - start).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _page(
    items: Sequence[dict[str, Any]], key: str, max_results: int | None, token: str | None
) -> dict[str, Any]:
    """One page of ``items``; NextToken is the offset of the next one."""
    start = int(token or 0)
    end = len(items) if not max_results else start + int(max_results)
    page: dict[str, Any] = {key: list(items[start:end])}
    if end < len(items):
        page["NextToken"] = str(end)
    return page


def _sorted(
    items: list[dict[str, Any]], field: str, order: str | None, default: str
) -> list[dict[str, Any]]:
    return sorted(
        items, key=lambda i: i.get(field) or "", reverse=(order or default) == "Descending"
    )


def local_definition(text: str) -> Definition:
    """The definition, read by the one reader of the format, refused if the local engine
    cannot run it."""
    return parse_definition(text, STEP_TYPES, "the local engine")


def s3_json_reader(s3: Any) -> Callable[[str], Any]:
    """Read a JSON document from S3 (or ``file://``) the way the runners stage files."""

    def read(uri: str) -> Any:
        with tempfile.TemporaryDirectory() as tmp:
            path = download(s3, uri, Path(tmp) / "document.json")
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ExpressionError(f"{uri} is not a JSON document: {exc}") from None

    return read


class LocalPaginator:
    """``get_paginator(name).paginate(**request)``: pages of a local list call."""

    def __init__(self, call: Callable[..., dict[str, Any]]) -> None:
        self.call = call

    def paginate(self, **request: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self.call(**request, **({"NextToken": token} if token else {}))
            yield page
            token = page.get("NextToken")
            if not token:
                return


class PipelineCalls:
    state: LocalState
    s3: Any
    ctx: LocalContext
    out: Callable[[str], None]
    verbose: bool = False

    def _step_runners(self) -> StepRunners:
        raise NotImplementedError  # LocalSageMaker gives its job and model calls

    @property
    def registry(self) -> LocalRegistry:
        return LocalRegistry(self.state, self.ctx.region, self.ctx.account)

    def get_paginator(self, operation: str) -> LocalPaginator:
        return LocalPaginator(getattr(self, operation))

    # Pipelines.
    def _pipeline_name(self, name_or_arn: str) -> str:
        return name_or_arn.split(":pipeline/", 1)[-1].split("/", 1)[0]

    def _definition(self, request: Mapping[str, Any]) -> str:
        location = request.get("PipelineDefinitionS3Location")
        if location:
            uri = f"s3://{location['Bucket']}/{location['ObjectKey']}"
            with tempfile.TemporaryDirectory() as tmp:
                body = download(self.s3, uri, Path(tmp) / "definition.json").read_text("utf-8")
        else:
            body = request.get("PipelineDefinition", "")
        local_definition(body)  # a definition the engine cannot run is refused now
        return str(body)

    def create_pipeline(self, **request: Any) -> dict[str, Any]:
        checked("CreatePipeline", request)
        name = request["PipelineName"]
        if self.state.exists(PIPELINES, name):  # SageMaker: a ValidationException too
            raise not_found(
                "CreatePipeline",
                f"Pipeline names must be unique within an AWS account and region. Pipeline "
                f"with name ({name}) already exists (local).",
            )
        now = datetime.now(UTC)
        record = {
            "PipelineArn": self.ctx.arn("pipeline", name),
            "PipelineName": name,
            "PipelineDisplayName": request.get("PipelineDisplayName", name),
            "PipelineDefinition": self._definition(request),
            "PipelineDescription": request.get("PipelineDescription", ""),
            "RoleArn": request.get("RoleArn", ""),
            "PipelineStatus": "Active",
            "CreationTime": now,
            "LastModifiedTime": now,
            "PipelineVersionId": 1,
        }
        self.state.put(PIPELINES, name, record)
        return {"PipelineArn": record["PipelineArn"]}

    def update_pipeline(self, **request: Any) -> dict[str, Any]:
        checked("UpdatePipeline", request)
        name = self._pipeline(request["PipelineName"], "UpdatePipeline")["PipelineName"]
        definition = (
            self._definition(request)
            if request.get("PipelineDefinition") or request.get("PipelineDefinitionS3Location")
            else None
        )

        def change(record: dict[str, Any]) -> None:
            if definition is not None:
                record["PipelineDefinition"] = definition
            for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn"):
                if request.get(key):
                    record[key] = request[key]
            record["LastModifiedTime"] = datetime.now(UTC)
            record["PipelineVersionId"] = int(record.get("PipelineVersionId", 1)) + 1

        # Under the record's lock: two upserts at once get two versions, none lost.
        record = self.state.update(PIPELINES, name, change, "UpdatePipeline")
        return {
            "PipelineArn": record["PipelineArn"],
            "PipelineVersionId": record["PipelineVersionId"],
        }

    def _pipeline(self, name_or_arn: str, operation: str) -> dict[str, Any]:
        """The stored record (DescribePipeline's fields and the version id)."""
        name = self._pipeline_name(name_or_arn)
        if not self.state.exists(PIPELINES, name):
            raise missing(operation, f"Pipeline '{name_or_arn}' does not exist (local).")
        return dict(with_datetimes(self.state.get(PIPELINES, name, operation)))

    def describe_pipeline(self, PipelineName: str, **_: Any) -> dict[str, Any]:
        record = self._pipeline(PipelineName, "DescribePipeline")
        return {k: v for k, v in record.items() if k != "PipelineVersionId"}

    def list_pipelines(self, PipelineNamePrefix: str = "", **request: Any) -> dict[str, Any]:
        keep = ("PipelineArn", "PipelineName", "PipelineDisplayName", "PipelineDescription")
        found = [
            {
                **{k: p[k] for k in keep if k in p},
                "CreationTime": p["CreationTime"],
                "LastModifiedTime": p["LastModifiedTime"],
                **({"LastExecutionTime": p["LastRunTime"]} if p.get("LastRunTime") else {}),
            }
            for p in (
                self.describe_pipeline(PipelineName=n)
                for n in self.state.names(PIPELINES)
                if n.startswith(PipelineNamePrefix)
            )
        ]
        found = _sorted(found, "CreationTime", request.get("SortOrder"), "Descending")
        return _page(
            found, "PipelineSummaries", request.get("MaxResults"), request.get("NextToken")
        )

    # Executions.
    def start_pipeline_execution(self, **request: Any) -> dict[str, Any]:
        checked("StartPipelineExecution", request)
        pipeline = self._pipeline(request["PipelineName"], "StartPipelineExecution")
        definition = local_definition(pipeline["PipelineDefinition"])
        values = definition.parameter_values(request.get("PipelineParameters", []))
        execution_id = secrets.token_hex(6)  # 12 characters, like SageMaker's ids
        now = datetime.now(UTC)
        execution = Execution(
            pipeline_name=pipeline["PipelineName"],
            pipeline_arn=pipeline["PipelineArn"],
            execution_id=execution_id,
            execution_arn=f"{pipeline['PipelineArn']}/execution/{execution_id}",
            start=now,
        )
        record: dict[str, Any] = {
            "PipelineArn": execution.pipeline_arn,
            "PipelineExecutionArn": execution.execution_arn,
            "PipelineExecutionDisplayName": request.get(
                "PipelineExecutionDisplayName", f"execution-{execution_id}"
            ),
            "PipelineExecutionStatus": "Executing",
            "PipelineExecutionDescription": request.get("PipelineExecutionDescription", ""),
            "PipelineExperimentConfig": {
                "ExperimentName": execution.pipeline_name,
                "TrialName": execution_id,
            },
            "CreationTime": now,
            "LastModifiedTime": now,
            "PipelineVersionId": pipeline.get("PipelineVersionId", 1),
            "PipelineParameters": [{"Name": k, "Value": text(v)} for k, v in values.items()],
            "PipelineDefinition": pipeline["PipelineDefinition"],
            "Steps": [],
        }

        def save(steps: list[dict[str, Any]] | None = None) -> None:
            if steps is not None:
                record["Steps"] = [dict(s) for s in steps]
            record["LastModifiedTime"] = datetime.now(UTC)
            self.state.put(EXECUTIONS, execution_id, record)

        save()
        self.state.put(PIPELINES, pipeline["PipelineName"], {**pipeline, "LastRunTime": now})
        self.out(f"pipeline execution {execution.execution_arn}: Executing")
        run = PipelineRun(
            definition,
            values,
            execution,
            self._step_runners(),
            StepCache(self.state, pipeline["PipelineName"]),
            s3_json_reader(self.s3),
            on_change=save,
            out=self.out,
        )
        # The containers' log lines: under their step with --verbose, else not at all (each
        # step's line says how it ended, and a failed one why).
        context = self.ctx
        self.ctx = replace(
            context,
            logs=(lambda line: self.out(f"      {line}")) if self.verbose else (lambda _: None),
        )
        try:
            outcome = run.run()
        except BaseException:  # Ctrl-C: Stopped, as StopPipelineExecution leaves it
            record["PipelineExecutionStatus"] = "Stopped"
            save(run.steps)
            self.out(
                f"pipeline execution {execution.execution_arn}: Stopped after "
                f"{_since(now)} (Ctrl-C)"
            )
            raise
        finally:
            self.ctx = context
        record["PipelineExecutionStatus"] = outcome.status
        if outcome.failure_reason:
            record["FailureReason"] = outcome.failure_reason[:3072]
        save(outcome.steps)
        self.out(f"pipeline execution {outcome.status} after {_since(now)}")
        return {"PipelineExecutionArn": execution.execution_arn}

    def _execution_record(self, execution_id: str, operation: str) -> dict[str, Any]:
        return dict(with_datetimes(self.state.get(EXECUTIONS, execution_id, operation)))

    def _execution(self, arn: str, operation: str) -> dict[str, Any]:
        execution_id = arn.rsplit("/", 1)[-1]
        if self.state.exists(EXECUTIONS, execution_id):
            record = self._execution_record(execution_id, operation)
            if record["PipelineExecutionArn"] == arn:
                return record
        raise missing(operation, f"Pipeline execution '{arn}' does not exist (local).")

    def describe_pipeline_execution(self, PipelineExecutionArn: str) -> dict[str, Any]:
        record = self._execution(PipelineExecutionArn, "DescribePipelineExecution")
        return {k: v for k, v in record.items() if k not in _EXECUTION_EXTRAS}

    def list_pipeline_execution_steps(
        self, PipelineExecutionArn: str, SortOrder: str = "Descending", **request: Any
    ) -> dict[str, Any]:
        steps = self._execution(PipelineExecutionArn, "ListPipelineExecutionSteps")["Steps"]
        ordered = steps[::-1] if SortOrder == "Descending" else steps
        return _page(
            ordered, "PipelineExecutionSteps", request.get("MaxResults"), request.get("NextToken")
        )

    def list_pipeline_parameters_for_execution(
        self, PipelineExecutionArn: str, **request: Any
    ) -> dict[str, Any]:
        record = self._execution(PipelineExecutionArn, "ListPipelineParametersForExecution")
        return _page(
            record["PipelineParameters"],
            "PipelineParameters",
            request.get("MaxResults"),
            request.get("NextToken"),
        )

    def describe_pipeline_definition_for_execution(
        self, PipelineExecutionArn: str
    ) -> dict[str, Any]:
        record = self._execution(PipelineExecutionArn, "DescribePipelineDefinitionForExecution")
        return {
            "PipelineDefinition": record["PipelineDefinition"],
            "CreationTime": record["CreationTime"],
        }

    def list_pipeline_executions(self, PipelineName: str, **request: Any) -> dict[str, Any]:
        arn = self._pipeline(PipelineName, "ListPipelineExecutions")["PipelineArn"]
        found = []
        for execution_id in self.state.names(EXECUTIONS):
            record = with_datetimes(
                self.state.get(EXECUTIONS, execution_id, "ListPipelineExecutions")
            )
            if record["PipelineArn"] != arn:
                continue
            if request.get("CreatedAfter") and record["CreationTime"] <= request["CreatedAfter"]:
                continue
            if request.get("CreatedBefore") and record["CreationTime"] >= request["CreatedBefore"]:
                continue
            summary_ = {
                "PipelineExecutionArn": record["PipelineExecutionArn"],
                "StartTime": record["CreationTime"],
                "PipelineExecutionStatus": record["PipelineExecutionStatus"],
                "PipelineExecutionDescription": record.get("PipelineExecutionDescription", ""),
                "PipelineExecutionDisplayName": record.get("PipelineExecutionDisplayName", ""),
            }
            if record.get("FailureReason"):
                summary_["PipelineExecutionFailureReason"] = record["FailureReason"]
            found.append(summary_)
        found = _sorted(found, "StartTime", request.get("SortOrder"), "Descending")
        return _page(
            found,
            "PipelineExecutionSummaries",
            request.get("MaxResults"),
            request.get("NextToken"),
        )

    # The model registry.
    def create_model_package_group(self, **request: Any) -> dict[str, Any]:
        checked("CreateModelPackageGroup", request)
        return {"ModelPackageGroupArn": self.registry.create_group(request)["ModelPackageGroupArn"]}

    def describe_model_package_group(self, ModelPackageGroupName: str) -> dict[str, Any]:
        return self.registry.describe_group(ModelPackageGroupName)

    def list_model_package_groups(self, NameContains: str = "", **request: Any) -> dict[str, Any]:
        keep = (
            "ModelPackageGroupName",
            "ModelPackageGroupArn",
            "ModelPackageGroupDescription",
            "CreationTime",
            "ModelPackageGroupStatus",
        )
        found = [
            {k: g[k] for k in keep if k in g}
            for g in self.registry.groups()
            if NameContains in g["ModelPackageGroupName"]
        ]
        field = "ModelPackageGroupName" if request.get("SortBy") == "Name" else "CreationTime"
        found = _sorted(found, field, request.get("SortOrder"), "Ascending")
        return _page(
            found,
            "ModelPackageGroupSummaryList",
            request.get("MaxResults"),
            request.get("NextToken"),
        )

    def create_model_package(self, **request: Any) -> dict[str, Any]:
        checked("CreateModelPackage", request)
        return {"ModelPackageArn": self.registry.create_package(request)["ModelPackageArn"]}

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        return self.registry.describe_package(ModelPackageName)

    def list_model_packages(self, **request: Any) -> dict[str, Any]:
        checked("ListModelPackages", request)
        found = [
            summary(p)
            for p in self.registry.packages(request.get("ModelPackageGroupName"))
            if (
                request.get("ModelApprovalStatus") in (None, p.get("ModelApprovalStatus"))
                and request.get("NameContains", "") in p["ModelPackageName"]
                and (
                    not request.get("CreationTimeAfter")
                    or p["CreationTime"] > request["CreationTimeAfter"]
                )
                and (
                    not request.get("CreationTimeBefore")
                    or p["CreationTime"] < request["CreationTimeBefore"]
                )
            )
        ]
        field = "ModelPackageName" if request.get("SortBy") == "Name" else "CreationTime"
        found = _sorted(found, field, request.get("SortOrder"), "Ascending")
        return _page(
            found, "ModelPackageSummaryList", request.get("MaxResults"), request.get("NextToken")
        )

    def update_model_package(self, **request: Any) -> dict[str, Any]:
        checked("UpdateModelPackage", request)
        return {"ModelPackageArn": self.registry.update_package(request)["ModelPackageArn"]}
