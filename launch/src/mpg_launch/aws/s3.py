"""S3 URIs and listings, for the launcher's own S3 calls (the data, the schema file, a model
package's report) and the local double's staging. A ``file://`` folder lists like a prefix,
as the local runs use them. Pure: it imports nothing of the launcher but its errors, so the
double may use it (tests/unit/test_import_layers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from mpg_launch.errors import ConfigError


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    if not uri.startswith("s3://"):
        raise ConfigError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def list_objects(s3: Any, uri: str) -> list[tuple[str, str]]:
    """(relative name, full URI) of every object under an S3 prefix or ``file://`` folder,
    sorted by key (SageMaker shards and spreads objects by key)."""
    if uri.startswith("file://"):
        root = Path(urlparse(uri).path)
        if root.is_file():
            return [(root.name, root.as_uri())]
        return [
            (str(p.relative_to(root)), p.as_uri()) for p in sorted(root.rglob("*")) if p.is_file()
        ]
    bucket, prefix = split_s3_uri(uri)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/"):
                continue
            rel = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            found.append((rel, f"s3://{bucket}/{key}"))
    return sorted(found)
