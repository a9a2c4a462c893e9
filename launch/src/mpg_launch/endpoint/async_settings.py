"""An asynchronous endpoint's settings: the ``[async]`` config table and ``deploy --async``.

Asynchronous inference (AWS Developer Guide, "Asynchronous inference") queues requests whose
bodies SageMaker reads from S3 (up to 1 GB), gives each up to ``InvocationTimeoutSeconds``
(default 900, at most 3600), writes each answer or failure to S3 and may notify SNS topics.
Its instances may scale down to zero ("Autoscale an asynchronous endpoint"): a target-tracking
policy holds ``ApproximateBacklogSizePerInstance``, and a step policy on a CloudWatch alarm on
``HasBacklogWithoutCapacity`` adds an instance when requests wait and none is running.

Standard library only: :mod:`mpg_launch.endpoint.settings` imports this for ``--help``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from mpg_launch.settings import declared
from mpg_launch.settings.declared import Flag


def _maximum(key: str) -> int:
    """The declared upper bound of an [async] key (mpg_launch.settings.declared)."""
    found = declared.table_key("async_inference", key).maximum
    assert found is not None, key
    return int(found)


DEFAULT_INVOCATION_TIMEOUT = 900  # the docs' default
MAX_INVOCATION_TIMEOUT = _maximum("invocation_timeout")
MAX_PAYLOAD_MB = _maximum("max_payload_mb")
MAX_CONCURRENT_INVOCATIONS = _maximum("max_concurrent_invocations")
INLINE_BODY_BYTES = 128_000  # botocore: InvokeEndpointAsync.Body max


class AsyncDeploy(Protocol):
    """The launch settings the rules below read (:class:`mpg_launch.settings.config.LaunchConfig` is
    one), named by their fields: config imports this module, so importing it back would close
    an import cycle."""

    @property
    def serverless(self) -> object: ...
    @property
    def autoscaling(self) -> object: ...
    @property
    def local(self) -> bool: ...
    @property
    def async_inference(self) -> AsyncInference | None: ...


_SNS_ARN = re.compile(r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]*:[0-9]{12}:[a-zA-Z0-9_.-]+$")


@dataclass(frozen=True)
class AsyncInference:
    """AsyncInferenceConfig, the container's body and time limits, and scaling to zero.

    Autoscaling is on when ``max_capacity`` is set: ``min_capacity`` (default 0) ..
    ``max_capacity`` instances holding ``target_backlog_per_instance`` queued requests per
    instance, and, when ``min_capacity`` is 0, the alarm that wakes a scaled-in endpoint."""

    output_path: str | None = None  # default s3://<bucket>/<prefix>/async/output/
    failure_path: str | None = None  # default s3://<bucket>/<prefix>/async/failures/
    success_topic: str | None = None
    error_topic: str | None = None
    max_concurrent_invocations: int | None = None  # per instance; SageMaker picks if unset
    invocation_timeout: int = DEFAULT_INVOCATION_TIMEOUT
    max_payload_mb: int = MAX_PAYLOAD_MB
    min_capacity: int = 0
    max_capacity: int | None = None
    target_backlog_per_instance: float = 5.0
    # Scale out soon after a queue builds, in slowly: a new instance takes minutes to start.
    scale_in_cooldown: int = 600
    scale_out_cooldown: int = 300

    @property
    def autoscaled(self) -> bool:
        return self.max_capacity is not None


def problems(s: AsyncInference) -> list[tuple[bool, str, str]]:
    """(broken, key, rule) for each rule of the table (endpoint_options words them)."""
    return [
        (
            not 1 <= s.invocation_timeout <= MAX_INVOCATION_TIMEOUT,
            "invocation_timeout",
            f"must be 1 to {MAX_INVOCATION_TIMEOUT} seconds",
        ),
        (
            not 1 <= s.max_payload_mb <= MAX_PAYLOAD_MB,
            "max_payload_mb",
            f"must be 1 to {MAX_PAYLOAD_MB}",
        ),
        (
            s.max_concurrent_invocations is not None
            and not 1 <= s.max_concurrent_invocations <= MAX_CONCURRENT_INVOCATIONS,
            "max_concurrent_invocations",
            f"must be 1 to {MAX_CONCURRENT_INVOCATIONS}",
        ),
        (
            s.output_path is not None and not s.output_path.startswith("s3://"),
            "output_path",
            "must be an s3:// URI",
        ),
        (
            s.failure_path is not None and not s.failure_path.startswith("s3://"),
            "failure_path",
            "must be an s3:// URI",
        ),
        (
            s.success_topic is not None and not _SNS_ARN.match(s.success_topic),
            "success_topic",
            "must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
        ),
        (
            s.error_topic is not None and not _SNS_ARN.match(s.error_topic),
            "error_topic",
            "must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
        ),
        (s.min_capacity < 0, "min_capacity", "must be 0 or more"),
        (
            s.max_capacity is not None and s.max_capacity < max(1, s.min_capacity),
            "max_capacity",
            f"must be at least 1 and at least min_capacity={s.min_capacity}",
        ),
        (
            not s.target_backlog_per_instance > 0,
            "target_backlog_per_instance",
            "must be above 0",
        ),
        (s.scale_in_cooldown < 0, "scale_in_cooldown", "must be 0 or more seconds"),
        (s.scale_out_cooldown < 0, "scale_out_cooldown", "must be 0 or more seconds"),
    ]


def refused(config: AsyncDeploy, pipeline: bool) -> list[tuple[bool, str, str]]:
    """(refused, what, fix) for what an asynchronous endpoint does not take."""
    return [
        (
            bool(config.serverless),
            "serverless (asynchronous endpoints run on instances)",
            "drop [serverless] and --serverless",
        ),
        (
            bool(config.autoscaling),
            "[autoscaling] (it tracks InvocationsPerInstance, which SageMaker does not "
            "publish for asynchronous endpoints)",
            "scale on the queue instead: min_capacity/max_capacity in [async] "
            "(--min-capacity/--max-capacity)",
        ),
        (
            pipeline,
            "inference pipelines (--pipeline) in this kit (only a single container reads "
            "big bodies in slices)",
            "deploy the pipeline artifact (training without --no-preprocessor)",
        ),
    ]


def notes(config: AsyncDeploy) -> list[str]:
    """What an asynchronous deploy does that the user may not expect, one line each."""
    s = config.async_inference
    if s is None:
        return []
    found = [
        f"async: bodies up to {s.max_payload_mb} MiB from S3 (CSV and JSON Lines read in "
        f"slices; a JSON document up to 6 MiB), {s.invocation_timeout} s per request"
    ]
    if s.autoscaled and s.min_capacity == 0:
        found.append(
            "async: the endpoint starts with instances and scales in to 0 when its queue is "
            "empty; a request to a scaled-in endpoint waits minutes for an instance"
        )
    if config.local:
        found.append(
            "--local: async requests run when they are sent (no queue) and autoscaling is "
            "not emulated; SNS topics are recorded, not notified"
        )
    return found


def predict_timeout(config: AsyncDeploy) -> int:
    s = config.async_inference
    return s.invocation_timeout if s else DEFAULT_INVOCATION_TIMEOUT


# deploy's flags for the ``[async]`` table (declared in mpg_launch.settings.declared); the
# field names are the argparse dests.
FLAGS: tuple[Flag, ...] = declared.table_flags("async_inference")
