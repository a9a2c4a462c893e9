"""The local endpoint's data capture (SageMaker's format, on moto's S3), read back by the
monitor job's reader."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import boto3

from mpg_launch.local.engine.capture import capture
from mpg_launch.local.state import LocalState
from mpg_preprocessing.monitor.capture import Window, capture_files, read_traffic
from tests.helpers.launch import REGION


@dataclass
class Reply:
    body: bytes
    content_type: str


def _state(tmp_path: Path, bucket: str, percent: int, header: dict | None = None) -> LocalState:
    state = LocalState(tmp_path / "state")
    config: dict = {
        "EndpointConfigName": "ec",
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": percent,
            "DestinationS3Uri": f"s3://{bucket}/mpg/data-capture/",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    }
    if header:
        config["DataCaptureConfig"]["CaptureContentTypeHeader"] = header
    state.put("endpoint-configs", "ec", config)
    return state


def test_captured_inferences_read_back_as_rows(tmp_path: Path, bucket: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    state = _state(tmp_path, bucket, 100, {"CsvContentTypes": ["text/csv"]})
    endpoint = {"EndpointName": "ep", "EndpointConfigName": "ec"}
    rows = [b"8,307,130,3504,12,70,1", b"4,97,,2130,14.5,70,3"]
    keys = [
        capture(
            state,
            s3,
            endpoint,
            row,
            "text/csv",
            Reply(b'{"predictions": [16.5]}', "application/json"),
            {"InferenceId": f"id{i}"},
        )
        for i, row in enumerate(rows)
    ]
    assert all(k and k.startswith("mpg/data-capture/ep/AllTraffic/") for k in keys)
    record = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": rows[0].decode(),
        "encoding": "CSV",
    }
    # The answer's type is not listed: SageMaker's default, base64.
    output = record["captureData"]["endpointOutput"]
    assert output["encoding"] == "BASE64"
    assert base64.b64decode(output["data"]) == b'{"predictions": [16.5]}'
    assert record["eventMetadata"]["inferenceId"] == "id0"
    # Downloaded as a processing input would be, the monitor reads both rows back.
    local = tmp_path / "capture"
    for key in keys:
        target = local / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    columns = (
        "cylinders",
        "displacement",
        "horsepower",
        "weight",
        "acceleration",
        "model_year",
        "origin",
    )
    traffic = read_traffic(capture_files(local, Window()), columns, Window(), keep_ids=True)
    assert traffic.inputs["weight"].tolist() == [3504, 2130]
    assert traffic.inputs["horsepower"].isna().tolist() == [False, True]
    assert traffic.predictions.astype(float).tolist() == [16.5, 16.5]
    assert sorted(traffic.inference_ids.tolist()) == ["id0", "id1"]


def test_no_capture_config_or_zero_percent_writes_nothing(tmp_path: Path, bucket: str) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    state = _state(tmp_path, bucket, 0)
    endpoint = {"EndpointName": "ep", "EndpointConfigName": "ec"}
    assert capture(state, s3, endpoint, b"1", "text/csv", Reply(b"2", "text/csv"), {}) is None
    state.put("endpoint-configs", "plain", {"EndpointConfigName": "plain"})
    other = {"EndpointName": "ep", "EndpointConfigName": "plain"}
    assert capture(state, s3, other, b"1", "text/csv", Reply(b"2", "text/csv"), {}) is None
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
