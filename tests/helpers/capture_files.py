"""Writing SageMaker data capture files for the monitoring tests: held-out rows of the
bundled data, answered by a trained artifact, one capture line per inference."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mpg_core.artifact.reader import open_artifact
from mpg_core.features import raw_features


def held_out(bronze: Path) -> pd.DataFrame:
    """The validation and test splits: traffic the model never trained on."""
    frames = [pd.read_csv(bronze / s / f"{s}.csv") for s in ("validation", "test")]
    return pd.concat(frames, ignore_index=True)


def _cell(value: object) -> str:
    return "" if pd.isna(value) else repr(float(value))  # type: ignore[arg-type]


def capture_line(
    row_csv: str,
    answer: str,
    inference_id: str,
    time: str,
    encoding: str = "CSV",
    content_type: str = "text/csv",
) -> str:
    data = base64.b64encode(row_csv.encode()).decode() if encoding == "BASE64" else row_csv
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": "text/csv; charset=utf-8",
                "mode": "OUTPUT",
                "data": answer,
                "encoding": "CSV",
            },
        },
        "eventMetadata": {
            "eventId": f"event-{inference_id}",
            "inferenceId": inference_id,
            "inferenceTime": time,
        },
        "eventVersion": "0",
    }
    return json.dumps(record)


def write_capture(
    model_dir: Path,
    rows: pd.DataFrame,
    path: Path,
    time: str = "2026-12-07T09:30:00Z",
    id_prefix: str = "r",
) -> list[str]:
    """One CSV inference per row of ``rows`` (raw columns), answered by the artifact in
    ``model_dir``; returns the inference ids."""
    artifact = open_artifact(model_dir)
    columns: Sequence[str] = artifact.input_columns
    X = raw_features(rows[list(columns)], "traffic")
    predictions = artifact.predict(X.to_numpy(dtype=np.float64))
    ids = [f"{id_prefix}{i}" for i in range(len(rows))]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for i, (values, answer) in enumerate(zip(X.to_numpy(), predictions, strict=True)):
            body = ",".join(_cell(v) for v in values)
            f.write(capture_line(body, f"{float(answer)!r}\n", ids[i], time) + "\n")
    return ids
