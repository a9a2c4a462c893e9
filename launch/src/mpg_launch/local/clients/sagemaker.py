"""The local stand-ins for SageMaker's clients: the very same request dicts, run on the local
Docker engine.

:class:`LocalSageMaker` answers the subset of the ``sagemaker`` client the launchers use,
with the same method names and request shapes, so commands and waiters do not know which one
they talk to. Jobs run to completion inside ``create_*`` (there is no service to poll);
endpoints keep running in detached containers, remembered in the state folder so ``predict``
and ``delete`` work from other processes. S3 stays real (AWS, or moto in the tests).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.aws import transform_rules
from mpg_launch.errors import ConfigError, JobFailed, LaunchError
from mpg_launch.images.docker import ensure_engine, image_exists
from mpg_launch.local.clients import async_inference
from mpg_launch.local.clients.model_registry import expand_packages
from mpg_launch.local.clients.pipelines import PipelineCalls
from mpg_launch.local.engine import capture as local_capture
from mpg_launch.local.engine import containers, serving, tuning
from mpg_launch.local.engine import rollout as local_rollout
from mpg_launch.local.engine.jobs import LocalContext, run_processing, run_training
from mpg_launch.local.engine.pipeline_runs import StepRunners
from mpg_launch.local.engine.transform import run_transform
from mpg_launch.local.state import LocalState, not_found, state_label

Out = Callable[[str], None]
# The docs' serverless limits, stated here and not taken from the launcher's settings (the
# double checks the launcher): bodies up to 4 MB each way; the model must download and pass
# /ping within 3 minutes.
SERVERLESS_MAX_PAYLOAD_MB = 4
SERVERLESS_STARTUP_SECONDS = 180


# Statuses in which SageMaker refuses UpdateEndpoint ("Cannot update in-progress endpoint").
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
_CLAIMED_FROM = "StatusBeforeUpdate"  # what a failed update puts back


def _claim_update(record: dict[str, Any]) -> None:
    """Mark the endpoint Updating, unless an update or a create is in progress."""
    status = record.get("EndpointStatus")
    if status in IN_PROGRESS:
        raise ClientError(
            {
                "Error": {
                    "Code": "ValidationException",
                    "Message": f'Cannot update in-progress endpoint "{record["EndpointArn"]}" '
                    f"({status}).",
                }
            },
            "UpdateEndpoint",
        )
    record.update({"EndpointStatus": "Updating", _CLAIMED_FROM: status})
    record.pop("FailureReason", None)


def _check_image(image: str) -> None:
    if not image_exists(image):
        raise ConfigError(
            f"unknown image {image}: build it (`make images`) or fix the images setting"
        )


class LocalSageMaker(PipelineCalls):
    """The ``sagemaker`` client's job, model and endpoint calls, on local containers (and,
    from :class:`PipelineCalls`, its pipeline and model registry calls)."""

    def __init__(
        self,
        s3: Any,
        state: LocalState,
        region: str,
        account: str,
        out: Out = print,
        verbose: bool = False,
    ) -> None:
        self.s3 = s3
        self.state = state
        self.label = state_label(state.root)
        self.ctx = LocalContext(s3, self.label, region, account, out)
        self.out = out
        self.verbose = verbose  # a pipeline's container logs too (indented under the step)

    def _arn(self, kind: str, name: str) -> str:
        return self.ctx.arn(kind, name)

    # Jobs: run to the end inside create_*, then describe_* reports how they ended.
    def _run_job(
        self,
        kind: str,
        name: str,
        status_key: str,
        image: str,
        runner: Callable[[], dict[str, Any]],
    ) -> None:
        _check_image(image)
        # Claimed under the record's lock: of two jobs with one name, the second is refused.
        if not self.state.create(kind, name, {status_key: "InProgress"}):
            raise LaunchError(f"a local job named {name} already exists; choose another name")
        try:
            record = runner()
        except KeyboardInterrupt:
            stopped = {status_key: "Stopped", "FailureReason": containers.USER_STOPPED}
            self.state.put(kind, name, stopped)
            self.out(f"{kind[:-1]} {name}: Stopped")
            raise
        except BaseException as exc:
            self.state.put(kind, name, {status_key: "Failed", "FailureReason": str(exc)[:1024]})
            raise
        self.state.put(kind, name, record)

    def create_processing_job(self, **request: Any) -> dict[str, str]:
        name = request["ProcessingJobName"]
        self._run_job(
            "processing-jobs",
            name,
            "ProcessingJobStatus",
            request["AppSpecification"]["ImageUri"],
            lambda: run_processing(self.ctx, request),
        )
        return {"ProcessingJobArn": self._arn("processing-job", name)}

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self.state.get("processing-jobs", ProcessingJobName, "DescribeProcessingJob")

    def create_training_job(self, **request: Any) -> dict[str, str]:
        name = request["TrainingJobName"]
        self._run_job(
            "training-jobs",
            name,
            "TrainingJobStatus",
            request["AlgorithmSpecification"]["TrainingImage"],
            lambda: run_training(self.ctx, request),
        )
        return {"TrainingJobArn": self._arn("training-job", name)}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self.state.get("training-jobs", TrainingJobName, "DescribeTrainingJob")

    def create_transform_job(self, **request: Any) -> dict[str, str]:
        name = request["TransformJobName"]
        problems = transform_rules.request_errors(request)
        if problems:  # SageMaker refuses these at once, creating no job
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "; ".join(problems)}},
                "CreateTransformJob",
            )
        model = self.describe_model(ModelName=request["ModelName"])
        for definition in serving.model_definitions(model):
            _check_image(definition["Image"])
        self._run_job(
            "transform-jobs",
            name,
            "TransformJobStatus",
            serving.model_definitions(model)[0]["Image"],
            lambda: run_transform(
                self.s3,
                request,
                model,
                self.label,
                self.state.work_dir("transform", name),
                self._arn("transform-job", name),
                self.out,
            ),
        )
        shutil.rmtree(self.state.work_dir("transform", name), ignore_errors=True)
        return {"TransformJobArn": self._arn("transform-job", name)}

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self.state.get("transform-jobs", TransformJobName, "DescribeTransformJob")

    # Tuning: random search, one training job at a time (mpg_launch.local.engine.tuning says what
    # else is left out), each job through create_training_job so it is recorded as any other.
    def create_hyper_parameter_tuning_job(self, **request: Any) -> dict[str, str]:
        name = request["HyperParameterTuningJobName"]
        if self.state.exists("tuning-jobs", name):
            raise LaunchError(f"a local tuning job named {name} already exists; choose another")
        _check_image(request["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"])
        arn = self._arn("hyper-parameter-tuning-job", name)

        def train(job: dict[str, Any]) -> dict[str, Any]:
            try:
                self.create_training_job(**job)
            except (JobFailed, LaunchError, ClientError, OSError) as exc:
                # create_training_job recorded the job Failed; the search goes on.
                self.out(f"training job {job['TrainingJobName']} failed: {exc}")
            return self.describe_training_job(TrainingJobName=job["TrainingJobName"])

        tuning.run_tuning(
            request,
            arn,
            train,
            lambda record: self.state.put("tuning-jobs", name, record),
            self.out,
        )
        return {"HyperParameterTuningJobArn": arn}

    def describe_hyper_parameter_tuning_job(
        self, HyperParameterTuningJobName: str
    ) -> dict[str, Any]:
        record = self.state.get(
            "tuning-jobs", HyperParameterTuningJobName, "DescribeHyperParameterTuningJob"
        )
        record.pop("TrainingJobSummaries", None)  # ListTrainingJobsFor...'s answer, not this
        record.pop("Tags", None)
        return record

    def list_training_jobs_for_hyper_parameter_tuning_job(
        self,
        HyperParameterTuningJobName: str,
        StatusEquals: str | None = None,
        SortBy: str = "Name",
        SortOrder: str = "Ascending",
        **_: Any,
    ) -> dict[str, Any]:
        record = self.state.get(
            "tuning-jobs",
            HyperParameterTuningJobName,
            "ListTrainingJobsForHyperParameterTuningJob",
        )
        return {
            "TrainingJobSummaries": tuning.listed(
                record.get("TrainingJobSummaries", []),
                StatusEquals,
                SortBy,
                SortOrder,
            )
        }

    def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        record = self.state.get(
            "tuning-jobs", HyperParameterTuningJobName, "StopHyperParameterTuningJob"
        )
        for job in record.get("TrainingJobSummaries", []):
            if job["TrainingJobStatus"] == "InProgress":
                self._stop(job["TrainingJobName"])
        return {}

    def _stop(self, name: str) -> dict[str, Any]:
        containers.stop(containers.owned(self.label, name), containers.JOB_STOP_GRACE)
        return {}

    def stop_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._stop(ProcessingJobName)

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._stop(TrainingJobName)

    def stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._stop(TransformJobName)

    def _step_runners(self) -> StepRunners:
        """A pipeline's steps run through the very calls the job commands use."""

        def job(create: Callable[..., Any], describe: Callable[..., Any], key: str) -> Any:
            def run(request: dict[str, Any]) -> dict[str, Any]:
                create(**request)
                return dict(describe(**{key: request[key]}))

            return run

        return StepRunners(
            processing=job(
                self.create_processing_job, self.describe_processing_job, "ProcessingJobName"
            ),
            training=job(self.create_training_job, self.describe_training_job, "TrainingJobName"),
            transform=job(
                self.create_transform_job, self.describe_transform_job, "TransformJobName"
            ),
            model=job(self.create_model, self.describe_model, "ModelName"),
            register_model=lambda request: self.describe_model_package(
                ModelPackageName=self.create_model_package(**request)["ModelPackageArn"]
            ),
        )

    # Models and endpoint configs are records.
    def create_model(self, **request: Any) -> dict[str, str]:
        # Containers naming a registered model package take its image and model data.
        request = expand_packages(request, self.registry)
        arn = self._arn("model", request["ModelName"])
        self.state.put(
            "models",
            request["ModelName"],
            {**request, "ModelArn": arn, "CreationTime": datetime.now(UTC)},
        )
        return {"ModelArn": arn}

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        return self.state.get("models", ModelName, "DescribeModel")

    def delete_model(self, ModelName: str) -> dict[str, Any]:
        self.describe_model(ModelName=ModelName)
        self.state.delete("models", ModelName)
        return {}

    def list_models(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        names = [n for n in self.state.names("models") if NameContains in n]
        return {"Models": [{"ModelName": n, "ModelArn": self._arn("model", n)} for n in names]}

    def list_endpoint_configs(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        names = [n for n in self.state.names("endpoint-configs") if NameContains in n]
        return {
            "EndpointConfigs": [
                {"EndpointConfigName": n, "EndpointConfigArn": self._arn("endpoint-config", n)}
                for n in names
            ]
        }

    def list_endpoints(self, NameContains: str = "", **_: Any) -> dict[str, Any]:
        names = [n for n in self.state.names("endpoints") if NameContains in n]
        return {
            "Endpoints": [
                {"EndpointName": n, "EndpointArn": self._arn("endpoint", n)} for n in names
            ]
        }

    def list_tags(self, ResourceArn: str, **_: Any) -> dict[str, Any]:
        """The Tags a model, endpoint config or endpoint was created with."""
        kind, _slash, name = ResourceArn.rpartition(":")[2].partition("/")
        records = {"model": "models", "endpoint-config": "endpoint-configs"}
        record = self.state.get(records.get(kind, "endpoints"), name, "ListTags")
        return {"Tags": list(record.get("Tags", []))}

    def add_tags(self, ResourceArn: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
        """Adds (or overwrites, by key) tags on a model, endpoint config or endpoint."""
        kind, _slash, name = ResourceArn.rpartition(":")[2].partition("/")
        records = {"model": "models", "endpoint-config": "endpoint-configs"}

        def tag(record: dict[str, Any]) -> None:
            given = {t["Key"] for t in Tags}
            record["Tags"] = [t for t in record.get("Tags", []) if t["Key"] not in given] + [
                dict(t) for t in Tags
            ]

        self.state.update(records.get(kind, "endpoints"), name, tag, "AddTags")
        return {"Tags": list(Tags)}

    def delete_tags(self, ResourceArn: str, TagKeys: list[str]) -> dict[str, Any]:
        """Removes the tags under ``TagKeys`` (a monitor's record, when it is deleted)."""
        kind, _slash, name = ResourceArn.rpartition(":")[2].partition("/")
        records = {"model": "models", "endpoint-config": "endpoint-configs"}

        def untag(record: dict[str, Any]) -> None:
            record["Tags"] = [t for t in record.get("Tags", []) if t["Key"] not in TagKeys]

        self.state.update(records.get(kind, "endpoints"), name, untag, "DeleteTags")
        return {}

    def create_endpoint_config(self, **request: Any) -> dict[str, str]:
        arn = self._arn("endpoint-config", request["EndpointConfigName"])
        self.state.put(
            "endpoint-configs",
            request["EndpointConfigName"],
            {**request, "EndpointConfigArn": arn, "CreationTime": datetime.now(UTC)},
        )
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        return self.state.get("endpoint-configs", EndpointConfigName, "DescribeEndpointConfig")

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        self.describe_endpoint_config(EndpointConfigName=EndpointConfigName)
        self.state.delete("endpoint-configs", EndpointConfigName)
        return {}

    # Endpoints: detached containers, one set per instance.
    def _start_endpoint(self, endpoint: str, config_name: str) -> list[list[dict[str, Any]]]:
        variant = self.describe_endpoint_config(EndpointConfigName=config_name)[
            "ProductionVariants"
        ][0]
        model = self.describe_model(ModelName=variant["ModelName"])
        for definition in serving.model_definitions(model):
            _check_image(definition["Image"])
        ensure_engine()
        work = self.state.work_dir("endpoints", f"{endpoint}/{config_name}")
        model_dirs = serving.stage_models(self.s3, model, work)
        startup = variant.get(
            "ContainerStartupHealthCheckTimeoutInSeconds", serving.DEFAULT_STARTUP_SECONDS
        )
        count = variant.get("InitialInstanceCount", 1)
        if "ServerlessConfig" in variant:  # one container, held to serverless's start-up limit
            startup, count = SERVERLESS_STARTUP_SECONDS, 1
        instances: list[list[dict[str, Any]]] = []
        try:
            for index in range(1, int(count) + 1):
                instances.append(
                    serving.start_instance(
                        model,
                        model_dirs,
                        endpoint,
                        self.label,
                        index,
                        {},
                        startup,
                        name_prefix=f"{endpoint}-{config_name[-6:]}",
                    )
                )
        except BaseException:  # Ctrl-C too: never leave half an endpoint running
            for instance in instances:
                serving.stop_containers([c["name"] for c in instance])
            raise
        return instances

    def _max_body_bytes(self, config_name: str) -> int:
        variants = self.describe_endpoint_config(EndpointConfigName=config_name)
        if "ServerlessConfig" in variants["ProductionVariants"][0]:
            return SERVERLESS_MAX_PAYLOAD_MB * 1024 * 1024
        return serving.MAX_BODY_BYTES

    def create_endpoint(
        self,
        EndpointName: str,
        EndpointConfigName: str,
        Tags: list[dict[str, str]] | None = None,
        **_: Any,
    ) -> dict[str, str]:
        record: dict[str, Any] = {
            "Tags": list(Tags or []),
            "EndpointName": EndpointName,
            "EndpointArn": self._arn("endpoint", EndpointName),
            "EndpointConfigName": EndpointConfigName,
            "EndpointStatus": "Creating",
            "CreationTime": datetime.now(UTC),
            "MaxBodyBytes": self._max_body_bytes(EndpointConfigName),
        }
        # Checked and written under the record's lock: of two commands creating one endpoint,
        # the second is refused instead of both starting containers and one being lost.
        if not self.state.create("endpoints", EndpointName, record):
            raise LaunchError(f"endpoint {EndpointName} already exists locally")
        try:
            record["Instances"] = self._start_endpoint(EndpointName, EndpointConfigName)
            record["EndpointStatus"] = "InService"
        except (JobFailed, LaunchError) as exc:
            record.update(EndpointStatus="Failed", FailureReason=str(exc)[:1024])
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP: never left Creating
            record.update(EndpointStatus="Failed", FailureReason="stopped while it was created")
            self.state.put("endpoints", EndpointName, record)
            raise
        self.state.put("endpoints", EndpointName, record)
        return {"EndpointArn": record["EndpointArn"]}

    def update_endpoint(
        self,
        EndpointName: str,
        EndpointConfigName: str,
        DeploymentConfig: dict[str, Any] | None = None,
        **_: Any,
    ) -> dict[str, str]:
        """Blue/green: the new containers must pass their pings before the old ones stop.
        With a BlueGreenUpdatePolicy, traffic moves as it says, watched by its alarms
        (:mod:`mpg_launch.local.engine.rollout`), before this returns.

        The endpoint is claimed first (compare-and-swap on its status, under the record's
        lock): as on SageMaker, an endpoint being created or updated cannot be updated, so of
        two deploys onto one endpoint the second is refused, instead of both reporting
        success and one fleet running unrecorded."""
        self.describe_endpoint(EndpointName=EndpointName)  # a dead fleet is Failed first
        record = self.state.update("endpoints", EndpointName, _claim_update, "UpdateEndpoint")
        before = record.pop(_CLAIMED_FROM)
        try:
            try:
                new = self._start_endpoint(EndpointName, EndpointConfigName)
            except (JobFailed, LaunchError) as exc:
                raise LaunchError(
                    f"update of {EndpointName} failed, it still serves "
                    f"{record['EndpointConfigName']}: {exc}"
                ) from None
            if DeploymentConfig and "BlueGreenUpdatePolicy" in DeploymentConfig:
                local_rollout.run(
                    self.state,
                    record,
                    new,
                    EndpointConfigName,
                    DeploymentConfig,
                    self._max_body_bytes(EndpointConfigName),
                    self.out,
                )
                return {"EndpointArn": record["EndpointArn"]}

            def swap(current: dict[str, Any]) -> None:
                current.pop(_CLAIMED_FROM, None)
                serving.put_in_service(
                    current, new, EndpointConfigName, self._max_body_bytes(EndpointConfigName)
                )

            self.state.update("endpoints", EndpointName, swap, "UpdateEndpoint")
        except BaseException:
            self._release(EndpointName, before)
            raise
        return {"EndpointArn": record["EndpointArn"]}

    def _release(self, endpoint: str, status: str) -> None:
        """After a failed update: the endpoint serves its old fleet, as it did before."""

        def back(current: dict[str, Any]) -> None:
            current.pop(_CLAIMED_FROM, None)
            if current.get("EndpointStatus") == "Updating":
                current["EndpointStatus"] = status

        with contextlib.suppress(ClientError):  # deleted meanwhile: nothing to put back
            self.state.update("endpoints", endpoint, back, "UpdateEndpoint")

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        return serving.observed_endpoint(self.state, EndpointName, "DescribeEndpoint")

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        record = self.describe_endpoint(EndpointName=EndpointName)
        # SIGTERM, then SIGKILL after 30 s, as SageMaker does to endpoint containers.
        names = [c["name"] for inst in record.get("Instances", []) for c in inst]
        serving.stop_containers(names + containers.owned(self.label, EndpointName))
        self.state.delete("endpoints", EndpointName)
        shutil.rmtree(self.state.work_dir("endpoints", EndpointName), ignore_errors=True)
        return {}


class LocalRuntime:
    """``sagemaker-runtime``'s InvokeEndpoint (and InvokeEndpointAsync, which reads and
    writes S3) against local endpoint containers."""

    def __init__(self, state: LocalState, s3: Any = None) -> None:
        self.state = state
        self.s3 = s3

    def invoke_endpoint_async(self, **request: Any) -> dict[str, Any]:
        return async_inference.invoke(self.state, self.s3, request)

    def invoke_endpoint(
        self,
        EndpointName: str,
        Body: bytes,
        ContentType: str = "text/csv",
        Accept: str = "*/*",
        **_: Any,
    ) -> dict[str, Any]:
        record = serving.observed_endpoint(self.state, EndpointName, "InvokeEndpoint")
        # An endpoint serves while it is updated (a rollout's two fleets take the traffic).
        if record.get("EndpointStatus") not in ("InService", "Updating", "UpdateRollbackFailed"):
            raise not_found(
                "InvokeEndpoint",
                f"Endpoint {EndpointName} is not InService ({serving.status_text(record)})",
            )
        serving.check_body(Body, record.get("MaxBodyBytes", serving.MAX_BODY_BYTES))
        reply = local_rollout.invoke(self.state, record, Body, ContentType, Accept)
        # Issue 26: what SageMaker's data capture writes, for `monitor run --local`.
        local_capture.capture(self.state, self.s3, record, Body, ContentType, reply, _)
        return {
            "Body": io.BytesIO(reply.body),
            "ContentType": reply.content_type,
            "InvokedProductionVariant": "AllTraffic",
        }
