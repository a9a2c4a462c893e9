"""Batch transform on the local engine: ``/execution-parameters`` honoured (the request wins,
then the container, then SageMaker's defaults), Line splitting, SingleRecord/MultiRecord
mini-batches within MaxPayloadInMB, MaxConcurrentTransforms requests at a time per instance,
timeouts and retries from ModelClientConfig, one ``<input>.out`` per input object."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.errors import JobFailed, LaunchError
from mpg_launch.local import serving
from mpg_launch.local.staging import download, list_objects, upload

MIB = 1024 * 1024
# SageMaker's defaults when neither the request nor the container says.
DEFAULTS = {"BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6, "MaxConcurrentTransforms": 1}
# The container contract spells strategies the other way (MULTI_RECORD); accept both.
_STRATEGIES = {
    "MULTI_RECORD": "MultiRecord",
    "SINGLE_RECORD": "SingleRecord",
    "MULTIRECORD": "MultiRecord",
    "SINGLERECORD": "SingleRecord",
}
_ENV_STRATEGY = {"MultiRecord": "MULTI_RECORD", "SingleRecord": "SINGLE_RECORD"}


@dataclass(frozen=True)
class BatchSettings:
    strategy: str
    max_payload_mb: int
    concurrency: int
    timeout: float
    retries: int


def batch_env(request: Mapping[str, Any]) -> dict[str, str]:
    """What SageMaker sets in a transform container: only values the request gave."""
    env = {"SAGEMAKER_BATCH": "true", **request.get("Environment", {})}
    if request.get("BatchStrategy"):
        env["SAGEMAKER_BATCH_STRATEGY"] = _ENV_STRATEGY[request["BatchStrategy"]]
    if request.get("MaxPayloadInMB") is not None:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(request["MaxPayloadInMB"])
    if request.get("MaxConcurrentTransforms"):
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(request["MaxConcurrentTransforms"])
    return env


def resolve_settings(request: Mapping[str, Any], container: Mapping[str, Any]) -> BatchSettings:
    """Per field: the request, else the container's /execution-parameters, else defaults."""

    def pick(key: str) -> Any:
        if request.get(key) is not None:
            return request[key]
        if container.get(key) is not None:
            return container[key]
        return DEFAULTS[key]

    raw_strategy = str(pick("BatchStrategy"))
    strategy = _STRATEGIES.get(raw_strategy.upper().replace("-", "_"), raw_strategy)
    if strategy not in ("MultiRecord", "SingleRecord"):
        raise LaunchError(f"unknown BatchStrategy {raw_strategy!r} from the container")
    client = request.get("ModelClientConfig", {})
    settings = BatchSettings(
        strategy=strategy,
        max_payload_mb=int(pick("MaxPayloadInMB")),
        concurrency=int(pick("MaxConcurrentTransforms")),
        timeout=float(client.get("InvocationsTimeoutInSeconds", 600)),
        retries=int(client.get("InvocationsMaxRetries", 3)),
    )
    if settings.max_payload_mb * settings.concurrency > 100:
        raise LaunchError("MaxConcurrentTransforms x MaxPayloadInMB exceeds SageMaker's 100 MB")
    return settings


