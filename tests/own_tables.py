"""Tables the kit does not ship, written as headered CSVs from scikit-learn's offline loaders
(no network): diabetes (regression) and iris (multiclass, string labels)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def _column(name: str) -> str:
    return name.replace(" (cm)", "").replace(" ", "_")


def iris_frame() -> pd.DataFrame:
    """150 rows, four measurements in cm and the species as text (setosa, versicolor,
    virginica), 50 of each."""
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.drop(columns="target").rename(columns=_column)
    frame["species"] = data.target_names[data.target]
    return frame


def diabetes_frame() -> pd.DataFrame:
    """442 rows, ten baseline variables (unscaled: age in years, sex as 1 or 2, ...) and the
    disease progression a year later (``target``, 25 to 346)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": "progression"})


TABLES = {"iris": (iris_frame, "species"), "diabetes": (diabetes_frame, "progression")}


def write_table(name: str, folder: Path) -> tuple[Path, str]:
    """The table as ``<folder>/<name>.csv`` (header, no index); returns it and its target."""
    make, target = TABLES[name]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    make().to_csv(path, index=False)
    return path, target
