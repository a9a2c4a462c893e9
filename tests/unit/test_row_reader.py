"""The serving row reader: text cells to codes, missing cells, spaces, a table's own header;
the C reader and the per-cell Python path give the same matrix, and both give what the
preprocessing job reads from the same CSV (pandas, then raw_features), encoded."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpg_core.artifact.compiled import UNSEEN_CODE
from mpg_core.artifact.levels import encoded_rows
from mpg_core.errors import RequestError
from mpg_core.features import raw_features
from mpg_core.table_schema import TableSchema
from mpg_serving import rows as rows_module
from mpg_serving.rows import RowReader

LEVELS = ("high", "low", "medium", "Zürich")
COLUMNS = ("size", "grade", "weight")
READER_LEVELS = (None, LEVELS, None)
SCHEMA = TableSchema.from_dict(
    {
        "target": "price",
        "task": "regression",
        "column": [
            {"name": "id", "role": "ignored"},
            {"name": "size", "role": "numeric"},
            {"name": "grade", "role": "categorical", "text": True},
            {"name": "weight", "role": "numeric"},
        ],
    }
)

number_cells = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: repr(round(x, 3))),
    st.integers(-1000, 1000).map(str),
    st.sampled_from(["", "?", "nan", " 3.5 ", "NA"]),
)
text_cells = st.one_of(
    st.sampled_from(LEVELS),
    st.sampled_from(LEVELS).map(lambda s: f"  {s} "),
    st.sampled_from(["", "?", "NaN", "na", "N/A", "NULL", "unseen", "LOW", "None"]),
)
row = st.tuples(number_cells, text_cells, number_cells)


def _body(lines: list[tuple[str, str, str]]) -> bytes:
    return "\n".join(",".join(cells) for cells in lines).encode()


def _job_reads(body: bytes) -> np.ndarray:
    """What the preprocessing job makes of the same cells under a header, as codes."""
    text = "id,size,grade,weight,price\n" + "\n".join(
        f"7,{line},1" for line in body.decode().split("\n")
    )
    frame = pd.read_csv(io.StringIO(text))
    return encoded_rows(raw_features(frame, "t", SCHEMA), COLUMNS, READER_LEVELS)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=40))
def test_the_c_reader_the_python_path_and_the_job_agree(lines) -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True)
    body = _body(lines)
    slow = reader._strict_csv(body, (0, 1, 2), 1)
    fast = reader._fast_csv(body, (0, 1, 2))
    assert fast is not None
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(slow, _job_reads(body))


def test_codes_for_levels_unseen_values_missing_cells_and_spaces() -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True)
    got = reader.read_csv(b"1, low ,2\n3,LOW,?\n,,5\n6,Z\xc3\xbcrich,7").matrix
    expected = [[1, 1, 2], [3, UNSEEN_CODE, math.nan], [math.nan, math.nan, 5], [6, 3, 7]]
    np.testing.assert_array_equal(got, np.array(expected, dtype=float))


def test_a_big_body_is_read_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True)
    body = b"\n".join([b"1.5,medium,2", b"-3,unknown,", b" 4 , high ,5e2"] * 2000)
    calls = []
    strict = reader._strict_csv
    monkeypatch.setattr(reader, "_strict_csv", lambda *a: calls.append(a) or strict(*a))
    got = reader.read_csv(body).matrix
    assert calls == []  # never the per-cell path
    assert got.shape == (6000, 3)
    np.testing.assert_array_equal(got[:3], [[1.5, 2, 2], [-3, UNSEEN_CODE, math.nan], [4, 0, 500]])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"1,low,abc", "line 1, column weight: 'abc' is not a number"),
        (b"1,low", "line 1: 2 values; expected 3"),
        (b"1,low,2\n\n1,low,2", "line 2: empty line"),
        (b"size,grade\n1,low", "header without the model's column(s) ['weight']"),
        (b"size,grade,weight", "header line but no rows"),
        (b"Size,size,grade,weight\n1,2,low,3", "ambiguous columns"),
    ],
)
def test_bad_bodies_are_named(body: bytes, message: str) -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True)
    with pytest.raises(RequestError) as raised:
        reader.read_csv(body)
    assert message in str(raised.value)


@pytest.mark.parametrize("repeat", [1, 3000], ids=["small", "big"])
def test_a_header_in_any_order_with_extra_columns(repeat: int) -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True, table_columns=["id", "price"])
    body = b"ID,Weight,price,Grade,Size\n" + b"\n".join([b"9,2.5,100,low,1"] * repeat)
    got = reader.read_csv(body).matrix
    assert got.shape == (repeat, 3)
    np.testing.assert_array_equal(got[0], [1, 1, 2.5])


def test_a_number_only_model_reads_a_header_too() -> None:
    reader = RowReader(("a", "b"), (), allow_missing=False)
    np.testing.assert_array_equal(reader.read_csv(b"b,a\n1,2").matrix, [[2, 1]])
    np.testing.assert_array_equal(reader.read_csv(b"1,2").matrix, [[1, 2]])


def test_json_records_with_text_numbers_and_nulls() -> None:
    reader = RowReader(COLUMNS, READER_LEVELS, allow_missing=True)
    body = b'[{"Size": 1, "grade": " high", "weight": null}, [2, "nope", "3"]]'
    got = reader.read(body, "application/json").matrix
    np.testing.assert_array_equal(got, [[1, 0, math.nan], [2, UNSEEN_CODE, 3]])
    lines = reader.read(b'[1, "low", 2]\n[2, null, 3]\n', "application/jsonlines").matrix
    np.testing.assert_array_equal(lines, [[1, 1, 2], [2, math.nan, 3]])


def test_the_number_missing_spellings_are_every_case() -> None:
    assert {"NaN", "nAn", "NULL", "None", "NONE", ""} <= rows_module.NUMBER_MISSING
