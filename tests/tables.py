"""Tables the kit does not ship, written as headered CSVs from scikit-learn's offline copies:
diabetes (regression), breast cancer (binary), wine and iris (multiclass), with string
categories, string labels and missing values (``TABLES``); and plain iris and diabetes, as a
user's first own table would be (``PLAIN``, :func:`write_table`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Table:
    name: str
    target: str
    task: str
    frame: pd.DataFrame

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}.csv"
        self.frame.to_csv(path, index=False)
        return path


def _missing(frame: pd.DataFrame, columns: list[str], fraction: float, seed: int) -> pd.DataFrame:
    """Blank a seeded ``fraction`` of the cells of ``columns``."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype(object).where(rng.random(len(out)) >= fraction, None)
    return out


def diabetes() -> Table:
    """Regression: disease progression after a year; ``sex`` as text, an id column (ignored:
    identifier-like) and missing values in two numeric columns."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})
    frame.insert(0, "patient_id", np.arange(1000, 1000 + len(frame)))
    return Table("diabetes", "progression", "regression", _missing(frame, ["bmi", "s3"], 0.05, 1))


def breast_cancer() -> Table:
    """Binary, string labels (``malignant``/``benign``)."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = np.asarray(bunch.target_names)[frame["diagnosis"]]
    return Table("breast_cancer", "diagnosis", "classification", frame)


def wine() -> Table:
    """Multiclass, integer labels 0, 1, 2; a constant column (ignored)."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame["region"] = "piemonte"
    return Table("wine", "cultivar", "classification", frame)


def iris() -> Table:
    """Multiclass, string labels; a string category (a made-up ``garden``) and missing
    values in it and in a numeric column."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.rename(columns={"target": "species"})
    frame["species"] = np.asarray(bunch.target_names)[frame["species"]]
    rng = np.random.default_rng(7)
    frame["garden"] = rng.choice(["kew", "edinburgh", "wisley"], len(frame))
    return Table(
        "iris",
        "species",
        "classification",
        _missing(frame, ["garden", "sepal width (cm)"], 0.05, 2),
    )


TABLES = {t.name: t for t in (diabetes(), breast_cancer(), wine(), iris())}


def plain_iris() -> Table:
    """150 rows, four measurements in cm (``sepal_length``, ...) and the species as text
    (setosa, versicolor, virginica), 50 of each."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame = bunch.frame.drop(columns="target").rename(
        columns=lambda name: name.replace(" (cm)", "").replace(" ", "_")
    )
    frame["species"] = bunch.target_names[bunch.target]
    return Table("iris", "species", "classification", frame)


def plain_diabetes() -> Table:
    """442 rows, ten baseline variables (unscaled: age in years, sex as 1 or 2, ...) and the
    disease progression a year later (``progression``, 25 to 346)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return Table(
        "diabetes", "progression", "regression", frame.rename(columns={"target": "progression"})
    )


PLAIN = {t.name: t for t in (plain_iris(), plain_diabetes())}


def write_table(name: str, folder: Path) -> tuple[Path, str]:
    """The plain table as ``<folder>/<name>.csv`` (header, no index); returns it and its
    target."""
    table = PLAIN[name]
    return table.write(folder), table.target


# --- issue 22's tables: leaks and an imbalanced target ------------------------------------------