def split_records(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "None":
        return [data]
    if split_type != "Line":
        raise LaunchError(f"SplitType {split_type} is not supported locally (Line or None)")
    return [line for line in data.splitlines(keepends=True) if line.strip()]


def mini_batches(records: list[bytes], settings: BatchSettings) -> list[bytes]:
    """SingleRecord: one record per request. MultiRecord: as many whole records as fit in
    MaxPayloadInMB (counted in bytes, unlike the SDK's local mode)."""
    limit = settings.max_payload_mb * MIB
    batches: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for record in records:
        if len(record) > limit:
            raise LaunchError(
                f"a record of {len(record)} bytes exceeds MaxPayloadInMB={settings.max_payload_mb}"
            )
        if settings.strategy == "SingleRecord" or (current and size + len(record) > limit):
            if current:
                batches.append(b"".join(current))
            current, size = [], 0
        current.append(record)
        size += len(record)
    if current:
        batches.append(b"".join(current))
    return batches


def _send(
    ports: list[int], batch: bytes, request: Mapping[str, Any], settings: BatchSettings
) -> bytes:
    content_type = request["TransformInput"].get("ContentType", "text/csv")
    accept = request["TransformOutput"].get("Accept", content_type)
    for attempt in range(settings.retries + 1):
        try:
            return serving.invoke_chain(ports, batch, content_type, accept, settings.timeout).body
        except ClientError:
            if attempt == settings.retries:
                raise
    raise AssertionError("unreachable")


def assemble(responses: list[bytes], assemble_with: str) -> bytes:
    if assemble_with != "Line":
        return b"".join(responses)
    return b"".join(r if r.endswith(b"\n") else r + b"\n" for r in responses)


def execution_parameters(port: int) -> dict[str, Any]:
    """GET /execution-parameters; absent (404) or unparsable means "no opinion"."""
    try:
        reply = serving.http_call(
            port, "GET", "/execution-parameters", timeout=serving.PING_TIMEOUT
        )
    except OSError:
        return {}
    if reply.status != 200:
        return {}
    try:
        found = json.loads(reply.body)
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def transform_objects(
    s3: Any,
    request: Mapping[str, Any],
    instances: list[list[int]],
    settings: BatchSettings,
    work: Path,
) -> list[str]:
    """Send every input object through an instance (spread by key); return the errors."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise LaunchError("only S3Prefix transform inputs run locally")
    objects = list_objects(s3, source["S3Uri"])
    if not objects:
        raise LaunchError(f"no input objects under {source['S3Uri']}")
    output = request["TransformOutput"]
    base = output["S3OutputPath"].rstrip("/")
    errors: list[str] = []

    def one(index: int, rel: str, uri: str) -> None:
        ports = instances[index % len(instances)]
        try:
            data = download(s3, uri, work / "in" / rel).read_bytes()
            records = split_records(data, request["TransformInput"].get("SplitType", "None"))
            batches = mini_batches(records, settings)
            with ThreadPoolExecutor(settings.concurrency) as pool:
                responses = list(pool.map(lambda b: _send(ports, b, request, settings), batches))
            result = work / "out" / f"{rel}.out"
            result.parent.mkdir(parents=True, exist_ok=True)
            result.write_bytes(assemble(responses, output.get("AssembleWith", "None")))
            upload(s3, result, f"{base}/{rel}.out")
        except (ClientError, LaunchError, OSError) as exc:
            errors.append(f"{rel}: {' '.join(str(exc).split())}")

    # Instances work in parallel; each takes the objects assigned to it by key order.
    with ThreadPoolExecutor(len(instances)) as pool:
        list(pool.map(lambda item: one(item[0], *item[1]), enumerate(objects)))
    return errors


def run_transform(
    s3: Any, request: Mapping[str, Any], model: Mapping[str, Any], state: str, work: Path, arn: str
) -> dict[str, Any]:
    name = request["TransformJobName"]
    if request.get("DataProcessing"):
        raise LaunchError(
            "DataProcessing filters are not supported locally; drop them or run on SageMaker"
        )
    count = int(request["TransformResources"]["InstanceCount"])
    result: dict[str, Any] = {**request, "TransformJobArn": arn, "CreationTime": datetime.now(UTC)}
    started: list[list[dict[str, Any]]] = []
    try:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            model_dirs = serving.stage_models(s3, model, Path(tmp) / "models")
            for index in range(1, count + 1):
                started.append(
                    serving.start_instance(
                        model,
                        model_dirs,
                        name,
                        state,
                        index,
                        batch_env(request),
                        serving.DEFAULT_STARTUP_SECONDS,
                    )
                )
            params = execution_parameters(started[0][0]["port"])
            settings = resolve_settings(request, params)
            errors = transform_objects(
                s3, request, [[c["port"] for c in inst] for inst in started], settings, Path(tmp)
            )
        result["TransformJobStatus"] = "Failed" if errors else "Completed"
        if errors:
            result["FailureReason"] = ("ClientError: " + "; ".join(errors))[:1024]
    except (JobFailed, LaunchError) as exc:
        result.update(TransformJobStatus="Failed", FailureReason=str(exc)[:1024])
    finally:
        for instance in started:
            serving.stop_containers([c["name"] for c in instance])
    result["TransformEndTime"] = datetime.now(UTC)
    return result
