"""Issue 23: local asynchronous inference keeps the endpoint's 400 on a bad line in a big body.
A streaming server refuses the line as it reaches it and closes, long before the body's end;
the double used to send the body whole first and then reported "answer broke off
(BrokenPipeError)". A real socket server on 127.0.0.1 plays the container: it reads the
headers and the first block of the body, answers 400 with its message and closes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpg_launch.local.clients import async_inference

MESSAGE = b"line 3 has 5 fields; the model takes 7"


def _refuse_early(server: socket.socket) -> None:
    connection, _ = server.accept()
    with connection:
        seen = b""
        while b"\r\n\r\n" not in seen:
            seen += connection.recv(65536)
        seen = b""
        while len(seen) < 100_000:  # the first lines of the body, then the bad one
            seen += connection.recv(65536)
        connection.sendall(
            b"HTTP/1.1 400 BAD REQUEST\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(MESSAGE)}\r\nConnection: close\r\n\r\n".encode()
            + MESSAGE
        )
        connection.shutdown(socket.SHUT_WR)  # answered; the rest of the body is never read


@pytest.fixture
def refusing_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_refuse_early, args=(server,), daemon=True)
    thread.start()
    yield server.getsockname()[1]
    thread.join(10)
    server.close()


@pytest.mark.parametrize("as_stream", [False, True], ids=["inline", "from-s3"])
def test_a_refusal_before_the_body_ends_keeps_the_endpoints_400(
    refusing_port: int, tmp_path: Path, as_stream: bool
) -> None:
    rows = b"8,307,130,3504,12,70,1\n" * 1_000_000  # 23 MB: far beyond the socket buffers
    source = tmp_path / "rows.csv"
    source.write_bytes(rows)
    request = {"EndpointName": "e1", "ContentType": "text/csv", "InvocationTimeoutSeconds": 30}
    body = source.open("rb") if as_stream else rows
    with pytest.raises(async_inference._Failed) as failed:
        async_inference._send_and_read(refusing_port, request, body, len(rows), tmp_path / "a")
    assert str(failed.value) == (
        f'Received client error (400) from primary with message "{MESSAGE.decode()}"'
    )
