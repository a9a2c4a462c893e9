"""InvokeEndpointAsync on the local engine: what SageMaker's asynchronous front end does.

The body is read from S3 (``InputLocation``) or taken inline (``Body``), streamed to a running
container of the endpoint (never held whole: bodies reach 1 GB), and the answer streamed to a
file and uploaded to ``<S3OutputPath>/<InferenceId>.out``. When the container refuses the
request, breaks off its answer or misses the invocation timeout, a failure object is written to
``<S3FailurePath>/<InferenceId>-error.out`` instead, with the reason, and nothing to the output
path. Each invocation is recorded (kind ``async-invocations``) with its locations, status and
failure reason, where SageMaker would tell an SNS topic.

Unlike SageMaker there is no queue: the request runs while InvokeEndpointAsync is called (as
local jobs run inside ``create_*``), so the answer is in S3 when the call returns.
"""

from __future__ import annotations

import http.client
import random
import select
import socket
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import ClientError

from mpg_launch.local.engine import serving
from mpg_launch.local.engine.serving import model_error
from mpg_launch.local.state import LocalState, not_found

KIND = "async-invocations"
# The service's limits, stated here, not taken from the launcher's settings: the double checks
# the launcher, so it must not share its numbers. The docs: InvocationTimeoutSeconds defaults to
# 900; payloads up to 1 GB.
DEFAULT_INVOCATION_TIMEOUT = 900
MAX_PAYLOAD_MB = 1024
MAX_BODY_BYTES = MAX_PAYLOAD_MB * 1024 * 1024
_BLOCK = 1024 * 1024
_SEND_BLOCK = 64 * 1024  # between two looks for an early answer
FAILURE_TEXT_BYTES = 1024


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _join(prefix: str, *parts: str | None) -> str:
    return "/".join([prefix.rstrip("/"), *(p.strip("/") for p in parts if p)])


def _validation(message: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ValidationError", "Message": message}}, "InvokeEndpointAsync"
    )


def locations(
    request: dict[str, Any], output: dict[str, Any], inference_id: str
) -> tuple[str, str]:
    """(output, failure) object URIs, named as SageMaker names them."""
    extension = request.get("S3OutputPathExtension")
    answer = _join(
        output["S3OutputPath"], extension, request.get("Filename") or f"{inference_id}.out"
    )
    failure = _join(
        output.get("S3FailurePath") or output["S3OutputPath"],
        extension,
        f"{inference_id}-error.out",
    )
    return answer, failure


class _Failed(Exception):
    """The invocation failed; the message is the failure object's text."""


def _body(s3: Any, request: dict[str, Any]) -> tuple[IO[bytes] | bytes, int]:
    if "Body" in request:
        body = request["Body"]
        data = body if isinstance(body, bytes) else body.read()
        return data, len(data)
    bucket, key = _split(request["InputLocation"])
    try:
        found = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        raise _Failed(f"cannot read {request['InputLocation']}: {exc}") from None
    size = int(found["ContentLength"])
    if size > MAX_BODY_BYTES:
        found["Body"].close()
        raise _Failed(f"the input is {size} bytes; asynchronous inference takes at most 1 GB")
    return found["Body"], size


def _send_body(sock: socket.socket, body: IO[bytes] | bytes, timeout: float) -> None:
    """Send the body, but stop as soon as the container answers: a streaming server refuses a
    bad line (400) before the body's end and closes, and its answer, not the broken pipe of
    the rest of the body, is what the caller must see. So the socket is watched for the
    answer between blocks, and a send that fails because the server closed ends the body."""
    view = memoryview(body) if isinstance(body, bytes) else None
    offset = 0
    pending = b""
    while True:
        if not pending:
            if view is not None:
                pending = bytes(view[offset : offset + _SEND_BLOCK])
                offset += len(pending)
            else:
                pending = body.read(_SEND_BLOCK)  # type: ignore[union-attr]
            if not pending:
                return
        readable, writable, _ = select.select([sock], [sock], [], timeout)
        if readable:
            return  # the answer came before the body's end: read it
        if not writable:
            raise TimeoutError
        try:
            pending = pending[sock.send(pending) :]
        except (BrokenPipeError, ConnectionResetError):
            return  # closed by the server: its answer, if it sent one, is waiting


