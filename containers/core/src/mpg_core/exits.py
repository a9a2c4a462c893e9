"""How a job ends: stop signals become an error, and any error is reported where SageMaker
reads it. Imports nothing heavy, so entry points install the handlers before loading pandas or
scikit-learn: a container's PID 1 ignores SIGTERM until it has a handler."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from mpg_core.errors import JobStopped, write_failure

log = logging.getLogger(__name__)

# The stop signal received and not yet reported, if any: the exception the handler raises lands
# wherever the main thread is, and library code that catches Exception there (an optional
# import, a fit allowed to fail) can swallow it; the job asks again before it writes its
# outputs. Reporting the stop clears it, so a process running several jobs (the tests) runs
# the next one normally.
_stopped_by: str | None = None


def raise_on_stop_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Turn SIGTERM (StopTrainingJob, MaxRuntimeInSeconds) and SIGINT (the processing docs'
    stop signal) into JobStopped, so the job reports why it ended and exits non-zero within
    the platform's grace period instead of being killed mid-write."""

    def handler(signum: int, frame: FrameType | None) -> None:
        global _stopped_by
        _stopped_by = f"stopped by {signal.Signals(signum).name}"
        raise JobStopped(_stopped_by)

    for sig in signals:
        signal.signal(sig, handler)


def raise_if_stopped() -> None:
    """JobStopped again when a stop signal came, even if its first exception was swallowed."""
    if _stopped_by is not None:
        raise JobStopped(_stopped_by)


@contextmanager
def failure_reported(
    output_dir: Path, file_names: tuple[str, ...] = ("failure",)
) -> Iterator[None]:
    """Write the reason of any exception to ``output_dir/<file_names>`` and re-raise it; a job
    that ends normally after a stop signal ends stopped (:func:`raise_if_stopped`)."""
    global _stopped_by
    try:
        yield
        raise_if_stopped()
    except Exception as exc:
        if isinstance(exc, JobStopped):
            _stopped_by = None  # reported here: the stop is this job's, not the next one's
        reason = write_failure(output_dir, exc, file_names)
        log.error("job failed", extra={"reason": reason.splitlines()[0]}, exc_info=exc)
        raise
