"""Benchmark big bodies through the serving image, as an asynchronous endpoint sends them.

    uv run python containers/serving/bench/big_body_bench.py [--image mpg-serving:latest]
        [--sizes-mb 50 200 1024] [--model-dir DIR] [--port 18091]

Two containers of the image, one after the other, each with a 100-tree pipeline model
(trained in-process unless --model-dir):

1. real-time (no async settings): a 5 MB CSV body, the largest class of request a real-time
   endpoint takes; its rows/s is the baseline;
2. asynchronous (MPG_ASYNC_MAX_PAYLOAD_MB=1024, SAGEMAKER_MODEL_SERVER_TIMEOUT=3600, as
   ``deploy --async`` sets them): 5 MB again, then each of --sizes-mb, streamed from a file on
   disk to /invocations and the answer read and counted as it arrives (the client holds
   neither), as SageMaker's async front end streams S3 to the container.

For each body: seconds, rows/s, and the container's memory: its working set (cgroup usage
less inactive page cache, as ``docker stats`` shows it) sampled every 20 ms, peak above the
idle reading taken just before the request; and the cgroup's own peak (memory.max_usage_in_bytes
on cgroup v1, memory.peak on v2, reset before each request where the kernel allows), which
also counts page cache. Bodies repeat a 4 MB block of distinct random rows: the server caches
nothing, so repeats cost what new rows cost.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import Container, cgroup_dirs, ping, random_rows, train_model  # noqa: E402

MB = 1024 * 1024
BLOCK_ROWS = 180_000  # ~4 MB of CSV


def start(image: str, model_dir: Path, port: int, env: dict[str, str]) -> Container:
    name = f"mpg-bigbody-{os.getpid()}-{port}"
    flags = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    cid = subprocess.run(
        [
            "docker", "run", "-d", "--name", name, "--network", "host",
            "-e", f"SAGEMAKER_BIND_TO_PORT={port}", *flags,
            "-v", f"{model_dir.resolve()}:/opt/ml/model:ro", image, "serve",
        ],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    deadline = time.monotonic() + 90
    while not ping(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name}: no /ping 200 within 90 s")
        time.sleep(0.05)
    cpu, mem, v2 = cgroup_dirs(cid)
    return Container(name, cpu, mem, v2)


def stop(container: Container) -> None:
    subprocess.run(["docker", "rm", "-f", container.name], check=True, capture_output=True)


def cgroup_peak_mib(container: Container) -> float | None:
    path = container.cgroup_mem / (
        "memory.peak" if container.cgroup_v2 else "memory.max_usage_in_bytes"
    )
    try:
        return int(path.read_text()) / MB
    except (OSError, ValueError):
        return None


def reset_cgroup_peak(container: Container) -> None:
    path = container.cgroup_mem / (
        "memory.peak" if container.cgroup_v2 else "memory.max_usage_in_bytes"
    )
    # Not allowed everywhere (or an older kernel): the reading then spans the container's life.
    with contextlib.suppress(OSError):
        path.write_text("0")


def make_body(folder: Path, size_mb: int, block: bytes) -> tuple[Path, int]:
    """A file of whole lines, about ``size_mb`` MiB, repeating ``block``; (path, rows)."""
    path = folder / f"body-{size_mb}mb.csv"
    rows_per_block = block.count(b"\n")
    blocks, rest = divmod(size_mb * MB, len(block))
    tail = block[: block.rfind(b"\n", 0, rest) + 1] if rest else b""
    with path.open("wb") as f:
        for _ in range(blocks):
            f.write(block)
        f.write(tail)
    return path, blocks * rows_per_block + tail.count(b"\n")


def post(port: int, path: Path, timeout: float) -> tuple[int, int, float]:
    """Stream ``path`` to /invocations; (status, answer lines, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, blocksize=MB)
    began = time.monotonic()
    with path.open("rb") as body:
        connection.request(
            "POST",
            "/invocations",
            body=body,
            headers={"Content-Type": "text/csv", "Accept": "text/csv",
                     "Content-Length": str(path.stat().st_size)},
        )  # fmt: skip
        response = connection.getresponse()
        lines = 0
        while chunk := response.read(MB):
            lines += chunk.count(b"\n")
    seconds = time.monotonic() - began
    connection.close()
    return response.status, lines, seconds


def measure(container: Container, port: int, path: Path, rows: int) -> dict[str, object]:
    time.sleep(1)  # let the last request's memory settle before the idle reading
    idle = container.memory_mib()
    reset_cgroup_peak(container)
    peak = [idle]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], container.memory_mib())
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        status, lines, seconds = post(port, path, timeout=3600)
    finally:
        done.set()
        sampler.join()
    if status != 200 or lines != rows:
        raise RuntimeError(f"{path.name}: status {status}, {lines} answers for {rows} rows")
    cgroup = cgroup_peak_mib(container)
    return {
        "body MiB": round(path.stat().st_size / MB, 1),
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows/s": round(rows / seconds),
        "idle MiB": round(idle),
        "peak above idle MiB": round(peak[0] - idle),
        "cgroup peak MiB (with page cache)": round(cgroup) if cgroup is not None else "n/a",
    }


def table(rows: list[dict[str, object]]) -> None:
    header = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in header]
    print(" | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(r[h]).rjust(w) for h, w in zip(header, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="mpg-serving:latest")
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[50, 200, 1024])
    parser.add_argument("--model-dir", type=Path)
    # A free port: the container shares the host's network with whatever else runs there.
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--repeat", type=int, default=3, help="5 MB runs; the best counts")
    parser.add_argument("--workers", type=int, help="SAGEMAKER_MODEL_SERVER_WORKERS")
    args = parser.parse_args(argv)
    if not args.port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            args.port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="mpg-bigbody-") as tmp:
        root = Path(tmp)
        model_dir = args.model_dir or train_model(root / "train")
        block = random_rows(BLOCK_ROWS, 7).encode()
        workers = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)} if args.workers else {}
        results: list[dict[str, object]] = []
        five, five_rows = make_body(root, 5, block)

        container = start(args.image, model_dir, args.port, workers)
        try:
            post(args.port, five, 60)  # warm-up
            runs = [measure(container, args.port, five, five_rows) for _ in range(args.repeat)]
            results.append({"mode": "real-time", **max(runs, key=lambda r: r["rows/s"])})
        finally:
            stop(container)

        env = {"MPG_ASYNC_MAX_PAYLOAD_MB": "1024", "SAGEMAKER_MODEL_SERVER_TIMEOUT": "3600"}
        container = start(args.image, model_dir, args.port, env | workers)
        try:
            post(args.port, five, 60)
            runs = [measure(container, args.port, five, five_rows) for _ in range(args.repeat)]
            results.append({"mode": "async", **max(runs, key=lambda r: r["rows/s"])})
            for size in args.sizes_mb:
                path, rows = make_body(root, size, block)
                results.append({"mode": "async", **measure(container, args.port, path, rows)})
                path.unlink()
        finally:
            stop(container)
    table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
