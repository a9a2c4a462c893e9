"""--local's S3 as a folder: boto3's calls, S3's answers and error codes, on files a user can
browse under <state>/s3/<bucket>/<key>."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from mpg_launch.aws.clients import error_code
from mpg_launch.aws.s3 import list_objects
from mpg_launch.local.clients.s3 import LocalS3
from mpg_launch.local.engine import staging


def test_objects_are_files_under_bucket_and_key(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path / "s3")
    s3.head_bucket(Bucket="b")
    source = tmp_path / "train.csv"
    source.write_text("a,b\n1,2\n")
    s3.upload_file(str(source), "b", "p/data/train/train.csv")
    s3.put_object(Bucket="b", Key="p/data/test/test.csv", Body=b"x,y\n")
    assert (tmp_path / "s3/b/p/data/train/train.csv").read_text() == "a,b\n1,2\n"
    assert s3.head_object(Bucket="b", Key="p/data/test/test.csv")["ContentLength"] == 4
    got = s3.get_object(Bucket="b", Key="p/data/train/train.csv", Range="bytes=0-2")
    assert got["Body"].read() == b"a,b" and got["ContentLength"] == 3
    copy = tmp_path / "copy.csv"
    s3.download_file("b", "p/data/test/test.csv", str(copy))
    assert copy.read_bytes() == b"x,y\n"


def test_listings_read_like_a_prefix_for_the_launcher_and_the_engine(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path)
    for key in ("p/data/train/1.csv", "p/data/train/0.csv", "p/data/trainer/x.csv", "q/z"):
        s3.put_object(Bucket="b", Key=key, Body=b"1")
    expected = [("0.csv", "s3://b/p/data/train/0.csv"), ("1.csv", "s3://b/p/data/train/1.csv")]
    assert list_objects(s3, "s3://b/p/data/train/") == expected
    assert staging.list_objects(s3, "s3://b/p/data/train/") == expected
    s3.delete_object(Bucket="b", Key="p/data/train/0.csv")
    s3.delete_object(Bucket="b", Key="p/data/train/0.csv")  # S3 deletes a missing key quietly
    assert [rel for rel, _ in list_objects(s3, "s3://b/p/data/train/")] == ["1.csv"]


def test_missing_objects_and_buckets_answer_s3s_error_codes(tmp_path: Path) -> None:
    s3 = LocalS3(tmp_path)
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="b", Key="k")
    assert error_code(missing.value) == "404"
    with pytest.raises(ClientError) as no_key:
        s3.get_object(Bucket="b", Key="k")
    assert error_code(no_key.value) == "NoSuchKey"
    with pytest.raises(ClientError) as no_bucket:
        list_objects(s3, "s3://nobucket/p/")
    assert error_code(no_bucket.value) == "NoSuchBucket"


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", ""])
def test_a_key_cannot_leave_its_bucket_folder(tmp_path: Path, key: str) -> None:
    s3 = LocalS3(tmp_path / "s3")
    with pytest.raises(ClientError):
        s3.put_object(Bucket="b", Key=key, Body=b"1")
    assert not (tmp_path / "escape").exists()
