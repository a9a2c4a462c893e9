"""transform on files that start with the table's header line: the launcher reads each file's
first line (through the S3 client, here the local folder one) to tell the container that
header (MPG_CSV_HEADER); headerless input is left as it is, and files of two layouts are
refused before a job is created. With an InputFilter the header is cut as every record is
(the local runner's cut), or refused when it cannot be. tests/aws/test_transform_header.py
checks the request."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpg_launch.errors import ConfigError
from mpg_launch.local.clients.s3 import LocalS3
from mpg_launch.local.engine.data_processing import DataProcessing
from mpg_launch.table.header import FIRST_LINE_BYTES, filtered_header, header_of, input_header

COLUMNS = ("cylinders", "Model Year", "mpg")
HEADER = "car_name,weight,Model Year,origin,cylinders,displacement,horsepower,acceleration,mpg"


@pytest.mark.parametrize(
    ("line", "header"),
    [
        ("cylinders,model_year", True),
        ("id,MODEL-YEAR,notes", True),  # one known column, in another spelling
        ("8,307.0,130.0", False),  # a row
        ("name,8", False),  # a number: a row with a text cell
        ("a,b,c", False),  # no column of the table
        ('"unclosed,cylinders', False),
        ("", False),
    ],
)
def test_a_header_is_told_from_a_row_as_the_serving_image_tells_it(line: str, header: bool) -> None:
    assert (header_of(line, COLUMNS) == line) is header


def _put(root: Path, key: str, text: str) -> None:
    path = root / "b" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_header_the_files_start_with_one_layout_only(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path)
    _put(tmp_path, "rows/a.csv", f"{HEADER}\nx,3504,70,1,8,307,130,12,18\n")
    _put(tmp_path, "rows/b.csv", f"{HEADER}\r\ny,3693,70,1,8,350,165,11.5,15\n")
    assert input_header(s3, "s3://b/rows/", COLUMNS) == HEADER
    _put(tmp_path, "plain/a.csv", "8,307.0,130.0,3504,12.0,70,1\n")
    assert input_header(s3, "s3://b/plain/", COLUMNS) is None

    _put(tmp_path, "rows/c.csv", "8,307.0,130.0,3504,12.0,70,1\n")
    with pytest.raises(ConfigError, match=r"rows/a.csv starts with a header line and .*c.csv"):
        input_header(s3, "s3://b/rows/", COLUMNS)
    _put(tmp_path, "rows/c.csv", "mpg,cylinders\n18,8\n")
    with pytest.raises(ConfigError, match="different header lines"):
        input_header(s3, "s3://b/rows/", COLUMNS)


def test_only_the_first_line_is_read(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path)
    _put(tmp_path, "big/a.csv", "cylinders," + "x" * FIRST_LINE_BYTES + "\n1\n")
    assert input_header(s3, "s3://b/big/", COLUMNS) == "cylinders," + "x" * (
        FIRST_LINE_BYTES - len("cylinders,")
    )


@pytest.mark.parametrize(
    ("input_filter", "expected"),
    [
        ("$[1:]", HEADER.split(",", 1)[1]),  # a leading name column dropped
        ("$[2,4,-1]", "Model Year,cylinders,mpg"),
        ("$[4]", "cylinders"),  # one column: a one-cell line
    ],
)
def test_an_input_filter_cuts_the_header_as_the_local_runner_cuts_every_record(
    input_filter: str, expected: str
) -> None:
    request = {
        "TransformInput": {"ContentType": "text/csv"},
        "DataProcessing": {"InputFilter": input_filter},
    }
    processing = DataProcessing.from_request(request)
    assert processing is not None
    (runner_cut,) = processing.model_inputs([HEADER.encode() + b"\n"])
    assert filtered_header(HEADER, input_filter, COLUMNS) == expected
    assert runner_cut == expected.encode() + b"\n"


@pytest.mark.parametrize(
    ("input_filter", "message"),
    [
        ("$[20]", "cannot be applied to the input's header line .*index 20 is outside"),
        ("$[1][0]", "cannot be applied .*not an array"),
        ("$[0,1]", "cuts the input's header line to 'car_name,weight', which names no column"),
        ("$.mpg", "names a field, but CSV rows are arrays"),
    ],
)
def test_a_filter_that_cannot_cut_the_header_is_refused(input_filter: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        filtered_header(HEADER, input_filter, COLUMNS)
