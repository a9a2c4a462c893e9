"""A stop signal ends a job stopped, even when the exception it raised was swallowed by
library code that catches Exception where the signal landed."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpg_core import exits
from mpg_core.errors import JobStopped


@pytest.fixture
def stop_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(exits, "_stopped_by", None)
    exits.raise_on_stop_signals((signal.SIGTERM,))
    yield
    signal.signal(signal.SIGTERM, before)


def _swallowing_library_code() -> None:
    # The handler raises in the main thread, here; the exception is dropped, as an optional
    # import or a fit allowed to fail would drop it.
    with contextlib.suppress(Exception):
        os.kill(os.getpid(), signal.SIGTERM)


def test_a_swallowed_stop_still_ends_the_job_stopped(stop_handler: None, tmp_path: Path) -> None:
    with pytest.raises(JobStopped, match="stopped by SIGTERM"), exits.failure_reported(tmp_path):
        _swallowing_library_code()
    assert (tmp_path / "failure").read_text().startswith("JobStopped: stopped by SIGTERM")


def test_raise_if_stopped_asks_again(stop_handler: None) -> None:
    exits.raise_if_stopped()  # no signal yet: nothing
    _swallowing_library_code()
    with pytest.raises(JobStopped):
        exits.raise_if_stopped()


def test_a_job_without_a_stop_ends_normally(stop_handler: None, tmp_path: Path) -> None:
    with exits.failure_reported(tmp_path):
        pass
    assert not (tmp_path / "failure").exists()


def test_a_reported_stop_is_not_the_next_jobs(stop_handler: None, tmp_path: Path) -> None:
    """A process that runs several jobs (the in-process tests) runs the next one normally."""
    with pytest.raises(JobStopped), exits.failure_reported(tmp_path / "first"):
        os.kill(os.getpid(), signal.SIGTERM)
    with exits.failure_reported(tmp_path / "second"):
        pass
    exits.raise_if_stopped()
