"""Reading SageMaker data capture: encodings, body kinds, windows, broken lines."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mpg_preprocessing.monitor.capture import Window, capture_files, read_traffic
from tests.helpers.capture_files import capture_line

COLUMNS = ("a", "b", "c")


def _record(body: str, content_type: str, encoding: str, answer: str, answer_type: str) -> str:
    data = base64.b64encode(body.encode()).decode() if encoding == "BASE64" else body
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": answer_type,
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON" if "json" in answer_type else "CSV",
                },
            },
            "eventMetadata": {"eventId": "e1", "inferenceTime": "2026-12-07T09:10:00Z"},
            "eventVersion": "0",
        }
    )


def test_csv_json_base64_and_multi_row_bodies(tmp_path: Path) -> None:
    lines = [
        capture_line("1,2,x", "10\n", "i1", "2026-12-07T09:00:00Z"),
        capture_line("3,,y\n4,5,z\n", "11\n12\n", "i2", "2026-12-07T09:01:00Z"),
        _record("6,7,w", "text/csv", "BASE64", "13", "text/csv"),
        _record(
            '{"instances": [[8, 9, "v"], {"A": 10, "b": 11, "c": "u"}]}',
            "application/json",
            "JSON",
            '{"predictions": [14, 15]}',
            "application/json",
        ),
        _record(
            '{"a": 12, "b": 13, "c": "t"}\n',
            "application/jsonlines",
            "JSON",
            '{"prediction": 16}\n',
            "application/jsonlines",
        ),
        "not json at all",
    ]
    (tmp_path / "capture.jsonl").write_text("\n".join(lines) + "\n")
    traffic = read_traffic(capture_files(tmp_path, Window()), COLUMNS, Window(), keep_ids=True)
    assert traffic.records == 5 and traffic.skipped == 1
    assert traffic.inputs["a"].astype(float).tolist() == [1, 3, 4, 6, 8, 10, 12]
    assert np.isnan(float(traffic.inputs["b"][1]))
    assert traffic.inputs["c"].tolist() == ["x", "y", "z", "w", "v", "u", "t"]
    assert traffic.predictions.astype(float).tolist() == [10, 11, 12, 13, 14, 15, 16]
    assert traffic.inference_ids.tolist()[:3] == ["i1", "i2", "i2"]


def test_window_skips_hour_folders_and_filters_times(tmp_path: Path) -> None:
    for hour, minute in ((8, 59), (9, 0), (9, 59), (10, 0)):
        folder = tmp_path / f"ep/AllTraffic/2026/12/07/{hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        time = f"2026-12-07T{hour:02d}:{minute:02d}:00Z"
        with (folder / "part.jsonl").open("a") as f:
            f.write(capture_line(f"{hour},{minute},k", "1\n", f"{hour}-{minute}", time) + "\n")
    window = Window(datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 10, tzinfo=UTC))
    files = capture_files(tmp_path, window)
    assert [p.parent.name for p in files] == ["09"]
    # A record whose time is outside the window is dropped even inside an hour folder.
    (tmp_path / "loose.jsonl").write_text(
        capture_line("1,1,k", "1\n", "late", "2026-12-07T10:30:00Z") + "\n"
    )
    traffic = read_traffic(capture_files(tmp_path, window), COLUMNS, window)
    assert traffic.records == 2
    assert traffic.inputs["b"].astype(int).tolist() == [0, 59]
