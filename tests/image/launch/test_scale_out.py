"""Processing on 1, 2 and 3 instances through the real launcher: ``data --shards 3``, then
``preprocess --local`` on the engine with the project's image, S3 on moto. What lands in S3
must be every input row exactly once, with the one-instance values, and one preprocessor."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from mpg_core import dataset
from mpg_core.artifact.files import read_manifest, unpack_model_tarball
from mpg_launch.cli.main import main
from tests.helpers.launch import containers_of

REGION = "us-east-1"
FILES_PER_SPLIT = 3
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture
def env(bucket: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    state = tmp_path / "state"
    yield {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    for name in containers_of(state):  # only what this test started
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def objects(bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k: s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}


def features(bucket: str, job: str, split: str) -> dict[str, bytes]:
    """A split's feature files; the schema copy the job writes beside them (once, whatever
    the number of hosts) is checked and left out."""
    found = objects(bucket, f"{job}/features/{split}/")
    schema = json.loads(found.pop(f"{job}/features/{split}/schema.json"))
    assert schema["target"] == "mpg"
    return found


def rows(bodies: dict[str, bytes]) -> Counter[str]:
    """The data lines of headered CSV objects, as a multiset of exact text."""
    found: Counter[str] = Counter()
    for body in bodies.values():
        found.update(body.decode().splitlines()[1:])
    return found


def fingerprints(lines: list[str]) -> list[str]:
    """The preprocessor sha256 each host logged (lines are ``[algo-i] {json}`` with several
    hosts, bare JSON with one)."""
    found = []
    for line in lines:
        text = line.split("] ", 1)[-1]
        if '"fitted preprocessor"' in text:
            found.append(json.loads(text)["estimator_sha256"])
    return found


def preprocess(env: dict[str, str], tmp_path: Path, count: int) -> list[str]:
    config = tmp_path / f"processing-{count}.toml"
    config.write_text(f"[instances.processing]\ncount = {count}\n")
    lines: list[str] = []
    argv = ["preprocess", "--local", "--job-name", f"prep-{count}", "--config", str(config)]
    assert main(argv, env=env, out=lines.append) == 0, lines[-10:]
    return lines


def test_processing_on_n_instances_writes_every_row_once_with_one_preprocessor(
    env: dict[str, str], bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "--shards", str(FILES_PER_SPLIT)], env=env, out=lambda s: None) == 0
    raw = {s: rows(objects(bucket, f"mpg/data/bronze/{s}/")) for s in dataset.SPLITS}
    logged = {count: preprocess(env, tmp_path, count) for count in (1, 2, 3)}

    reference = {s: rows(features(bucket, "mpg/preprocess/prep-1", s)) for s in raw}
    splits = dataset.split(dataset.load_auto_mpg())
    for split, frame in splits.items():  # one feature row per raw row, one instance
        assert sum(raw[split].values()) == sum(reference[split].values()) == len(frame)
    (sha,) = fingerprints(logged[1])
    for count in (2, 3):
        job = f"mpg/preprocess/prep-{count}"
        for split in dataset.SPLITS:
            written = features(bucket, job, split)
            # One file per host (three files, so every host has some), named after the host.
            assert sorted(written) == [
                f"{job}/features/{split}/{split}-algo-{i}.csv" for i in range(1, count + 1)
            ]
            assert sum(rows(written).values()) == sum(raw[split].values())
            assert rows(written) == reference[split]
        # Every host fitted the one-instance preprocessor; it was saved once.
        assert fingerprints(logged[count]) == [sha] * count
        (tarball,) = objects(bucket, f"{job}/preprocessor/").items()
        assert tarball[0] == f"{job}/preprocessor/model.tar.gz"
        (tmp_path / f"{count}.tar.gz").write_bytes(tarball[1])
        unpacked = unpack_model_tarball(tmp_path / f"{count}.tar.gz", tmp_path / f"p{count}")
        manifest = read_manifest(unpacked)
        assert manifest["estimator_sha256"] == sha
        assert manifest["fitted_on_rows"] == sum(raw["train"].values())

    # Training on these features stays on one instance (tests/contract trains on them).
    two = tmp_path / "training.toml"
    two.write_text("[instances.training]\ncount = 2\n")
    refused = ["train", "--dry-run", "--preprocessing-job", "prep-3", "--config", str(two)]
    assert main(refused, env=env, out=lambda s: None) == 2
    assert "a random forest trains on one instance" in capsys.readouterr().err
