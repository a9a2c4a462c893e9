"""An asynchronous endpoint's container (MPG_ASYNC_MAX_PAYLOAD_MB set): big bodies read and
answered in slices, byte for byte what the whole body gets on a real-time endpoint."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from flask.testing import FlaskClient

from mpg_core.artifact.reader import open_artifact
from mpg_core.errors import RequestError
from mpg_core.schema import FEATURES
from mpg_serving import streaming
from mpg_serving.app import create_app
from mpg_serving.settings import ServeSettings

SLICE = 4096  # small slices, so a test body of ~100 KB is cut into many


def _client(model_dir: Path, **env: str) -> FlaskClient:
    settings = ServeSettings.from_env({"MPG_MODEL_DIR": str(model_dir), **env})
    return create_app(open_artifact(model_dir), replace(settings, slice_bytes=SLICE)).test_client()


@pytest.fixture(scope="module")
def streamed(trained) -> FlaskClient:
    return _client(trained.pipeline_dir, MPG_ASYNC_MAX_PAYLOAD_MB="20")


@pytest.fixture(scope="module")
def whole(trained) -> FlaskClient:
    return _client(trained.pipeline_dir, SAGEMAKER_MAX_PAYLOAD_IN_MB="20")


@pytest.fixture(scope="module")
def rows(trained) -> pd.DataFrame:
    test = pd.read_csv(trained.bronze / "test" / "test.csv")[list(FEATURES)]
    return pd.concat([test] * 30, ignore_index=True)  # ~2,400 rows, ~60 KB of CSV


def _bodies(rows: pd.DataFrame) -> list[tuple[str, bytes]]:
    csv = rows.to_csv(header=False, index=False, na_rep="?").encode()
    lines = "".join(
        json.dumps(r) + "\n" for r in rows.astype(object).where(rows.notna()).values.tolist()
    )
    return [("text/csv", csv), ("application/jsonlines", lines.encode())]


@pytest.mark.parametrize("accept", ["text/csv", "application/json", "application/jsonlines"])
def test_sliced_answer_is_the_whole_body_answer(
    streamed: FlaskClient, whole: FlaskClient, rows: pd.DataFrame, accept: str
) -> None:
    for content_type, body in _bodies(rows):
        assert len(body) > 10 * SLICE
        got = streamed.post(
            "/invocations", data=body, content_type=content_type, headers={"Accept": accept}
        )
        want = whole.post(
            "/invocations", data=body, content_type=content_type, headers={"Accept": accept}
        )
        assert got.status_code == want.status_code == 200, got.get_data(as_text=True)
        assert got.is_streamed and got.mimetype == accept
        assert got.get_data() == want.get_data()


def test_trailing_line_ends_are_allowed_as_in_a_whole_body(
    streamed: FlaskClient, whole: FlaskClient, rows: pd.DataFrame
) -> None:
    body = rows.to_csv(header=False, index=False, na_rep="?").encode() + b"\n" * (SLICE + 10)
    got = streamed.post("/invocations", data=body, content_type="text/csv")
    assert got.status_code == 200, got.get_data(as_text=True)
    assert (
        got.get_data() == whole.post("/invocations", data=body, content_type="text/csv").get_data()
    )


def test_a_header_in_the_first_slice_holds_for_every_slice(
    streamed: FlaskClient, whole: FlaskClient, rows: pd.DataFrame
) -> None:
    """The table's own header, columns reordered and an extra one: every slice after the
    first (which has no header line of its own) is read in the header's layout."""
    shuffled = rows[list(reversed(rows.columns))].assign(car_name="a car")
    body = shuffled.to_csv(index=False, na_rep="?").encode()
    assert len(body) > 3 * SLICE
    got = streamed.post("/invocations", data=body, content_type="text/csv")
    assert got.status_code == 200, got.get_data(as_text=True)
    plain = rows.to_csv(header=False, index=False, na_rep="?").encode()
    assert (
        got.get_data() == whole.post("/invocations", data=plain, content_type="text/csv").get_data()
    )


def test_a_bad_first_slice_is_a_4xx_naming_the_line(streamed: FlaskClient) -> None:
    body = b"8,307,130,3504,12,70\n"
    response = streamed.post(
        "/invocations", data=body + b"8,307,130,3504,12,70,1\n" * 10, content_type="text/csv"
    )
    assert response.status_code == 400
    assert "line 1: 6 values; expected 7" in response.get_json()["error"]
    assert streamed.post("/invocations", data=b"\n\n", content_type="text/csv").status_code == 400


def test_a_bad_line_in_a_later_slice_is_a_4xx_naming_its_line(
    streamed: FlaskClient, rows: pd.DataFrame
) -> None:
    good = rows.to_csv(header=False, index=False, na_rep="?").encode()
    line = good.count(b"\n") + 1
    response = streamed.post(
        "/invocations", data=good + b"8,307,x,3504,12,70,1\n", content_type="text/csv"
    )
    assert response.status_code == 400  # nothing is sent before the last slice is read
    assert f"line {line}, column horsepower" in response.get_json()["error"]


def test_the_answer_goes_out_with_its_length(streamed: FlaskClient, rows: pd.DataFrame) -> None:
    body = rows.to_csv(header=False, index=False, na_rep="?").encode()
    response = streamed.post("/invocations", data=body, content_type="text/csv")
    assert response.headers["Content-Length"] == str(len(response.get_data()))


def test_json_documents_are_read_whole_so_only_up_to_the_real_time_limit(
    streamed: FlaskClient,
) -> None:
    small = json.dumps({"instances": [[8, 307, 130, 3504, 12, 70, 1]] * 3})
    assert (
        streamed.post("/invocations", data=small, content_type="application/json").status_code
        == 200
    )
    big = b"[" + b"[8,307,130,3504,12,70,1]," * (7 * 2**20 // 25) + b"[8,307,130,3504,12,70,1]]"
    response = streamed.post("/invocations", data=big, content_type="application/json")
    assert response.status_code == 413
    assert "text/csv" in response.get_json()["error"]


def test_the_async_limit_replaces_the_real_time_one(trained) -> None:
    client = _client(trained.pipeline_dir, MPG_ASYNC_MAX_PAYLOAD_MB="1")
    body = b"8,307,130,3504,12,70,1\n" * (2**20 // 23 + 1)
    response = client.post("/invocations", data=body, content_type="text/csv")
    assert response.status_code == 413
    assert "1 MiB (1048576 bytes)" in response.get_json()["error"]
    assert (
        client.post(
            "/invocations", data=body[: (2**20 // 23) * 23], content_type="text/csv"
        ).status_code
        == 200
    )


def test_line_slices_keeps_lines_whole_and_refuses_an_endless_line() -> None:
    body = b"".join(b"%d,%d\n" % (i, i) for i in range(5000))
    pieces = list(streaming.line_slices(io.BytesIO(body), 1000))
    assert b"".join(pieces) == body
    assert all(p.endswith(b"\n") for p in pieces) and max(map(len, pieces)) < 2000
    with pytest.raises(RequestError, match="a line longer than 4000 bytes"):
        list(streaming.line_slices(io.BytesIO(b"1," * 5000), 1000))


def test_async_limit_above_one_gigabyte_is_refused(trained) -> None:
    from mpg_core.errors import ConfigError

    with pytest.raises(ConfigError, match="MPG_ASYNC_MAX_PAYLOAD_MB=2048 exceeds"):
        ServeSettings.from_env({"MPG_ASYNC_MAX_PAYLOAD_MB": "2048"})
