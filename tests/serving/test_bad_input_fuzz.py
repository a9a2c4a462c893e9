"""Thousands of generated bad requests against a running `serve` (gunicorn, 2 workers): every
one gets a 4xx with a JSON {"error": ...}, none a 5xx, and no worker dies (same PIDs)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpg_serving.codecs import CONTENT_TYPES
from tests.helpers.serving import ROW, Server, start_server, stop_server

VALID = [8, 307, 130, 3504, 12, 70, 1]
MISSING = {"", "?", "nan", "na", "null", "none"}
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def server(trained) -> Iterator[Server]:
    # A short worker timeout makes the read deadline (half of it, 3 s) testable quickly.
    s = start_server(
        trained.pipeline_dir,
        SAGEMAKER_MAX_PAYLOAD_IN_MB="1",
        SAGEMAKER_MODEL_SERVER_TIMEOUT="6",
    )
    try:
        yield s
    finally:
        stop_server(s)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def original_workers(server: Server) -> set[int]:
    return server.workers()


@pytest.fixture(autouse=True)
def no_worker_dies(server: Server, original_workers: set[int]) -> Iterator[None]:
    yield
    assert server.workers() == original_workers, "a worker died or was replaced"
    assert server.process.poll() is None


def post(
    session: requests.Session,
    server: Server,
    body: bytes | str,
    content_type: str | None = "text/csv",
    accept: str | None = None,
) -> requests.Response:
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if accept is not None:
        headers["Accept"] = accept
    data = body.encode() if isinstance(body, str) else body
    return session.post(f"{server.url}/invocations", data=data, headers=headers, timeout=30)


def assert_client_error(response: requests.Response, status: int | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["error"], str)


def assert_never_5xx(response: requests.Response) -> None:
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert_client_error(response)


numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6, allow_nan=False)).map(str)


def not_a_number(text: str) -> bool:
    if text.strip().lower() in MISSING:
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


text_cells = st.text(
    alphabet=st.characters(blacklist_characters='",\r\n\x00', blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(not_a_number)


@FUZZ
@given(rows=st.lists(st.lists(numbers, min_size=1, max_size=14), min_size=1, max_size=4))
def test_wrong_column_counts(server, session, rows) -> None:
    if all(len(r) == 7 for r in rows):
        rows = [*rows, ["1"] * 3]
    assert_client_error(post(session, server, "\n".join(",".join(r) for r in rows)), 400)


@FUZZ
@given(cell=text_cells, column=st.integers(0, 6), copies=st.integers(1, 3))
def test_text_in_numeric_columns(server, session, cell, column, copies) -> None:
    row = [str(v) for v in VALID]
    row[column] = cell
    body = "\n".join([ROW] * (copies - 1) + [",".join(row)])
    assert_client_error(post(session, server, body), 400)


@FUZZ
@given(
    cells=st.lists(
        st.sampled_from(['"', '"8', '8"', '"8,3', 'a"b', '"""']), min_size=1, max_size=3
    ),
    column=st.integers(0, 6),
)
def test_broken_quoting(server, session, cells, column) -> None:
    row = [str(v) for v in VALID]
    row[column] = "".join(cells)
    if row[column].count('"') % 2 == 0:
        row[column] += '"'  # an odd number of quotes can never be valid numbers
    assert_client_error(post(session, server, ",".join(row)), 400)


@FUZZ
@given(
    value=st.sampled_from(["inf", "-inf", "Infinity", "-INF", "1e999", "-1e400", "+inf"]),
    column=st.integers(0, 6),
    as_json=st.booleans(),
)
def test_infinities(server, session, value, column, as_json) -> None:
    row: list[object] = list(VALID)
    row[column] = value
    if as_json:
        body = json.dumps({"instances": [row]})
        assert_client_error(post(session, server, body, "application/json"), 400)
    else:
        assert_client_error(post(session, server, ",".join(map(str, row))), 400)


@FUZZ
@given(before=st.integers(0, 3), blanks=st.integers(1, 3), after=st.integers(1, 3))
def test_empty_lines(server, session, before, blanks, after) -> None:
    body = "\n".join([ROW] * before + [""] * blanks + [ROW] * after)
    if before == 0:
        body = "\n" * blanks + "\n".join([ROW] * after)
    response = post(session, server, body)
    if before == 0:
        # Leading line ends are only empty lines when rows follow them.
        assert_never_5xx(response)
    else:
        assert_client_error(response, 400)


@FUZZ
@given(
    value=st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, min_value=1e15),
        st.floats(allow_nan=False, allow_infinity=False, max_value=-1e15),
        st.integers(min_value=10**15, max_value=10**400),
    ),
    column=st.integers(0, 6),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_huge_numbers(server, session, value, column, content_type) -> None:
    row: list[object] = list(VALID)
    row[column] = value
    if content_type == "text/csv":
        body = ",".join(map(str, row))
    elif content_type == "application/json":
        body = json.dumps({"instances": [row]})
    else:
        body = json.dumps(row) + "\n"
    # Huge but usable values are answered; ones the model cannot take are a 400.
    assert_never_5xx(post(session, server, body, content_type))


