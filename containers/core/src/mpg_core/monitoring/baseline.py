"""The baseline: statistics of the training data and of the model's predictions, and the
constraints traffic is held to. One module writes and reads both files.

``statistics.json`` (Model Monitor's shape, version 0)::

    {"version": 0, "dataset": {"item_count": 278},
     "features": [
       {"name": "weight", "role": "numeric", "inferred_type": "Fractional",
        "numerical_statistics": {
          "common": {"num_present": 278, "num_missing": 0},
          "mean": ..., "sum": ..., "std_dev": ..., "min": ..., "max": ...,
          "distribution": {
            "quantiles": {"0.01": ..., "0.05": ..., ..., "0.99": ...},
            "histogram": {"buckets": [{"lower_bound": ..., "upper_bound": ..., "count": 28}]},
            "sample": [...]}}},
       {"name": "origin", "role": "categorical", "inferred_type": "Integral",
        "string_statistics": {
          "common": {"num_present": 278, "num_missing": 0}, "distinct_count": 3,
          "distribution": {"categorical": {"buckets": [{"value": "1", "count": 170}]}}}},
       {"name": "prediction", "role": "prediction", ...}]}

The histogram's buckets are the baseline's deciles (ties merged): the population stability
index compares traffic over exactly these bins, the outer two open-ended. ``sample`` (at most
:data:`SAMPLE_SIZE` values, seeded) stands in for Model Monitor's KLL sketch in the
two-sample Kolmogorov-Smirnov test.

``constraints.json`` (Model Monitor's shape, version 0, plus ``model_quality``)::

    {"version": 0,
     "features": [{"name": "weight", "inferred_type": "Fractional", "completeness": 1.0,
                   "num_constraints": {"is_non_negative": true}},
                  {"name": "origin", "inferred_type": "Integral", "completeness": 1.0,
                   "string_constraints": {"domains": ["1", "2", "3"]}}],
     "monitoring_config": {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled",
        "distribution_constraints": {"perform_comparison": "Enabled",
            "comparison_method": "psi", "comparison_threshold": 0.2, "p_value_threshold": 0.01},
        "completeness_threshold": 0.1, "domain_content_threshold": 0.05},
     "model_quality": {"task": "regression", "split": "test", "metrics": {"rmse": 2.19, ...},
        "constraints": {"rmse": {"threshold": 2.63,
                                 "comparison_operator": "GreaterThanThreshold"}}}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from mpg_core.errors import ConfigError
from mpg_core.monitoring.names import HIGHER_IS_BETTER

STATISTICS_FILE: Final = "statistics.json"
CONSTRAINTS_FILE: Final = "constraints.json"
# The artifact.json key under which the preprocessor carries the raw columns' statistics to
# training (the preprocessor's tarball keeps its three files).
RAW_STATISTICS_KEY: Final = "raw_statistics"
PREDICTION: Final = "prediction"
VERSION: Final = 0
QUANTILES: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
BINS: Final = 10
SAMPLE_SIZE: Final = 1000
SAMPLE_SEED: Final = 0
Role = Literal["numeric", "categorical", "prediction"]

# Thresholds every monitoring run uses unless the constraints file or the job says otherwise.
DEFAULT_THRESHOLDS: Final = {
    "comparison_threshold": 0.2,  # population stability index above which a column drifted
    "p_value_threshold": 0.01,  # ... and only when the two-sample test agrees at this level
    "completeness_threshold": 0.1,  # largest change in a column's missing rate
    "domain_content_threshold": 0.05,  # largest share of values in levels never seen
    "quality_tolerance": 0.2,  # relative loss of a quality metric before it is a violation
}


def level_text(values: pd.Series) -> pd.Series:
    """Category levels as the text both sides compare: whole numbers without ``.0`` (a CSV
    row's ``4`` and a table's ``4.0`` are one level), strings stripped; missing (empty, ``?``)
    is NaN. Meant for few values: :func:`level_counts` calls it on the distinct ones."""
    if values.dtype.kind in "biuf":
        numbers = values.astype("float64")
    else:
        as_text = values.astype("string").str.strip()
        blank = as_text.isna() | as_text.isin(["", "?"]) | as_text.str.lower().isin(["nan", "na"])
        as_text = as_text.mask(blank)
        numbers = pd.to_numeric(as_text, errors="coerce").astype("float64")
        if numbers.notna().sum() != as_text.notna().sum() or not as_text.notna().any():
            return as_text.astype(object).where(as_text.notna(), np.nan)
    text = [str(int(v)) if v % 1 == 0 else repr(float(v)) for v in numbers.fillna(0.0)]
    return pd.Series(text, index=values.index, dtype=object).where(numbers.notna(), np.nan)


def level_counts(values: pd.Series) -> tuple[pd.Series, int]:
    """The count of each level of ``values`` (most frequent first) and the number missing;
    the distinct values are counted first, so a million rows cost one ``value_counts``."""
    raw = values.value_counts(dropna=False)
    levels = level_text(pd.Series(raw.index, dtype=values.dtype if len(raw) else object))
    counts = pd.Series(raw.to_numpy(), index=levels.to_numpy())
    missing = int(counts[levels.isna().to_numpy()].sum())
    present = counts[levels.notna().to_numpy()]
    present = present.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")
    return present.astype("int64"), missing


def _inferred_type(values: pd.Series, role: Role) -> str:
    present = values.dropna()
    if values.dtype.kind not in "biuf":
        numbers = pd.to_numeric(present, errors="coerce")
        if numbers.isna().any():
            return "String"
        present = numbers
    if present.empty:
        return "Unknown"
    return "Integral" if bool((present % 1 == 0).all()) else "Fractional"


def bin_edges(values: np.ndarray) -> np.ndarray:
    """The baseline's decile edges, ties merged (a column with few values gets fewer bins)."""
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, BINS + 1)))


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """How many of ``values`` fall in each bucket of ``edges`` (the outer two open-ended:
    below the baseline's minimum counts in the first, above its maximum in the last)."""
    inner = edges[1:-1]
    index = np.searchsorted(inner, values, side="right")
    return np.bincount(index, minlength=max(len(edges) - 1, 1))


