"""What the preprocessing and training entry points share: turning stop signals into an error,
reading a channel of CSV files, and reporting a failure where SageMaker reads it."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pandas as pd

from mpg_core.errors import DataError, JobStopped, write_failure

log = logging.getLogger(__name__)


def raise_on_stop_signals(signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Turn SIGTERM (StopTrainingJob, MaxRuntimeInSeconds) and SIGINT (the processing docs'
    stop signal) into JobStopped, so the job reports why it ended and exits non-zero within
    the platform's grace period instead of being killed mid-write."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise JobStopped(f"stopped by {signal.Signals(signum).name}")

    for sig in signals:
        signal.signal(sig, handler)


@contextmanager
def failure_reported(
    output_dir: Path, file_names: tuple[str, ...] = ("failure",)
) -> Iterator[None]:
    """Write the reason of any exception to ``output_dir/<file_names>`` and re-raise it."""
    try:
        yield
    except Exception as exc:
        reason = write_failure(output_dir, exc, file_names)
        log.error("job failed", extra={"reason": reason.splitlines()[0]}, exc_info=exc)
        raise


def read_csv_dir(directory: Path, where: str) -> pd.DataFrame:
    """Read and concatenate every ``*.csv`` under ``directory`` (a channel or processing input
    may hold one file or many shards; each has a header)."""
    if not directory.is_dir():
        raise DataError(f"{where}: input folder {directory} does not exist")
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        found = sorted(p.name for p in directory.iterdir())[:10]
        raise DataError(f"{where}: no .csv files in {directory} (found {found})")
    frames = []
    for path in files:
        try:
            frames.append(pd.read_csv(path))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{where}: cannot parse {path.name}: {exc}") from exc
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise DataError(f"{where}: {directory} holds no rows")
    log.info("read input", extra={"input": where, "files": len(files), "rows": len(frame)})
    return frame
