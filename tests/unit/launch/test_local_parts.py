"""Pure parts of the local runner: batch settings precedence, splitting and mini-batches,
metric regexes, staging from file:// URIs, request-to-docker translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpg_core.metrics import METRIC_DEFINITIONS
from mpg_launch.errors import LaunchError
from mpg_launch.local.engine.jobs import final_metrics
from mpg_launch.local.engine.staging import download_prefix, list_objects, upload_dir
from mpg_launch.local.engine.transform import (
    BatchSettings,
    assemble,
    batch_env,
    mini_batches,
    resolve_settings,
    split_records,
)

REQUEST = {
    "BatchStrategy": "MultiRecord",
    "MaxPayloadInMB": 1,
    "ModelClientConfig": {"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 1},
}


def test_request_wins_then_container_then_defaults() -> None:
    container = {
        "BatchStrategy": "SINGLE_RECORD",
        "MaxPayloadInMB": 2,
        "MaxConcurrentTransforms": 4,
    }
    settings = resolve_settings(REQUEST, container)
    assert settings == BatchSettings("MultiRecord", 1, 4, 30.0, 1)
    assert resolve_settings({}, container).strategy == "SingleRecord"  # container spelling
    assert resolve_settings({}, {}) == BatchSettings("MultiRecord", 6, 1, 600.0, 3)


def test_budget_of_100_mb_is_enforced() -> None:
    with pytest.raises(LaunchError, match="100 MB"):
        resolve_settings({"MaxPayloadInMB": 50, "MaxConcurrentTransforms": 3}, {})


def test_batch_env_has_only_what_the_request_gave() -> None:
    env = batch_env(REQUEST)
    assert env == {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": "1",
    }


def test_line_split_and_multi_record_batches_within_the_payload() -> None:
    records = split_records(b"a,1\n\nb,2\r\nc,3", "Line")
    assert records == [b"a,1\n", b"b,2\r\n", b"c,3"]
    big = [b"x" * 400_000 + b"\n"] * 5  # 2 MB in 400 kB lines; 1 MiB per request
    settings = BatchSettings("MultiRecord", 1, 1, 1.0, 0)
    batches = mini_batches(big, settings)
    assert [len(b) // 400_001 for b in batches] == [2, 2, 1]
    assert all(len(b) <= 1024 * 1024 for b in batches)
    single = mini_batches(records, BatchSettings("SingleRecord", 1, 1, 1.0, 0))
    assert single == records


def test_a_record_over_the_payload_limit_fails() -> None:
    with pytest.raises(LaunchError, match="exceeds MaxPayloadInMB"):
        mini_batches([b"x" * (1024 * 1024 + 1)], BatchSettings("MultiRecord", 1, 1, 1.0, 0))


def test_assemble_with_line_adds_a_newline_after_every_answer() -> None:
    # The documented rule (and the SDK's local mode): even after an answer's own newline.
    assert assemble([b"1\n2\n", b"3"], "Line") == b"1\n2\n\n3\n"
    assert assemble([b"1", b"2"], "None") == b"12"


def test_final_metrics_take_the_last_value_of_each_regex() -> None:
    lines = ["train:rmse=1.5", "noise", "validation:rmse=2.503794", "validation:rmse=2.4"]
    found = {m["MetricName"]: m["Value"] for m in final_metrics(METRIC_DEFINITIONS, lines)}
    assert found == {"train:rmse": 1.5, "validation:rmse": 2.4}


def test_file_uris_stage_and_shard(tmp_path: Path) -> None:
    source = tmp_path / "src"
    for name in ("a.csv", "b.csv", "sub/c.csv"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(name)
    assert [rel for rel, _ in list_objects(None, source.as_uri())] == [
        "a.csv",
        "b.csv",
        "sub/c.csv",
    ]
    got = download_prefix(None, source.as_uri(), tmp_path / "host2", shard=(1, 2))
    assert [p.name for p in got] == ["b.csv"]
    upload_dir(None, source, (tmp_path / "out").as_uri())
    assert (tmp_path / "out/sub/c.csv").read_text() == "sub/c.csv"
    with pytest.raises(LaunchError, match="no objects"):
        download_prefix(None, (tmp_path / "empty").as_uri(), tmp_path / "x")