def _numeric(name: str, values: pd.Series, role: Role) -> dict[str, Any]:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    present = numbers.dropna().to_numpy()
    stats: dict[str, Any] = {
        "common": {"num_present": len(present), "num_missing": int(numbers.isna().sum())}
    }
    if len(present):
        edges = bin_edges(present)
        counts = bin_counts(present, edges)
        # One bucket [v, v] when every value is the same.
        lowers, uppers = (edges[:-1], edges[1:]) if len(edges) > 1 else (edges, edges)
        rng = np.random.default_rng(SAMPLE_SEED)
        sample = (
            present
            if len(present) <= SAMPLE_SIZE
            else rng.choice(present, SAMPLE_SIZE, replace=False)
        )
        stats.update(
            mean=float(present.mean()),
            sum=float(present.sum()),
            std_dev=float(present.std()),
            min=float(present.min()),
            max=float(present.max()),
            distribution={
                "quantiles": {
                    str(q): float(v)
                    for q, v in zip(QUANTILES, np.quantile(present, QUANTILES), strict=True)
                },
                "histogram": {
                    "buckets": [
                        {"lower_bound": float(lo), "upper_bound": float(hi), "count": int(c)}
                        for lo, hi, c in zip(lowers, uppers, counts, strict=True)
                    ]
                },
                "sample": [float(v) for v in np.sort(sample)],
            },
        )
    return {
        "name": name,
        "role": role,
        "inferred_type": _inferred_type(numbers, role),
        "numerical_statistics": stats,
    }


def _categorical(name: str, values: pd.Series, role: Role) -> dict[str, Any]:
    counts, missing = level_counts(values)
    return {
        "name": name,
        "role": role,
        "inferred_type": _inferred_type(values, role),
        "string_statistics": {
            "common": {"num_present": int(counts.sum()), "num_missing": missing},
            "distinct_count": len(counts),
            "distribution": {
                "categorical": {
                    "buckets": [{"value": str(v), "count": int(c)} for v, c in counts.items()]
                }
            },
        },
    }


def column_statistics(
    name: str, values: pd.Series, role: Role, categorical: bool
) -> dict[str, Any]:
    """One column's entry of ``statistics.json``."""
    return (_categorical if categorical else _numeric)(name, values, role)


