"""Benchmark the monitoring job: N captured records (default 1,000,000, CSV bodies as the
endpoint captures them) checked against a baseline, records per second and peak memory.

    uv run python containers/preprocessing/bench/monitor_bench.py [--records N] [--runs K]

The capture files are written once into a temporary folder (not timed); each run is the job
in a fresh process (``monitor``), timed from start to exit, its peak resident memory read
from ``resource.getrusage(RUSAGE_CHILDREN)``. A reference pass over the same files (reading
and ``json.loads`` of every line, nothing else) runs in the same process before the job, so
figures from a loaded machine can be read as a ratio to it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mpg_core import dataset
from mpg_core.monitoring.baseline import constraints_for, table_statistics, with_predictions
from mpg_core.table_schema import default_schema

FILES = 8


def write_inputs(root: Path, records: int) -> None:
    schema = default_schema()
    table = dataset.load_auto_mpg()
    columns = list(schema.feature_columns)
    baseline = root / "processing/input/baseline"
    baseline.mkdir(parents=True)
    stats = table_statistics(table, columns, schema.names("categorical"))
    stats = with_predictions(stats, table["mpg"].to_numpy(), classification=False)
    constraints = constraints_for(stats, "regression", {"rmse": 2.2}, "test")
    (baseline / "statistics.json").write_text(json.dumps(stats))
    (baseline / "constraints.json").write_text(json.dumps(constraints))
    manifest = {
        "kind": "pipeline",
        "input_columns": columns,
        "task": "regression",
        "schema": schema.as_dict(),
    }
    (baseline / "artifact.json").write_text(json.dumps(manifest))
    rng = np.random.default_rng(0)
    rows = table[columns].sample(records, replace=True, random_state=0).reset_index(drop=True)
    rows["weight"] = rows["weight"] * rng.normal(1.0, 0.05, records)
    cells = rows.astype(str).replace({"nan": ""}).reset_index(drop=True)
    bodies = cells.iloc[:, 0].str.cat(cells.iloc[:, 1:], sep=",", na_rep="")
    answers = table["mpg"].sample(records, replace=True, random_state=1).astype(str).to_numpy()
    capture = root / "processing/input/capture/ep/AllTraffic/2026/12/07/09"
    capture.mkdir(parents=True)
    prefix = (
        '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
    )
    middle = (
        '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv; '
        'charset=utf-8","mode":"OUTPUT","data":"'
    )
    suffix = '\\n","encoding":"CSV"}},"eventMetadata":{"eventId":"'
    ids = pd.Series(np.arange(records)).astype(str)
    lines = (
        prefix
        + bodies
        + middle
        + answers
        + suffix
        + ids
        + '","inferenceTime":"2026-12-07T09:30:00Z"},"eventVersion":"0"}'
    )
    for k, part in enumerate(np.array_split(lines.astype(str).to_numpy(), FILES)):
        (capture / f"part-{k}.jsonl").write_text("\n".join(part) + "\n")


def reference_pass(root: Path) -> float:
    start = time.perf_counter()
    for path in sorted((root / "processing/input/capture").rglob("*.jsonl")):
        with path.open("rb") as f:
            for line in f:
                json.loads(line)
    return time.perf_counter() - start


# Measures its one child: forked from this (large) process, a child's RSS would count our
# pages until it execs, so a small interpreter starts the job and reports the job's peak.
_MEASURE = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run_job(root: Path) -> tuple[float, float]:
    monitor = str(Path(sys.executable).with_name("monitor"))
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(root)}
    command = [sys.executable, "-c", _MEASURE, monitor, "--no-metrics", "--log-level", "WARNING"]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kib = int(done.stdout.strip().splitlines()[-1])
    return seconds, peak_kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_inputs(root, args.records)
        size = sum(p.stat().st_size for p in root.rglob("*.jsonl")) / 2**20
        print(f"{args.records} records, {size:.0f} MiB of capture in {FILES} files")
        for run in range(args.runs):
            reference = reference_pass(root)
            seconds, peak_mib = run_job(root)
            print(
                f"run {run + 1}: {args.records / seconds:,.0f} records/s ({seconds:.1f} s), "
                f"peak RSS {peak_mib:.0f} MiB; reference json.loads pass {reference:.1f} s "
                f"(job/reference {seconds / reference:.2f})",
                flush=True,
            )
        violations = json.loads(
            (root / "processing/output/report/constraint_violations.json").read_text()
        )
        print("violations:", sorted({v["feature_name"] for v in violations["violations"]}))


if __name__ == "__main__":
    main()
