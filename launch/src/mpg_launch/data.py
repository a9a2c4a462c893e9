"""``data``: the reproducible splits, uploaded to the raw ("bronze") prefixes, plus a
headerless copy of the test features for batch transform, and the same rows led by an id and
the true mpg for the DataProcessing example (filter, join, filter).

``shards`` > 1 writes each split (and the batch input) as that many files, rows dealt among
them (:func:`mpg_core.dataset.deal_rows`), so a ShardedByS3Key input has objects to spread
over instances. Objects an earlier upload left under those prefixes are removed: the files
written here are then all the prefix holds, and every row is in it exactly once.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpg_core.dataset import load_auto_mpg, split, write_shards, write_split_shards
from mpg_core.schema import FEATURES, TARGET
from mpg_launch import layout
from mpg_launch.config import LaunchConfig
from mpg_launch.errors import ConfigError
from mpg_launch.local.staging import list_objects


def upload_file(s3: Any, path: Path, uri: str) -> str:
    bucket, key = layout.split_s3_uri(uri)
    s3.upload_file(str(path), bucket, key)
    return uri


def _replace_prefix(
    s3: Any, paths: list[Path], prefix: str, out: Callable[[str], None]
) -> list[str]:
    """Upload ``paths`` under ``prefix``, then delete every other object there."""
    uploaded = [upload_file(s3, path, prefix + path.name) for path in paths]
    for _, uri in list_objects(s3, prefix):
        if uri not in uploaded:
            bucket, key = layout.split_s3_uri(uri)
            s3.delete_object(Bucket=bucket, Key=key)
            out(f"removed {uri} (left by an earlier upload)")
    return uploaded


def upload_splits(
    config: LaunchConfig,
    s3: Any,
    seed: int = 42,
    source: str | None = None,
    shards: int = 1,
    out: Callable[[str], None] = lambda line: None,
) -> dict[str, list[str]]:
    """Write the seeded splits as ``shards`` files each and upload them; returns name -> S3
    URIs (``train``, ``validation``, ``test`` and ``batch``)."""
    splits = split(load_auto_mpg(source), seed=seed)
    rows, smallest = min((len(frame), name) for name, frame in splits.items())
    if not 1 <= shards <= rows:
        raise ConfigError(
            f"--shards {shards}: give 1 to {rows} (the {smallest} split has {rows} rows, "
            "and every file should hold some)"
        )
    uploaded = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, paths in write_split_shards(splits, Path(tmp) / "bronze", shards).items():
            uploaded[name] = _replace_prefix(s3, paths, layout.raw_uri(config, name), out)
        # Batch transform reads the endpoint's format: raw features, no header, no target.
        batch = write_shards(
            splits.test[list(FEATURES)], Path(tmp) / "batch", "test", shards, header=False
        )
        uploaded["batch"] = _replace_prefix(s3, batch, layout.batch_input_uri(config), out)
        # id (the car's line in auto-mpg.data), true mpg, then the same features.
        joined = Path(tmp) / "joined" / "test.csv"
        joined.parent.mkdir()
        labelled = splits.test[[TARGET, *FEATURES]]
        labelled.set_axis(labelled.index + 1).to_csv(joined, index=True, header=False)
        uploaded["batch-joined"] = _replace_prefix(
            s3, [joined], layout.batch_joined_uri(config), out
        )
    return uploaded
