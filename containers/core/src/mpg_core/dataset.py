"""The Auto MPG data: the bundled UCI copy, the UCI URL for online users, reproducible splits."""

from __future__ import annotations

import io
import logging
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from mpg_core.schema import CAR_NAME, UCI_COLUMNS

log = logging.getLogger(__name__)

UCI_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/auto-mpg/auto-mpg.data"
SPLITS = ("train", "validation", "test")


def parse_uci(text: str) -> pd.DataFrame:
    """Parse auto-mpg.data: eight whitespace-separated numbers ('?' for missing), a tab, then
    the quoted car name (which holds spaces, so one regex separator cannot split the line)."""
    numbers, names = [], []
    for line in text.splitlines():
        if line.strip():
            values, _, name = line.partition("\t")
            numbers.append(" ".join(values.split()))
            names.append(name.strip().strip('"'))
    frame = pd.read_csv(
        io.StringIO("\n".join(numbers)),
        sep=" ",
        header=None,
        names=list(UCI_COLUMNS[:-1]),
        na_values="?",
    )
    return frame.assign(**{CAR_NAME: names})


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


def split(df: pd.DataFrame, seed: int = 42, validation: float = 0.15, test: float = 0.15) -> Splits:
    """Seeded train/validation/test split; every row lands in exactly one split."""
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError("validation and test fractions must be in (0, 1) and sum below 1")
    rest, test_df = train_test_split(df, test_size=test, random_state=seed)
    train_df, val_df = train_test_split(rest, test_size=validation / (1 - test), random_state=seed)
    return Splits(train_df.sort_index(), val_df.sort_index(), test_df.sort_index())


def write_splits(splits: Splits, out_dir: Path) -> dict[str, Path]:
    """Write each split as a headered CSV (the pipeline's raw, "bronze" input):
    ``out_dir/<split>/<split>.csv``. Returns the written paths."""
    written = {}
    for name, frame in splits.items():
        path = out_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        written[name] = path
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m mpg_core.dataset --out DIR``: write the seeded splits as the pipeline's
    raw inputs (``DIR/<split>/<split>.csv``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m mpg_core.dataset", description=main.__doc__)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--source",
        default=None,
        help="'uci' for the UCI URL, a file or URL; default: the bundled copy",
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    written = write_splits(split(load_auto_mpg(args.source), seed=args.seed), args.out)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
