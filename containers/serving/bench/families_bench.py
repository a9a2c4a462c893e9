"""Per model family, on Auto MPG: validation and test RMSE with the default hyperparameters,
then the compiled walk against scikit-learn's own predict on the same rows, one thread.

    uv run python containers/serving/bench/families_bench.py [--rows 1,100,165000]
        [--algorithms random_forest,...] [--n-estimators 100] [--out DIR]

Each family is trained by the project's own jobs (preprocessing, then training with
``algorithm`` set and every other hyperparameter at its default) into a pipeline artifact.
Timings are microseconds per row, the best of several repeats (the first call warms up):
``walk`` is the compiled model on feature rows (mpg_core.artifact.compiled.Forest.predict),
``sklearn`` the fitted estimator's predict (predict_proba for classifiers) on the same float64
array; ``pipe`` columns are the whole artifact on raw rows (the compiled form vs the
scikit-learn pipeline on a DataFrame). Sizes are the artifact's files. Not a test: figures
depend on the machine and its load.
"""

from __future__ import annotations

import os

# One thread everywhere, before numpy or scikit-learn start their pools.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402


def best_microseconds_per_row(call: Callable[[], Any], rows: int, budget_s: float = 1.0) -> float:
    call()  # warm up
    timings = []
    spent = 0.0
    while spent < budget_s or len(timings) < 3:
        start = time.perf_counter()
        call()
        elapsed = time.perf_counter() - start
        timings.append(elapsed)
        spent += elapsed
        if len(timings) >= 2000:
            break
    return min(timings) / rows * 1e6


def prepare(root: Path) -> dict[str, Path]:
    from mpg_core import dataset
    from mpg_preprocessing.job import PreprocessConfig
    from mpg_preprocessing.job import run as preprocess

    dataset.write_splits(dataset.split(dataset.load_auto_mpg()), root / "bronze")
    preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            validation_dir=root / "bronze/validation",
            test_dir=root / "bronze/test",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
        )
    )
    return {
        **{s: root / "features" / s for s in ("train", "validation", "test")},
        "preprocessor": root / "preprocessor",
    }


def train_family(root: Path, channels: dict[str, Path], algorithm: str, trees: int) -> Path:
    from mpg_core.hyperparameters import Hyperparameters
    from mpg_training.job import TrainConfig
    from mpg_training.job import run as train

    train(
        TrainConfig(
            channels=channels,
            model_dir=root / algorithm,
            output_data_dir=root / f"{algorithm}-out",
            hyperparameters=Hyperparameters(algorithm=algorithm, n_estimators=trees),
        )
    )
    return root / algorithm


def raw_rows(n: int, seed: int = 3) -> np.ndarray:
    """Valid raw Auto MPG rows over the data's ranges (as the serving benchmark sends)."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.choice([3, 4, 5, 6, 8], n),
            rng.uniform(68, 455, n).round(1),
            rng.uniform(46, 230, n).round(0),
            rng.uniform(1613, 5140, n).round(0),
            rng.uniform(8, 24.8, n).round(1),
            rng.integers(70, 83, n),
            rng.integers(1, 4, n),
        ]
    ).astype(np.float64)


def measure(model_dir: Path, sizes: list[int]) -> dict[str, Any]:
    import pandas as pd

    from mpg_core.artifact.files import COMPILED_FILE, ESTIMATOR_FILE
    from mpg_core.artifact.reader import load_artifact, open_artifact
    from mpg_core.schema import FEATURES

    opened = open_artifact(model_dir)
    compiled = opened.model
    artifact = load_artifact(model_dir)
    pipeline = artifact.estimator
    model = pipeline.steps[-1][1]
    if hasattr(model, "n_jobs"):
        model.n_jobs = 1
    answer = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    raw = raw_rows(max(sizes))
    features = compiled.preprocessor.transform(raw)
    forest = compiled.forest
    assert np.allclose(forest.predict(features[:1000]), answer(features[:1000]), rtol=1e-6)
    result: dict[str, Any] = {
        "engine": opened.engine,
        "estimator_bytes": (model_dir / ESTIMATOR_FILE).stat().st_size,
        "compiled_bytes": (model_dir / COMPILED_FILE).stat().st_size,
        "nodes": len(forest.threshold),
    }
    for n in sizes:
        x, r = features[:n], raw[:n]
        frame = pd.DataFrame(r, columns=list(FEATURES))
        result[f"walk_us_{n}"] = best_microseconds_per_row(lambda x=x: forest.predict(x), n)
        result[f"sklearn_us_{n}"] = best_microseconds_per_row(lambda x=x: answer(x), n)
        result[f"pipe_walk_us_{n}"] = best_microseconds_per_row(lambda r=r: opened.predict(r), n)
        result[f"pipe_sklearn_us_{n}"] = best_microseconds_per_row(
            lambda f=frame: pipeline.predict(f), n
        )
    return result


def main() -> None:
    from mpg_core.hyperparameters import ALGORITHMS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1,100,165000")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="keep the artifacts here")
    args = parser.parse_args()
    sizes = [int(s) for s in args.rows.split(",")]
    root = args.out or Path(tempfile.mkdtemp(prefix="families-"))
    channels = prepare(root)
    table = {}
    for algorithm in args.algorithms.split(","):
        model_dir = train_family(root, channels, algorithm, args.n_estimators)
        report = json.loads((root / f"{algorithm}-out" / "evaluation.json").read_text())
        table[algorithm] = {
            "validation_rmse": report["metrics"]["validation"]["rmse"],
            "test_rmse": report["metrics"]["test"]["rmse"],
            **measure(model_dir, sizes),
        }
        print(json.dumps({algorithm: table[algorithm]}), flush=True)
    print()
    head = ["family", "val RMSE", "test RMSE", "engine"]
    for n in sizes:
        head += [f"walk us/row @{n}", f"sklearn us/row @{n}"]
    head += ["estimator KB", "compiled KB"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for algorithm, r in table.items():
        cells = [algorithm, f"{r['validation_rmse']:.3f}", f"{r['test_rmse']:.3f}", r["engine"]]
        for n in sizes:
            cells += [f"{r[f'walk_us_{n}']:.3g}", f"{r[f'sklearn_us_{n}']:.3g}"]
        cells += [f"{r['estimator_bytes'] / 1024:.0f}", f"{r['compiled_bytes'] / 1024:.0f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
