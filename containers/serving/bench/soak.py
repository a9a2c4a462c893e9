"""Soak the serving image: 10 minutes at 32 connections; report errors and memory growth.

    uv run python containers/serving/bench/soak.py [--minutes 10] [--connections 32]
        [--image mpg-serving:latest] [--model-dir DIR] [--port 18091]

Requests alternate between wrk runs of 1-row and 100-row CSV bodies (one wrk run per minute,
so memory is sampled between them). Exits 1 if any request failed or a worker was replaced.
Not part of CI's default run (`make soak`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import random_rows, start, train_model, wrk


def worker_pids(name: str) -> set[str]:
    out = subprocess.run(
        ["docker", "top", name, "-o", "pid,args"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]
    return {line.split()[0] for line in out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="mpg-serving:latest")
    parser.add_argument("--model-dir")
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=18091)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mpg-soak-"))
    model_dir = Path(args.model_dir) if args.model_dir else train_model(work / "train")
    bodies = [work / "1-row.csv", work / "100-row.csv"]
    bodies[0].write_text(random_rows(1, 1))
    bodies[1].write_text(random_rows(100, 2))

    container, _ = start(args.image, model_dir, args.port, None, "host")
    try:
        time.sleep(3)  # /ping answers with the first worker; let all of them start
        pids = worker_pids(container.name)
        start_mib = container.memory_mib()
        print(f"minute | requests | errors | memory MiB (start {start_mib:.0f})", flush=True)
        total = errors = 0
        for minute in range(args.minutes):
            r = wrk(args.port, bodies[minute % 2], args.connections, 60)
            failed = int(
                r["connect_errors"]
                + r["read_errors"]
                + r["write_errors"]
                + r["status_errors"]
                + r["timeouts"]
            )
            total += int(r["requests"])
            errors += failed
            print(
                f"{minute + 1:6d} | {int(r['requests']):8d} | {failed:6d} | "
                f"{container.memory_mib():.0f}",
                flush=True,
            )
        end_mib = container.memory_mib()
        replaced = pids != worker_pids(container.name)
    finally:
        subprocess.run(["docker", "rm", "-f", container.name], capture_output=True)
    print(
        f"\n{total} requests, {errors} errors, memory {start_mib:.0f} -> {end_mib:.0f} MiB "
        f"({end_mib - start_mib:+.0f} MiB), workers replaced: {replaced}"
    )
    return 1 if errors or replaced else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