@FUZZ
@given(
    junk=st.sampled_from(
        [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc", b"\xf8\x88\x80\x80\x80"]
    ),
    position=st.integers(0, len(ROW)),
    content_type=st.sampled_from(CONTENT_TYPES),
)
def test_invalid_utf8(server, session, junk, position, content_type) -> None:
    base = ROW.encode() if content_type == "text/csv" else json.dumps(VALID).encode()
    position = min(position, len(base))
    body = base[:position] + junk + base[position:]
    assert_client_error(post(session, server, body, content_type), 400)


@FUZZ
@given(
    content_type=st.one_of(
        st.sampled_from(
            [
                "text/plain",
                "application/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "text/html",
                "image/png",
                "application/x-npy",
                "text/csv-ish",
                "json",
                "csv",
                "*/*",
            ]
        ),
        st.from_regex(r"\A[a-z]{1,8}/[a-z0-9.+-]{1,12}\Z"),
    ),
)
def test_unsupported_content_types(server, session, content_type) -> None:
    from mpg_serving.codecs import media_type

    if media_type(content_type) in CONTENT_TYPES:
        return
    assert_client_error(post(session, server, ROW, content_type), 415)


def test_missing_content_type(server, session) -> None:
    assert_client_error(post(session, server, ROW, None), 415)


@FUZZ
@given(
    accept=st.one_of(
        st.sampled_from(
            [
                "image/png",
                "text/html",
                "application/xml",
                "application/x-npy",
                "text/plain;q=1",
                "application/octet-stream",
            ]
        ),
        st.from_regex(r"\A(image|audio|video|font)/[a-z]{1,10}\Z"),
    ),
)
def test_unsupported_accepts(server, session, accept) -> None:
    assert_client_error(post(session, server, ROW, "text/csv", accept), 406)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=12), children, max_size=8)
    ),
    max_leaves=40,
)


@FUZZ
@given(payload=json_values, wrap=st.booleans(), lines=st.booleans())
def test_arbitrary_json(server, session, payload, wrap, lines) -> None:
    if wrap:
        payload = {"instances": payload}
    if lines:
        body, content_type = json.dumps(payload) + "\n", "application/jsonlines"
    else:
        body, content_type = json.dumps(payload), "application/json"
    assert_never_5xx(post(session, server, body, content_type))


@FUZZ
@given(
    body=st.binary(min_size=0, max_size=300),
    content_type=st.sampled_from(CONTENT_TYPES),
    accept=st.sampled_from([None, "*/*", *CONTENT_TYPES, "image/png"]),
)
def test_arbitrary_bytes(server, session, body, content_type, accept) -> None:
    assert_never_5xx(post(session, server, body, content_type, accept))


@pytest.mark.parametrize("depth", [1_000, 100_000, 500_000])
def test_deeply_nested_json(server, session, depth) -> None:
    body = "[" * depth + "]" * depth
    assert_client_error(post(session, server, body, "application/json"), 400)


@pytest.mark.parametrize("extra", [1, 100, 64 * 1024])
def test_bodies_just_over_the_limit(server, session, extra) -> None:
    line = (ROW + "\n").encode()
    body = line * (server.max_payload_bytes // len(line) + 1)
    body = body[: server.max_payload_bytes + extra]
    assert_client_error(post(session, server, body), 413)
    at_limit = line * (server.max_payload_bytes // len(line))
    assert post(session, server, at_limit).status_code == 200


def raw_request(server: Server, body: bytes, content_length: int | None = None) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    length = len(body) if content_length is None else content_length
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
    )
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_slow_client_that_finishes_is_answered(server) -> None:
    body = ((ROW + "\n") * 50).encode()
    sock = raw_request(server, body)
    for i in range(0, len(body), len(body) // 4):
        sock.sendall(body[i : i + len(body) // 4])
        time.sleep(0.3)
    status, answer = read_response(sock)
    sock.close()
    assert status == 200 and len(answer.splitlines()) == 50


def test_stalled_client_gets_408_and_the_worker_lives(server, session) -> None:
    sock = raw_request(server, ROW.encode(), content_length=1000)
    sock.sendall(ROW.encode())  # then nothing more
    # Meanwhile the other worker keeps answering.
    assert post(session, server, ROW).status_code == 200
    began = time.monotonic()
    status, answer = read_response(sock)
    sock.close()
    assert status == 408 and "error" in json.loads(answer), answer
    assert time.monotonic() - began < 10


def test_client_stalled_in_its_headers_is_dropped(server, session) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\n")  # no end of headers
    assert sock.recv(1) == b""  # closed by the server at its read deadline
    sock.close()
    assert post(session, server, ROW).status_code == 200
