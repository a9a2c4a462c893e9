"""The Flask app: /ping, /invocations and /execution-parameters."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected, HTTPException

from mpg_core.artifact.files import read_manifest
from mpg_core.artifact.reader import OpenedArtifact
from mpg_core.errors import RequestError
from mpg_serving import codecs, streaming
from mpg_serving.answers import class_answers
from mpg_serving.rows import Layout, row_reader
from mpg_serving.settings import BATCH_PAYLOAD_BUDGET_MB, ServeSettings

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> Response:
    return Response(
        codecs.json.dumps({"error": message}) + "\n", status=status, mimetype=codecs.JSON
    )


def _accept(header: Any, content_type: str, default: str | None) -> str:
    """The response type: the best supported match of Accept; when Accept is absent or */*,
    SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, else the request's own content type."""
    chosen: str | None
    if not header or all(value == "*/*" for value in header.values()):
        chosen = codecs.media_type(default) or content_type
    else:
        match = header.best_match(codecs.CONTENT_TYPES + tuple(codecs._ALIASES))
        chosen = codecs.media_type(match) if match else None
    if chosen not in codecs.CONTENT_TYPES:
        raise RequestError(
            f"cannot answer in {request.headers.get('Accept') or default!r}; "
            f"supported: {', '.join(codecs.CONTENT_TYPES)}",
            http_status=406,
        )
    return chosen


def execution_parameters(settings: ServeSettings) -> dict[str, Any]:
    """Batch transform's defaults from the container: one mini-batch per worker at a time,
    each at most the body limit, and within SageMaker's 100 MB product budget."""
    concurrent = settings.max_concurrent_transforms or settings.workers
    concurrent = max(1, min(concurrent, BATCH_PAYLOAD_BUDGET_MB // settings.max_payload_mb))
    return {
        "MaxConcurrentTransforms": concurrent,
        "BatchStrategy": settings.batch_strategy,
        "MaxPayloadInMB": settings.max_payload_mb,
    }


def create_app(model: OpenedArtifact, settings: ServeSettings) -> Flask:
    """The app serving ``model``, opened from ``settings.model_dir``, whose artifact.json says
    how it answers (a classifier: its ``classes``; see :mod:`mpg_serving.answers`)."""
    app = Flask("mpg_serving")
    manifest = read_manifest(settings.model_dir)
    classifier = class_answers(manifest)
    # Rows as the model takes them: text cells as codes of their levels, a CSV header read.
    reader = row_reader(
        model.input_columns,
        model.input_levels,
        model.allows_missing,
        manifest,
        settings.csv_header,
    )
    # Bodies over the limit get 413 before they are read into memory.
    app.config["MAX_CONTENT_LENGTH"] = settings.body_limit_bytes

    @app.get("/ping")
    def ping() -> Response:
        # Cheap by design: SageMaker times a ping out after 2 s. The model was loaded before
        # the port opened, so a live worker is a ready worker.
        return Response("", status=200 if model is not None else 503)

    @app.get("/execution-parameters")
    def parameters() -> dict[str, Any]:
        return execution_parameters(settings)

    @app.post("/invocations")
    def invocations() -> Response:
        raw_type = request.headers.get("Content-Type")
        content_type = codecs.media_type(raw_type)
        if content_type is None:
            raise RequestError(
                f"missing Content-Type; send one of {', '.join(codecs.CONTENT_TYPES)}",
                http_status=415,
            )
        if content_type not in codecs.CONTENT_TYPES:
            raise RequestError(
                f"unsupported Content-Type {raw_type!r}; send one of "
                f"{', '.join(codecs.CONTENT_TYPES)}",
                http_status=415,
            )
        accept = _accept(request.accept_mimetypes, content_type, settings.default_accept)
        if settings.streaming:
            return _streamed(content_type, accept)
        try:
            body = request.get_data(cache=False)
        except ClientDisconnected:  # closed early, or stalled past the worker's read deadline
            raise RequestError(
                "the request body ended before its Content-Length", http_status=408
            ) from None
        if not body:
            raise RequestError("empty body")
        answer = encode(predict_body(body, content_type), accept)
        if settings.batch and answer.endswith(b"\n"):
            # Under AssembleWith=Line SageMaker appends a newline after every answer: one
            # of our own too would leave a blank line per mini-batch in the .out file.
            answer = answer[:-1]
        return Response(answer, mimetype=accept)

    def predict_body(body: bytes, content_type: str) -> np.ndarray:
        return model.predict(reader.read(body, content_type).matrix)

    def encode(result: np.ndarray, accept: str) -> bytes:
        if classifier is not None:
            return classifier.encode(result, accept)
        return codecs.encode(result, accept)

    def _streamed(content_type: str, accept: str) -> Response:
        """An asynchronous endpoint's body, up to its limit, in slices (mpg_serving.streaming);
        a JSON document, which cannot be sliced, only up to the real-time limit."""
        if content_type not in streaming.LINE_DECODERS:
            if (request.content_length or 0) > settings.max_payload_bytes:
                raise RequestError(
                    f"a {content_type} body is read whole, so at most "
                    f"{settings.max_payload_mb} MiB; send bigger bodies as text/csv or "
                    "application/jsonlines, which are read in slices",
                    http_status=413,
                )
            body = request.get_data(cache=False)
            return Response(encode(predict_body(body, content_type), accept), mimetype=accept)
        pieces = streaming.line_slices(request.stream, settings.slice_bytes)
        layout: list[Layout] = [None]  # the first slice's header, if any, holds for the rest

        def predict_slice(piece: bytes, first_line: int) -> np.ndarray:
            rows = reader.read(piece, content_type, first_line, layout[0])
            layout[0] = rows.layout
            return model.predict(rows.matrix)

        answer = streaming.answer_slices(pieces, accept, predict_slice, encode)
        spool = streaming.AnswerSpool()
        try:
            for encoded in answer:
                spool.write(encoded)
        except ClientDisconnected:  # closed early, or stalled past the worker's read deadline
            spool.close()
            raise RequestError(
                "the request body ended before its Content-Length", http_status=408
            ) from None
        except BaseException:
            spool.close()
            raise
        return Response(
            spool.chunks(), mimetype=accept, headers={"Content-Length": str(spool.size)}
        )

    @app.errorhandler(RequestError)
    def request_error(exc: RequestError) -> Response:
        return _error(exc.http_status, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 413:
            return _error(
                413,
                f"body larger than {settings.body_limit_bytes // 2**20} MiB "
                f"({settings.body_limit_bytes} bytes)",
            )
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unexpected error in a request")
        return _error(500, f"internal error: {type(exc).__name__}")

    return app
