"""A table of one's own, uploaded: ``data`` splits it stratified and uploads the schema
beside the splits, against moto's S3."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from mpg_launch.settings.config import load_config
from mpg_launch.table.data import checked_splits, upload_splits
from mpg_launch.table.schema import config_schema, upload_schema
from tests.helpers.launch import REGION

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


@pytest.mark.aws
def test_data_splits_the_table_stratified_and_uploads_the_schema(tables: Path, bucket: str) -> None:
    config = load_config(
        None, {**ENV, "MPG_BUCKET": bucket, "MPG_SCHEMA": str(tables / "iris.toml")}
    )
    s3 = boto3.client("s3", region_name=REGION)
    splits = checked_splits(str(tables / "iris.csv"), 42, 1, config_schema(config))
    uploaded = upload_splits(config, s3, splits)
    upload_schema(config, s3)
    import pandas as pd

    sizes = {}
    for split in ("train", "validation", "test"):
        (uri,) = uploaded[split]
        key = uri.split(f"{bucket}/", 1)[1]
        frame = pd.read_csv(s3.get_object(Bucket=bucket, Key=key)["Body"])
        sizes[split] = len(frame)
        counts = frame["species"].value_counts()
        assert set(counts.index) == {"setosa", "versicolor", "virginica"}
        assert counts.max() - counts.min() <= 1  # iris is balanced, and so is every split
    assert sizes == {"train": 104, "validation": 23, "test": 23}
    batch = s3.get_object(Bucket=bucket, Key="mpg/data/batch/test.csv")["Body"].read().decode()
    assert len(batch.splitlines()) == 23 and len(batch.splitlines()[0].split(",")) == 4
    schema = s3.get_object(Bucket=bucket, Key="mpg/data/bronze/schema/iris.toml")["Body"].read()
    assert schema == (tables / "iris.toml").read_bytes()
