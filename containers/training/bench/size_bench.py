"""What a growing table costs: Auto-MPG-like tables resampled with noise at 10 k, 100 k, 1 M
(and 5 M) training rows, trained by the project's own jobs with the default hyperparameters.

    uv run python containers/training/bench/size_bench.py [--rows 278,10000,100000,1000000]
        [-H name=value ...] [--out DIR] [--rounds 5]

Per size it prints: training wall time, peak memory and CPU seconds (the training job in a
child process: its max RSS, and its user + system time, which a loaded machine does not
inflate), the model folder and its model.tar.gz (``tar czf``, as SageMaker packs /opt/ml/model,
and how long that took), validation RMSE and cold start (a fresh interpreter opening the
artifact). Then, once every size is trained, rows/s of the serving engine on a 5 MB body's
worth of raw rows (one thread in a fresh process, the best of three calls: the walk, not HTTP),
``--rounds`` times per model in turn: the median, the range, and how many times slower than the
first size's model. Not a test: figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FIVE_MB_ROWS = 165_000  # raw Auto MPG rows in a 5 MB CSV body


def generate(n: int, seed: int) -> pd.DataFrame:
    """``n`` Auto MPG rows resampled with noise on every numeric column (so regression trees
    grow a leaf per row or two), model years and origins kept."""
    from mpg_core import dataset

    base = dataset.load_auto_mpg().dropna().reset_index(drop=True)
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    for column, scale in (
        ("displacement", 0.05),
        ("horsepower", 0.05),
        ("weight", 0.03),
        ("acceleration", 0.05),
        ("mpg", 0.05),
    ):
        frame[column] = frame[column] * (1 + scale * rng.normal(size=n))
    frame["displacement"] = frame["displacement"].round(1)
    frame["horsepower"] = frame["horsepower"].round(0)
    frame["weight"] = frame["weight"].round(0)
    frame["acceleration"] = frame["acceleration"].round(1)
    frame["mpg"] = frame["mpg"].round(2)
    return frame


def prepare(root: Path, rows: int) -> dict[str, Path]:
    from mpg_preprocessing.job import PreprocessConfig
    from mpg_preprocessing.job import run as preprocess

    for split, n, seed in (("train", rows, 1), ("validation", max(rows // 8, 2000), 2)):
        folder = root / "bronze" / split
        folder.mkdir(parents=True, exist_ok=True)
        generate(n, seed).to_csv(folder / f"{split}.csv", index=False)
    preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            validation_dir=root / "bronze/validation",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
        )
    )
    return {
        "train": root / "features/train",
        "validation": root / "features/validation",
        "preprocessor": root / "preprocessor",
    }


TRAIN_CHILD = """
import json, sys
from pathlib import Path
from mpg_core.hyperparameters import parse_hyperparameters
from mpg_training.job import TrainConfig, run
channels, model_dir, out_dir, hp = json.loads(sys.argv[1])
run(TrainConfig(channels={k: Path(v) for k, v in channels.items()}, model_dir=Path(model_dir),
                output_data_dir=Path(out_dir), hyperparameters=parse_hyperparameters(hp)))
"""

OPEN_CHILD = """
import sys, time
start = time.perf_counter()
from mpg_core.artifact.reader import open_artifact
opened = open_artifact(__import__("pathlib").Path(sys.argv[1]))
print(time.perf_counter() - start, opened.engine)
"""

# Rows/s in a fresh process, as a serving worker has it (not this one's heap after training),
# the best of three calls.
SERVE_CHILD = """
import sys, time
import numpy as np
from mpg_core.artifact.reader import open_artifact
opened = open_artifact(__import__("pathlib").Path(sys.argv[1]))
body = np.load(sys.argv[2])
opened.predict(body[:1000])
timings = []
for _ in range(3):
    start = time.perf_counter()
    opened.predict(body)
    timings.append(time.perf_counter() - start)
print(len(body) / min(timings))
"""


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(root: Path, rows: int, hp: dict[str, str]) -> dict[str, object]:
    channels = prepare(root, rows)
    model_dir, out_dir = root / "model", root / "out"
    args = json.dumps([{k: str(v) for k, v in channels.items()}, str(model_dir), str(out_dir), hp])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", TRAIN_CHILD, args], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_kib, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
    report = json.loads((out_dir / "evaluation.json").read_text())
    start = time.perf_counter()
    tarball = root / "model.tar.gz"
    subprocess.run(["tar", "czf", str(tarball), "-C", str(model_dir), "."], check=True)
    gzip_s = time.perf_counter() - start

    cold = subprocess.run(
        [sys.executable, "-c", OPEN_CHILD, str(model_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        "rows": rows,
        "hyperparameters": report["hyperparameters"],
        "train_wall_s": round(wall, 1),
        # CPU seconds of the job (all threads): on a shared machine, wall time overstates.
        "train_cpu_s": round(cpu, 1),
        "peak_rss_mib": round(max(peak_kib, before) / 1024),
        "model_folder_mb": round(folder_bytes(model_dir) / 1e6, 1),
        "tar_gz_mb": round(tarball.stat().st_size / 1e6, 1),
        "gzip_s": round(gzip_s, 1),
        "validation_rmse": round(report["metrics"]["validation"]["rmse"], 4),
        "cold_start_s": round(float(cold[0]), 2),
        "engine": cold[1],
        "model_dir": str(model_dir),
    }


def serving_rows_per_s(model_dirs: list[str], body_file: Path, rounds: int) -> list[list[float]]:
    """Rows/s of each model, measured in ``rounds`` rounds that take the models in turn, so a
    burst of load elsewhere on the machine falls on all of them alike."""
    figures: list[list[float]] = [[] for _ in model_dirs]
    for _ in range(rounds):
        for i, model_dir in enumerate(model_dirs):
            out = subprocess.run(
                [sys.executable, "-c", SERVE_CHILD, model_dir, str(body_file)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures[i].append(float(out))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="278,10000,100000,1000000")
    parser.add_argument("-H", dest="hyperparameter", action="append", default=[])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="serving measurements per model")
    args = parser.parse_args()
    hp = dict(pair.split("=", 1) for pair in args.hyperparameter)
    out = args.out or Path(tempfile.mkdtemp(prefix="size-"))
    results = []
    for rows in (int(r) for r in args.rows.split(",")):
        results.append(measure(out / f"rows-{rows}", rows, hp))
        print(json.dumps(results[-1]), flush=True)

    from mpg_core.schema import FEATURES

    body_file = out / "body.npy"
    np.save(body_file, generate(FIVE_MB_ROWS, 9)[list(FEATURES)].to_numpy(dtype=np.float64))
    figures = serving_rows_per_s([str(r["model_dir"]) for r in results], body_file, args.rounds)
    smallest = float(np.median(figures[0]))
    for result, rates in zip(results, figures, strict=True):
        median = float(np.median(rates))
        print(
            json.dumps(
                {
                    "rows": result["rows"],
                    "serving_rows_per_s_median": round(median),
                    "serving_rows_per_s_range": [round(min(rates)), round(max(rates))],
                    # The goal: within 2x of the first (smallest) table's model.
                    "slower_than_first": round(smallest / median, 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
