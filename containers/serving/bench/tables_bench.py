"""Real tables on the fast path: the serving image on a generated table with text categories,
an ordinal, a ~60-level category and missing values (tests/tables.py ``shop``), the four
families, both tasks, against Auto MPG in the same run.

    uv run python containers/serving/bench/tables_bench.py [--image mpg-serving:latest]
        [--duration 5] [--runs 2] [--workers 2] [--families random_forest,...]

Every model is made by the project's own jobs (preprocessing with the schema ``init`` infers
for the table, then training with ``algorithm`` set, 100 trees/iterations), served by the image
(``--workers`` gunicorn workers, the machine's cores) and driven with wrk
(containers/serving/bench/bench.py's machinery): one-row requests at 8 connections (req/s),
100-row requests at 8 (rows/s) and ~5 MB bodies at 2 (rows/s; the table's own file layout:
its header line, the id and the target included), cold start (docker start -> first /ping 200)
and idle memory, and the container's CPU per row in each scenario (cgroup counter). Each model
is measured right after Auto MPG, and each figure is also given as the ratio to that
measurement (cold start, memory and CPU inverted, so above 1 is better); with ``--runs 2``
the range over the runs. The machine may be shared: quote the ratios, and prefer the CPU
ratios, which other load changes least. Figures printed, not tested.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[2]))  # the repository root, for tests/tables.py

import bench  # noqa: E402  (containers/serving/bench/bench.py)

FAMILIES = ("random_forest", "extra_trees", "gradient_boosting", "hist_gradient_boosting")
# Auto MPG's size (398 rows): trees grow with the rows they are fitted on, and the walk's cost
# with the trees, so equal sizes compare what the table's text, ordinal and many-level columns
# cost; --train-rows 3000 shows what a bigger table's deeper trees cost on top.
TRAIN_ROWS = 398
SCENARIOS = (("1-row", 8, "req/s"), ("100-row", 8, "rows/s"), ("5MB", 2, "rows/s"))


def train_table(root: Path, task: str, algorithm: str, rows: int = TRAIN_ROWS) -> Path:
    """A pipeline artifact for the shop table (``task``), fitted by the project's jobs."""
    from mpg_core import dataset
    from mpg_core.hyperparameters import Hyperparameters
    from mpg_core.table_schema import infer_schema
    from tests.tables import shop

    table = shop(rows=rows, task=task, seed=1)
    path = table.write(root / "table")
    frame = dataset.read_table(path)
    schema, _ = infer_schema(frame, table.target, name=table.name)
    dataset.write_splits(dataset.split_table(frame, schema), root / "bronze")
    hp = Hyperparameters(algorithm=algorithm, n_estimators=100)
    return bench.fit_pipeline(root, schema, hp)


