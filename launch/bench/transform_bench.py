"""Benchmark a whole local batch transform job: rows/s at 1, 2 and 3 instances.

    uv run python launch/bench/transform_bench.py [--image-tag latest]
        [--rows 1500000] [--files 6] [--hosts 1 2 3] [--max-payload-mb 6]

It starts a moto server on 127.0.0.1 (S3 and nothing else is needed from AWS), trains a
100-tree pipeline in-process (the jobs the images run), uploads it and ``--files`` CSV objects
holding ``--rows`` distinct random rows in all, then runs ``mpg-launch transform --local``
once per instance count, as a user would. Each job's outputs are checked (one line per input
line, the same bytes at every instance count) and one table is printed: the whole job, its
instances' start-up (request to every instance passing its ping check) and its transform
(first request to last ``.out``). On a 2-core machine every instance shares the same two
cores, so more instances add start-up and contention, not CPU: the figures say what the
emulator and the image cost, not what SageMaker's separate instances would give.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

# The serving benchmark's helpers (a model trained by the images' own jobs, random rows, the
# table): this benchmark of the launcher uses the images' code, never the other way round.
SERVING_BENCH = Path(__file__).resolve().parents[2] / "containers" / "serving" / "bench"
sys.path.insert(0, str(SERVING_BENCH))

from bench import print_table, random_rows, train_model  # noqa: E402

REGION = "us-east-1"
BUCKET = "mpg-transform-bench"
MODEL = "mpg-transform-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2).close()
            return process
        except OSError:
            if time.monotonic() > deadline:
                process.terminate()
                raise RuntimeError("moto_server did not start within 30 s") from None
            time.sleep(0.2)


def upload_inputs(s3: Any, rows: int, files: int) -> dict[str, int]:
    """``files`` objects of about ``rows / files`` rows each (sizes differ by up to 50%, as
    real shards do); returns key -> rows."""
    weights = [1 + (i % 3) / 4 for i in range(files)]
    counts = [int(rows * w / sum(weights)) for w in weights]
    counts[-1] += rows - sum(counts)
    written = {}
    for index, count in enumerate(counts):
        key = f"in/part-{index:03d}.csv"
        s3.put_object(Bucket=BUCKET, Key=key, Body=random_rows(count, 100 + index).encode())
        written[key] = count
    return written


def register_model(env: dict[str, str], model_dir: Path, work: Path) -> None:
    from mpg_launch.cli.clients import local_clients
    from mpg_launch.endpoint import requests as endpoint_requests
    from mpg_launch.settings.config import load_config

    tarball = work / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    config = load_config(env=env, overrides={"local": True})
    clients = local_clients(config, out=lambda s: None)
    clients.s3.upload_file(str(tarball), BUCKET, "model/model.tar.gz")
    request = endpoint_requests.model_request(config, MODEL, f"s3://{BUCKET}/model/model.tar.gz")
    clients.sagemaker.create_model(**request)


def describe(env: dict[str, str], job: str) -> dict[str, Any]:
    from mpg_launch.cli.clients import local_clients
    from mpg_launch.settings.config import load_config

    clients = local_clients(load_config(env=env, overrides={"local": True}), out=lambda s: None)
    return dict(clients.sagemaker.describe_transform_job(TransformJobName=job))


def run(args: argparse.Namespace) -> int:
    from mpg_launch.cli.main import main as launch

    work = Path(tempfile.mkdtemp(prefix="mpg-transform-bench-"))
    port = free_port()
    moto = start_moto(port)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "MPG_REGION": REGION,
        "MPG_BUCKET": BUCKET,
        "MPG_LOCAL_IMAGE_TAG": args.image_tag,
        "MPG_LOCAL_STATE_DIR": str(work / "state"),
    }
    os.environ.update(env)  # boto3 in this process (the launcher's clients too) talks to moto
    try:
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        register_model(env, train_model(work / "train"), work)
        inputs = upload_inputs(s3, args.rows, args.files)
        total_bytes = sum(s3.head_object(Bucket=BUCKET, Key=k)["ContentLength"] for k in inputs)
        results, digests = [], {}
        for hosts in args.hosts:
            config = work / f"hosts-{hosts}.toml"
            config.write_text(f"[instances.transform]\ncount = {hosts}\n")
            job = f"bench-{hosts}"
            argv = ["transform", "--local", "--model", MODEL, "--job-name", job]
            argv += ["--input", f"s3://{BUCKET}/in/", "--config", str(config)]
            argv += ["--max-payload-mb", str(args.max_payload_mb)]
            cpu, began = time.process_time(), time.monotonic()
            code = launch(argv, env=env, out=lambda s: None)
            seconds, cpu = time.monotonic() - began, time.process_time() - cpu
            if code != 0:
                raise RuntimeError(f"transform at {hosts} instance(s) failed with {code}")
            digest = hashlib.sha256()
            for key, count in inputs.items():
                out_key = f"mpg/transform/{job}/{key.removeprefix('in/')}.out"
                body = s3.get_object(Bucket=BUCKET, Key=out_key)["Body"].read()
                lines = body.count(b"\n")
                if lines != count:
                    raise RuntimeError(f"{out_key}: {lines} lines for {count} rows")
                digest.update(body)
            digests[hosts] = digest.hexdigest()
            job_record = describe(env, job)
            created, began_at, ended = (
                datetime.fromisoformat(str(job_record[key]))
                for key in ("CreationTime", "TransformStartTime", "TransformEndTime")
            )
            startup, data = (began_at - created).total_seconds(), (ended - began_at).total_seconds()
            results.append(
                {
                    "instances": str(hosts),
                    "rows": f"{args.rows:,}",
                    "job s": seconds,
                    "rows/s (job)": args.rows / seconds,
                    "start-up s": startup,
                    "transform s": data,
                    "rows/s (transform)": args.rows / data,
                    "launcher CPU s": cpu,
                }
            )
    finally:
        moto.terminate()
        moto.wait(10)
    print_table(results, list(results[0]))
    same = len(set(digests.values())) == 1
    print(
        f"\n{len(inputs)} objects, {total_bytes / 2**20:.1f} MiB in, MaxPayloadInMB "
        f"{args.max_payload_mb}, image mpg-serving:{args.image_tag}; outputs identical at "
        f"every instance count: {same}"
    )
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-tag", default="latest", help="tag of mpg-serving to run")
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--max-payload-mb", type=int, default=6)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
