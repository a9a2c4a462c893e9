"""Model containers on the local engine, held to SageMaker's serving limits.

* ``/ping`` must answer 200 within 2 s per ping, inside the start-up window;
* ``/invocations`` must answer within the timeout (60 s real-time); bodies up to 6 MiB;
* inference pipelines: every container of an instance shares one network namespace (as on
  one SageMaker instance) and gets its own ``SAGEMAKER_BIND_TO_PORT``, so a container that
  ignores it collides with its neighbour and fails the ping check;
* the response of container *n* is the request of container *n+1*, with its Content-Type.
"""

from __future__ import annotations

import http.client
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mpg_core.artifact.files import unpack_model_tarball
from mpg_launch.errors import DockerError, JobFailed
from mpg_launch.local.engine import containers
from mpg_launch.local.engine.containers import ContainerSpec, Mount
from mpg_launch.local.engine.staging import download
from mpg_launch.local.state import LocalState

PING_TIMEOUT = 2.0
INVOCATION_TIMEOUT = 60.0
MAX_BODY_BYTES = 6 * 1024 * 1024
DEFAULT_STARTUP_SECONDS = 480
FIRST_PORT = 8080
SAFE_PORT_RANGE = "9000-9999"


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = PING_TIMEOUT,
) -> Reply:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Reply(response.status, response.getheader("Content-Type", ""), response.read())
    finally:
        connection.close()


