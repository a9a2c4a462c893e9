"""Batch transform's ``DataProcessing`` on the local engine, per SageMaker's documented rules
(batch-transform-data-processing, API DataProcessing):

1. ``InputFilter`` picks the part of each record the model gets;
2. ``JoinSource=Input`` joins each prediction to its **whole** input record: a CSV row is a
   JSON array, so the joined row is the input's columns followed by the prediction's; a JSON
   object gets the prediction under ``SageMakerOutput``, any other JSON value becomes
   ``{"SageMakerInput": ..., "SageMakerOutput": ...}``;
3. ``OutputFilter`` picks the part of the joined record that is written.

Each record's prediction is one line of the model's answer (SplitType and AssembleWith
``Line``), so when joining, a mini-batch of n records must come back as n lines. Without a
join nothing pairs an answer with its record: the answer lines are taken as they come (a
file's header line, which the serving image reads and skips, gets none).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mpg_launch.aws import jsonpath
from mpg_launch.aws.transform_rules import csv_record, filter_csv_row
from mpg_launch.errors import LaunchError

CSV = "text/csv"
OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _csv_rows(lines: Sequence[bytes], what: str) -> list[list[str]]:
    text = [line.decode("utf-8").rstrip("\r\n") for line in lines]
    try:
        rows = list(csv.reader(text, strict=True))
    except csv.Error as exc:
        raise LaunchError(f"{what} is not RFC 4180 CSV: {exc}") from None
    return rows


def _json(line: bytes, what: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise LaunchError(f"{what} is not JSON: {exc}") from None


@dataclass(frozen=True)
class DataProcessing:
    """The three steps for one job; ``csv`` when the records are CSV rows."""

    input_filter: jsonpath.Path
    join_input: bool
    output_filter: jsonpath.Path
    csv: bool

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> DataProcessing | None:
        """None when the request asks for nothing beyond SageMaker's defaults."""
        spec = request.get("DataProcessing") or {}
        input_filter = spec.get("InputFilter") or "$"
        output_filter = spec.get("OutputFilter") or "$"
        join = spec.get("JoinSource", "None") == "Input"
        if input_filter == "$" and output_filter == "$" and not join:
            return None
        is_csv = media_type(request["TransformInput"].get("ContentType")) == CSV
        parse = jsonpath.parse_csv_filter if is_csv else jsonpath.parse
        return cls(parse(input_filter), join, parse(output_filter), is_csv)

    def model_inputs(self, records: Sequence[bytes]) -> list[bytes]:
        """What the model gets for each record, one line each."""
        if self.input_filter.is_root:
            return list(records)
        if self.csv:
            rows = _csv_rows(records, "an input record")
            return [(self._filtered_row(r) + "\n").encode() for r in rows]
        return [
            (json.dumps(self._pick(self.input_filter, _json(r, "an input record"))) + "\n").encode()
            for r in records
        ]

    def outputs(self, records: Sequence[bytes], answers: Sequence[bytes]) -> list[bytes]:
        """One output line (without its line end) per record, from its answer line."""
        if self.csv:
            inputs: list[Any] = _csv_rows(records, "an input record") if self.join_input else []
            predictions: list[Any] = _csv_rows(answers, "the model's answer")
        else:
            inputs = [_json(r, "an input record") for r in records] if self.join_input else []
            predictions = [_json(a, "the model's answer") for a in answers]
        lines = []
        for index, prediction in enumerate(predictions):
            joined = self._join(inputs[index], prediction) if self.join_input else prediction
            picked = self._pick(self.output_filter, joined)
            lines.append((csv_record(picked) if self.csv else json.dumps(picked)).encode())
        return lines

    def _join(self, record: Any, prediction: Any) -> Any:
        if self.csv:
            return [*record, *prediction]
        if isinstance(record, dict):
            return {**record, OUTPUT_KEY: prediction}
        return {INPUT_KEY: record, OUTPUT_KEY: prediction}

    def _filtered_row(self, row: list[str]) -> str:
        """The launcher cuts a file's header line with the same function (MPG_CSV_HEADER)."""
        try:
            return filter_csv_row(self.input_filter, row)
        except jsonpath.FilterError as exc:
            raise LaunchError(str(exc)) from None

    @staticmethod
    def _pick(path: jsonpath.Path, value: Any) -> Any:
        try:
            return jsonpath.apply(path, value)
        except jsonpath.FilterError as exc:
            raise LaunchError(str(exc)) from None


def answer_lines(body: bytes, expected: int) -> list[bytes]:
    """A mini-batch's answer as one line per record, or a LaunchError naming the mismatch."""
    lines = body.splitlines()
    if len(lines) != expected:
        raise LaunchError(
            f"the model answered {len(lines)} line(s) for {expected} record(s); joining "
            "needs one answer line per record (Accept text/csv or application/jsonlines)"
        )
    return lines
