"""A real `serve` process (gunicorn, 2 workers) on 127.0.0.1 for the bad-input and fault tests,
and helpers to see its worker processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.serving import Server, start_server, stop_server


@pytest.fixture(scope="module")
def server(trained) -> Iterator[Server]:
    """One server for a whole module; a 1 MiB body limit keeps the over-limit bodies cheap."""
    s = start_server(trained.pipeline_dir, SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    try:
        yield s
    finally:
        stop_server(s)