def _call(port: int, request: dict[str, Any], s3: Any, answer: Path) -> None:
    """POST the request's body to the container; the answer lands in ``answer``."""
    body, size = _body(s3, request)
    _send_and_read(port, request, body, size, answer)


def _send_and_read(
    port: int, request: dict[str, Any], body: IO[bytes] | bytes, size: int, answer: Path
) -> None:
    """POST ``body`` (``size`` bytes), streaming both ways; the answer lands in ``answer``,
    a refusal is :class:`_Failed` with the container's status and message."""
    timeout = float(request.get("InvocationTimeoutSeconds", DEFAULT_INVOCATION_TIMEOUT))
    headers = {
        "Content-Type": request.get("ContentType", "application/octet-stream"),
        "Accept": request.get("Accept", "*/*"),
        "Content-Length": str(size),
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, blocksize=_BLOCK)
    try:
        connection.putrequest("POST", "/invocations", skip_accept_encoding=True)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        assert connection.sock is not None
        _send_body(connection.sock, body, timeout)
        response = connection.getresponse()
        if not 200 <= response.status < 300:
            text = response.read(FAILURE_TEXT_BYTES).decode("utf-8", "replace").strip()
            raise _Failed(
                f'Received client error ({response.status}) from primary with message "{text}"'
                if response.status < 500
                else f'Received server error ({response.status}) from primary with message "{text}"'
            )
        with answer.open("wb") as out:
            while chunk := response.read(_BLOCK):
                out.write(chunk)
    except TimeoutError:
        raise _Failed(f"the model did not answer within {timeout:.0f} s") from None
    except (OSError, http.client.HTTPException) as exc:
        # IncompleteRead: the container ended a streamed answer early (a bad line further
        # down the body); the answer so far is not an answer.
        raise _Failed(
            f"the model's answer broke off ({type(exc).__name__}); the endpoint's log says "
            f"why: mpg-launch logs endpoint {request['EndpointName']} --local"
        ) from None
    finally:
        connection.close()
        if not isinstance(body, bytes):
            body.close()


def invoke(state: LocalState, s3: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Run one asynchronous request to its end; answer what InvokeEndpointAsync answers."""
    endpoint = request["EndpointName"]
    record = serving.observed_endpoint(state, endpoint, "InvokeEndpointAsync")
    if record.get("EndpointStatus") != "InService":
        raise not_found(
            "InvokeEndpointAsync",
            f"Endpoint {endpoint} is not InService ({serving.status_text(record)})",
        )
    config = state.get("endpoint-configs", record["EndpointConfigName"], "InvokeEndpointAsync")
    if "AsyncInferenceConfig" not in config:
        raise _validation(
            f"Endpoint {endpoint} is not an asynchronous endpoint (its endpoint config has no "
            "AsyncInferenceConfig); call InvokeEndpoint, or deploy it with --async"
        )
    if ("Body" in request) == ("InputLocation" in request):
        raise _validation("give exactly one of InputLocation and Body")
    inference_id = request.get("InferenceId") or str(uuid.uuid4())
    output, failure = locations(
        request, config["AsyncInferenceConfig"]["OutputConfig"], inference_id
    )
    entry: dict[str, Any] = {
        "InferenceId": inference_id,
        "EndpointName": endpoint,
        "InputLocation": request.get("InputLocation", "(inline body)"),
        "OutputLocation": output,
        "FailureLocation": failure,
        "Status": "InProgress",
        "StartTime": datetime.now(UTC),
    }
    state.put(KIND, inference_id, entry)
    instance = random.choice(record["Instances"])  # noqa: S311 - load spreading only
    if len(instance) > 1:
        raise model_error("asynchronous endpoints on the local engine serve one container")
    with tempfile.TemporaryDirectory(prefix="mpg-async-") as tmp:
        answer = Path(tmp) / "answer"
        try:
            _call(instance[0]["port"], request, s3, answer)
        except _Failed as exc:
            reason = str(exc)[:FAILURE_TEXT_BYTES]
            bucket, key = _split(failure)
            s3.put_object(Bucket=bucket, Key=key, Body=reason.encode())
            entry.update(Status="Failed", FailureReason=reason)
        else:
            bucket, key = _split(output)
            s3.upload_file(str(answer), bucket, key)
            entry.update(Status="Completed")
    entry["EndTime"] = datetime.now(UTC)
    state.put(KIND, inference_id, entry)
    return {"InferenceId": inference_id, "OutputLocation": output, "FailureLocation": failure}
