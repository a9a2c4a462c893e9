"""Reading SageMaker data capture: JSON lines under ``<endpoint>/<variant>/yyyy/mm/dd/hh/``,
one inference per line::

    {"captureData": {
       "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                         "data": "8,307,130,3504,12,70,1", "encoding": "CSV"},
       "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                          "data": "16.2\\n", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "...", "inferenceId": "...",
                       "inferenceTime": "2026-12-07T09:00:00Z"},
     "eventVersion": "0"}

``encoding`` is ``CSV`` or ``JSON`` (the text as sent) or ``BASE64``. A body may hold several
rows; its answer holds as many.

Files are read in chunks of lines and each chunk becomes a frame at once: the bodies of a chunk
are joined and parsed by pandas' C reader (CSV), so the per-record Python work is one
``json.loads`` of the chunk and a few list comprehensions, and memory is bounded by the chunk,
not the window.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mpg_core.errors import DataError
from mpg_core.schema import canonical_name

log = logging.getLogger(__name__)

CAPTURE_SUFFIXES = (".jsonl", ".json")
# Lines parsed at once: bounded memory (~6 MB of text, ~40 MB parsed) and few calls into pandas.
CHUNK_LINES = 16384
_HOUR_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/(\d{2})(?:/|$)")
_MISSING = ["", "?", "nan", "NaN", "na", "null", "None"]


@dataclass(frozen=True)
class Window:
    """Inference times from ``start`` (included) to ``end`` (excluded); None is open."""

    start: datetime | None = None
    end: datetime | None = None

    def hour_may_hold(self, hour: datetime) -> bool:
        if self.end is not None and hour >= self.end:
            return False
        return not (self.start is not None and hour.timestamp() + 3600 <= self.start.timestamp())


@dataclass
class Traffic:
    """The captured rows of a window: inputs by column, the model's answer for each row
    (NaN where the answer could not be matched), and each row's inference id."""

    inputs: pd.DataFrame
    predictions: pd.Series
    inference_ids: np.ndarray
    records: int  # inferences (capture lines) in the window
    skipped: int  # lines that could not be read (logged)


def capture_files(directory: Path, window: Window) -> list[Path]:
    """The capture files under ``directory``, sorted, skipping hour folders outside
    ``window`` (SageMaker's ``yyyy/mm/dd/hh`` layout; other files are all read)."""
    if not directory.is_dir():
        raise DataError(f"capture input {directory} does not exist")
    files = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        if path.suffix.lower() not in CAPTURE_SUFFIXES:
            continue
        match = _HOUR_PATH.search(path.relative_to(directory).as_posix())
        if match:
            year, month, day, hour = (int(g) for g in match.groups())
            if not window.hour_may_hold(datetime(year, month, day, hour, tzinfo=UTC)):
                continue
        files.append(path)
    return files


def _chunks(path: Path) -> Iterator[list[bytes]]:
    with path.open("rb") as f:
        lines: list[bytes] = []
        for line in f:
            if line.strip():
                lines.append(line)
            if len(lines) >= CHUNK_LINES:
                yield lines
                lines = []
        if lines:
            yield lines


def _parse_lines(lines: list[bytes], where: str) -> tuple[list[Any], int]:
    """The chunk's records; a malformed line is skipped (counted), not fatal."""
    try:
        return json.loads(b"[" + b",".join(lines) + b"]"), 0
    except ValueError:
        records, bad = [], 0
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                bad += 1
        log.warning("skipped malformed capture lines", extra={"file": where, "lines": bad})
        return records, bad


def _body(part: dict[str, Any]) -> str:
    data = part.get("data", "")
    if part.get("encoding", "").upper() == "BASE64":
        return base64.b64decode(data).decode("utf-8", "replace")
    return str(data)


@functools.cache
def _media_type(header: str) -> str:
    return header.split(";", 1)[0].strip().lower()


def _media(part: dict[str, Any]) -> str:
    return _media_type(str(part.get("observedContentType", "")))


def _bodies(parts: list[dict[str, Any]]) -> list[str]:
    """Each part's text; only BASE64 parts cost a call."""
    return [_body(p) if p.get("encoding") == "BASE64" else str(p.get("data", "")) for p in parts]