def diabetes_with_leak() -> Table:
    """Diabetes (regression) with ``log_progression``, the log of the target: a leak (as the
    wage table that trained to R² 0.99997 held the log of the wage)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    frame["log_progression"] = np.log(frame["progression"]).round(6)
    return Table("diabetes_leak", "progression", "regression", frame)


def breast_cancer_with_leak() -> Table:
    """Breast cancer (binary, text labels) with ``followup_code``, a field filled in after
    the diagnosis: 1.0/0.0 by the outcome, noisy on 0.5% of rows."""
    table = breast_cancer()
    frame = table.frame.copy()
    rng = np.random.default_rng(5)
    flip = rng.random(len(frame)) < 0.005
    code = (frame["diagnosis"] == "malignant").to_numpy() ^ flip
    frame["followup_code"] = code.astype(float) + rng.normal(scale=0.01, size=len(frame))
    return Table("breast_cancer_leak", "diagnosis", "classification", frame)


def imbalanced_wine() -> Table:
    """Binary and imbalanced, made from wine: is the cultivar 2 (kept at 8% of the rows:
    the other cultivars whole, cultivar 2 subsampled)?"""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    rng = np.random.default_rng(3)
    rare = frame.index[frame["target"] == 2]
    others = frame.index[frame["target"] != 2]
    keep = rng.choice(rare, size=round(0.08 / 0.92 * len(others)), replace=False)
    frame = frame.loc[sorted([*others, *keep])].reset_index(drop=True)
    frame["label"] = np.where(frame.pop("target") == 2, "rare", "common")
    return Table("imbalanced_wine", "label", "classification", frame)


# --- generated tables with text categories (issue 21) -------------------------------------------

GRADES = ("low", "medium", "high")
SIZES = ("S", "M", "L", "XL")


def city_names(count: int) -> list[str]:
    """``count`` made-up city names, some with spaces and capitals: a many-level category."""
    stems = ("North", "South", "East", "West", "Port", "Lake", "New", "Old")
    return [f"{stems[i % len(stems)]} town {i:02d}" for i in range(count)]


def shop(
    rows: int = 2000,
    task: str = "regression",
    seed: int = 0,
    cities: int = 60,
    positives: float = 0.5,
) -> Table:
    """A generated table of orders: an id (ignored), two numbers (``weight`` with missing
    values), a text category (``colour``, missing values and stray spaces), an ordered one
    (``grade``: low/medium/high), sizes (S/M/L/XL), a ~60-level ``city``, and a target that
    depends on all of them: ``price`` (regression) or ``returned`` (yes/no, classification;
    ``positives`` of the rows say yes)."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "black", "white"], rows)
    grade = rng.choice(GRADES, rows, p=[0.5, 0.3, 0.2])
    size = rng.choice(SIZES, rows)
    city = rng.choice(city_names(cities), rows, p=_zipf(cities))
    weight = rng.gamma(2.0, 3.0, rows).round(2)
    age = rng.integers(18, 90, rows)
    score = (
        0.3 * weight
        + np.select([colour == "red", colour == "black"], [2.0, -1.5], 0.0)
        + 1.5 * np.searchsorted(GRADES, grade, sorter=np.argsort(GRADES))
        + 0.8 * np.array([SIZES.index(s) for s in size])
        + 0.05 * np.array([int(c[-2:]) for c in city])
        - 0.02 * age
        + rng.normal(0, 1.0, rows)
    )
    frame = pd.DataFrame(
        {
            "order_id": np.arange(100_000, 100_000 + rows),
            "weight": weight,
            "age": age,
            "colour": [f" {c}" if i % 17 == 0 else c for i, c in enumerate(colour)],
            "grade": grade,
            "size": size,
            "city": city,
        }
    )
    if task == "regression":
        frame["price"] = (10 + 3 * score).round(2)
        target = "price"
    else:
        frame["returned"] = np.where(score > np.quantile(score, 1 - positives), "yes", "no")
        target = "returned"
    frame = _missing(frame, ["weight", "colour"], 0.08, seed + 1)
    return Table(f"shop_{task}", target, task, frame)


def _zipf(count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    return weights / weights.sum()


def wine_text() -> Table:
    """scikit-learn's wine (multiclass) with text categories made from its columns: the
    colour intensity as ``pale``/``medium``/``deep`` and the alcohol as ``light``/``strong``,
    missing values in both."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame["intensity"] = pd.cut(
        frame.pop("color_intensity"), [0, 3.5, 6.5, 99], labels=["pale", "medium", "deep"]
    ).astype(str)
    frame["body"] = np.where(frame.pop("alcohol") > 13.0, "strong", "light")
    return Table(
        "wine_text", "cultivar", "classification", _missing(frame, ["intensity", "body"], 0.05, 5)
    )
