"""``mpg-launch transform --local`` on the real serving image, S3 on moto: K input objects over
1, 2 and 3 instances give byte-identical ``<key>.out`` files, one answer per input line in
order; an object with a bad row gets no ``.out`` while the others do; the DataProcessing
example (send the features, join, keep id, true mpg and the prediction) in CSV and JSON Lines;
a headered file whose id column ``--input-filter '$[1:]'`` drops, read by name."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest

from mpg_core.artifact.reader import open_artifact
from mpg_launch.cli.clients import local_clients
from mpg_launch.cli.main import main
from mpg_launch.endpoint import requests as endpoint_requests
from mpg_launch.settings.config import load_config
from tests.helpers.common import Trained
from tests.helpers.launch import containers_of

REGION = "us-east-1"
MODEL = "mpg-bt-model"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(900)]


def _rows(count: int, seed: int, line_end: str = "\n") -> str:
    """Distinct valid raw rows (7 features), a missing horsepower now and then."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        horsepower = "" if rng.random() < 0.01 else f"{rng.uniform(46, 230):.0f}"
        lines.append(
            f"{rng.choice([4, 6, 8])},{rng.uniform(68, 455):.1f},{horsepower},"
            f"{rng.uniform(1613, 5140):.0f},{rng.uniform(8, 24.8):.1f},"
            f"{rng.integers(70, 83)},{rng.integers(1, 4)}"
        )
    return line_end.join(lines) + line_end


def _expected(model_dir: Path, text: str) -> list[float]:
    """The artifact's own answers, in-process: what each line's prediction must be."""
    cells = [[float(v) if v else np.nan for v in line.split(",")] for line in text.splitlines()]
    return [float(v) for v in open_artifact(model_dir).predict(np.array(cells))]


def _put(bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket=bucket, Key=key, Body=body)


def _get(bucket: str, key: str) -> bytes:
    s3 = boto3.client("s3", region_name=REGION)
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _keys(bucket: str, prefix: str) -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"][len(prefix) :] for p in pages for o in p.get("Contents", []))


