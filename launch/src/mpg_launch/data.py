"""``data``: the reproducible splits, uploaded to the raw ("bronze") prefixes, plus a
headerless copy of the test features for batch transform, and the same rows led by an id and
the true mpg for the DataProcessing example (filter, join, filter)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from mpg_core.dataset import load_auto_mpg, split, write_splits
from mpg_core.schema import FEATURES, TARGET
from mpg_launch import layout
from mpg_launch.config import LaunchConfig


def upload_file(s3: Any, path: Path, uri: str) -> str:
    bucket, key = layout.split_s3_uri(uri)
    s3.upload_file(str(path), bucket, key)
    return uri


def upload_splits(
    config: LaunchConfig, s3: Any, seed: int = 42, source: str | None = None
) -> dict[str, str]:
    """Write the seeded splits and upload them; returns name -> S3 URI."""
    splits = split(load_auto_mpg(source), seed=seed)
    uploaded = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in write_splits(splits, Path(tmp)).items():
            uploaded[name] = upload_file(s3, path, layout.raw_uri(config, name) + path.name)
        # Batch transform reads the endpoint's format: raw features, no header, no target.
        batch = Path(tmp) / "test.csv"
        splits.test[list(FEATURES)].to_csv(batch, index=False, header=False)
        uploaded["batch"] = upload_file(s3, batch, layout.batch_input_uri(config) + "test.csv")
        # id (the car's line in auto-mpg.data), true mpg, then the same features.
        joined = Path(tmp) / "joined" / "test.csv"
        joined.parent.mkdir()
        rows = splits.test[[TARGET, *FEATURES]]
        rows.set_axis(rows.index + 1).to_csv(joined, index=True, header=False)
        uploaded["batch-joined"] = upload_file(
            s3, joined, layout.batch_joined_uri(config) + "test.csv"
        )
    return uploaded
