"""Batch transform's pure parts: SageMaker's JSONPath subset, DataProcessing joins, the
100 MB budget and the other documented rules, and mini-batches cut from bytes."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mpg_launch.aws import jsonpath
from mpg_launch.aws.transform_rules import request_errors
from mpg_launch.aws.validation import request_errors as model_errors
from mpg_launch.cli.main import main
from mpg_launch.errors import ConfigError, LaunchError
from mpg_launch.jobs import requests as build
from mpg_launch.local.engine.data_processing import DataProcessing, answer_lines
from mpg_launch.local.engine.transform import (
    BatchSettings,
    assemble,
    line_batches,
    mini_batches,
    split_records,
    transform_data,
)
from mpg_launch.settings.config import LaunchConfig

ROW = list(range(10))
ENV = {
    "MPG_REGION": "eu-west-1",
    "MPG_ROLE_ARN": "arn:aws:iam::111122223333:role/SageMakerExecution",
    "MPG_BUCKET": "my-bucket",
}


def pick(text: str, record: Any) -> Any:
    return jsonpath.apply(jsonpath.parse(text), record)


# --- the JSONPath subset --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$", ROW),
        ("$[1:]", ROW[1:]),
        ("$[1:4]", [1, 2, 3, 4]),  # "$[1:4] specifies the second through fifth columns"
        ("$[:5]", [0, 1, 2, 3, 4, 5]),  # "[:5] ... through the sixth column"
        ("$[2:]", ROW[2:]),
        ("$[1:8]", [1, 2, 3, 4, 5, 6, 7, 8]),
        ("$[0,-1]", [0, 9]),
        ("$[1,3,5]", [1, 3, 5]),
        ("$[0,5:]", [0, 5, 6, 7, 8, 9]),  # the API reference's OutputFilter example
        ("$[-1]", 9),
        ("$[-3:]", [7, 8, 9]),
        ("$[ 0 , -1 ]", [0, 9]),
        ("$[*]", ROW),
    ],
)
def test_index_filters_on_a_csv_row(text: str, expected: Any) -> None:
    assert pick(text, ROW) == expected
    jsonpath.parse_csv_filter(text)  # all of these are valid for CSV


def test_name_filters_on_json_records() -> None:
    record = {"id": 7, "features": [1, 2], "SageMakerOutput": {"prediction": 3.5}}
    assert pick("$.features", record) == [1, 2]
    assert pick("$['id','SageMakerOutput']", record) == {
        "id": 7,
        "SageMakerOutput": {"prediction": 3.5},
    }
    assert pick("$.SageMakerOutput.prediction", record) == 3.5
    assert pick("$['id']", record) == 7
    assert pick("$.features[-1]", record) == 2
    assert pick("$.SageMakerOutput.*", record) == [3.5]
    assert pick("$.SageMakerOutput.['prediction']", record) == 3.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$.car_name", "refuses '_'"),  # SageMaker: Unexpected "_" in JsonPath
        ("$[0:2,246:]", "one slice per bracket"),  # SageMaker: only single range filters
        ("$..id", "a name must follow"),
        ("$[?(@.id)]", "refuses"),
        ("[1:]", "must start with $"),
        ("$[1:", "not closed"),
        ("$[a]", "not an index"),
        ("$[1:2:3]", "not an index"),
        ("$" + "[0]" * 21, "at most 63"),
    ],
)
def test_expressions_outside_the_subset_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        jsonpath.parse(text)


def test_csv_filters_take_indexes_only() -> None:
    with pytest.raises(ConfigError, match="CSV rows are arrays"):
        jsonpath.parse_csv_filter("$.features")


def test_an_index_outside_the_record_is_an_error_and_slices_clip() -> None:
    with pytest.raises(jsonpath.FilterError, match="index 10 is outside a record of 10"):
        pick("$[0,10]", ROW)
    with pytest.raises(jsonpath.FilterError, match="no 'id'"):
        pick("$.id", {"ID": 1})
    with pytest.raises(jsonpath.FilterError, match="neither an object nor an array"):
        pick("$[0].*", ["abc"])
    with pytest.raises(jsonpath.FilterError, match="not an array"):
        pick("$.id[0]", {"id": 1})
    assert pick("$[8:20]", ROW) == [8, 9]


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 12),
    start=st.none() | st.integers(-12, 12),
    end=st.none() | st.integers(-12, 12),
)
def test_slices_are_python_slices_with_an_inclusive_end(
    size: int, start: int | None, end: int | None
) -> None:
    row = list(range(size))
    text = f"$[{'' if start is None else start}:{'' if end is None else end}]"
    stop = None if end in (None, -1) else end + 1
    assert pick(text, row) == row[slice(start, stop)]


# --- DataProcessing: filter, join, filter ---------------------------------------------------


def _request(
    content_type: str = "text/csv", split: str = "Line", **data_processing: str
) -> dict[str, Any]:
    return {
        "TransformInput": {"ContentType": content_type, "SplitType": split},
        "TransformOutput": {"Accept": content_type, "AssembleWith": "Line"},
        "DataProcessing": data_processing,
    }


def test_defaults_mean_no_processing() -> None:
    assert DataProcessing.from_request(_request()) is None
    assert DataProcessing.from_request(_request(InputFilter="$", OutputFilter="$")) is None


def test_csv_worked_example_id_mpg_prediction() -> None:
    """Rows of id, true mpg and the 7 features: the model gets the features, the output
    keeps id, true mpg and the prediction."""
    processing = DataProcessing.from_request(
        _request(InputFilter="$[2:]", JoinSource="Input", OutputFilter="$[0,1,-1]")
    )
    assert processing is not None
    records = [b"17,18.0,8,307,130,3504,12,70,1\n", b'"x,1",31.5,4,,65,2000,19.4,81,3\r\n']
    assert processing.model_inputs(records) == [
        b"8,307,130,3504,12,70,1\n",
        b"4,,65,2000,19.4,81,3\n",
    ]
    out = processing.outputs(records, [b"16.25", b"34.5"])
    assert out == [b"17,18.0,16.25", b'"x,1",31.5,34.5']


def test_csv_join_without_filters_appends_the_prediction_columns() -> None:
    processing = DataProcessing.from_request(_request(JoinSource="Input"))
    assert processing is not None
    assert processing.outputs([b"1,2,3\n"], [b"9,8"]) == [b"1,2,3,9,8"]


def test_json_join_puts_the_answer_under_sagemaker_output() -> None:
    processing = DataProcessing.from_request(
        _request(
            "application/jsonlines",
            InputFilter="$.features",
            JoinSource="Input",
            OutputFilter="$['id','SageMakerOutput']",
        )
    )
    assert processing is not None
    records = [b'{"id": 1, "features": [8, 307]}\n', b'{"id": 2, "features": [4, 97]}\n']
    assert processing.model_inputs(records) == [b"[8, 307]\n", b"[4, 97]\n"]
    out = processing.outputs(records, [b'{"prediction": 15.0}', b'{"prediction": 30.0}'])
    assert [json.loads(line) for line in out] == [
        {"id": 1, "SageMakerOutput": {"prediction": 15.0}},
        {"id": 2, "SageMakerOutput": {"prediction": 30.0}},
    ]


def test_json_join_of_a_non_object_wraps_the_input() -> None:
    processing = DataProcessing.from_request(_request("application/jsonlines", JoinSource="Input"))
    assert processing is not None
    out = processing.outputs([b"[1, 2]\n"], [b"3"])
    assert json.loads(out[0]) == {"SageMakerInput": [1, 2], "SageMakerOutput": 3}


def test_a_bad_record_or_answer_count_fails_the_object() -> None:
    processing = DataProcessing.from_request(_request(InputFilter="$[5]"))
    assert processing is not None
    with pytest.raises(LaunchError, match="index 5 is outside a record of 3"):
        processing.model_inputs([b"1,2,3\n"])
    with pytest.raises(LaunchError, match=r"answered 1 line.* for 2 record"):
        answer_lines(b"1\n", 2)


# --- the documented rules, checked with the request -----------------------------------------


def test_payload_budget_and_limits(config: LaunchConfig) -> None:
    ok = build.transform_request(config, "bt", "m", max_payload_mb=20, max_concurrent=5)
    assert request_errors(ok) == []
    assert model_errors("sagemaker", "CreateTransformJob", ok) == []
    too_much = build.transform_request(config, "bt", "m", max_payload_mb=20, max_concurrent=6)
    assert request_errors(too_much) == [
        "MaxConcurrentTransforms x MaxPayloadInMB = 6 x 20 = 120 MB, above SageMaker's 100 MB; "
        "lower one of them"
    ]
    assert request_errors({"MaxPayloadInMB": 101})[0].startswith("MaxPayloadInMB=101 is above")
    # Without MaxPayloadInMB, SageMaker's default 6 MB counts.
    assert request_errors({"MaxConcurrentTransforms": 17})[0].endswith("lower one of them")
    assert request_errors({"MaxConcurrentTransforms": 16}) == []


def test_data_processing_rules(config: LaunchConfig) -> None:
    spec = build.data_processing("$[2:]", True, "$[0,1,-1]")
    assert spec == {"InputFilter": "$[2:]", "JoinSource": "Input", "OutputFilter": "$[0,1,-1]"}
    assert build.data_processing("$", False, "$") is None
    good = build.transform_request(config, "bt", "m", data_processing=spec)
    assert model_errors("sagemaker", "CreateTransformJob", good) == []
    mixed = {**good, "TransformOutput": {**good["TransformOutput"], "Accept": "application/json"}}
    assert "both text/csv or both JSON" in request_errors(mixed)[0]
    unsplit = {**good, "TransformInput": {**good["TransformInput"], "SplitType": "None"}}
    assert "SplitType=Line and AssembleWith=Line" in request_errors(unsplit)[0]
    named = build.transform_request(
        config, "bt", "m", data_processing=build.data_processing("$.features")
    )
    assert "CSV rows are arrays" in request_errors(named)[0]
    jsonl = build.transform_request(
        config,
        "bt",
        "m",
        content_type="application/jsonlines",
        data_processing=build.data_processing("$.features", True, "$['id','SageMakerOutput']"),
    )
    assert request_errors(jsonl) == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--max-payload-mb", "40", "--max-concurrent-transforms", "3"], "3 x 40 = 120 MB"),
        (["--max-payload-mb", "0"], "--max-payload-mb 0: give 1 to 100"),
        (["--max-payload-mb", "101"], "give 1 to 100"),
        (["--max-concurrent-transforms", "0"], "give 1 or more"),
        (["--input-filter", "$.model_year"], "refuses '_'"),
        (["--output-filter", "$[0:1,3:]"], "one slice per bracket"),
    ],
)
def test_dry_run_refuses_bad_settings_in_one_line(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["transform", "--dry-run", "--model", "m", *flags], env=ENV, out=print)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_dry_run_prints_the_join_request(capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--input-filter", "$[2:]", "--join-input", "--output-filter", "$[0,1,-1]"]
    lines: list[str] = []
    argv = ["transform", "--dry-run", "--model", "m", "--max-concurrent-transforms", "4", *flags]
    assert main(argv, env=ENV, out=lines.append) == 0
    request = json.loads(lines[0])["request"]
    assert request["DataProcessing"] == {
        "InputFilter": "$[2:]",
        "JoinSource": "Input",
        "OutputFilter": "$[0,1,-1]",
    }
    assert request["MaxConcurrentTransforms"] == 4
    assert request["MaxPayloadInMB"] == 6
    assert request["BatchStrategy"] == "MultiRecord"


# --- mini-batches and one object end to end, with a stand-in model ---------------------------


def _lines(seed: int, count: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(b"x" * rng.randint(1, 300) + b"\n" for _ in range(count))


@pytest.mark.parametrize("trailing", [b"", b"y" * 50])
@pytest.mark.parametrize("payload_kb", [1, 7, 64])
def test_batches_cut_from_bytes_match_the_per_record_batches(
    trailing: bytes, payload_kb: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mpg_launch.local.engine.transform.MIB", 1024)  # 1 "MB" = 1 KiB here
    data = _lines(payload_kb, 500) + trailing
    settings_ = BatchSettings("MultiRecord", payload_kb, 1, 1.0, 0)
    fast = line_batches(data, settings_)
    assert fast is not None
    assert fast == mini_batches(split_records(data, "Line"), settings_)
    assert b"".join(fast) == data
    assert all(len(b) <= payload_kb * 1024 for b in fast)


@settings(max_examples=300, deadline=None)
@given(data=st.text(alphabet="ab \t\r\n", max_size=30).map(str.encode))
def test_byte_cut_batches_decline_exactly_when_a_line_is_blank(data: bytes) -> None:
    settings_ = BatchSettings("MultiRecord", 1, 1, 1.0, 0)
    lines = (data[:-1] if data.endswith(b"\n") else data).split(b"\n")
    fast = line_batches(data, settings_)
    assert (fast is None) == any(not line.strip() for line in lines)
    if fast is not None:
        assert fast == mini_batches(split_records(data, "Line"), settings_)


def test_blank_lines_take_the_per_record_path() -> None:
    settings_ = BatchSettings("MultiRecord", 1, 1, 1.0, 0)
    for data in (b"a\n\nb\n", b"a\n \r\nb\n", b"\na\n", b"a\n  ", b"a\n\n", b"", b"\n"):
        assert line_batches(data, settings_) is None
    assert line_batches(b"a\r\nb\r\n", settings_) == [b"a\r\nb\r\n"]
    with pytest.raises(LaunchError, match="exceeds MaxPayloadInMB=1"):
        line_batches(b"a\n" + b"x" * (1024 * 1024 + 1), settings_)


def _model(body: bytes) -> bytes:
    """A stand-in for the model in a transform container: the sum of each CSV line's
    numbers, one answer line each, the last line left open (SAGEMAKER_BATCH=true)."""
    return b"\n".join(
        repr(sum(float(v or 0) for v in line.split(b","))).encode() for line in body.splitlines()
    )


def test_assemble_with_line_appends_a_newline_after_every_response() -> None:
    # The documented rule, and what the SDK's local mode does: even after a newline.
    assert assemble([b"1.5\n2.5", b"3.5"], "Line") == b"1.5\n2.5\n3.5\n"
    assert assemble([b"1.5\n", b"3.5\n"], "Line") == b"1.5\n\n3.5\n\n"
    assert assemble([b"1.5\n", b"3.5"], "None") == b"1.5\n3.5"


@pytest.mark.parametrize("strategy", ["MultiRecord", "SingleRecord"])
def test_transform_data_keeps_order_and_joins_per_record(
    strategy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mpg_launch.local.engine.transform.MIB", 64)  # tiny batches: many requests
    rows = [f"{i},{i % 7}.5,{i * 2},3" for i in range(300)]
    data = ("\n".join(rows) + "\n").encode()
    settings_ = BatchSettings(strategy, 1, 3, 1.0, 0)
    plain = transform_data(data, _request(), settings_, _model).decode().splitlines()
    assert plain == [repr(float(sum(float(v) for v in r.split(",")))) for r in rows]
    joined = _request(InputFilter="$[1:]", JoinSource="Input", OutputFilter="$[0,-1]")
    out = transform_data(data, joined, settings_, _model).decode().splitlines()
    assert out == [f"{r.split(',')[0]},{sum(float(v) for v in r.split(',')[1:])!r}" for r in rows]


def _model_skipping_headers(body: bytes) -> bytes:
    """As :func:`_model`, but a line with a letter in it is a header: read, not answered (as
    the serving image skips a file's header line)."""
    rows = [line for line in body.splitlines() if not any(c.isalpha() for c in line.decode())]
    return _model(b"\n".join(rows))


def test_a_filter_without_a_join_takes_the_answers_as_they_come(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A headered file's header line gets no answer: without a join nothing pairs answers
    with records, so the output is every answer, in order; a join still needs one each."""
    monkeypatch.setattr("mpg_launch.local.engine.transform.MIB", 64)
    rows = [f"id{i},{i % 7}.5,{i * 2},3" for i in range(300)]
    data = ("id,a,b,c\n" + "\n".join(rows) + "\n").encode()
    settings_ = BatchSettings("MultiRecord", 1, 3, 1.0, 0)
    filtered = _request(InputFilter="$[1:]")
    out = transform_data(data, filtered, settings_, _model_skipping_headers).decode().splitlines()
    assert out == [repr(sum(float(v) for v in r.split(",")[1:])) for r in rows]
    joined = _request(InputFilter="$[1:]", JoinSource="Input")
    with pytest.raises(LaunchError, match=r"answered \d+ line.* for \d+ record"):
        transform_data(data, joined, settings_, _model_skipping_headers)
