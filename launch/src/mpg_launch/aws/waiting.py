"""Wait for a job or endpoint: status transitions, CloudWatch log lines as they arrive
(like the SageMaker SDK's ``logs=True``), elapsed time, one more log flush after the end,
``FailureReason`` and a non-zero exit on failure, and Ctrl-C -> stop the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mpg_launch.aws.clients import error_code
from mpg_launch.errors import JobFailed, LaunchError

Out = Callable[[str], None]


@dataclass(frozen=True)
class JobKind:
    describe: str
    name_key: str
    status_key: str
    stop: str
    log_group: str | None


JOB_KINDS = {
    "processing": JobKind(
        "describe_processing_job",
        "ProcessingJobName",
        "ProcessingJobStatus",
        "stop_processing_job",
        "/aws/sagemaker/ProcessingJobs",
    ),
    "training": JobKind(
        "describe_training_job",
        "TrainingJobName",
        "TrainingJobStatus",
        "stop_training_job",
        "/aws/sagemaker/TrainingJobs",
    ),
    "transform": JobKind(
        "describe_transform_job",
        "TransformJobName",
        "TransformJobStatus",
        "stop_transform_job",
        "/aws/sagemaker/TransformJobs",
    ),
    "tuning": JobKind(
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "stop_hyper_parameter_tuning_job",
        None,
    ),
}
TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass
class LogTailer:
    """Prints new events of every stream ``<prefix>*`` of a log group, remembering where
    each stream was left. A group that does not exist yet is simply empty."""

    logs: Any
    group: str
    prefix: str
    out: Out
    tokens: dict[str, str] = field(default_factory=dict)

    def _streams(self) -> list[str]:
        names: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group, "logStreamNamePrefix": self.prefix}
        while True:
            try:
                page = self.logs.describe_log_streams(**kwargs)
            except Exception as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return []
                raise
            names += [s["logStreamName"] for s in page.get("logStreams", [])]
            if not page.get("nextToken"):
                return sorted(names)
            kwargs["nextToken"] = page["nextToken"]

    def poll(self) -> int:
        """Print what arrived since the last poll; return the number of lines printed."""
        printed = 0
        streams = self._streams()
        for stream in streams:
            while True:
                kwargs: dict[str, Any] = {
                    "logGroupName": self.group,
                    "logStreamName": stream,
                    "startFromHead": True,
                }
                if stream in self.tokens:
                    kwargs["nextToken"] = self.tokens[stream]
                page = self.logs.get_log_events(**kwargs)
                # Streams are "<job>/<host>-<epoch>": show the host.
                host = stream.removeprefix(self.prefix).rsplit("-", 1)[0] or stream
                for event in page.get("events", []):
                    message = str(event["message"]).rstrip("\n")
                    self.out(f"[{host}] {message}" if len(streams) > 1 else message)
                    printed += 1
                token = page.get("nextForwardToken")
                # The same token back means the end of the stream for now.
                if not token or token == self.tokens.get(stream):
                    break
                self.tokens[stream] = token
        return printed


def _elapsed(start: float, now: float) -> str:
    seconds = int(now - start)
    return f"{seconds // 60}m{seconds % 60:02d}s"


# Where a Describe answer says when the job ended (its CreationTime says when it began).
_END_KEYS = (
    "ProcessingEndTime",
    "TrainingEndTime",
    "TransformEndTime",
    "HyperParameterTuningEndTime",
)


def _when(value: Any) -> datetime | None:
    """A Describe time: a datetime from boto3, ISO text from the local state."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, datetime) else None


def _job_took(job: dict[str, Any]) -> str | None:
    """How long the job ran by its own times: a job that ended before the wait began (the
    local engine runs it inside its Create call) took longer than the wait's 0 s."""
    began = _when(job.get("CreationTime"))
    ended = next((_when(job[k]) for k in _END_KEYS if _when(job.get(k))), None)
    if began is None or ended is None:
        return None
    seconds = max(0, int((ended - began).total_seconds()))
    return f"{seconds // 60}m{seconds % 60:02d}s"


def wait_for_job(
    sagemaker: Any,
    kind: str,
    name: str,
    *,
    logs: Any | None = None,
    out: Out = print,
    poll_seconds: float = 10.0,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until the job is terminal; raise JobFailed unless it Completed. Ctrl-C stops
    the job (a second Ctrl-C leaves it running) and reports how it ended."""
    spec = JOB_KINDS[kind]
    describe = getattr(sagemaker, spec.describe)
    tailer = LogTailer(logs, spec.log_group, f"{name}/", out) if logs and spec.log_group else None
    start = clock()
    last = None
    stopping = False
    while True:
        try:
            job = describe(**{spec.name_key: name})
            status = job[spec.status_key]
            detail = job.get("SecondaryStatus")
            shown = f"{status} ({detail})" if detail and detail != status else status
            if shown != last:
                took = _job_took(job) if status in TERMINAL else None
                out(f"{name}: {shown} after {took or _elapsed(start, clock())}")
                last = shown
            if tailer:
                tailer.poll()
            if status in TERMINAL:
                if tailer:
                    tailer.poll()  # events can land in CloudWatch after the status changes
                break
            if timeout is not None and clock() - start > timeout:
                raise LaunchError(
                    f"{name} still {status} after {timeout:.0f} s; it keeps "
                    f"running: check with `mpg-launch status {kind} {name}`"
                )
            sleep(poll_seconds)
        except KeyboardInterrupt:
            if stopping:
                raise LaunchError(f"stopped waiting; {name} may still be stopping") from None
            stopping = True
            out(f"Ctrl-C: stopping {name} (Ctrl-C again to stop waiting)")
            getattr(sagemaker, spec.stop)(**{spec.name_key: name})
    return _finished(job, kind, name, status)


def _finished(job: dict[str, Any], kind: str, name: str, status: str) -> dict[str, Any]:
    if status == "Completed":
        return job
    reason = job.get("FailureReason") or job.get("ExitMessage") or "no FailureReason given"
    raise JobFailed(f"{kind} job {name} {status}: {' '.join(str(reason).split())}")


def wait_for_endpoint(
    sagemaker: Any,
    name: str,
    *,
    out: Out = print,
    poll_seconds: float = 15.0,
    timeout: float = 3600.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll until InService; raise JobFailed with FailureReason if the endpoint Failed."""
    start = clock()
    last = None
    while True:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        status = endpoint["EndpointStatus"]
        if status != last:
            out(f"endpoint {name}: {status} after {_elapsed(start, clock())}")
            last = status
        if status == "InService":
            return dict(endpoint)
        if status in ("Failed", "OutOfService", "UpdateRollbackFailed"):
            reason = " ".join(str(endpoint.get("FailureReason", "no FailureReason")).split())
            raise JobFailed(
                f"endpoint {name} {status}: {reason}; delete it with "
                f"`mpg-launch delete --endpoint {name}`"
            )
        if clock() - start > timeout:
            raise LaunchError(f"endpoint {name} still {status} after {timeout:.0f} s")
        sleep(poll_seconds)


def wait_for_endpoint_deleted(
    sagemaker: Any,
    name: str,
    *,
    poll_seconds: float = 10.0,
    timeout: float = 1800.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    start = clock()
    while clock() - start < timeout:
        try:
            sagemaker.describe_endpoint(EndpointName=name)
        except Exception as exc:
            if error_code(exc) in ("ValidationException", "ResourceNotFound"):
                return
            raise
        sleep(poll_seconds)
    raise LaunchError(f"endpoint {name} was not deleted within {timeout:.0f} s")
