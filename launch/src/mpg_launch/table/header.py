"""A batch transform's input files as the serving image reads them. SageMaker splits each file
into mini-batches by line, and only the first holds the file's header line; the container is
told that line (``MPG_CSV_HEADER``, :data:`mpg_core.platform.CSV_HEADER_ENV`) so every
mini-batch is read in the file's column order, the header itself skipped (mpg_serving.rows).

The rule that tells a header from a row is the serving image's,
:func:`mpg_core.schema.is_header`: one of the line's cells names a column of the table (in any
spelling :func:`mpg_core.schema.canonical_name` reads) and none of them is a number.

SageMaker applies a transform's InputFilter to every record, the header line included, so the
container then gets the header as the filter cut it: :func:`filtered_header` makes the same
cut (:func:`mpg_launch.aws.transform_rules.filter_csv_row`, the local runner's too).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

from mpg_core.platform import CSV_HEADER_ENV
from mpg_core.schema import canonical_name, is_header
from mpg_launch.aws import jsonpath
from mpg_launch.aws.s3 import list_objects, split_s3_uri
from mpg_launch.aws.transform_rules import filter_csv_row
from mpg_launch.errors import ConfigError

# How much of each file is read to find its first line (a header longer than this is not one).
FIRST_LINE_BYTES = 65536


def header_of(line: str, columns: Iterable[str]) -> str | None:
    """``line`` when it is a header line of a table with ``columns``, else None."""
    try:
        cells = next(csv.reader([line], strict=True), [])
    except csv.Error:
        return None
    return line if is_header(cells, {canonical_name(c) for c in columns}) else None


def first_line(s3: Any, uri: str) -> str:
    """The first line of the object at ``uri`` (its first :data:`FIRST_LINE_BYTES` read)."""
    bucket, key = split_s3_uri(uri)
    body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{FIRST_LINE_BYTES - 1}")
    head: bytes = body["Body"].read()
    return head.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")


def input_header(s3: Any, prefix: str, columns: Iterable[str]) -> str | None:
    """The header line the files under ``prefix`` start with, or None when none does. Files
    that start with different headers, or some with a header and some without, are a
    ConfigError: the container reads every mini-batch of the job in one layout."""
    columns = tuple(columns)
    found = {uri: header_of(first_line(s3, uri), columns) for _, uri in list_objects(s3, prefix)}
    headers = set(found.values())
    if len(headers) <= 1:
        return next(iter(headers), None)
    with_header = sorted(uri for uri, header in found.items() if header is not None)
    without = sorted(uri for uri, header in found.items() if header is None)
    if without:
        raise ConfigError(
            f"transform --input {prefix}: {with_header[0]} starts with a header line and "
            f"{without[0]} does not; give files of one layout (all with the same header, or "
            "none)"
        )
    raise ConfigError(
        f"transform --input {prefix}: {with_header[0]} and {with_header[1]} start with "
        "different header lines; give files with the same columns in the same order"
    )


def filtered_header(header: str, input_filter: str, columns: Iterable[str]) -> str:
    """``header`` as the container gets it under the CSV InputFilter ``input_filter``; a
    ConfigError when the filter cannot cut it or leaves no header line of the table (the
    container could not read the rows by name)."""
    path = jsonpath.parse_csv_filter(input_filter)
    cells = next(csv.reader([header], strict=True))  # header_of read it already
    try:
        line = filter_csv_row(path, cells)
    except jsonpath.FilterError as exc:
        raise ConfigError(
            f"--input-filter {input_filter!r} cannot be applied to the input's header line "
            f"({header[:200]}): {exc}; give a filter that keeps columns of every record"
        ) from None
    if header_of(line, columns) is None:
        raise ConfigError(
            f"--input-filter {input_filter!r} cuts the input's header line to {line[:200]!r}, "
            "which names no column of the table, so the container could not read the rows; "
            "keep the table's columns (e.g. $[1:] drops a leading id column)"
        )
    return line


def header_environment(header: str | None) -> dict[str, str]:
    """The transform job's Environment that tells the container the files' header."""
    return {CSV_HEADER_ENV: header} if header else {}
