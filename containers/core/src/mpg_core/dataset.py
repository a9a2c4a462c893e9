"""The Auto MPG data: the bundled UCI copy, the UCI URL for online users, reproducible splits,
and the one reader of raw table files (:func:`read_table`)."""

from __future__ import annotations

import csv
import io
import logging
import math
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from mpg_core.errors import DataError
from mpg_core.schema import CAR_NAME, UCI_COLUMNS, canonical_names
from mpg_core.table_schema import ORIGINAL_NAMES_ATTR, TableSchema, load_schema

log = logging.getLogger(__name__)

UCI_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/auto-mpg/auto-mpg.data"
SPLITS = ("train", "validation", "test")
_UCI_NUMBERS = len(UCI_COLUMNS) - 1  # every column but the car name


def parse_uci(text: str) -> pd.DataFrame:
    """Parse auto-mpg.data: eight whitespace-separated numbers ('?' for missing), then the
    car name, quoted and holding spaces (so one separator cannot split the line: the name is
    whatever follows the eighth number, after a tab in UCI's copy, after spaces in others)."""
    numbers, names = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(maxsplit=_UCI_NUMBERS)
        if not fields:
            continue
        if len(fields) < _UCI_NUMBERS:
            raise DataError(
                f"line {number} has {len(fields)} fields; auto-mpg.data has {_UCI_NUMBERS} "
                f"numbers ({', '.join(UCI_COLUMNS[:-1])}), then the car name"
            )
        numbers.append(" ".join(fields[:_UCI_NUMBERS]))
        names.append(fields[_UCI_NUMBERS].strip().strip('"') if len(fields) > _UCI_NUMBERS else "")
    frame = pd.read_csv(
        io.StringIO("\n".join(numbers)),
        sep=" ",
        header=None,
        names=list(UCI_COLUMNS[:-1]),
        na_values="?",
    )
    return frame.assign(**{CAR_NAME: names})


def _is_number(field: str) -> bool:
    field = field.strip().strip('"')
    try:
        float(field)
    except ValueError:
        return field == "?"
    return True


def read_table(path: Path) -> pd.DataFrame:
    """A raw table file with canonical column names (:func:`mpg_core.schema.canonical_names`).

    The first field of the first non-blank line decides how the file is read:

    * a number (or ``?``): there is no header, and the columns are the UCI file's, in its
      order: ``mpg``, the seven features, then the car name (which may be left out). The rows
      are comma-separated when that number ends at a comma, else whitespace-separated as in
      UCI's ``auto-mpg.data``;
    * anything else: a header line, then comma-separated rows. Header names may be spelled
      any way :func:`~mpg_core.schema.canonical_name` reads; two that mean the same column
      are an error. Columns the schema does not name are kept, for the caller to ignore.

    Format errors are DataError naming the file; pandas' parser errors pass through."""
    with path.open(encoding="utf-8-sig") as f:
        first = next((line for line in f if line.strip()), "")
    if _is_number(first.split(",", 1)[0]):
        frame = pd.read_csv(path, header=None, encoding="utf-8-sig")
        width = frame.shape[1]
        if width not in (_UCI_NUMBERS, len(UCI_COLUMNS)):
            raise DataError(
                f"{path.name} has no header and {width} columns; without a header the columns "
                f"must be the UCI file's, in order: {', '.join(UCI_COLUMNS)} (the last optional)"
            )
        return frame.set_axis(list(UCI_COLUMNS[:width]), axis=1)
    if _is_number(next(iter(first.split()), "")):
        try:
            return parse_uci(path.read_text(encoding="utf-8-sig"))
        except DataError as exc:
            raise DataError(f"{path.name}: {exc}") from None
    if not first.strip():
        raise DataError(f"{path.name} is empty")
    try:
        # The header is read here, not by pandas, which would rename a repeated name to
        # 'name.1' and hide the clash.
        header = next(csv.reader([first]))
        # Empty header cells (an index column, trailing commas) are unnamed, not one column.
        names = canonical_names(h if h.strip() else f"unnamed {i}" for i, h in enumerate(header))
    except ValueError as exc:
        raise DataError(f"{path.name}: {exc}") from None
    frame = pd.read_csv(path, header=0, names=names, encoding="utf-8-sig")
    # The header's own spellings, for init to say which names it changes.
    frame.attrs[ORIGINAL_NAMES_ATTR] = {n: h.strip() for n, h in zip(names, header, strict=True)}
    return frame


def load_auto_mpg(source: str | None = None, timeout: float = 30.0) -> pd.DataFrame:
    """Load the data from the copy shipped in this package, a local file, or an http(s) URL
    (``"uci"`` is shorthand for the UCI repository)."""
    if source is None:
        text = resources.files("mpg_core").joinpath("data/auto-mpg.data").read_text("utf-8")
    elif source == "uci" or source.startswith(("http://", "https://")):
        url = UCI_URL if source == "uci" else source
        log.info("downloading Auto MPG", extra={"url": url})
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            text = response.read().decode("utf-8")
    else:
        text = Path(source).read_text(encoding="utf-8")
    return parse_uci(text)


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        return [("train", self.train), ("validation", self.validation), ("test", self.test)]


