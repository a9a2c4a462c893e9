"""The model benchmark's bookkeeping (containers/training/bench/model_bench.py, a script): the
interval over seeds its verdict prints, and a split the leak check refuses."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests import tables

BENCH = Path(__file__).resolve().parents[2] / "containers/training/bench/model_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("model_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_interval_resamples_seeds_in_pairs(bench: ModuleType) -> None:
    # The default 5% worse than plain HGB on every seed, however much the seeds differ:
    # resampled in pairs, every draw says +5%.
    plain = list(np.random.default_rng(0).lognormal(-3.0, 1.5, size=10))
    default = [1.05 * p for p in plain]
    low, high = bench.seed_interval(default, plain, relative=True)
    assert low == pytest.approx(0.05) and high == pytest.approx(0.05)


def test_seed_interval_spans_a_difference_one_seed_makes(bench: ModuleType) -> None:
    # Plain HGB near-perfect on nine seeds and wrong with confidence on one: its mean is five
    # times the default's, yet the seeds without that split say the opposite.
    plain = [0.001] * 9 + [0.5]
    default = [0.01] * 10
    low, high = bench.seed_interval(default, plain, relative=True)
    assert low < -0.5 and high > 1.0
    diff_low, diff_high = bench.seed_interval(default, plain, relative=False)
    assert diff_low < 0 < diff_high


def test_verdict_prints_the_interval_beside_the_means(bench: ModuleType) -> None:
    runs = [
        {
            "default": {"rmse": 1.0 + 0.1 * k + (0.03 if k == 2 else 0.0)},
            "plain_hgb": {"rmse": 1.0 + 0.1 * k},
            "split": {"seed": 42 + k},
        }
        for k in range(4)
    ]
    # The mean +0.65% (within the 1% bound), the interval from no change to the one seed's.
    assert re.fullmatch(
        r"ok \(RMSE \+0\.7% \[\+0\.0%, \+[12]\.\d%\]; worst seed 44 \(\+0\.0300 rmse\)\)",
        bench.verdict(runs, "regression", "plain_hgb"),
    )


def test_the_verdict_against_autogluon_reads_only_the_seeds_it_ran(bench: ModuleType) -> None:
    runs = [
        {"default": {"rmse": 1.0}, "autogluon_medium": {"rmse": 0.9}, "split": {"seed": 1}},
        {"default": {"rmse": 1.0}, "split": {"seed": 2}},  # AutoGluon failed on this split
    ]
    assert bench.verdict(runs, "regression", "autogluon_medium") == "WORSE (RMSE +11.1%)"


def test_a_split_the_leak_check_refuses_is_named_and_skipped(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Imbalanced wine's seed 50: on its held-out rows (a couple of the rare class) a genuine column
    # alone reaches the leak bar, so preprocessing refuses the split, as it would a user's.
    # The run goes on with the next seed instead of ending there.
    table = tables.imbalanced_wine()
    args = argparse.Namespace(seeds=1, first_seed=50, http=False, autogluon="")
    with Path(os.devnull).open("w") as devnull:
        bench.report(table.name, table, args, devnull)
    out = capsys.readouterr().out
    assert "the leak check refused 1 split(s): seed 50: 'od280/od315_of_diluted_wines'" in out
    assert "== " not in out  # no table of figures from no runs