def shop_bodies(task: str) -> dict[str, str]:
    """Requests as a client sends the table's rows: one and 100 rows in the model's input
    order (no header), and ~5 MB of the table file itself (header, id and target)."""
    from tests.tables import shop

    big = shop(rows=bench.FIVE_MB // 40, task=task, seed=7).frame
    text = big.to_csv(index=False)
    cut = text[: int(bench.FIVE_MB * 0.95)]
    body = cut[: cut.rfind("\n") + 1]
    features = big.drop(columns=["order_id", big.columns[-1]])
    rows = features.to_csv(index=False, header=False).splitlines()
    return {
        "1-row": rows[0] + "\n",
        "100-row": "\n".join(rows[1:101]) + "\n",
        "5MB": body,
    }


def auto_mpg_bodies() -> dict[str, str]:
    return {
        "1-row": bench.random_rows(1, 1),
        "100-row": bench.random_rows(100, 2),
        "5MB": bench.dataset_rows(bench.rows_for_bytes(bench.FIVE_MB * 0.95)),
    }


def measure(
    args: argparse.Namespace,
    model_dir: Path,
    bodies: dict[str, str],
    work: Path,
    headed: frozenset[str] = frozenset(),
) -> dict[str, float]:
    """One model's figures; ``headed``: the bodies whose first line is a header (no row)."""
    files = {}
    for label, text in bodies.items():
        files[label] = work / f"{model_dir.parent.name}-{label}.csv"
        files[label].write_text(text)
    container, cold = bench.start(args.image, model_dir, args.port, args.workers, "host")
    out: dict[str, float] = {"cold s": cold}
    try:
        time.sleep(2)  # let start-up settle before reading idle memory
        out["idle MiB"] = container.memory_mib()
        for label, connections, unit in SCENARIOS:
            bench.wrk(args.port, files[label], connections, 1)  # warm-up
            # A 5 MB request takes up to seconds on a loaded machine: a longer window, so
            # enough of them complete inside it.
            duration = args.duration if label != "5MB" else max(args.duration, 10)
            before = container.cpu_ns()
            r = bench.wrk(args.port, files[label], connections, duration)
            cpu_ns = container.cpu_ns() - before
            errors = sum(
                int(r[k])
                for k in ("connect_errors", "read_errors", "write_errors", "status_errors")
            )
            if errors + int(r["timeouts"]):
                raise RuntimeError(f"{model_dir}: {label}: {errors} errors")
            seconds = r["duration_us"] / 1e6
            rows = bodies[label].count("\n") - (label in headed)
            per_second = r["requests"] / seconds
            out[f"{label} {unit}"] = per_second if unit == "req/s" else per_second * rows
            # The container's CPU per row: what the load of other processes changes least.
            out[f"{label} CPU us/row"] = cpu_ns / 1e3 / max(r["requests"] * rows, 1)
    finally:
        import subprocess

        subprocess.run(["docker", "rm", "-f", container.name], capture_output=True)
    return out


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="tables-bench-"))
    families = args.families.split(",")
    models: dict[str, tuple[Path, dict[str, str], frozenset[str]]] = {
        "auto_mpg random_forest": (
            bench.train_model(work / "auto_mpg"),
            auto_mpg_bodies(),
            frozenset(),
        )
    }
    for task in ("regression", "classification"):
        bodies = shop_bodies(task)
        for family in families:
            root = work / f"shop_{task}_{family}"
            model_dir = train_table(root, task, family, args.train_rows)
            models[f"shop {task[:5]}. {family}"] = (model_dir, bodies, frozenset({"5MB"}))
    # Each model is measured right after Auto MPG, and compared with that measurement: on a
    # shared machine the load changes within minutes, far more than between two neighbours.
    reference = "auto_mpg random_forest"
    runs: list[dict[str, tuple[dict[str, float], dict[str, float]]]] = []
    for number in range(args.runs):
        pairs = {}
        for name, (model_dir, bodies, headed) in models.items():
            if name == reference:
                continue
            auto_dir, auto_bodies, _ = models[reference]
            ref = measure(args, auto_dir, auto_bodies, work)
            got = measure(args, model_dir, bodies, work, headed)
            pairs[name] = (ref, got)
            print(f"run {number + 1}: {name}: {got}\n  Auto MPG just before: {ref}", flush=True)
        runs.append(pairs)
    print_report(runs)
    return 0


def _span(values: list[float], fmt: Callable[[float], str]) -> str:
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}-{fmt(high)}"


def _lower_is_better(key: str) -> bool:
    return key in ("cold s", "idle MiB") or "CPU" in key


def print_report(runs: list[dict[str, tuple[dict[str, float], dict[str, float]]]]) -> None:
    """One line per model: each figure's range over the runs, and (in brackets) the range of
    its ratio to Auto MPG's measurement just before it (above 1: better than Auto MPG)."""
    names = list(runs[0])
    keys = list(runs[0][names[0]][1])

    def number(v: float) -> str:
        return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"

    def ratio(key: str, got: float, ref: float) -> float:
        low, high = (got, ref) if _lower_is_better(key) else (ref, got)
        return high / low if low > 0 else float("inf")

    head = ["model", *keys]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    auto = [[pair[0][key] for r in runs for pair in r.values()] for key in keys]
    print("| Auto MPG (every pair) | " + " | ".join(_span(v, number) for v in auto) + " |")
    all_ratios: dict[str, list[float]] = {key: [] for key in keys}
    for name in names:
        cells = [name]
        for key in keys:
            values = [r[name][1][key] for r in runs]
            ratios = [ratio(key, r[name][1][key], r[name][0][key]) for r in runs]
            all_ratios[key] += ratios
            cells.append(f"{_span(values, number)} ({_span(ratios, lambda x: f'{x:.2f}')})")
        print("| " + " | ".join(cells) + " |")
    print("\nratio to Auto MPG per figure, over every model and run: median [min-max]")
    for key, ratios in all_ratios.items():
        print(f"  {key}: {float(np.median(ratios)):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
    print(f"runs: {len(runs)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="mpg-serving:latest")
    parser.add_argument("--duration", type=int, default=5, help="seconds per scenario")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--port", type=int, default=18091)
    parser.add_argument("--workers", type=int, default=2, help="SAGEMAKER_MODEL_SERVER_WORKERS")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--train-rows", type=int, default=TRAIN_ROWS, help="the shop table's rows")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
