"""Batch transform on the local engine: ``/execution-parameters`` honoured (the request wins,
then the container, then SageMaker's defaults), Line splitting, SingleRecord/MultiRecord
mini-batches within MaxPayloadInMB, MaxConcurrentTransforms requests at a time per instance,
timeouts and retries from ModelClientConfig, DataProcessing filters and joins
(:mod:`mpg_launch.local.engine.data_processing`).

As SageMaker does (batch-transform, API TransformOutput): whole input objects go to
instances, never split between them (each instance takes the next object, in key order, when
it is free); mini-batches never mix objects; an object's answers are written, in record order,
to ``<key relative to the input prefix>.out`` only if every record of it succeeded; the other
objects still get theirs, and the job ends Failed naming the objects that did not.
"""

from __future__ import annotations

import json
import queue
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from mpg_launch.aws import transform_rules
from mpg_launch.aws.s3 import list_objects
from mpg_launch.errors import JobFailed, LaunchError
from mpg_launch.local.engine import containers, serving
from mpg_launch.local.engine.data_processing import DataProcessing, answer_lines
from mpg_launch.local.engine.staging import download, upload

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
    if settings.max_payload_mb < 1:
        raise LaunchError(
            "MaxPayloadInMB=0 (HTTP chunked encoding) is not emulated locally; give 1 to 100"
        )
    budget = transform_rules.PAYLOAD_BUDGET_MB
    if settings.max_payload_mb * settings.concurrency > budget:
        raise LaunchError(
            f"MaxConcurrentTransforms x MaxPayloadInMB exceeds SageMaker's {budget} MB"
        )
    return settings


def split_records(data: bytes, split_type: str) -> list[bytes]:
    """Line: one record per ``\\n``-ended line (a CR stays in its line, as in CRLF files);
    lines that are empty or only blanks are no records."""
    if split_type == "None":
        return [data]
    if split_type != "Line":
        raise LaunchError(f"SplitType {split_type} is not supported locally (Line or None)")
    *ended, last = data.split(b"\n")
    lines = [line + b"\n" for line in ended] + [last]
    return [line for line in lines if line.strip()]


def _too_big(size: int, settings: BatchSettings) -> LaunchError:
    return LaunchError(f"a record of {size} bytes exceeds MaxPayloadInMB={settings.max_payload_mb}")


def batch_counts(records: list[bytes], settings: BatchSettings) -> list[int]:
    """Records per mini-batch. SingleRecord: one each. MultiRecord: as many whole records as
    fit in MaxPayloadInMB (counted in bytes, unlike the SDK's local mode)."""
    limit = settings.max_payload_mb * MIB
    counts: list[int] = []
    size = 0
    for record in records:
        if len(record) > limit:
            raise _too_big(len(record), settings)
        if counts and settings.strategy == "MultiRecord" and size + len(record) <= limit:
            counts[-1] += 1
            size += len(record)
        else:
            counts.append(1)
            size = len(record)
    return counts


def joined(records: list[bytes], counts: list[int]) -> list[bytes]:
    """``records`` joined into one body per count."""
    bodies, start = [], 0
    for count in counts:
        bodies.append(b"".join(records[start : start + count]))
        start += count
    return bodies


def mini_batches(records: list[bytes], settings: BatchSettings) -> list[bytes]:
    return joined(records, batch_counts(records, settings))


_BLANKS = b" \t\r\f\v"


def _has_blank_line(body: bytes) -> bool:
    """Whether a line of ``body`` (its last line end cut) is empty or only blanks, which
    split_records drops: without its blanks, such a line is an empty one. (A regular
    expression for the same costs ~150 ms on 6 MB; this, a few.)"""
    lines = body.translate(None, _BLANKS)
    return not lines or lines.startswith(b"\n") or lines.endswith(b"\n") or b"\n\n" in lines


def line_batches(data: bytes, settings: BatchSettings) -> list[bytes] | None:
    """MultiRecord mini-batches of Line-split ``data`` cut straight from its bytes, the very
    batches :func:`mini_batches` makes, without a Python object per record (a 50 MB object
    holds a million); None when ``data`` has blank lines (the per-record path drops them)."""
    if _has_blank_line(data[:-1] if data.endswith(b"\n") else data):
        return None
    limit = settings.max_payload_mb * MIB
    batches, start = [], 0
    while start < len(data):
        end = len(data)
        if end - start > limit:
            end = data.rfind(b"\n", start, start + limit) + 1
            if end <= start:
                line_end = data.find(b"\n", start)
                raise _too_big((line_end if line_end >= 0 else len(data)) - start + 1, settings)
        batches.append(data[start:end])
        start = end
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
    """The ``.out`` object: AssembleWith=Line appends a newline after every response, as
    SageMaker and the SDK's local mode do, whether or not the response ends in one (a
    container told ``SAGEMAKER_BATCH=true`` leaves its last line open, so each record is one
    line; one that does not shows up as a blank line per mini-batch, as it would on AWS)."""
    if assemble_with != "Line":
        return b"".join(responses)
    return b"".join(r + b"\n" for r in responses)


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


Send = Callable[[bytes], bytes]