def model_definitions(model: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(model.get("Containers") or [model["PrimaryContainer"]])


def stage_models(s3: Any, model: Mapping[str, Any], work: Path) -> list[Path]:
    """Download and extract each container's ModelDataUrl, as SageMaker does before start."""
    folders = []
    for index, definition in enumerate(model_definitions(model)):
        folder = work / f"model-{index + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        if definition.get("ModelDataUrl"):
            with tempfile.TemporaryDirectory() as tmp:
                tarball = download(s3, definition["ModelDataUrl"], Path(tmp) / "model.tar.gz")
                unpack_model_tarball(tarball, folder)
        folders.append(folder)
    return folders


def _ping_ok(port: int) -> bool:
    try:
        return http_call(port, "GET", "/ping", timeout=PING_TIMEOUT).status == 200
    except (OSError, http.client.HTTPException):
        return False


def wait_healthy(
    names: Sequence[str], ports: Sequence[int], startup_seconds: float, variant: str = "AllTraffic"
) -> None:
    """Every container must pass a 2-second ping before the start-up window closes."""
    deadline = time.monotonic() + startup_seconds
    for index, (name, port) in enumerate(zip(names, ports, strict=True)):
        which = "primary container" if len(names) == 1 else f"container-{index + 1}"
        while not _ping_ok(port):
            stopped = containers.exit_code(name)
            if stopped is not None or time.monotonic() > deadline:
                why = (
                    f"exited with code {stopped}"
                    if stopped is not None
                    else f"did not answer /ping with 200 within {PING_TIMEOUT:.0f} s per ping "
                    f"in {startup_seconds:.0f} s"
                )
                tail = " | ".join(containers.logs_tail(name, 5).splitlines())
                raise JobFailed(
                    f"The {which} for production variant {variant} did not pass "
                    f"the ping health check: it {why}. Last log lines: {tail}"
                )
            time.sleep(0.5)


def start_instance(
    model: Mapping[str, Any],
    model_dirs: Sequence[Path],
    resource: str,
    state: str,
    index: int,
    extra_env: Mapping[str, str],
    startup_seconds: float,
    name_prefix: str | None = None,
) -> list[dict[str, Any]]:
    """Start one instance's containers; returns [{name, port}] in pipeline order."""
    definitions = model_definitions(model)
    pipeline = len(definitions) > 1
    bind_ports = [FIRST_PORT + i for i in range(len(definitions))]
    host = f"algo-{index}"
    names: list[str] = []
    try:
        for i, definition in enumerate(definitions):
            env = {**definition.get("Environment", {}), **extra_env}
            if pipeline:
                env["SAGEMAKER_BIND_TO_PORT"] = str(bind_ports[i])
                env["SAGEMAKER_SAFE_PORT_RANGE"] = SAFE_PORT_RANGE
            name = f"{name_prefix or resource}-{host}" + (f"-c{i + 1}" if pipeline else "")
            first = i == 0
            containers.create(
                ContainerSpec(
                    name=name,
                    image=definition["Image"],
                    hostname=definition.get("ContainerHostname") or host,
                    resource=resource,
                    state=state,
                    mounts=[Mount(model_dirs[i], "/opt/ml/model", read_only=True)],
                    env=env,
                    args=["serve"],
                    network=None if first else f"container:{names[0]}",
                    ports=bind_ports if first else (),
                )
            )
            names.append(name)
            containers.start(name)
        ports = [containers.host_port(names[0], p) for p in bind_ports]
        wait_healthy(names, ports, startup_seconds)
    except KeyboardInterrupt:  # the user's stop: at once
        stop_containers(names, containers.USER_STOP_GRACE)
        raise
    except BaseException:  # never leave half an endpoint running
        stop_containers(names)
        raise
    return [{"name": n, "port": p} for n, p in zip(names, ports, strict=True)]


def dead_container(record: Mapping[str, Any]) -> str | None:
    """Why an endpoint's fleet cannot serve (``container X exited with code N``, or is gone),
    or None while every container of every instance runs."""
    for instance in record.get("Instances", []):
        for container in instance:
            try:
                code = containers.exit_code(container["name"])
            except DockerError:
                return f"container {container['name']} is gone"
            if code is not None:
                return f"container {container['name']} exited with code {code}"
    return None


def observed_endpoint(state: LocalState, name: str, operation: str) -> dict[str, Any]:
    """The endpoint's record, as SageMaker would report it now: an InService endpoint whose
    container has died is Failed, with the container's exit code (recorded, under the
    record's lock, so every later command sees it too)."""
    record = state.get("endpoints", name, operation)
    if record.get("EndpointStatus") != "InService":
        return record  # Creating, Updating (a rollout swaps fleets), Failed: left as they are
    reason = dead_container(record)
    if reason is None:
        return record
    with state.locked("endpoints", name):
        current = state.get("endpoints", name, operation)
        if current.get("Instances") == record.get("Instances"):  # not updated meanwhile
            current.update(EndpointStatus="Failed", FailureReason=reason)
            state.put("endpoints", name, current)
    return current


def status_text(record: Mapping[str, Any]) -> str:
    """``Failed: container x exited with code 3``: the status, and the reason when failed."""
    status = str(record.get("EndpointStatus"))
    reason = record.get("FailureReason")
    return f"{status}: {reason}" if reason and status == "Failed" else status


def stop_containers(names: Sequence[str], grace: int = containers.ENDPOINT_STOP_GRACE) -> None:
    # Later pipeline containers share the first one's network: stop them first.
    ordered = list(reversed(names))
    containers.stop(ordered, grace)
    containers.remove(ordered)


def put_in_service(
    record: dict[str, Any], instances: list[Any], config_name: str, max_body_bytes: int
) -> None:
    """The endpoint's old fleet stopped and ``instances`` (on ``config_name``) recorded as the
    one serving: how an update ends, all at once or after a rollout."""
    for instance in record.get("Instances", []):
        stop_containers([c["name"] for c in instance])
    record.update(
        Instances=instances,
        EndpointConfigName=config_name,
        EndpointStatus="InService",
        MaxBodyBytes=max_body_bytes,
    )


def model_error(message: str) -> ClientError:
    return ClientError({"Error": {"Code": "ModelError", "Message": message}}, "InvokeEndpoint")


def invoke_chain(
    ports: Sequence[int],
    body: bytes,
    content_type: str,
    accept: str,
    timeout: float = INVOCATION_TIMEOUT,
) -> Reply:
    """POST through every container in order, as a serial inference pipeline does."""
    reply = Reply(200, content_type, body)
    for index, port in enumerate(ports):
        which = "primary" if len(ports) == 1 else f"container-{index + 1}"
        headers = {"Content-Type": reply.content_type or content_type, "Accept": accept}
        try:
            reply = http_call(port, "POST", "/invocations", reply.body, headers, timeout)
        except TimeoutError:
            raise model_error(f"{which} did not answer within {timeout:.0f} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise model_error(f"{which} is unreachable: {exc}") from None
        if not 200 <= reply.status < 300:
            text = reply.body.decode("utf-8", "replace").strip()
            raise model_error(
                f'Received client error ({reply.status}) from {which} with message "{text}"'
            )
    return reply


def check_body(body: bytes, limit: int = MAX_BODY_BYTES) -> None:
    """SageMaker's front end refuses a body over the endpoint's limit before the container."""
    if len(body) > limit:
        raise ClientError(
            {
                "Error": {
                    "Code": "ValidationError",
                    "Message": f"Request body is {len(body)} bytes; InvokeEndpoint "
                    f"accepts at most {limit}",
                }
            },
            "InvokeEndpoint",
        )
