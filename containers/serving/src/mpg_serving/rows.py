"""A request's rows as the model's float matrix: numbers as floats, a text column's cells as
codes of its levels (:mod:`mpg_core.artifact.levels`), missing cells NaN.

CSV comes in two layouts, told apart by the body's first line:

* rows in the model's input order, no header (as SageMaker's own containers take them);
* the table's own header line, then rows as they stand in the user's file: columns in any
  order, extra columns (the id, the target) ignored. A first line is a header when one of its
  cells names a column of the table (in any spelling :func:`~mpg_core.schema.canonical_name`
  reads) and none of them is a number; a header without one of the model's columns is a 400
  naming it. Each body is judged on its own: a streamed body keeps its header's layout for
  every slice, but batch transform's mini-batches are separate bodies: only the first holds
  the file's header, so a transform of a file whose columns differ from the model's gives the
  header in ``MPG_CSV_HEADER`` and every body is read in its layout.

JSON and JSON Lines: records as lists in input order or objects keyed by column name.

CSV bodies are read in C (:class:`mpg_core._table_csv.TableCsv`: no pandas and no Python
object per cell; its tables are built once per layout); the per-cell Python path reads any
body the C reader does not take, with errors that name the line and column. Models whose
inputs are all numbers and bodies without a header keep :mod:`mpg_serving.codecs`' float
readers unchanged.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mpg_core._table_csv import TableCsv
from mpg_core.artifact.compiled import UNSEEN_CODE, Levels
from mpg_core.artifact.levels import TEXT_MISSING, is_missing_text
from mpg_core.errors import ConfigError, RequestError
from mpg_core.schema import canonical_name, canonical_names, is_header
from mpg_serving import codecs

# A number column's spellings of a missing value (codecs._MISSING), in every letter case.
NUMBER_MISSING = frozenset(
    "".join(letters)
    for token in codecs._MISSING
    for letters in itertools.product(*({c.lower(), c.upper()} for c in token))
)
# A layout: per cell of a line, the input column it holds, or -1 (ignored). None: the
# model's own input order.
Layout = tuple[int, ...] | None


@dataclass(frozen=True)
class Rows:
    matrix: np.ndarray
    layout: Layout  # the body's layout, for the next slice of the same body


def _number_cell(value: Any, where: str, allow_missing: bool) -> float:
    return codecs._cell(value, where, allow_missing)


class RowReader:
    """Reads request bodies for one model: its input columns, each column's text levels
    (None: numbers), whether cells may be missing, and the table's other column names (so a
    header naming only the id and the target is still known for a header)."""

    def __init__(
        self,
        columns: Sequence[str],
        levels: Levels,
        allow_missing: bool,
        table_columns: Sequence[str] = (),
        file_header: str | None = None,
    ) -> None:
        self.columns = tuple(columns)
        self.levels = tuple(levels) or (None,) * len(self.columns)
        if len(self.levels) != len(self.columns):
            raise ValueError("one entry of levels per input column")
        self.has_text = any(k is not None for k in self.levels)
        self.allow_missing = allow_missing or self.has_text
        self.names = tuple(canonical_name(c) for c in self.columns)
        self.known = frozenset(self.names) | {canonical_name(c) for c in table_columns}
        self.codes = tuple(
            None if k is None else {level: float(i) for i, level in enumerate(k)}
            for k in self.levels
        )
        self._tables: dict[tuple[int, ...], TableCsv] = {}
        # A batch transform's file header (MPG_CSV_HEADER): every body is in its layout.
        self.file_layout: Layout = None
        if file_header is not None:
            self.file_layout = self.header_layout(file_header.encode())
            if self.file_layout is None:
                raise ConfigError(
                    f"MPG_CSV_HEADER={file_header[:200]!r} is not a header line of the table"
                )

    # --- CSV --------------------------------------------------------------------------------

    def header_layout(self, line: bytes) -> tuple[int, ...] | None:
        """The layout a header ``line`` gives, or None when the line is not a header."""
        try:  # the common case, a row starting with a number, at the cost of one float()
            float(line.split(b",", 1)[0])
            return None
        except ValueError:
            pass
        try:
            text = line.decode("utf-8").strip("\r\n")
            cells = next(csv.reader([text], strict=True), [])
        except (UnicodeDecodeError, csv.Error):
            return None
        if not is_header(cells, self.known):
            return None
        names = [canonical_name(c) for c in cells]
        try:
            canonical_names(c for c in cells if canonical_name(c) in self.names)
        except ValueError as exc:
            raise RequestError(f"line 1 (a header): {str(exc)[:300]}") from None
        absent = [c for c, n in zip(self.columns, self.names, strict=True) if n not in names]
        if absent:
            found = [c[:40] for c in cells[:30]]
            raise RequestError(
                f"line 1 is a header without the model's column(s) {absent}; found {found}"
            )
        position = {n: j for j, n in enumerate(self.names)}
        return tuple(position.get(n, -1) for n in names)

    def read_csv(self, body: bytes, first_line: int = 1, layout: Layout = None) -> Rows:
        """A CSV body (or a slice of one starting at ``first_line``, read in ``layout``)."""
        if first_line == 1 and layout is None:
            end = body.find(b"\n")
            line = body if end < 0 else body[:end]
            layout = self.header_layout(line)
            if layout is not None:
                body = b"" if end < 0 else body[end + 1 :]
                first_line = 2
                if not body.strip(b"\r\n"):
                    raise RequestError("the body has a header line but no rows")
        if layout is None:
            layout = self.file_layout
        if layout is None and not self.has_text:
            return Rows(codecs.decode_csv(body, self.columns, self.allow_missing, first_line), None)
        targets = layout if layout is not None else tuple(range(len(self.columns)))
        # The C reader's tables are built once per layout, so it reads even one row faster.
        matrix = self._fast_csv(body, targets)
        if matrix is None:
            matrix = self._strict_csv(body, targets, first_line)
        return Rows(matrix, layout)

    def _table(self, targets: tuple[int, ...]) -> TableCsv:
        table = self._tables.get(targets)
        if table is None:
            text_missing = dict.fromkeys((t.encode() for t in TEXT_MISSING), math.nan)
            number_missing = (
                dict.fromkeys((t.encode() for t in NUMBER_MISSING), math.nan)
                if self.allow_missing
                else {}
            )
            keys: list[Mapping[bytes, float]] = [number_missing]
            tables, numbers = [], []
            for column in targets:
                codes = self.codes[column] if column >= 0 else None
                if codes is None:
                    tables.append(0 if column >= 0 else -1)
                    numbers.append(True)
                    continue
                tables.append(len(keys))
                numbers.append(False)
                keys.append(text_missing | {k.encode(): v for k, v in codes.items()})
            unseen = [UNSEEN_CODE] * len(targets)
            table = self._tables[targets] = TableCsv(targets, tables, numbers, unseen, keys)
        return table

    def _fast_csv(self, body: bytes, targets: tuple[int, ...]) -> np.ndarray | None:
        if not body.isascii():
            try:
                body.decode("utf-8")  # the strict path names the byte
            except UnicodeDecodeError:
                return None
        body = body.rstrip(b"\r\n")
        if not body:
            return None
        matrix = np.empty((body.count(b"\n") + 1, len(self.columns)))
        # Finite by construction: the C reader reads no infinity (and no power beyond 1e22).
        return matrix if self._table(targets).read(body, matrix) else None

    def _strict_csv(self, body: bytes, targets: tuple[int, ...], first_line: int) -> np.ndarray:
        text = codecs._text(body).rstrip("\r\n")
        if not text.strip():
            raise RequestError("empty body")
        rows = []
        try:
            for number, cells in enumerate(
                csv.reader(text.splitlines(), strict=True), start=first_line
            ):
                where = f"line {number}"
                if not cells:
                    raise RequestError(f"{where}: empty line")
                if len(cells) != len(targets):
                    raise RequestError(self._width_error(where, len(cells), targets))
                row = [math.nan] * len(self.columns)
                for value, column in zip(cells, targets, strict=True):
                    if column >= 0:
                        row[column] = self._cell(value, where, column)
                rows.append(row)
        except csv.Error as exc:
            raise RequestError(f"malformed CSV: {exc}") from None
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.columns))

    def _width_error(self, where: str, found: int, targets: tuple[int, ...]) -> str:
        if targets == tuple(range(len(self.columns))):
            return (
                f"{where}: {found} values; expected {len(self.columns)} ({', '.join(self.columns)})"
            )
        return f"{where}: {found} values; the header line has {len(targets)}"

    def _cell(self, value: Any, where: str, column: int) -> float:
        codes = self.codes[column]
        name = self.columns[column]
        if codes is None:
            return _number_cell(value, f"{where}, column {name}", self.allow_missing)
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise RequestError(
                f"{where}, column {name}: {str(value)[:40]!r} is neither a number nor text"
            )
        text = value if isinstance(value, str) else str(value)
        if is_missing_text(text):
            return math.nan
        return codes.get(text.strip(), UNSEEN_CODE)

    # --- JSON -------------------------------------------------------------------------------

    def _record(self, record: Any, where: str, keys: codecs._Keys) -> list[float]:
        if isinstance(record, dict):
            spelled = codecs.record_keys(record, where, self.columns, keys)
            values = [record[key] for key in spelled]
        elif isinstance(record, list):
            if len(record) != len(self.columns):
                raise RequestError(
                    f"{where}: {len(record)} values; expected {len(self.columns)} "
                    f"({', '.join(self.columns)})"
                )
            values = record
        else:
            raise RequestError(
                f"{where}: expected a list of {len(self.columns)} values or an object"
            )
        return [self._cell(v, where, j) for j, v in enumerate(values)]

    def _records(self, records: list[Any], where: str, first: int) -> np.ndarray:
        if not records:
            raise RequestError("no records in the body")
        keys = codecs._Keys(self.columns)
        rows = [self._record(r, f"{where} {i}", keys) for i, r in enumerate(records, start=first)]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.columns))

    def read(
        self, body: bytes, content_type: str, first_line: int = 1, layout: Layout = None
    ) -> Rows:
        """``body`` (or a slice of one, from ``first_line`` on) as the model's rows."""
        if content_type == codecs.CSV:
            return self.read_csv(body, first_line, layout)
        if not self.has_text:
            if content_type == codecs.JSON:
                return Rows(codecs.decode_json(body, self.columns, self.allow_missing), None)
            return Rows(
                codecs.decode_jsonlines(body, self.columns, self.allow_missing, first_line),
                None,
            )
        text = codecs._text(body)
        if content_type == codecs.JSON:
            return Rows(self._records(codecs.json_records(text), "record", 0), None)
        records = []
        for number, line in enumerate(text.rstrip("\r\n").split("\n"), start=first_line):
            if not line.strip():
                raise RequestError(f"line {number}: empty line")
            try:
                records.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise RequestError(f"line {number}: malformed JSON: {str(exc)[:200]}") from None
        return Rows(self._records(records, "line", first_line), None)


def row_reader(
    columns: Sequence[str],
    levels: Levels,
    allow_missing: bool,
    manifest: Mapping[str, Any],
    file_header: str | None = None,
) -> RowReader:
    """The reader for an artifact: its input columns and levels, and the table's other column
    names from the schema artifact.json records (none for artifacts written before)."""
    schema = manifest.get("schema")
    names: list[str] = []
    if isinstance(schema, dict):
        names = [str(c.get("name")) for c in schema.get("column", []) if isinstance(c, dict)]
        names.append(str(schema.get("target", "")))
    return RowReader(columns, levels, allow_missing, [n for n in names if n], file_header)
