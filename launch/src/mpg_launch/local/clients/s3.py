"""S3 as a local folder, for ``--local``: ``s3://bucket/key`` is the file ``<root>/bucket/key``,
so a local run needs no AWS, no credentials and no mock server, and its data, models and
reports form a tree a user can browse (``<state>/s3/<bucket>/<prefix>/...``).

Only the calls the launcher and the local engine make, with boto3's method names, request
keys and answers (errors are botocore ``ClientError``s with S3's codes), so code that takes an
S3 client cannot tell this one from boto3's.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class LocalS3:
    """The S3 client of the local double: buckets are folders under ``root``. Arguments
    keep boto3's names (``Bucket``, ``Key``), as callers pass them by keyword."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, bucket: str, key: str, operation: str) -> Path:
        """The file of ``bucket``/``key``; a key that would leave the bucket's folder is
        refused (S3 keys are names, not paths)."""
        parts = PurePosixPath(key).parts
        if not bucket or "/" in bucket or bucket in (".", "..") or ".." in parts or not key:
            raise _error("InvalidArgument", f"bad bucket or key {bucket!r}/{key!r}", operation)
        return self.root / bucket / key

    def head_bucket(self, Bucket: str) -> dict[str, Any]:
        # A local bucket is a folder, made on first use: there is nothing to create first.
        (self.root / Bucket).mkdir(parents=True, exist_ok=True)
        return {}

    def upload_file(self, Filename: str, Bucket: str, Key: str) -> None:
        target = self._path(Bucket, Key, "PutObject")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(Filename, tmp)
        tmp.replace(target)  # a reader in another process never sees half an object

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        target = self._path(Bucket, Key, "PutObject")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(Body)
        tmp.replace(target)
        return {}

    def _existing(self, bucket: str, key: str, operation: str, code: str) -> Path:
        path = self._path(bucket, key, operation)
        if not path.is_file():
            raise _error(code, f"no object s3://{bucket}/{key} (local: {path})", operation)
        return path

    def download_file(self, Bucket: str, Key: str, Filename: str) -> None:
        shutil.copyfile(self._existing(Bucket, Key, "HeadObject", "404"), Filename)

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        path = self._existing(Bucket, Key, "HeadObject", "404")
        return {"ContentLength": path.stat().st_size}

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        body = self._existing(Bucket, Key, "GetObject", "NoSuchKey").read_bytes()
        if Range:  # "bytes=FIRST-LAST", both inclusive, as the launcher asks
            first, _, last = Range.removeprefix("bytes=").partition("-")
            body = body[int(first) : int(last) + 1 if last else None]
        return {"Body": io.BytesIO(body), "ContentLength": len(body)}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self._path(Bucket, Key, "DeleteObject").unlink(missing_ok=True)  # S3: 204 either way
        return {}

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        folder = self.root / bucket
        if not folder.is_dir():
            raise _error("NoSuchBucket", f"no bucket {bucket} (local: {folder})", "ListObjectsV2")
        keys = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.endswith(".part"))

    def get_paginator(self, operation: str) -> _ListPaginator:
        if operation != "list_objects_v2":
            raise NotImplementedError(f"local S3 has no paginator for {operation}")
        return _ListPaginator(self)


class _ListPaginator:
    """``list_objects_v2``'s paginator: one page, as a prefix of a local run is small."""

    def __init__(self, s3: LocalS3) -> None:
        self.s3 = s3

    def paginate(self, Bucket: str, Prefix: str = "") -> Iterator[dict[str, Any]]:
        keys = self.s3.list_keys(Bucket, Prefix)
        yield (
            {"KeyCount": len(keys), "Contents": [{"Key": k} for k in keys]}
            if keys
            else {"KeyCount": 0}
        )