def transform_data(
    data: bytes, request: Mapping[str, Any], settings: BatchSettings, send: Send
) -> bytes:
    """One input object's ``.out`` contents: its mini-batches through ``send`` (one
    instance's containers, MaxConcurrentTransforms at a time), answers in record order,
    filtered and joined when the request asks."""
    split_type = request["TransformInput"].get("SplitType", "None")
    assemble_with = request["TransformOutput"].get("AssembleWith", "None")
    processing = DataProcessing.from_request(request)

    def send_all(bodies: list[bytes]) -> list[bytes]:
        with ThreadPoolExecutor(settings.concurrency) as pool:
            return list(pool.map(send, bodies))

    if processing is None and split_type == "Line" and settings.strategy == "MultiRecord":
        bodies = line_batches(data, settings)
        if bodies is not None:
            return assemble(send_all(bodies), assemble_with)
    records = split_records(data, split_type)
    model_records = processing.model_inputs(records) if processing else records
    counts = batch_counts(model_records, settings)
    responses = send_all(joined(model_records, counts))
    if processing is None:
        return assemble(responses, assemble_with)
    if split_type == "None":  # the whole object is one record, its answer one output
        answers = [responses[0].strip()]
    elif processing.join_input:  # each answer joins its record: one line per record
        answers = [a for r, n in zip(responses, counts, strict=True) for a in answer_lines(r, n)]
    else:  # nothing pairs answers with records (a file's header line gets no answer)
        answers = [a for r in responses for a in r.splitlines()]
    return assemble(processing.outputs(records, answers), assemble_with)


def transform_objects(
    s3: Any,
    request: Mapping[str, Any],
    instances: list[list[int]],
    settings: BatchSettings,
    work: Path,
) -> list[str]:
    """Every input object through one instance; returns the errors, one per failed object.
    Each instance takes the next object in key order when it is free, so at most
    MaxConcurrentTransforms requests reach an instance at a time."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise LaunchError("only S3Prefix transform inputs run locally")
    objects = list_objects(s3, source["S3Uri"])
    if not objects:
        raise LaunchError(f"no input objects under {source['S3Uri']}")
    base = request["TransformOutput"]["S3OutputPath"].rstrip("/")
    pending: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
    for item in objects:
        pending.put(item)
    errors: list[str] = []

    def one(ports: list[int], rel: str, uri: str) -> None:
        try:
            data = download(s3, uri, work / "in" / rel).read_bytes()
            output = transform_data(
                data, request, settings, lambda body: _send(ports, body, request, settings)
            )
            result = work / "out" / f"{rel}.out"
            result.parent.mkdir(parents=True, exist_ok=True)
            result.write_bytes(output)
            upload(s3, result, f"{base}/{rel}.out")
        except (ClientError, LaunchError, OSError, UnicodeDecodeError) as exc:
            errors.append(f"{rel}: {' '.join(str(exc).split())}")

    def instance(ports: list[int]) -> None:
        while True:
            try:
                rel, uri = pending.get_nowait()
            except queue.Empty:
                return
            one(ports, rel, uri)

    pool = ThreadPoolExecutor(len(instances))
    try:
        list(pool.map(instance, instances))
    except BaseException:  # Ctrl-C: no object starts after it; the ones under way fail
        while not pending.empty():  # when their containers stop (the caller stops them)
            pending.get_nowait()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return sorted(errors)


def run_transform(
    s3: Any,
    request: Mapping[str, Any],
    model: Mapping[str, Any],
    state: str,
    work: Path,
    arn: str,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    name = request["TransformJobName"]
    count = int(request["TransformResources"]["InstanceCount"])
    result: dict[str, Any] = {**request, "TransformJobArn": arn, "CreationTime": datetime.now(UTC)}
    started: list[list[dict[str, Any]]] = []
    grace = containers.ENDPOINT_STOP_GRACE
    try:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            model_dirs = serving.stage_models(s3, model, Path(tmp) / "models")

            def start(index: int) -> list[dict[str, Any]]:
                return serving.start_instance(
                    model,
                    model_dirs,
                    name,
                    state,
                    index,
                    batch_env(request),
                    serving.DEFAULT_STARTUP_SECONDS,
                )

            # Instances start together, as SageMaker's do. Every one that started goes into
            # ``started`` (stopped below) even when another failed its ping check or Ctrl-C
            # came while they started.
            pool = ThreadPoolExecutor(count)
            futures = [pool.submit(start, index) for index in range(1, count + 1)]
            try:
                wait(futures)
            except KeyboardInterrupt:  # the instances still starting see their containers go
                grace = containers.USER_STOP_GRACE
                serving.stop_containers(containers.owned(state, name), grace)
                raise
            finally:
                pool.shutdown(wait=True)
                started += [f.result() for f in futures if f.done() and not f.exception()]
            failures = [e for f in futures if (e := f.exception()) is not None]
            if failures:
                raise failures[0]
            result["TransformStartTime"] = datetime.now(UTC)
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
    except KeyboardInterrupt:
        grace = containers.USER_STOP_GRACE
        stopping = [c["name"] for instance in started for c in instance]
        out(f"Ctrl-C: stopping {', '.join(stopping) or name} (SIGTERM, SIGKILL after {grace} s)")
        raise
    finally:
        for instance in started:
            serving.stop_containers([c["name"] for c in instance], grace)
    result["TransformEndTime"] = datetime.now(UTC)
    return result
