"""Big bodies of an asynchronous endpoint, read, predicted and answered a slice at a time.

An asynchronous request may be as large as 1 GB. Reading it whole would hold the body, its
float matrix and the answer at once (several GB); here the body is cut into slices of whole
lines (about ``slice_bytes`` each), and each slice is decoded, predicted and encoded before the
next is read, so memory is that of one slice whatever the body's size. The answer goes out as
a chunked response, slice by slice, in the format the whole body would have had: the bytes are
the very ones :func:`mpg_serving.codecs.encode` writes for the whole body.

Line-based formats only (CSV and JSON Lines): a JSON document cannot be cut at line ends.

Errors: the first slice is answered before the response starts, so a body that is wrong from
its first lines (a header, a wrong width, the wrong format) gets its 4xx. A problem further down
is found after the answer has begun: the error is logged with its line and the connection is
closed without the chunked body's end, so the client (SageMaker's async front end) sees a
failed, incomplete response, never a short answer that looks whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from mpg_core.errors import RequestError
from mpg_serving import codecs

log = logging.getLogger(__name__)

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
    content_type: str,
    accept: str,
    predict: Callable[[np.ndarray], np.ndarray],
    columns: Any,
    allow_missing: bool,
) -> Iterator[bytes]:
    """The answer to the body ``pieces`` make up, one encoded slice per piece: for CSV and
    JSON Lines the slices' answers simply follow each other; a JSON answer is one document,
    so its head is written once, the slices' records joined by ``, ``, and its end written
    last."""
    decode = LINE_DECODERS[content_type]
    line = 1
    answered = False
    for piece, last in _with_last(pieces):
        if _only_line_ends(piece):
            if last and answered:
                break  # trailing line ends, which a whole body may have too
            raise RequestError(f"line {line}: empty line" if answered else "empty body")
        rows = decode(piece, columns, allow_missing, first_line=line)
        line += piece.count(b"\n")
        encoded = codecs.encode(predict(rows), accept)
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


def started(answer: Iterator[bytes]) -> Iterator[bytes]:
    """``answer`` with its first slice computed now (its errors raised here, before the
    response starts) and later errors logged before they end the response."""
    first = next(answer)

    def rest() -> Iterator[bytes]:
        yield first
        try:
            yield from answer
        except RequestError as exc:
            log.error("streamed request failed after its answer began", extra={"reason": str(exc)})
            raise

    return rest()
