"""``predict --async``: InvokeEndpointAsync, and with ``--wait`` the answer (or the failure)
read back from S3.

SageMaker answers InvokeEndpointAsync at once with the inference id and where the answer and
a failure will be written (``OutputLocation``, ``FailureLocation``); it reads the body from
``InputLocation`` (S3) or takes it inline (``Body``, at most 128,000 bytes). A local file is
sent inline when it fits, else uploaded under ``<prefix>/async/input/`` first.

The upload and the invocation are one plan applied by :meth:`mpg_launch.aws.submit.Runner.apply`
(a dry run prints it and stops there); ``--wait`` reads S3 once the plan has been applied.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpg_launch.aws import identifiers
from mpg_launch.aws.clients import Clients, error_code
from mpg_launch.aws.plan import Step, Submission, do
from mpg_launch.aws.submit import Runner
from mpg_launch.aws.validation import validate_request, value_errors
from mpg_launch.endpoint import async_requests
from mpg_launch.endpoint.async_settings import INLINE_BODY_BYTES, predict_timeout
from mpg_launch.errors import ConfigError, JobFailed, LaunchError
from mpg_launch.settings.config import LaunchConfig

Out = Callable[[str], None]
FAILURE_TEXT_BYTES = 4096  # what a failure object shows of itself
# How long --wait allows beyond the invocation timeout: the request may wait in the queue, and
# an endpoint scaled in to zero takes minutes to start an instance.
QUEUE_WAIT_SECONDS = 900


@dataclass(frozen=True)
class Queued:
    """What InvokeEndpointAsync answers."""

    inference_id: str
    output_location: str
    failure_location: str | None


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ConfigError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def check_input(source: str) -> None:
    """A one-line ConfigError unless ``source`` is an s3://bucket/key or a non-empty file:
    checked before any client is made."""
    if source.startswith("s3://"):
        split_s3(source)
        problems = identifiers.s3_uri_problems(source)
        if problems:
            raise ConfigError(f"--input: {problems[0]}")
        return
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"--input {source}: no such file; give a file or an s3:// URI")
    if path.stat().st_size == 0:
        raise ConfigError(f"--input {source} is empty: nothing to predict")


def check_inference_id(inference_id: str) -> None:
    """``--inference-id`` by the service model's rule (printable, no leading blank, 1-64),
    refused alike in a dry run and a real one, before any client is made."""
    problems = value_errors("sagemaker-runtime", "InferenceId", inference_id, "--inference-id")
    if problems:
        raise ConfigError(problems[0])


@dataclass(frozen=True)
class Upload:
    """A local file too big to send inline, and where it goes in S3."""

    path: Path
    uri: str

    @property
    def shown(self) -> Submission:
        """The PutObject the upload amounts to (S3's transfer manager is no API call), with
        the size instead of the body: what a dry run prints for it."""
        bucket, key = split_s3(self.uri)
        request = {"Bucket": bucket, "Key": key, "ContentLength": self.path.stat().st_size}
        return Submission("PutObject", request, "s3")

    def send(self, s3: Any, out: Out) -> None:
        bucket, key = split_s3(self.uri)
        s3.upload_file(str(self.path), bucket, key)  # multipart for big files, as the CLI does
        out(f"uploaded {self.path} to {self.uri}")


def request_input(
    config: LaunchConfig, source: str
) -> tuple[str | None, bytes | None, Upload | None]:
    """(InputLocation, Body, the upload first) for ``--input``: an s3:// URI as it is; a local
    file inline when it is at most 128,000 bytes, else uploaded to S3 first."""
    check_input(source)
    if source.startswith("s3://"):
        return source, None, None
    path = Path(source)
    if path.stat().st_size <= INLINE_BODY_BYTES:
        return None, path.read_bytes(), None
    uri = f"{async_requests.input_prefix(config)}{uuid.uuid4().hex}-{path.name}"
    return uri, None, Upload(path, uri)


def plan(runner: Runner, request: dict[str, Any], upload: Upload | None) -> list[Step]:
    """Upload the input (when it is a big local file), then queue the request; the last step
    answers the :class:`Queued`. A dry run prints the upload's PutObject and, after it, the
    invocation as one line (what it prints stops at the first request, as it always has)."""
    invocation = Submission("InvokeEndpointAsync", request, "sagemaker-runtime")

    def clients() -> Clients:
        assert runner.clients is not None  # applied, so not a dry run
        return runner.clients

    def queue() -> Queued:
        return invoke(clients().runtime, request)

    if upload is None:
        return [do(queue, invocation)]
    runner.check(invocation)  # shown as a line, so checked here: refused before the upload
    then = f"then InvokeEndpointAsync on {request['EndpointName']} reading {upload.uri}"
    return [do(lambda: upload.send(clients().s3, runner.out), upload.shown), do(queue, text=then)]


def invoke(runtime: Any, request: dict[str, Any]) -> Queued:
    validate_request("sagemaker-runtime", "InvokeEndpointAsync", request)
    try:
        answer = runtime.invoke_endpoint_async(**request)
    except Exception as exc:
        if error_code(exc) in ("ValidationError", "ValidationException", "ModelError"):
            raise LaunchError(
                f"endpoint {request['EndpointName']} refused the request: "
                f"{' '.join(str(exc).split())}"
            ) from None
        raise
    return Queued(answer["InferenceId"], answer["OutputLocation"], answer.get("FailureLocation"))


def _exists(s3: Any, uri: str) -> bool:
    bucket, key = split_s3(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def wait(
    s3: Any,
    queued: Queued,
    deadline_seconds: float,
    poll_seconds: float = 5.0,
    save_to: Path | None = None,
) -> bytes | None:
    """Poll until the answer or the failure is in S3. The answer is returned, or written to
    ``save_to`` (returns None); a failure is a :class:`JobFailed` with its text."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        if _exists(s3, queued.output_location):
            bucket, key = split_s3(queued.output_location)
            if save_to is not None:
                s3.download_file(bucket, key, str(save_to))
                return None
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if queued.failure_location and _exists(s3, queued.failure_location):
            bucket, key = split_s3(queued.failure_location)
            text = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{FAILURE_TEXT_BYTES - 1}")
            reason = " ".join(text["Body"].read().decode("utf-8", "replace").split())
            raise JobFailed(
                f"inference {queued.inference_id} failed ({queued.failure_location}): {reason}"
            )
        if time.monotonic() > deadline:
            raise JobFailed(
                f"inference {queued.inference_id}: no answer or failure in S3 after "
                f"{deadline_seconds:.0f} s; it may still be queued: look later at "
                f"{queued.output_location}"
            )
        time.sleep(poll_seconds)


def predict(
    config: LaunchConfig,
    clients: Clients,
    endpoint: str,
    source: str,
    content_type: str,
    accept: str,
    out: Out = print,
    inference_id: str | None = None,
    wait_answer: bool = False,
    save_to: Path | None = None,
    poll_seconds: float = 5.0,
) -> Queued:
    """:func:`run` with ``clients``."""
    return run(
        Runner(config, clients, out),
        endpoint,
        source,
        content_type,
        accept,
        inference_id=inference_id,
        wait_answer=wait_answer,
        save_to=save_to,
        poll_seconds=poll_seconds,
    )


def run(
    runner: Runner,
    endpoint: str,
    source: str,
    content_type: str,
    accept: str,
    inference_id: str | None = None,
    wait_answer: bool = False,
    save_to: Path | None = None,
    poll_seconds: float = 5.0,
) -> Queued:
    """Queue one request; print where its answer goes; with ``wait_answer`` print the answer
    (or save it to ``save_to``)."""
    out = runner.out
    timeout = predict_timeout(runner.config)
    location, body, upload = request_input(runner.config, source)
    request = async_requests.invoke_request(
        endpoint, content_type, accept, timeout, location, body, inference_id
    )
    queued: Queued = runner.apply(plan(runner, request, upload))[-1]
    out(f"inference id: {queued.inference_id}")
    out(f"output: {queued.output_location}")
    if queued.failure_location:
        out(f"failure: {queued.failure_location}")
    if wait_answer:
        assert runner.clients is not None  # the plan was applied
        # The request may wait in the queue (or for an instance to start) before it runs.
        answer = wait(
            runner.clients.s3, queued, timeout + QUEUE_WAIT_SECONDS, poll_seconds, save_to
        )
        if answer is None:
            out(f"saved the answer to {save_to}")
        else:
            out(answer.decode("utf-8").rstrip("\n"))
    return queued
