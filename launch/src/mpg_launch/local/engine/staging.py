"""Moving data between S3 (or ``file://``) and the local /opt/ml trees."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mpg_launch.aws.s3 import list_objects, split_s3_uri
from mpg_launch.errors import LaunchError


def _file_path(uri: str) -> Path:
    return Path(urlparse(uri).path)


def download(s3: Any, uri: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if uri.startswith("file://"):
        shutil.copyfile(_file_path(uri), dest)
    else:
        bucket, key = split_s3_uri(uri)
        s3.download_file(bucket, key, str(dest))
    return dest


def download_prefix(
    s3: Any, uri: str, dest: Path, shard: tuple[int, int] | None = None, required: bool = True
) -> list[Path]:
    """Copy every object under ``uri`` into ``dest`` (keeping relative paths). ``shard`` =
    (index, count) keeps every count-th object of the key-sorted listing, as ShardedByS3Key
    gives each of ``count`` instances about 1/count of the objects: disjoint shards whose
    union is the prefix. With more instances than objects a shard is empty, as SageMaker's
    are: ``dest`` is then an empty folder, not an error; only a prefix with no objects at
    all is, when ``required``."""
    dest.mkdir(parents=True, exist_ok=True)
    objects = list_objects(s3, uri)
    if not objects and required:
        raise LaunchError(
            f"no objects under {uri}; upload the inputs first (mpg-launch data, "
            "or run the job that writes them)"
        )
    if shard:
        objects = objects[shard[0] :: shard[1]]
    return [download(s3, full, dest / rel) for rel, full in objects]


def upload(s3: Any, path: Path, uri: str) -> str:
    if uri.startswith("file://"):
        target = _file_path(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    else:
        bucket, key = split_s3_uri(uri)
        s3.upload_file(str(path), bucket, key)
    return uri


def upload_dir(s3: Any, source: Path, uri: str) -> list[str]:
    base = uri if uri.endswith("/") else uri + "/"
    return [
        upload(s3, p, base + str(p.relative_to(source)))
        for p in sorted(source.rglob("*"))
        if p.is_file()
    ]
