"""``data --shards`` against a real moto server: every row in exactly one file, reproducible,
and an out-of-range count refused in one line."""

from __future__ import annotations

import io

import boto3
import pandas as pd
import pytest

from mpg_core import dataset
from mpg_launch.cli.main import main
from tests.helpers.launch import REGION


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
