"""A local tuning run per model family on Auto MPG: random search over the family's own
``ParameterRanges`` (the ones ``mpg-launch tune`` sends when the config fixes ``algorithm``),
each candidate trained by the training job, the best chosen on validation RMSE and its test
RMSE reported beside it.

    uv run python containers/training/bench/local_tuning.py [--trials 8] [--seed 0]

Random search, not SageMaker's Bayesian strategy: it shows what tuning buys each family, not
what the tuner would find. Not a test.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "serving" / "bench"))

from families_bench import prepare

from mpg_core.hyperparameters import ALGORITHMS, parameter_ranges


def draw(ranges: dict[str, list[dict[str, Any]]], rng: np.random.Generator) -> dict[str, str]:
    values = {}
    for entry in ranges["IntegerParameterRanges"]:
        low, high = int(entry["MinValue"]), int(entry["MaxValue"])
        values[entry["Name"]] = str(rng.integers(low, high + 1))
    for entry in ranges["ContinuousParameterRanges"]:
        lo, hi = float(entry["MinValue"]), float(entry["MaxValue"])
        if entry["ScalingType"] == "Logarithmic":
            value = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        else:
            value = rng.uniform(lo, hi)
        values[entry["Name"]] = f"{value:.4g}"
    return values


def main() -> None:
    from mpg_core.hyperparameters import parse_hyperparameters
    from mpg_training.job import TrainConfig
    from mpg_training.job import run as train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tuning-"))
    channels = prepare(root)
    rng = np.random.default_rng(args.seed)
    print("| family | default val / test | tuned val / test | tuned hyperparameters |")
    print("|---|---|---|---|")
    for algorithm in ALGORITHMS:
        results = []
        for trial in range(args.trials + 1):
            chosen = {} if trial == 0 else draw(parameter_ranges(algorithm), rng)
            hp = parse_hyperparameters({"algorithm": algorithm, **chosen})
            metrics = train(
                TrainConfig(
                    channels=channels,
                    model_dir=root / f"{algorithm}-{trial}",
                    output_data_dir=root / f"{algorithm}-{trial}-out",
                    hyperparameters=hp,
                )
            )
            results.append((metrics["validation"]["rmse"], metrics["test"]["rmse"], chosen))
        default, best = results[0], min(results, key=lambda r: r[0])
        print(
            f"| {algorithm} | {default[0]:.3f} / {default[1]:.3f} | {best[0]:.3f} / {best[1]:.3f} "
            f"| {json.dumps(best[2]) if best[2] else '(the defaults)'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
