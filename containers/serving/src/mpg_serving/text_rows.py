"""Requests for a model whose raw inputs hold text: a categorical column of strings (the schema
in artifact.json marks it ``text``), such as ``contract = "month-to-month"``. Such a model has
no compiled form (rows reach the compiled walk as floats), so it is served by scikit-learn, and
its rows are read here as cells, not floats: the body's shapes are the ones
:mod:`mpg_serving.codecs` reads (CSV rows without a header; JSON lists or objects, keys in any
spelling; JSON Lines), then every column is checked by :func:`mpg_core.features.raw_features`,
the preprocessing job's own reader (numbers where numbers belong, text where text may be).

Models without text columns never come here: their float path is unchanged.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mpg_core.artifact.estimator import EstimatorModel
from mpg_core.artifact.reader import OpenedArtifact
from mpg_core.errors import ConfigError, MpgError, RequestError
from mpg_core.schema import canonical_name
from mpg_core.table_schema import TableSchema
from mpg_serving.codecs import CSV, JSON, _Keys, _text, record_keys


def _cell(value: Any, where: str) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"{where}: {str(value)[:40]!r} is neither a number nor text")
    return value


def _row(values: Sequence[Any], where: str, columns: Sequence[str]) -> list[Any]:
    if len(values) != len(columns):
        raise RequestError(
            f"{where}: {len(values)} values; expected {len(columns)} ({', '.join(columns)})"
        )
    return [_cell(v, f"{where}, column {c}") for v, c in zip(values, columns, strict=True)]


def _record(record: Any, where: str, columns: Sequence[str], keys: _Keys) -> list[Any]:
    if isinstance(record, list):
        return _row(record, where, columns)
    if not isinstance(record, dict):
        raise RequestError(f"{where}: expected a list of {len(columns)} values or an object")
    spelled = record_keys(record, where, columns, keys)
    return [_cell(record[key], f"{where}, {c}") for c, key in zip(columns, spelled, strict=True)]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"{where}malformed JSON: {str(exc)[:200]}") from None


def decode_cells(body: bytes, content_type: str, columns: Sequence[str]) -> list[list[Any]]:
    """The body's rows as cells (text, numbers or None), one list per row."""
    text = _text(body)
    if content_type == CSV:
        lines = text.rstrip("\r\n").splitlines()
        if not "".join(lines).strip():
            raise RequestError("empty body")
        try:
            rows = list(csv.reader(lines, strict=True))
        except csv.Error as exc:
            raise RequestError(f"malformed CSV: {exc}") from None
        if rows and [canonical_name(v) for v in rows[0]] == [canonical_name(c) for c in columns]:
            raise RequestError("line 1 is a header; send CSV rows without a header")
        return [_row(r, f"line {i}", columns) for i, r in enumerate(rows, start=1)]
    keys = _Keys(columns)
    if content_type == JSON:
        payload = _json(text, "")
        if isinstance(payload, dict) and "instances" in payload:
            records = payload["instances"]
            if not isinstance(records, list):
                raise RequestError('"instances" must be a list')
        elif isinstance(payload, dict) or (
            isinstance(payload, list) and payload and not isinstance(payload[0], (list, dict))
        ):
            records = [payload]
        elif isinstance(payload, list):
            records = payload
        else:
            raise RequestError('expected {"instances": [...]}, a list of records or one record')
        rows = [_record(r, f"record {i}", columns, keys) for i, r in enumerate(records)]
    else:
        rows = []
        for number, line in enumerate(text.rstrip("\r\n").split("\n"), start=1):
            if not line.strip():
                raise RequestError(f"line {number}: empty line")
            record = _json(line, f"line {number}: ")
            rows.append(_record(record, f"line {number}", columns, keys))
    if not rows:
        raise RequestError("no records in the body")
    return rows


class TextRows:
    """Reads and answers requests for a model with text inputs, through scikit-learn."""

    def __init__(self, schema: TableSchema, model: OpenedArtifact) -> None:
        if not isinstance(model.model, EstimatorModel):
            raise ConfigError("a model with text inputs must be served by its estimator")
        self.schema = schema
        self.columns = model.input_columns
        self.estimator = model.model

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        import pandas as pd

        from mpg_core.features import raw_features

        cells = decode_cells(body, content_type, self.columns)
        frame = pd.DataFrame(cells, columns=list(self.columns), dtype=object)
        try:
            rows = raw_features(frame, "request", self.schema)
        except MpgError as exc:
            raise RequestError(str(exc)[:400]) from None
        model = self.estimator
        if model.kind == "preprocessor":
            call = model.estimator.transform
        else:
            call = model.estimator.predict_proba if model.is_classifier else model.estimator.predict
        try:
            return np.asarray(call(rows), dtype=np.float64)
        except ValueError as exc:
            raise RequestError(f"the model cannot use these values: {str(exc)[:200]}") from None


def text_rows(manifest: Mapping[str, Any], model: OpenedArtifact) -> TextRows | None:
    """TextRows when the artifact's raw inputs include text columns; None otherwise."""
    data = manifest.get("schema")
    if model.kind == "model" or not isinstance(data, dict):
        return None
    schema = TableSchema.from_dict(data, "artifact.json schema")
    if not set(schema.text_columns) & set(model.input_columns):
        return None
    return TextRows(schema, model)
