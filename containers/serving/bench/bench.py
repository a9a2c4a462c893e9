"""Benchmark the serving image: start it, drive /invocations with wrk, print one table.

    uv run python containers/serving/bench/bench.py [--image mpg-serving:latest]
        [--model-dir DIR] [--duration 10] [--port 18090] [--workers N]
        [--classifier-model-dir DIR | --no-classifier | --classifier-only]

Without --model-dir a 100-tree pipeline is trained in-process into a temporary folder (the
same jobs the images run); then, likewise, a 100-tree iris classifier (string labels, from the
table's CSV and its schema), answering labels (CSV) and probabilities (JSON). Server CPU per
request comes from the container's cgroup CPU counter read before and after each run, so it
counts every process of the container (the gunicorn master, the workers, the kernel's TCP work
on their behalf) and nothing else.
Run it on a quiet machine: other load costs 30-40%.

The container runs on the host's network (``--network host``, the server bound to --port via
SAGEMAKER_BIND_TO_PORT) and wrk talks to 127.0.0.1: a published port (``-p``) would put
Docker's userland proxy, a second process copying every byte on the same two cores, between
the two. SageMaker's front end reaches the container directly, so that proxy is not part of
the cost being measured (``--network bridge`` keeps it, for comparison).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
LUA = HERE / "post.lua"
FIVE_MB = 5 * 1024 * 1024


def fit_pipeline(root: Path, schema: Any = None, hyperparameters: Any = None) -> Path:
    """The project's own jobs on the splits under ``root/bronze`` (as in tests/conftest.py):
    preprocessing with ``schema`` (default: Auto MPG's), then training with ``hyperparameters``
    (default: 100 trees); returns the pipeline artifact's folder."""
    from mpg_core.hyperparameters import Hyperparameters
    from mpg_preprocessing.job import PreprocessConfig
    from mpg_preprocessing.job import run as preprocess
    from mpg_training.job import TrainConfig
    from mpg_training.job import run as train

    preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
            **({"schema": schema} if schema is not None else {}),
        )
    )
    train(
        TrainConfig(
            channels={"train": root / "features/train", "preprocessor": root / "preprocessor"},
            model_dir=root / "model",
            output_data_dir=root / "out",
            hyperparameters=hyperparameters or Hyperparameters(n_estimators=100),
        )
    )
    return root / "model"


def train_model(root: Path) -> Path:
    """A 100-tree Auto MPG pipeline artifact."""
    from mpg_core import dataset

    dataset.write_splits(dataset.split(dataset.load_auto_mpg()), root / "bronze")
    return fit_pipeline(root)


def train_classifier(root: Path) -> Path:
    """A 100-tree iris classifier pipeline (string labels), made by the same jobs from the
    table's CSV and the schema ``mpg-launch init`` writes for it."""
    from sklearn.datasets import load_iris

    from mpg_core import dataset
    from mpg_core.table_schema import infer_schema

    iris = load_iris(as_frame=True)
    frame = iris.frame.drop(columns="target")
    frame.columns = IRIS_COLUMNS
    frame["species"] = iris.target_names[iris.target]
    schema, _ = infer_schema(frame, "species", "classification", name="iris")
    dataset.write_splits(dataset.split(frame), root / "bronze")
    return fit_pipeline(root, schema)


IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_rows(n: int, seed: int) -> str:
    """Distinct random iris measurements (cm), one decimal, as a client sends them."""
    rng = np.random.default_rng(seed)
    low, high = np.array([4.3, 2.0, 1.0, 0.1]), np.array([7.9, 4.4, 6.9, 2.5])
    values = rng.uniform(low, high, (n, 4))
    return "".join(",".join(f"{v:.1f}" for v in row) + "\n" for row in values)


def random_rows(n: int, seed: int) -> str:
    """Distinct valid raw rows spread over the data's ranges (no repeats the server could
    cache), written as a client would: integers where the data has integers."""
    rng = np.random.default_rng(seed)
    cols = [
        rng.choice([3, 4, 5, 6, 8], n).astype(str),
        np.char.mod("%.1f", rng.uniform(68, 455, n)),
        np.char.mod("%.0f", rng.uniform(46, 230, n)),
        np.char.mod("%.0f", rng.uniform(1613, 5140, n)),
        np.char.mod("%.1f", rng.uniform(8, 24.8, n)),
        rng.integers(70, 83, n).astype(str),
        rng.integers(1, 4, n).astype(str),
    ]
    lines = [",".join(parts) for parts in zip(*cols, strict=True)]
    return "\n".join(lines) + "\n"


