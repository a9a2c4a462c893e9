"""Comparing one column of traffic with its baseline: pure functions over numpy arrays.

- Numbers: the population stability index over the baseline's decile bins, and the two-sample
  Kolmogorov-Smirnov test against the baseline's sample.
- Categories: the population stability index over the levels, the chi-square test of the
  traffic's level counts against the baseline's frequencies, and the share of values in levels
  the baseline never saw.
- Every column: the change in the missing rate.

The drift score is the PSI less its expected value under no drift, ``(k - 1)(1/n + 1/m)`` for
``k`` bins and samples of ``n`` and ``m`` (PSI is a symmetric chi-square divergence), so a
few hundred unshifted rows do not read as drift. A column drifts when the score is above the
threshold *and* the test rejects at the p-value threshold: a large effect that is also unlikely
to be sampling noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from mpg_core.monitoring.baseline import FeatureBaseline, bin_counts, level_counts

# Frequencies are floored here before logarithms: an empty bin on either side is not infinite.
_EPSILON = 1e-4


@dataclass(frozen=True)
class ColumnDrift:
    """One column's comparison. ``drift_score`` is the noise-corrected PSI (the metric)."""

    name: str
    role: str
    count: int
    psi: float
    drift_score: float
    test: str  # "ks" or "chi2"
    statistic: float
    p_value: float
    missing_rate: float
    baseline_missing_rate: float
    new_level_share: float = 0.0
    new_levels: tuple[str, ...] = ()
    # what the report draws: the bins' labels and both sides' shares
    labels: tuple[str, ...] = ()
    baseline_shares: tuple[float, ...] = ()
    current_shares: tuple[float, ...] = ()

    @property
    def missing_rate_change(self) -> float:
        return self.missing_rate - self.baseline_missing_rate


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count (or share) vectors over the same bins."""
    e = np.maximum(expected / max(expected.sum(), 1e-12), _EPSILON)
    a = np.maximum(actual / max(actual.sum(), 1e-12), _EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def noise_corrected(value: float, bins: int, n: int, m: int) -> float:
    if n == 0 or m == 0:
        return 0.0
    return max(0.0, value - (bins - 1) * (1.0 / n + 1.0 / m))


def _shares(counts: np.ndarray) -> tuple[float, ...]:
    total = counts.sum()
    return tuple(float(c / total) if total else 0.0 for c in counts)


def numeric_drift(base: FeatureBaseline, values: np.ndarray) -> ColumnDrift:
    """``values``: the column's traffic as float64, NaN for missing."""
    missing = np.isnan(values)
    present = values[~missing]
    rate = float(missing.mean()) if len(values) else 0.0
    if len(present) == 0 or len(base.edges) == 0:
        return ColumnDrift(
            base.name, base.role, 0, 0.0, 0.0, "ks", 0.0, 1.0, rate, base.missing_rate
        )
    current = bin_counts(present, base.edges).astype(np.float64)
    expected = base.bin_counts
    value = psi(expected, current)
    if len(base.sample) >= 2:
        result = stats.ks_2samp(base.sample, present, method="asymp")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        statistic, p_value = 0.0, 1.0
    edges = base.edges
    labels = tuple(
        f"{'(-inf' if i == 0 else f'[{edges[i]:.4g}'}, "
        f"{'+inf)' if i == len(edges) - 2 else f'{edges[i + 1]:.4g})'}"
        for i in range(len(edges) - 1)
    )
    return ColumnDrift(
        name=base.name,
        role=base.role,
        count=len(present),
        psi=value,
        drift_score=noise_corrected(value, len(expected), base.count, len(present)),
        test="ks",
        statistic=statistic,
        p_value=p_value,
        missing_rate=rate,
        baseline_missing_rate=base.missing_rate,
        labels=labels,
        baseline_shares=_shares(expected),
        current_shares=_shares(current),
    )


def categorical_drift(base: FeatureBaseline, values: pd.Series) -> ColumnDrift:
    """``values``: the column's traffic as given (numbers or text), NaN for missing."""
    counts, missing = level_counts(values)
    rate = missing / len(values) if len(values) else 0.0
    known = list(base.levels)
    expected = np.asarray([base.levels[k] for k in known], dtype=np.float64)
    current = np.asarray([counts.get(k, 0) for k in known], dtype=np.float64)
    new = counts[~counts.index.isin(known)]
    present = int(counts.sum())
    new_share = float(new.sum() / present) if present else 0.0
    # Unseen levels form one extra bin on the traffic's side.
    expected_all = np.append(expected, 0.0)
    current_all = np.append(current, float(new.sum()))
    value = psi(expected_all, current_all) if present else 0.0
    if present and expected.sum() > 0 and len(known) > 1:
        # Chi-square goodness of fit of the known levels' counts to the baseline's shares.
        inside = current.sum()
        f_exp = np.maximum(expected / expected.sum() * inside, 1e-9)
        statistic, p_value = stats.chisquare(current, f_exp) if inside else (0.0, 1.0)
        statistic, p_value = float(statistic), float(p_value)
    else:
        statistic, p_value = 0.0, 1.0
    if new_share > 0:
        p_value = min(p_value, 0.0)  # a level never seen cannot come from the baseline
    bins = len(known) + (1 if len(new) else 0)
    return ColumnDrift(
        name=base.name,
        role=base.role,
        count=present,
        psi=value,
        drift_score=noise_corrected(value, bins, base.count, present),
        test="chi2",
        statistic=statistic if math.isfinite(statistic) else 0.0,
        p_value=p_value if math.isfinite(p_value) else 1.0,
        missing_rate=rate,
        baseline_missing_rate=base.missing_rate,
        new_level_share=new_share,
        new_levels=tuple(str(v) for v in new.index[:20]),
        labels=(*known, "(new levels)"),
        baseline_shares=_shares(expected_all),
        current_shares=_shares(current_all),
    )


def column_drift(base: FeatureBaseline, values: pd.Series) -> ColumnDrift:
    if base.categorical:
        return categorical_drift(base, values)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    return numeric_drift(base, numbers)