def table_statistics(
    frame: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str]
) -> dict[str, Any]:
    """``statistics.json`` of the raw ``columns`` of ``frame`` (the model's inputs)."""
    kinds = set(categorical)
    return {
        "version": VERSION,
        "dataset": {"item_count": len(frame)},
        "features": [
            column_statistics(c, frame[c], "categorical" if c in kinds else "numeric", c in kinds)
            for c in columns
        ],
    }


def with_predictions(
    statistics: Mapping[str, Any], predictions: np.ndarray, classification: bool
) -> dict[str, Any]:
    """``statistics`` with the distribution of the model's predictions (on validation) added
    as the feature :data:`PREDICTION`."""
    entry = column_statistics(PREDICTION, pd.Series(predictions), "prediction", classification)
    features = [f for f in statistics["features"] if f["role"] != "prediction"]
    return {**statistics, "features": [*features, entry]}


def _quality_constraints(metrics: Mapping[str, float], tolerance: float) -> dict[str, Any]:
    out = {}
    for name, value in metrics.items():
        if not math.isfinite(value):
            continue
        if name in HIGHER_IS_BETTER:
            out[name] = {
                "threshold": value - tolerance * abs(value),
                "comparison_operator": "LessThanThreshold",
            }
        else:
            out[name] = {
                "threshold": value + tolerance * abs(value),
                "comparison_operator": "GreaterThanThreshold",
            }
    return out


def constraints_for(
    statistics: Mapping[str, Any],
    task: str,
    metrics: Mapping[str, float] | None,
    split: str,
    thresholds: Mapping[str, float] = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """``constraints.json`` suggested from ``statistics`` and the model's ``metrics`` on
    ``split`` (test when there is one)."""
    features = []
    for f in statistics["features"]:
        stats = f.get("numerical_statistics") or f["string_statistics"]
        common = stats["common"]
        total = common["num_present"] + common["num_missing"]
        entry: dict[str, Any] = {
            "name": f["name"],
            "inferred_type": f["inferred_type"],
            "completeness": common["num_present"] / total if total else 1.0,
        }
        if "numerical_statistics" in f:
            entry["num_constraints"] = {"is_non_negative": stats.get("min", 0.0) >= 0}
        else:
            buckets = stats["distribution"]["categorical"]["buckets"]
            entry["string_constraints"] = {"domains": [b["value"] for b in buckets]}
        features.append(entry)
    out: dict[str, Any] = {
        "version": VERSION,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_method": "psi",
                "comparison_threshold": thresholds["comparison_threshold"],
                "p_value_threshold": thresholds["p_value_threshold"],
            },
            "completeness_threshold": thresholds["completeness_threshold"],
            "domain_content_threshold": thresholds["domain_content_threshold"],
        },
    }
    if metrics:
        tolerance = thresholds["quality_tolerance"]
        out["model_quality"] = {
            "task": task,
            "split": split,
            "metrics": {k: v for k, v in metrics.items() if math.isfinite(v)},
            "tolerance": tolerance,
            "constraints": _quality_constraints(metrics, tolerance),
        }
    return out