@pytest.fixture
def env(bucket: str, tmp_path: Path, trained: Trained) -> Iterator[dict[str, str]]:
    """A model (the session's in-process pipeline artifact) registered with the local
    SageMaker the CLI uses, its model.tar.gz in moto's S3."""
    state = tmp_path / "state"
    values = {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in sorted(trained.pipeline_dir.iterdir()):
            tar.add(path, arcname=path.name)
    _put(bucket, "mpg/models/bt/model.tar.gz", tarball.read_bytes())
    config = load_config(env=values, overrides={"local": True})
    request = endpoint_requests.model_request(
        config, MODEL, f"s3://{bucket}/mpg/models/bt/model.tar.gz"
    )
    local_clients(config, out=lambda s: None).sagemaker.create_model(**request)
    yield values
    for name in containers_of(state):  # only what this test started
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def _transform(env: dict[str, str], tmp_path: Path, job: str, hosts: int, *flags: str) -> int:
    config = tmp_path / f"hosts-{hosts}.toml"
    config.write_text(f"[instances.transform]\ncount = {hosts}\n")
    argv = ["transform", "--local", "--model", MODEL, "--job-name", job, "--config", str(config)]
    return main([*argv, *flags], env=env, out=lambda s: None)


def test_k_objects_over_1_2_and_3_instances_give_identical_outputs(
    env: dict[str, str], bucket: str, tmp_path: Path, trained: Trained
) -> None:
    # K=4 objects of very different sizes (one over two 1 MB mini-batches, one a single row,
    # one with CRLF line ends, one under a sub-prefix), so instances finish at different times.
    inputs = {
        "a.csv": _rows(70_000, 1),
        "b.csv": _rows(1, 2),
        "c.csv": _rows(9_000, 3, "\r\n"),
        "part/d.csv": _rows(30_000, 4),
    }
    for rel, text in inputs.items():
        _put(bucket, f"mpg/in/{rel}", text.encode())
    uri = f"s3://{bucket}/mpg/in/"
    outputs = {}
    for hosts in (1, 2, 3):
        job = f"bt-{hosts}"
        assert _transform(env, tmp_path, job, hosts, "--input", uri, "--max-payload-mb", "1") == 0
        out_prefix = f"mpg/transform/{job}/"
        assert _keys(bucket, out_prefix) == sorted(f"{rel}.out" for rel in inputs)
        outputs[hosts] = {rel: _get(bucket, f"{out_prefix}{rel}.out") for rel in inputs}
    assert outputs[1] == outputs[2] == outputs[3]
    for rel, text in inputs.items():
        # AssembleWith=Line: a newline after each answer, which the image leaves open under
        # SAGEMAKER_BATCH, so a script counts one line per record (no blank per mini-batch).
        assert outputs[1][rel].count(b"\n") == text.count("\n"), rel
        got = [float(v) for v in outputs[1][rel].decode().splitlines()]
        assert got == pytest.approx(_expected(trained.pipeline_dir, text), rel=1e-12), rel
    assert containers_of(Path(env["MPG_LOCAL_STATE_DIR"])) == []  # every instance stopped


def test_an_object_with_a_bad_row_gets_no_output_and_fails_the_job(
    env: dict[str, str], bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _rows(500, 5)
    _put(bucket, "mpg/mixed/1-good.csv", good.encode())
    _put(bucket, "mpg/mixed/2-bad.csv", (good + "4,97,lots,2130,14.5,70,3\n").encode())
    _put(bucket, "mpg/mixed/3-good.csv", good.encode())
    code = _transform(env, tmp_path, "bt-bad", 2, "--input", f"s3://{bucket}/mpg/mixed/")
    assert code == 1  # JobFailed: the job failed
    err = capsys.readouterr().err
    assert "2-bad.csv" in err and "'lots' is not a number" in err
    assert _keys(bucket, "mpg/transform/bt-bad/") == ["1-good.csv.out", "3-good.csv.out"]


def test_data_processing_joins_id_and_true_mpg_to_each_prediction(
    env: dict[str, str], bucket: str, tmp_path: Path, trained: Trained
) -> None:
    assert main(["data"], env=env, out=lambda s: None) == 0
    joined_in = _get(bucket, "mpg/data/batch-joined/test.csv").decode()
    features = _get(bucket, "mpg/data/batch/test.csv").decode()
    expected = _expected(trained.pipeline_dir, features)
    flags = ["--input-filter", "$[2:]", "--join-input", "--output-filter", "$[0,1,-1]"]
    uri = f"s3://{bucket}/mpg/data/batch-joined/"
    assert _transform(env, tmp_path, "bt-join", 1, "--input", uri, *flags) == 0
    out = _get(bucket, "mpg/transform/bt-join/test.csv.out").decode().splitlines()
    rows = [line.split(",") for line in joined_in.splitlines()]
    assert len(out) == len(rows) == len(expected) > 10
    for line, row, prediction in zip(out, rows, expected, strict=True):
        car, mpg, predicted = line.split(",")
        assert (car, mpg) == (row[0], row[1])
        assert float(predicted) == pytest.approx(prediction, rel=1e-12)

    # The same rows as JSON Lines objects: the model gets "features", the output keeps the id
    # and the answer under SageMakerOutput.
    records = [
        {"id": int(row[0]), "features": [float(v) if v else None for v in row[2:]]} for row in rows
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    _put(bucket, "mpg/jsonl/test.jsonl", body)
    json_flags = [
        "--content-type",
        "application/jsonlines",
        "--input-filter",
        "$.features",
        "--join-input",
        "--output-filter",
        "$['id','SageMakerOutput']",
    ]
    uri = f"s3://{bucket}/mpg/jsonl/"
    assert _transform(env, tmp_path, "bt-json", 1, "--input", uri, *json_flags) == 0
    out_json = _get(bucket, "mpg/transform/bt-json/test.jsonl.out").splitlines()
    answers = [json.loads(line) for line in out_json]
    assert [a["id"] for a in answers] == [r["id"] for r in records]
    got = [a["SageMakerOutput"]["prediction"] for a in answers]
    assert got == pytest.approx(expected, rel=1e-12)


def test_a_headered_file_with_its_id_column_filtered_out_is_read_by_name(
    env: dict[str, str], bucket: str, tmp_path: Path, trained: Trained
) -> None:
    """The columns stand in the reverse of the model's order behind an id column. SageMaker
    filters the header line as every record, so the launcher sends the header as $[1:] cuts
    it (MPG_CSV_HEADER) and the image reads every mini-batch by those names."""
    # (Without MPG_CSV_HEADER the later mini-batches would be read in the model's order.)
    features = _rows(60_000, 6)  # about 2 MB: mini-batches after the first have no header
    names = "cylinders,displacement,horsepower,weight,acceleration,model year,origin"
    reversed_rows = [",".join(line.split(",")[::-1]) for line in features.splitlines()]
    header = "id," + ",".join(names.split(",")[::-1])
    body = "".join(
        f"{line}\n" for line in [header, *(f"car{i},{r}" for i, r in enumerate(reversed_rows))]
    )
    _put(bucket, "mpg/own/cars.csv", body.encode())
    uri = f"s3://{bucket}/mpg/own/"
    flags = ["--input", uri, "--input-filter", "$[1:]", "--max-payload-mb", "1"]
    assert _transform(env, tmp_path, "bt-own", 2, *flags) == 0
    got = [float(v) for v in _get(bucket, "mpg/transform/bt-own/cars.csv.out").decode().split()]
    assert got == pytest.approx(_expected(trained.pipeline_dir, features), rel=1e-12)
