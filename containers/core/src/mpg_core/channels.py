"""Reading a channel or processing input: one file or many shards."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from mpg_core.dataset import read_table
from mpg_core.errors import DataError
from mpg_core.schema import FEATURES

log = logging.getLogger(__name__)

# Raw tables in any form read_table reads; .data for the UCI file as it is downloaded.
RAW_SUFFIXES = (".csv", ".data")


def _read_dir(
    directory: Path,
    where: str,
    suffixes: Sequence[str],
    read: Callable[[Path], pd.DataFrame],
    allow_empty: bool = False,
) -> pd.DataFrame:
    def nothing(reason: str) -> pd.DataFrame:
        if not allow_empty:
            raise DataError(f"{where}: {reason}")
        log.info("empty input", extra={"input": where, "reason": reason})
        return pd.DataFrame()

    if not directory.is_dir():
        return nothing(f"input folder {directory} does not exist")
    # Sorted, so every host that reads the same files reads them in the same order.
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        found = sorted(p.name for p in directory.iterdir())[:10]
        kinds = " or ".join(suffixes)
        return nothing(f"no {kinds} files in {directory} (found {found})")
    frames = []
    for path in files:
        try:
            frames.append(read(path))
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{where}: cannot parse {path.name}: {exc}") from exc
        except DataError as exc:  # already names the file
            raise DataError(f"{where}: {exc}") from None
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        return nothing(f"{directory} holds no rows")
    log.info("read input", extra={"input": where, "files": len(files), "rows": len(frame)})
    return frame


def read_csv_dir(directory: Path, where: str) -> pd.DataFrame:
    """Read and concatenate every ``*.csv`` under ``directory`` (a channel may hold one file or
    many shards; each has a header). Column names are kept as written: these are feature
    tables this project's preprocessing wrote, or the user's own."""
    return _read_dir(directory, where, (".csv",), pd.read_csv)


def read_raw_dir(
    directory: Path, where: str, required: Sequence[str] = FEATURES, allow_empty: bool = False
) -> pd.DataFrame:
    """Read and concatenate every raw table (``*.csv``, ``*.data``) under ``directory``, each
    in any form :func:`mpg_core.dataset.read_table` accepts, with canonical column names.

    Every file must hold the ``required`` columns: a shard without one is an error naming the
    file, not a column of NaN the imputers would silently fill. Other columns are kept (and
    ignored by the features).

    A missing folder, one without tables or tables without rows is a DataError, unless
    ``allow_empty`` (a ShardedByS3Key input may give a host nothing): then it is logged and
    an empty frame returned."""

    def read(path: Path) -> pd.DataFrame:
        frame = read_table(path)
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise DataError(
                f"missing column(s) {missing} in {path.name}; found {list(frame.columns)}"
            )
        return frame

    return _read_dir(directory, where, RAW_SUFFIXES, read, allow_empty)
