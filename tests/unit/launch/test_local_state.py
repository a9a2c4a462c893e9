"""The local state folder: private (0700 folders, 0600 files) and safe under concurrent
commands (a per-record fcntl lock around check-and-write)."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.state import LocalState


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_is_private(tmp_path: Path) -> None:
    root = tmp_path / "state"
    root.mkdir(mode=0o755)
    state = LocalState(root)
    state.put("endpoints", "e1", {"EndpointName": "e1"})
    work = state.work_dir("models", "m1")
    assert _mode(root) == 0o700
    assert _mode(root / "endpoints") == 0o700
    assert _mode(root / "endpoints" / "e1.json") == 0o600
    assert _mode(work) == 0o700 and _mode(work.parent) == 0o700
    assert state.get("endpoints", "e1", "DescribeEndpoint") == {"EndpointName": "e1"}


def _create(root: str, name: str, worker: int, start: object, results: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    created = LocalState(Path(root)).create("endpoints", name, {"Worker": worker})
    results.put((worker, created))  # type: ignore[attr-defined]


def test_two_commands_creating_one_record_one_wins(tmp_path: Path) -> None:
    """Eight processes create the same endpoint record at once: exactly one succeeds, and the
    record is the winner's (the others are told it exists, as deploy --local then reports)."""
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=_create, args=(str(tmp_path), "e1", n, start, results))
        for n in range(8)
    ]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(timeout=30)
    outcomes = [results.get(timeout=5) for _ in workers]
    winners = [worker for worker, created in outcomes if created]
    assert len(winners) == 1
    assert LocalState(tmp_path).get("endpoints", "e1", "DescribeEndpoint") == {"Worker": winners[0]}


def test_an_interrupted_local_deploy_leaves_nothing_creating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or SIGTERM while the endpoint's containers start: the record ends Failed (with
    the reason), never Creating, and the interrupt goes on up to the CLI."""
    local = LocalSageMaker(None, LocalState(tmp_path), "eu-west-1", "123456789012", print)

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "_max_body_bytes", lambda name: 1024)
    monkeypatch.setattr(local, "_start_endpoint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        local.create_endpoint(EndpointName="e1", EndpointConfigName="c1")
    record = local.state.get("endpoints", "e1", "DescribeEndpoint")
    assert record["EndpointStatus"] == "Failed"
    assert record["FailureReason"] == "stopped while it was created"


def test_tags_are_added_over_and_deleted_by_key(tmp_path: Path) -> None:
    """The local double keeps an endpoint's tags as SageMaker does: AddTags overwrites by
    key, DeleteTags removes the keys given (a monitor's record, when it is deleted)."""
    local = LocalSageMaker(None, LocalState(tmp_path), "eu-west-1", "123456789012", print)
    local.state.put("endpoints", "e1", {"Tags": [{"Key": "owner", "Value": "team"}]})
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/e1"
    local.add_tags(ResourceArn=arn, Tags=[{"Key": "mpg-launch:monitors", "Value": "a b"}])
    local.add_tags(ResourceArn=arn, Tags=[{"Key": "mpg-launch:monitors", "Value": "b"}])
    assert local.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "team"},
        {"Key": "mpg-launch:monitors", "Value": "b"},
    ]
    local.delete_tags(ResourceArn=arn, TagKeys=["mpg-launch:monitors"])
    assert local.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "team"}]