def write_baseline(
    directory: Path, statistics: Mapping[str, Any], constraints: Mapping[str, Any]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in ((STATISTICS_FILE, statistics), (CONSTRAINTS_FILE, constraints)):
        (directory / name).write_text(json.dumps(data, indent=1) + "\n", "utf-8")


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureBaseline:
    """One column (or the predictions) as the comparisons read it."""

    name: str
    role: Role
    inferred_type: str
    categorical: bool
    missing_rate: float
    count: int
    # numeric: the PSI bins' edges, the baseline's count in each, its sample
    edges: np.ndarray = field(default_factory=lambda: np.empty(0))
    bin_counts: np.ndarray = field(default_factory=lambda: np.empty(0))
    sample: np.ndarray = field(default_factory=lambda: np.empty(0))
    # categorical: level -> count
    levels: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Baseline:
    features: tuple[FeatureBaseline, ...]
    item_count: int
    monitoring_config: dict[str, Any]
    model_quality: dict[str, Any] | None

    @property
    def columns(self) -> tuple[FeatureBaseline, ...]:
        return tuple(f for f in self.features if f.role != "prediction")

    @property
    def prediction(self) -> FeatureBaseline | None:
        return next((f for f in self.features if f.role == "prediction"), None)

    def thresholds(self, overrides: Mapping[str, float | None] | None = None) -> dict[str, float]:
        """The thresholds in force: the job's overrides, else the constraints file's, else
        the defaults."""
        config = self.monitoring_config
        distribution = config.get("distribution_constraints", {})
        found = {
            "comparison_threshold": distribution.get("comparison_threshold"),
            "p_value_threshold": distribution.get("p_value_threshold"),
            "completeness_threshold": config.get("completeness_threshold"),
            "domain_content_threshold": config.get("domain_content_threshold"),
            "quality_tolerance": (self.model_quality or {}).get("tolerance"),
        }
        out = {}
        for key, default in DEFAULT_THRESHOLDS.items():
            given = (overrides or {}).get(key)
            value = given if given is not None else found.get(key)
            out[key] = float(default if value is None else value)
        return out


def _feature(entry: Mapping[str, Any], where: str) -> FeatureBaseline:
    try:
        name, role = str(entry["name"]), entry.get("role", "numeric")
        if "numerical_statistics" in entry:
            stats = entry["numerical_statistics"]
            common = stats["common"]
            total = common["num_present"] + common["num_missing"]
            distribution = stats.get("distribution", {})
            buckets = distribution.get("histogram", {}).get("buckets", [])
            edges = [b["lower_bound"] for b in buckets] + [b["upper_bound"] for b in buckets[-1:]]
            return FeatureBaseline(
                name=name,
                role=role,
                inferred_type=entry["inferred_type"],
                categorical=False,
                missing_rate=common["num_missing"] / total if total else 0.0,
                count=int(common["num_present"]),
                edges=np.asarray(edges, dtype=np.float64),
                bin_counts=np.asarray([b["count"] for b in buckets], dtype=np.float64),
                sample=np.asarray(distribution.get("sample", []), dtype=np.float64),
            )
        stats = entry["string_statistics"]
        common = stats["common"]
        total = common["num_present"] + common["num_missing"]
        buckets = stats["distribution"]["categorical"]["buckets"]
        return FeatureBaseline(
            name=name,
            role=role,
            inferred_type=entry["inferred_type"],
            categorical=True,
            missing_rate=common["num_missing"] / total if total else 0.0,
            count=int(common["num_present"]),
            levels={str(b["value"]): int(b["count"]) for b in buckets},
        )
    except (KeyError, TypeError, IndexError) as exc:
        raise ConfigError(f"{where}: feature {entry.get('name')!r} lacks {exc}") from None


def parse_baseline(
    statistics: Mapping[str, Any], constraints: Mapping[str, Any] | None, where: str
) -> Baseline:
    if statistics.get("version") != VERSION or not isinstance(statistics.get("features"), list):
        raise ConfigError(f"{where}: not a version {VERSION} statistics.json with features")
    constraints = constraints or {}
    return Baseline(
        features=tuple(_feature(f, where) for f in statistics["features"]),
        item_count=int(statistics.get("dataset", {}).get("item_count", 0)),
        monitoring_config=dict(constraints.get("monitoring_config", {})),
        model_quality=constraints.get("model_quality"),
    )


def read_baseline(directory: Path) -> Baseline:
    """The baseline in ``directory`` (an extracted model.tar.gz): ``statistics.json`` is
    required, ``constraints.json`` optional (the defaults apply)."""
    path = directory / STATISTICS_FILE
    if not path.is_file():
        raise ConfigError(
            f"no {STATISTICS_FILE} in {directory}: train the model with this kit's training "
            "image (it writes the baseline into model.tar.gz)"
        )
    try:
        statistics = json.loads(path.read_text("utf-8"))
        constraints_path = directory / CONSTRAINTS_FILE
        constraints = (
            json.loads(constraints_path.read_text("utf-8")) if constraints_path.is_file() else None
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{directory}: baseline is not valid JSON: {exc}") from None
    return parse_baseline(statistics, constraints, str(path))
