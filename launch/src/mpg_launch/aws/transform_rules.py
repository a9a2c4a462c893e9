"""SageMaker's documented rules for a CreateTransformJob request that botocore's model does not
hold, checked before anything is sent (``--dry-run`` included) and again by the local runner:

* ``MaxPayloadInMB`` at most 100, and ``MaxConcurrentTransforms`` x ``MaxPayloadInMB`` at
  most 100 (API CreateTransformJob; the payload counts as SageMaker's default 6 when unset);
* ``DataProcessing`` filters in SageMaker's JSONPath subset (:mod:`mpg_launch.aws.jsonpath`),
  index-only for CSV; the input and answer both CSV or both JSON; CSV split and assembled by
  ``Line`` (batch-transform-data-processing).

It also holds how an InputFilter cuts a CSV record, the one cut the local runner applies to
every record and the launcher to an input file's header line (``MPG_CSV_HEADER``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from mpg_launch.aws import jsonpath
from mpg_launch.errors import ConfigError

PAYLOAD_BUDGET_MB = 100
DEFAULT_PAYLOAD_MB = 6
_CSV = "text/csv"
_JSON = ("application/json", "application/jsonlines")


def _media(value: Any) -> str:
    return str(value or "").split(";", 1)[0].strip().lower()


def limit_errors(request: Mapping[str, Any]) -> list[str]:
    payload = request.get("MaxPayloadInMB")
    concurrent = request.get("MaxConcurrentTransforms") or 0
    errors = []
    if payload is not None and payload > PAYLOAD_BUDGET_MB:
        errors.append(f"MaxPayloadInMB={payload} is above SageMaker's {PAYLOAD_BUDGET_MB} MB")
    size = DEFAULT_PAYLOAD_MB if payload is None else payload
    if concurrent and concurrent * size > PAYLOAD_BUDGET_MB:
        errors.append(
            f"MaxConcurrentTransforms x MaxPayloadInMB = {concurrent} x {size} = "
            f"{concurrent * size} MB, above SageMaker's {PAYLOAD_BUDGET_MB} MB; lower one of them"
        )
    return errors


def data_processing_errors(request: Mapping[str, Any]) -> list[str]:
    spec = request.get("DataProcessing") or {}
    if not spec:
        return []
    transform_input = request.get("TransformInput", {})
    content_type = _media(transform_input.get("ContentType"))
    accept = _media(request.get("TransformOutput", {}).get("Accept")) or content_type
    errors = []
    for name in ("InputFilter", "OutputFilter"):
        if spec.get(name):
            parse = jsonpath.parse_csv_filter if content_type == _CSV else jsonpath.parse
            try:
                parse(spec[name])
            except ConfigError as exc:
                errors.append(f"DataProcessing.{name}: {exc}")
    same_family = (content_type == accept == _CSV) or (content_type in _JSON and accept in _JSON)
    if not same_family:
        errors.append(
            f"DataProcessing needs ContentType and Accept both text/csv or both JSON "
            f"(application/json, application/jsonlines); got {content_type or 'none'} and "
            f"{accept or 'none'}"
        )
    split = transform_input.get("SplitType", "None")
    assemble = request.get("TransformOutput", {}).get("AssembleWith", "None")
    if content_type == _CSV and (split != "Line" or assemble != "Line"):
        errors.append(
            "DataProcessing with text/csv needs SplitType=Line and AssembleWith=Line "
            f"(got {split} and {assemble})"
        )
    return errors


def request_errors(request: Mapping[str, Any]) -> list[str]:
    """Every documented rule ``request`` breaks (empty when none)."""
    return limit_errors(request) + data_processing_errors(request)


def csv_record(value: Any) -> str:
    """One CSV line (no line end) of a filtered or joined record: a JSON array's values, or
    one value as a one-cell line."""
    cells = value if isinstance(value, list) else [value]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def filter_csv_row(path: jsonpath.Path, row: list[str]) -> str:
    """The CSV record the model gets for ``row`` (a CSV record's cells, as SageMaker reads it:
    a JSON array) under the InputFilter ``path``; a :class:`~mpg_launch.aws.jsonpath.FilterError`
    when the filter cannot be applied to it."""
    return csv_record(jsonpath.apply(path, row))