def _rows_of_csv(bodies: Sequence[str], columns: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Headerless CSV bodies as one frame, and how many rows each body gave."""
    trimmed = [b.strip("\r\n") for b in bodies]
    per_body = np.fromiter((b.count("\n") + 1 if b else 0 for b in trimmed), np.int64, len(trimmed))
    text = "\n".join(b for b in trimmed if b)
    if not text:
        return pd.DataFrame(columns=list(columns)), per_body
    frame = pd.read_csv(
        io.StringIO(text),
        header=None,
        names=list(columns),
        na_values=_MISSING,
        keep_default_na=False,
        skip_blank_lines=False,
        skipinitialspace=True,
        on_bad_lines="error",
    )
    return frame, per_body


def _records_of_json(payload: Any) -> list[Any]:
    if isinstance(payload, dict) and "instances" in payload:
        return list(payload["instances"])
    if isinstance(payload, dict) or (
        isinstance(payload, list) and payload and not isinstance(payload[0], list | dict)
    ):
        return [payload]
    return list(payload) if isinstance(payload, list) else [payload]


def _rows_of_json(
    bodies: Sequence[str], media: Sequence[str], columns: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """JSON and JSON Lines bodies (records as lists in ``columns`` order or objects keyed by
    column name) as one frame, and how many rows each body gave."""
    rows: list[Any] = []
    per_body = np.zeros(len(bodies), np.int64)
    for i, (body, kind) in enumerate(zip(bodies, media, strict=True)):
        if kind.endswith("jsonlines") or kind.endswith("jsonl"):
            found = [json.loads(line) for line in body.splitlines() if line.strip()]
        else:
            found = _records_of_json(json.loads(body))
        rows.extend(found)
        per_body[i] = len(found)
    named = [
        {canonical_name(str(k)): v for k, v in r.items()}
        if isinstance(r, dict)
        else dict(zip(columns, r, strict=False))
        for r in rows
    ]
    frame = pd.DataFrame.from_records(named, columns=list(columns))
    return frame, per_body


def _answers(bodies: Sequence[str], media: Sequence[str]) -> tuple[pd.Series, np.ndarray]:
    """The model's answers: CSV (one value per line) or JSON (``{"predictions": [...]}``,
    ``{"prediction": v}`` lines; a classifier's ``{"label": ...}`` objects give the label)."""
    if all(m == "text/csv" for m in media):
        trimmed = [b.strip("\r\n") for b in bodies]
        per_body = np.fromiter(
            (b.count("\n") + 1 if b else 0 for b in trimmed), np.int64, len(trimmed)
        )
        text = "\n".join(b for b in trimmed if b)
        if not text:
            return pd.Series(dtype=object), per_body
        frame = pd.read_csv(
            io.StringIO(text), header=None, usecols=[0], na_values=_MISSING, keep_default_na=False
        )
        return frame.iloc[:, 0], per_body
    values: list[Any] = []
    per_body = np.zeros(len(bodies), np.int64)
    for i, (body, kind) in enumerate(zip(bodies, media, strict=True)):
        if kind == "text/csv":
            found: list[Any] = [line for line in body.splitlines() if line.strip()]
        elif "jsonl" in kind:
            found = [json.loads(line) for line in body.splitlines() if line.strip()]
        else:
            payload = json.loads(body)
            found = payload.get("predictions", [payload]) if isinstance(payload, dict) else payload
        for value in found:
            if isinstance(value, dict):
                value = value.get("label", value.get("prediction", value.get("score")))
            values.append(value)
        per_body[i] = len(found)
    return pd.Series(values, dtype=object), per_body


@dataclass
class _Chunk:
    inputs: pd.DataFrame
    predictions: pd.Series
    ids: np.ndarray
    records: int


def _chunk_traffic(
    records: list[Any], columns: Sequence[str], window: Window, keep_ids: bool, where: str
) -> _Chunk | None:
    meta = [r.get("eventMetadata", {}) for r in records]
    if window.start is not None or window.end is not None:
        times = pd.to_datetime(
            [m.get("inferenceTime") for m in meta], utc=True, format="ISO8601", errors="coerce"
        )
        keep = np.ones(len(records), bool)
        if window.start is not None:
            keep &= np.asarray(times >= pd.Timestamp(window.start))
        if window.end is not None:
            keep &= np.asarray(times < pd.Timestamp(window.end))
        if not keep.all():
            records = [r for r, k in zip(records, keep, strict=True) if k]
            meta = [m for m, k in zip(meta, keep, strict=True) if k]
    if not records:
        return None
    capture = [r["captureData"] for r in records]
    inputs = [c.get("endpointInput") or {} for c in capture]
    outputs = [c.get("endpointOutput") or {} for c in capture]
    in_media = [_media(p) for p in inputs]
    in_bodies = _bodies(inputs)
    if all(m == "text/csv" for m in in_media):
        frame, rows = _rows_of_csv(in_bodies, columns)
    elif not any(m == "text/csv" for m in in_media):
        frame, rows = _rows_of_json(in_bodies, in_media, columns)
    else:  # both kinds in one chunk: each part by its reader, in capture order
        csv_part = np.asarray([m == "text/csv" for m in in_media])
        order = np.concatenate([np.flatnonzero(csv_part), np.flatnonzero(~csv_part)])
        a, ra = _rows_of_csv([in_bodies[i] for i in np.flatnonzero(csv_part)], columns)
        b, rb = _rows_of_json(
            [in_bodies[i] for i in np.flatnonzero(~csv_part)],
            [in_media[i] for i in np.flatnonzero(~csv_part)],
            columns,
        )
        starts = np.repeat(order, np.concatenate([ra, rb]))
        frame = pd.concat([a, b], ignore_index=True).iloc[np.argsort(starts, kind="stable")]
        frame = frame.reset_index(drop=True)
        rows = np.empty(len(order), np.int64)
        rows[order] = np.concatenate([ra, rb])
    answers, answer_rows = _answers(_bodies(outputs), [_media(p) for p in outputs])
    if len(answers) != len(frame) or not np.array_equal(answer_rows, rows):
        log.warning(
            "answers do not line up with the rows: predictions of this chunk are skipped",
            extra={"file": where, "rows": len(frame), "answers": len(answers)},
        )
        answers = pd.Series(np.full(len(frame), np.nan), dtype=object)
    ids = np.empty(0, dtype=object)
    if keep_ids:
        per_record = np.asarray(
            [m.get("inferenceId") or m.get("eventId") or "" for m in meta], dtype=object
        )
        ids = np.repeat(per_record, rows)
    return _Chunk(frame, answers.reset_index(drop=True), ids, len(records))


def read_traffic(
    files: Sequence[Path], columns: Sequence[str], window: Window, keep_ids: bool = False
) -> Traffic:
    """Every captured row of ``files`` in ``window``, its columns named ``columns`` (the
    model's input columns, the order of a headerless CSV row). ``keep_ids``: keep each row's
    inference id (for ground truth), else skip that per-row work."""
    chunks: list[_Chunk] = []
    skipped = 0
    for path in files:
        for lines in _chunks(path):
            records, bad = _parse_lines(lines, path.name)
            skipped += bad
            try:
                chunk = _chunk_traffic(records, columns, window, keep_ids, path.name)
            except (KeyError, TypeError, ValueError, pd.errors.ParserError) as exc:
                log.warning(
                    "skipped a chunk of capture lines it could not read",
                    extra={"file": path.name, "lines": len(lines), "error": str(exc)[:200]},
                )
                skipped += len(lines)
                continue
            if chunk is not None:
                chunks.append(chunk)
    if not chunks:
        empty = pd.DataFrame(columns=list(columns))
        return Traffic(empty, pd.Series(dtype=object), np.empty(0, dtype=object), 0, skipped)
    return Traffic(
        inputs=pd.concat([c.inputs for c in chunks], ignore_index=True),
        predictions=pd.concat([c.predictions for c in chunks], ignore_index=True),
        inference_ids=np.concatenate([c.ids for c in chunks]) if keep_ids else np.empty(0),
        records=sum(c.records for c in chunks),
        skipped=skipped,
    )
