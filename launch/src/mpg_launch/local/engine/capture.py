"""Data capture for local endpoints: what SageMaker writes for an endpoint deployed with
``DataCaptureConfig``, written by the local runtime after each InvokeEndpoint, so the
monitor (``mpg-launch monitor run --local``) has traffic to read before anything is paid for.

Same format and layout as SageMaker's: JSON lines under
``<DestinationS3Uri>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/``; a body whose content type the
config lists as CSV or JSON is kept as text (encoding ``CSV``/``JSON``), any other is
BASE64, as SageMaker does when ``CaptureContentTypeHeader`` does not name it. SageMaker
gathers many inferences per file; here each inference is one small object.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.local.state import LocalState

VARIANT = "AllTraffic"


def _part(body: bytes, content_type: str, mode: str, header: Mapping[str, Any]) -> dict[str, Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in header.get("CsvContentTypes", []):
        encoding, data = "CSV", body.decode("utf-8", "replace")
    elif media in header.get("JsonContentTypes", []):
        encoding, data = "JSON", body.decode("utf-8", "replace")
    else:
        encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def capture_record(
    config: Mapping[str, Any],
    request_body: bytes,
    content_type: str,
    answer: bytes,
    answer_type: str,
    inference_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    """One capture line, as SageMaker writes it."""
    header = config.get("CaptureContentTypeHeader", {})
    modes = {o["CaptureMode"] for o in config.get("CaptureOptions", [])}
    data: dict[str, Any] = {}
    if "Input" in modes:
        data["endpointInput"] = _part(request_body, content_type, "INPUT", header)
    if "Output" in modes:
        data["endpointOutput"] = _part(answer, answer_type, "OUTPUT", header)
    meta = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if inference_id:
        meta["inferenceId"] = inference_id
    return {"captureData": data, "eventMetadata": meta, "eventVersion": "0"}


def capture(
    state: LocalState,
    s3: Any,
    endpoint: Mapping[str, Any],
    body: bytes,
    content_type: str,
    reply: Any,
    request: Mapping[str, Any],
) -> str | None:
    """Write the inference's capture line when the endpoint's config captures (sampled at
    its percentage); the S3 key written, or None. ``reply``: the endpoint's answer (its
    ``body`` and ``content_type``); ``request``: InvokeEndpoint's other arguments."""
    config = state.get("endpoint-configs", endpoint["EndpointConfigName"], "DescribeEndpointConfig")
    settings = config.get("DataCaptureConfig")
    if not settings or not settings.get("EnableCapture", True) or s3 is None:
        return None
    if random.uniform(0, 100) >= float(settings.get("InitialSamplingPercentage", 0)):  # noqa: S311
        return None
    now = datetime.now(UTC)
    record = capture_record(
        settings,
        body,
        content_type,
        reply.body,
        reply.content_type,
        request.get("InferenceId"),
        now,
    )
    bucket, prefix = split_s3_uri(settings["DestinationS3Uri"])
    key = "/".join(
        p.strip("/")
        for p in (
            prefix,
            endpoint["EndpointName"],
            VARIANT,
            now.strftime("%Y/%m/%d/%H"),
            f"{now.strftime('%M-%S-%f')}-{uuid.uuid4().hex[:8]}.jsonl",
        )
        if p.strip("/")
    )
    s3.put_object(Bucket=bucket, Key=key, Body=(json.dumps(record) + "\n").encode())
    return key
