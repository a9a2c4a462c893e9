"""Big bodies of an asynchronous endpoint, read and predicted a slice at a time.

An asynchronous request may be as large as 1 GB. Reading it whole would hold the body, its
float matrix and the answer at once (several GB); here the body is cut into slices of whole
lines (about ``slice_bytes`` each), and each slice is decoded, predicted and encoded before the
next is read, so memory is that of one slice whatever the body's size. Each slice's answer is
appended to a file on disk (:class:`AnswerSpool`); once the whole body is read, the file is
sent back, with its Content-Length. The bytes are those :func:`mpg_serving.codecs.encode`
writes for the whole body, and since nothing is sent before the last line is read, a bad line
anywhere gets its 4xx naming that line, as it would in a real-time request.

Line-based formats only (CSV and JSON Lines): a JSON document cannot be cut at line ends.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from mpg_core.errors import RequestError
from mpg_serving import codecs

LINE_DECODERS: dict[str, Callable[..., np.ndarray]] = {
    codecs.CSV: codecs.decode_csv,
    codecs.JSONLINES: codecs.decode_jsonlines,
}
# A line longer than this many slices is refused: no line of a table is that long, and
# without a bound one line could hold the whole body in memory.
MAX_LINE_SLICES = 4


def line_slices(stream: IO[bytes], slice_bytes: int) -> Iterator[bytes]:
    """``stream`` as pieces of whole lines, each about ``slice_bytes`` (the last piece is what
    is left, with or without its final line end)."""
    carry = b""
    while True:
        chunk = stream.read(slice_bytes)
        if not chunk:
            break
        data = carry + chunk if carry else chunk
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) > MAX_LINE_SLICES * slice_bytes:
                raise RequestError(
                    f"a line longer than {MAX_LINE_SLICES * slice_bytes} bytes; "
                    "send one record per line"
                )
            carry = data
            continue
        carry = data[cut:]
        yield data[:cut]
    if carry:
        yield carry


def _only_line_ends(piece: bytes) -> bool:
    return not piece.strip(b"\r\n")


def _with_last(pieces: Iterator[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Each piece and whether it is the last."""
    previous = next(pieces, None)
    for piece in pieces:
        assert previous is not None
        yield previous, False
        previous = piece
    if previous is not None:
        yield previous, True


def answer_slices(
    pieces: Iterator[bytes],
    accept: str,
    predict: Callable[[bytes, int], np.ndarray],
    encode: Callable[[np.ndarray, str], bytes] = codecs.encode,
) -> Iterator[bytes]:
    """The answer to the body ``pieces`` make up, one encoded slice per piece: for CSV and
    JSON Lines the slices' answers simply follow each other; a JSON answer is one document,
    so its head is written once, the slices' records joined by ``, ``, and its end written
    last. ``predict`` answers one slice, given its first line's number (for errors);
    ``encode`` writes an answer as the whole body's would be (regression or classes)."""
    line = 1
    answered = False
    for piece, last in _with_last(pieces):
        if _only_line_ends(piece):
            if last and answered:
                break  # trailing line ends, which a whole body may have too
            raise RequestError(f"line {line}: empty line" if answered else "empty body")
        result = predict(piece, line)
        line += piece.count(b"\n")
        encoded = encode(result, accept)
        if accept != codecs.JSON:
            yield encoded
        else:
            head, bracket, rest = encoded.partition(b"[")
            records = rest[: -len(b"]}")]  # {"predictions": [ records ]}
            yield (head + bracket if not answered else b", ") + records
        answered = True
    if not answered:
        raise RequestError("empty body")
    if accept == codecs.JSON:
        yield b"]}"


class AnswerSpool:
    """The answer so far, in an unnamed temporary file, sent once the whole body is read.

    Why not send each slice's answer at once: a client that sends its whole body before it
    reads the response (Python's http.client, Apache's classic HttpClient, ...) would stop
    reading while the server blocks writing, and the request would hang until a timeout. Why
    a file: a 1 GB body's answer is ~0.8 GB of text. Its pages are dropped from the page
    cache every ``DROP_BYTES`` once written back (and again as they are sent), so the
    container's memory holds a few slices, not the answer."""

    DROP_BYTES = 32 * 1024 * 1024
    SEND_BYTES = 1024 * 1024

    def __init__(self, directory: str | None = None) -> None:
        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by chunks()
        self.size = 0
        self._dropped = 0

    def _drop(self, end: int) -> None:
        """Forget the cached pages up to ``end`` (Linux; elsewhere a no-op). DONTNEED drops the
        pages already written back and starts writing back the rest without waiting for it
        (an fdatasync here stalled the request whenever the disk was busy); those are dropped
        by the next call, so about two ``DROP_BYTES`` of the answer are cached at any time."""
        if hasattr(os, "posix_fadvise"):
            self.file.flush()
            os.posix_fadvise(self.file.fileno(), 0, end, os.POSIX_FADV_DONTNEED)
        self._dropped = end

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)
        if self.size - self._dropped >= self.DROP_BYTES:
            self._drop(self.size)

    def chunks(self) -> Iterator[bytes]:
        """The answer, read back a block at a time; the file is closed (and gone) after."""
        try:
            self.file.flush()
            self.file.seek(0)
            sent = 0
            while block := self.file.read(self.SEND_BYTES):
                yield block
                sent += len(block)
                if hasattr(os, "posix_fadvise") and sent % self.DROP_BYTES < self.SEND_BYTES:
                    os.posix_fadvise(self.file.fileno(), 0, sent, os.POSIX_FADV_DONTNEED)
        finally:
            self.file.close()

    def close(self) -> None:
        self.file.close()