def split(
    df: pd.DataFrame,
    seed: int = 42,
    validation: float = 0.15,
    test: float = 0.15,
    stratify: str | None = None,
) -> Splits:
    """Seeded train/validation/test split; every row lands in exactly one split. With
    ``stratify`` (a label column) each split keeps the classes' proportions, and a class with
    too few rows for that is a DataError naming it."""
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError("validation and test fractions must be in (0, 1) and sum below 1")
    if stratify is None:
        rest, test_df = train_test_split(df, test_size=test, random_state=seed)
        train_df, val_df = train_test_split(
            rest, test_size=validation / (1 - test), random_state=seed
        )
        return Splits(train_df.sort_index(), val_df.sort_index(), test_df.sort_index())
    _check_class_sizes(df[stratify], stratify, validation, test)
    try:
        rest, test_df = train_test_split(
            df, test_size=test, random_state=seed, stratify=df[stratify]
        )
        train_df, val_df = train_test_split(
            rest, test_size=validation / (1 - test), random_state=seed, stratify=rest[stratify]
        )
    except ValueError as exc:  # scikit-learn's word on a split it cannot stratify
        raise DataError(f"cannot split stratified by {stratify!r}: {exc}") from None
    return Splits(train_df.sort_index(), val_df.sort_index(), test_df.sort_index())


def min_class_rows(validation: float, test: float) -> int:
    """Rows a class needs so that a stratified split can give it a row in every split."""
    return max(3, math.ceil(1 / min(validation, test)))


def _check_class_sizes(labels: pd.Series, name: str, validation: float, test: float) -> None:
    if labels.isna().any():
        raise DataError(f"the target {name!r} has {int(labels.isna().sum())} missing label(s)")
    counts = labels.value_counts()
    need = min_class_rows(validation, test)
    small = counts[counts < need]
    if len(small):
        listed = ", ".join(f"{k!r}: {v}" for k, v in small.items())
        raise DataError(
            f"class(es) of {name!r} with fewer rows than the splits need ({need} for a row in "
            f"train, validation and test): {listed}; gather more rows or drop those classes"
        )


def split_table(frame: pd.DataFrame, schema: TableSchema, seed: int = 42) -> Splits:
    """The seeded splits of a table with ``schema``: stratified by the target for
    classification; DataError when the schema's columns are not in the table."""
    missing = [c for c in (schema.target, *schema.feature_columns) if c not in frame.columns]
    if missing:
        raise DataError(
            f"the schema's column(s) {missing} are not in the table; found {list(frame.columns)}"
        )
    return split(frame, seed=seed, stratify=schema.target if schema.is_classification else None)


def deal_rows(frame: pd.DataFrame, shards: int) -> list[pd.DataFrame]:
    """``frame`` dealt into ``shards`` parts like cards: row ``i`` goes to part ``i % shards``.
    Every row is in exactly one part, the parts differ in size by at most one row, and the
    same frame gives the same parts on every run."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    return [frame.iloc[i::shards] for i in range(shards)]


def shard_names(name: str, shards: int) -> list[str]:
    """File names of a table written as ``shards`` files: ``<name>.csv`` for one, else
    ``<name>-<i>-of-<shards>.csv`` (``i`` zero-padded, so key order is part order)."""
    if shards == 1:
        return [f"{name}.csv"]
    width = len(str(shards - 1))
    return [f"{name}-{i:0{width}d}-of-{shards}.csv" for i in range(shards)]


def write_shards(
    frame: pd.DataFrame, folder: Path, name: str, shards: int = 1, header: bool = True
) -> list[Path]:
    """Write ``frame`` as ``shards`` CSV files in ``folder`` (each with the header when
    ``header``), its rows dealt by :func:`deal_rows`, so ShardedByS3Key has objects to spread
    over instances. Returns the paths in part order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, file_name in zip(deal_rows(frame, shards), shard_names(name, shards), strict=True):
        part.to_csv(folder / file_name, index=False, header=header)
        paths.append(folder / file_name)
    return paths


def write_split_shards(splits: Splits, out_dir: Path, shards: int = 1) -> dict[str, list[Path]]:
    """Write each split as ``shards`` headered CSVs in ``out_dir/<split>/``."""
    return {
        name: write_shards(frame, out_dir / name, name, shards) for name, frame in splits.items()
    }


def write_splits(splits: Splits, out_dir: Path) -> dict[str, Path]:
    """Write each split as a headered CSV (the pipeline's raw, "bronze" input):
    ``out_dir/<split>/<split>.csv``. Returns the written paths."""
    return {name: paths[0] for name, paths in write_split_shards(splits, out_dir).items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m mpg_core.dataset --out DIR [--shards K] [--table FILE --schema FILE]``:
    write the seeded splits (of Auto MPG, or of any headered table, stratified by its target
    for classification) as the pipeline's raw inputs (``DIR/<split>/<split>.csv``, or K
    files per split)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mpg_core.dataset", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--source",
        default=None,
        help="'uci' for the UCI URL, a file or URL; default: the bundled copy",
    )
    parser.add_argument("--table", type=Path, default=None, help="a headered CSV table")
    parser.add_argument("--schema", type=Path, default=None, help="its schema (with --table)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--shards", type=int, default=1, help="files per split, rows dealt among them"
    )
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    if (args.table is None) != (args.schema is None):
        parser.error("--table and --schema go together")
    if args.table is not None:
        splits = split_table(read_table(args.table), load_schema(args.schema), seed=args.seed)
    else:
        splits = split(load_auto_mpg(args.source), seed=args.seed)
    for name, paths in write_split_shards(splits, args.out, args.shards).items():
        print(f"{name}: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
