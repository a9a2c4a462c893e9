"""Reading a channel or processing input: one CSV file or many shards."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mpg_core.errors import DataError

log = logging.getLogger(__name__)


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
