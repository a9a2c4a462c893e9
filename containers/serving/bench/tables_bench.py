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
and idle memory. Each figure is also given as a ratio to Auto MPG's in the same run (cold start
and memory inverted, so above 1 is better); with ``--runs 2`` the range over the runs. The
machine may be shared: quote the ratios. Figures printed, not tested.
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
    from mpg_preprocessing.job import PreprocessConfig
    from mpg_preprocessing.job import run as preprocess
    from mpg_training.job import TrainConfig
    from mpg_training.job import run as train
    from tests.tables import shop

    table = shop(rows=rows, task=task, seed=1)
    path = table.write(root / "table")
    frame = dataset.read_table(path)
    schema, _ = infer_schema(frame, table.target, name=table.name)
    dataset.write_splits(dataset.split_table(frame, schema), root / "bronze")
    preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
            schema=schema,
        )
    )
    train(
        TrainConfig(
            channels={"train": root / "features/train", "preprocessor": root / "preprocessor"},
            model_dir=root / "model",
            output_data_dir=root / "out",
            hyperparameters=Hyperparameters(algorithm=algorithm, n_estimators=100),
        )
    )
    return root / "model"


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
            r = bench.wrk(args.port, files[label], connections, args.duration)
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
    finally:
        import subprocess

        subprocess.run(["docker", "rm", "-f", container.name], capture_output=True)
    return out


def _ratio(key: str, value: float, reference: float) -> float:
    lower_is_better = key in ("cold s", "idle MiB")
    return reference / value if lower_is_better else value / reference


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
    runs: list[dict[str, dict[str, float]]] = []
    for number in range(args.runs):
        figures = {}
        for name, (model_dir, bodies, headed) in models.items():
            figures[name] = measure(args, model_dir, bodies, work, headed)
            print(f"run {number + 1}: {name}: {figures[name]}", flush=True)
        runs.append(figures)
    print_report(runs)
    return 0


def _span(values: list[float], fmt: Callable[[float], str]) -> str:
    low, high = min(values), max(values)
    return fmt(low) if fmt(low) == fmt(high) else f"{fmt(low)}-{fmt(high)}"


def print_report(runs: list[dict[str, dict[str, float]]]) -> None:
    names = list(runs[0])
    keys = list(runs[0][names[0]])
    reference = names[0]

    def number(v: float) -> str:
        return f"{v:,.0f}" if v >= 100 else f"{v:.2f}"

    head = ["model", *keys, "worst ratio"]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        cells, worst = [name], []
        for key in keys:
            values = [r[name][key] for r in runs]
            ratios = [_ratio(key, r[name][key], r[reference][key]) for r in runs]
            worst.append(min(ratios))
            cell = _span(values, number)
            if name != reference:
                cell += f" ({_span(ratios, lambda x: f'{x:.2f}')})"
            cells.append(cell)
        cells.append("" if name == reference else f"{min(worst):.2f}")
        print("| " + " | ".join(cells) + " |")
    ratios = [
        _ratio(key, r[name][key], r[reference][key])
        for r in runs
        for name in names[1:]
        for key in keys
    ]
    print(f"\nworst ratio to Auto MPG over every model, figure and run: {min(ratios):.2f}")
    print(f"median ratio: {float(np.median(ratios)):.2f}; runs: {len(runs)}")


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