def dataset_rows(n: int) -> str:
    """The Auto MPG file's own rows (complete ones), cycled to ``n``: what a batch transform
    of the data set sends."""
    from mpg_core import dataset
    from mpg_core.schema import FEATURES

    frame = dataset.load_auto_mpg()[list(FEATURES)].dropna()
    lines = frame.to_csv(header=False, index=False).splitlines()
    return "\n".join(lines[i % len(lines)] for i in range(n)) + "\n"


def rows_for_bytes(target: int) -> int:
    sample = random_rows(1000, 0)
    return int(target / (len(sample) / 1000))


@dataclass
class Container:
    name: str
    cgroup_cpu: Path
    cgroup_mem: Path
    cgroup_v2: bool

    def cpu_ns(self) -> int:
        if self.cgroup_v2:
            for line in (self.cgroup_cpu / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) * 1000
            raise RuntimeError("no usage_usec in cpu.stat")
        return int((self.cgroup_cpu / "cpuacct.usage").read_text())

    def memory_mib(self) -> float:
        """Like `docker stats`: usage less inactive page cache (file pages it can drop)."""
        if self.cgroup_v2:
            usage = int((self.cgroup_mem / "memory.current").read_text())
            key = "inactive_file"
        else:
            usage = int((self.cgroup_mem / "memory.usage_in_bytes").read_text())
            key = "total_inactive_file"
        stat = dict(
            line.split() for line in (self.cgroup_mem / "memory.stat").read_text().splitlines()
        )
        return (usage - int(stat.get(key, 0))) / 2**20


def cgroup_dirs(container_id: str) -> tuple[Path, Path, bool]:
    root = Path("/sys/fs/cgroup")
    v1_cpu = root / "cpuacct" / "docker" / container_id
    if v1_cpu.is_dir():
        return v1_cpu, root / "memory" / "docker" / container_id, False
    for candidate in (
        root / "system.slice" / f"docker-{container_id}.scope",
        root / "docker" / container_id,
    ):
        if candidate.is_dir():
            return candidate, candidate, True
    raise RuntimeError(f"cannot find the cgroup of container {container_id}")


