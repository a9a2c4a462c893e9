"""Scaling out from the launcher: ``data --shards`` against a real moto server, and training
on more than one instance refused before any request or client."""

from __future__ import annotations

import io
from pathlib import Path

import boto3
import pandas as pd
import pytest

from mpg_core import dataset
from mpg_launch.cli.main import main
from mpg_launch.local.engine.staging import download_prefix

REGION = "us-east-1"
ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("the refusal must come before any client is made")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--preprocessing-job", "p1"],
        ["train", "--preprocessing-job", "p1", "--local"],
        ["tune", "--preprocessing-job", "p1"],
    ],
)
@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_training_on_several_instances_is_refused_naming_the_fix(
    argv: list[str], dry_run: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mpg.toml"
    config.write_text('[instances.training]\ntype = "ml.m5.xlarge"\ncount = 3\n')
    lines: list[str] = []
    code = main(
        [*argv, *dry_run, "--config", str(config)], env=ENV, factory=no_clients, out=lines.append
    )
    assert code == 2
    assert lines == []  # no request printed
    err = capsys.readouterr().err.strip()
    assert err == (
        "mpg-launch: error: instances.training count = 3: a random forest trains on one "
        "instance and does not distribute; set count = 1 and a bigger type, e.g. type = "
        '"ml.m5.4xlarge", whose cores n_jobs=-1 (the default) uses'
    )


def _objects(bucket: str, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"].rsplit("/", 1)[-1]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
        for o in listed
    }


def _table(body: bytes, header: bool = True) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(body), header=0 if header else None)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    return frame.sort_values(columns).reset_index(drop=True)


@pytest.mark.aws
def test_data_shards_deal_every_row_into_exactly_one_file(bucket: str) -> None:
    assert main(["data"], out=lambda s: None) == 0
    whole = {
        s: _table(_objects(bucket, f"mpg/data/bronze/{s}/")[f"{s}.csv"]) for s in dataset.SPLITS
    }
    lines: list[str] = []
    assert main(["data", "--shards", "3"], out=lines.append) == 0
    for split in dataset.SPLITS:
        files = _objects(bucket, f"mpg/data/bronze/{split}/")
        # The one-file upload is replaced, not left beside the shards to be read twice.
        assert sorted(files) == dataset.shard_names(split, 3)
        parts = [_table(body) for _, body in sorted(files.items())]
        assert all(list(p.columns) == list(whole[split].columns) for p in parts)  # headers
        assert sorted(len(p) for p in parts)[-1] - sorted(len(p) for p in parts)[0] <= 1
        pd.testing.assert_frame_equal(_sorted(pd.concat(parts)), _sorted(whole[split]))
    assert f"removed s3://{bucket}/mpg/data/bronze/train/train.csv (left by an earlier upload)" in (
        lines
    )
    batch = _objects(bucket, "mpg/data/batch/")
    assert sorted(batch) == dataset.shard_names("test", 3)
    rows = pd.concat(_table(body, header=False) for body in batch.values())
    assert rows.shape == (len(whole["test"]), 7)  # raw features, no header, no target
    # Reproducible: the same command deals the same rows into the same files.
    assert main(["data", "--shards", "3"], out=lambda s: None) == 0
    assert _objects(bucket, "mpg/data/batch/") == batch


@pytest.mark.aws
@pytest.mark.parametrize("shards", ["0", "61"])
def test_data_shards_out_of_range_is_a_one_line_error(
    bucket: str, shards: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "--shards", shards], out=lambda s: None) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"mpg-launch: error: --shards {shards}: give 1 to 60 (the test split has 60 rows, "
        "and every file should hold some)"
    )
    assert _objects(bucket, "mpg/") == {}


def test_shards_are_disjoint_cover_the_prefix_and_may_be_empty(tmp_path: Path) -> None:
    """The local runner's ShardedByS3Key: about 1/n of the key-sorted objects per host, no
    object on two hosts, none lost; a host beyond the object count gets an empty folder (as
    on SageMaker), while FullyReplicated gives every host everything."""
    source = tmp_path / "prefix"
    source.mkdir()
    names = ["a.csv", "b.csv", "c.csv"]
    for name in names:
        (source / name).write_text(name)
    hosts = 4
    staged = [
        download_prefix(None, source.as_uri(), tmp_path / f"algo-{i + 1}", shard=(i, hosts))
        for i in range(hosts)
    ]
    assert sorted(p.name for files in staged for p in files) == names
    assert [len(files) for files in staged] == [1, 1, 1, 0]
    assert (tmp_path / "algo-4").is_dir() and list((tmp_path / "algo-4").iterdir()) == []
    whole = download_prefix(None, source.as_uri(), tmp_path / "replicated")
    assert sorted(p.name for p in whole) == names