def ping(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(
    image: str, model_dir: Path, port: int, workers: int | None, network: str
) -> tuple[Container, float]:
    """docker create, then time docker start -> first /ping 200 (the cold start)."""
    name = f"mpg-bench-{os.getpid()}"
    env = ["-e", f"SAGEMAKER_MODEL_SERVER_WORKERS={workers}"] if workers else []
    if network == "host":
        net = ["--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}"]
    else:
        net = ["-p", f"127.0.0.1:{port}:8080"]
    cid = subprocess.run(
        [
            "docker",
            "create",
            "--name",
            name,
            *net,
            "-v",
            f"{model_dir.resolve()}:/opt/ml/model:ro",
            *env,
            image,
            "serve",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    began = time.monotonic()
    subprocess.run(["docker", "start", name], check=True, capture_output=True)
    deadline = began + 60
    while not ping(port):
        if time.monotonic() > deadline:
            logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
            raise RuntimeError(f"no /ping 200 within 60 s:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.01)
    cold = time.monotonic() - began
    cpu, mem, v2 = cgroup_dirs(cid)
    return Container(name, cpu, mem, v2), cold


def wrk(
    port: int,
    body: Path,
    connections: int,
    duration: int,
    content_type: str = "text/csv",
    accept: str | None = None,
) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(min(connections, 2)),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{port}/invocations",
            "--",
            str(body),
            content_type,
            accept or "text/csv",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="mpg-bench-"))
    if args.classifier_only:
        print_table(measure_classifier(args, work))
        return 0
    model_dir = Path(args.model_dir) if args.model_dir else train_model(work / "train")
    bodies = {
        "1-row": random_rows(1, 1),
        "100-row": random_rows(100, 2),
        "5MB": dataset_rows(rows_for_bytes(FIVE_MB * 0.95)),
        "5MB-random": random_rows(rows_for_bytes(FIVE_MB * 0.95), 3),
    }
    # The same random rows as JSON Lines (one list per line): batch transform's other format.
    bodies["5MB-random-jsonl"] = "".join(f"[{line}]\n" for line in bodies["5MB-random"].split())
    files = {}
    for label, text in bodies.items():
        files[label] = work / f"{label}.csv"
        files[label].write_text(text)
    scenarios = [
        ("1-row", 1),
        ("1-row", 8),
        ("1-row", 32),
        ("100-row", 8),
        ("5MB", 2),
        ("5MB-random", 2),
        ("5MB-random-jsonl", 2),
    ]

    container, cold = start(args.image, model_dir, args.port, args.workers, args.network)
    try:
        time.sleep(2)  # let start-up settle before reading idle memory
        idle = container.memory_mib()
        results = []
        for label, connections in scenarios:
            rows = bodies[label].count("\n")
            jsonl = label.endswith("jsonl")
            kind, content_type = (
                ("JSONL", "application/jsonlines") if jsonl else ("CSV", "text/csv")
            )
            wrk(args.port, files[label], connections, 2, content_type)  # warm-up
            before = container.cpu_ns()
            r = wrk(args.port, files[label], connections, args.duration, content_type)
            cpu = container.cpu_ns() - before
            seconds = r["duration_us"] / 1e6
            errors = int(
                r["connect_errors"]
                + r["read_errors"]
                + r["write_errors"]
                + r["status_errors"]
                + r["timeouts"]
            )
            results.append(
                {
                    "scenario": f"{label.removesuffix('-jsonl')} {kind} "
                    f"({len(bodies[label]) // 1024} KiB) @ {connections}",
                    "req/s": r["requests"] / seconds,
                    "rows/s": r["requests"] * rows / seconds,
                    "p50 ms": r["p50_us"] / 1000,
                    "p99 ms": r["p99_us"] / 1000,
                    "errors": errors,
                    "CPU ms/req": cpu / 1e6 / max(r["requests"], 1),
                }
            )
        loaded = container.memory_mib()
    finally:
        subprocess.run(["docker", "rm", "-f", container.name], capture_output=True)
    if not args.no_classifier:
        results += measure_classifier(args, work)
    size = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", args.image],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print_table(results)
    print(f"\ncold start (docker start -> first /ping 200): {cold:.2f} s")
    print(f"idle memory (all workers): {idle:.0f} MiB; after the runs: {loaded:.0f} MiB")
    print(f"image size: {int(size) / 1e6:.0f} MB ({args.image}); network: {args.network}")
    return 0


def measure_classifier(args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    """The classifier's scenarios: one row and 100 rows of CSV, answered with labels, and one
    row answered in JSON (the label and every class's probability)."""
    model_dir = (
        Path(args.classifier_model_dir)
        if args.classifier_model_dir
        else train_classifier(work / "train-classifier")
    )
    bodies = {"1-row": iris_rows(1, 1), "100-row": iris_rows(100, 2)}
    files = {}
    for label, text in bodies.items():
        files[label] = work / f"iris-{label}.csv"
        files[label].write_text(text)
    scenarios = [("1-row", 1, "text/csv"), ("1-row", 8, "text/csv"), ("1-row", 32, "text/csv")]
    scenarios += [("1-row", 8, "application/json"), ("100-row", 8, "text/csv")]
    container, _ = start(args.image, model_dir, args.port, args.workers, args.network)
    results: list[dict[str, object]] = []
    try:
        for label, connections, accept in scenarios:
            wrk(args.port, files[label], connections, 2, "text/csv", accept)  # warm-up
            before = container.cpu_ns()
            r = wrk(args.port, files[label], connections, args.duration, "text/csv", accept)
            cpu = container.cpu_ns() - before
            seconds = r["duration_us"] / 1e6
            rows = bodies[label].count("\n")
            answer = "labels" if accept == "text/csv" else "JSON"
            errors = sum(
                int(r[k])
                for k in ("connect_errors", "read_errors", "write_errors", "status_errors")
            )
            results.append(
                {
                    "scenario": f"classifier {label} CSV->{answer} @ {connections}",
                    "req/s": r["requests"] / seconds,
                    "rows/s": r["requests"] * rows / seconds,
                    "p50 ms": r["p50_us"] / 1000,
                    "p99 ms": r["p99_us"] / 1000,
                    "errors": errors + int(r["timeouts"]),
                    "CPU ms/req": cpu / 1e6 / max(r["requests"], 1),
                }
            )
    finally:
        subprocess.run(["docker", "rm", "-f", container.name], capture_output=True)
    return results


def print_table(results: list[dict[str, object]], header: list[str] | None = None) -> None:
    header = header or ["scenario", "req/s", "rows/s", "p50 ms", "p99 ms", "errors", "CPU ms/req"]
    rows = [[_fmt(r[h]) for h in header] for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="mpg-serving:latest")
    parser.add_argument("--model-dir", help="an artifact folder (default: train one now)")
    parser.add_argument(
        "--classifier-model-dir", help="a classifier artifact folder (default: train one now)"
    )
    parser.add_argument("--no-classifier", action="store_true", help="skip the classifier")
    parser.add_argument(
        "--classifier-only", action="store_true", help="only the classifier's scenarios"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--workers", type=int, help="SAGEMAKER_MODEL_SERVER_WORKERS")
    parser.add_argument(
        "--network",
        choices=["host", "bridge"],
        default="host",
        help="host: wrk reaches the server directly; bridge: through Docker's published port",
    )
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
