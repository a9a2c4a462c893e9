"""Issue 23: the local state is safe under concurrent commands on every read-modify-write path,
not only on create: a per-record lock (``LocalState.update``) or a compare-and-swap (an
endpoint's update claims it by its status). Real processes, started with fork, meet at an
event; nothing sleeps to order them.

These are the hostile-input suite's ``concurrency`` class; their count is asserted and printed."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.state import LocalState

CONTEXT = multiprocessing.get_context("fork")
CASES: list[str] = []


def case(test: Callable[..., None]) -> Callable[..., None]:
    CASES.append(test.__name__)
    return test


def _count(root: str, times: int, start: Any) -> None:
    start.wait()
    state = LocalState(Path(root))
    for _ in range(times):
        state.update("counters", "c", lambda r: {"n": r["n"] + 1}, "Update")


@case
def test_two_processes_updating_one_record_lose_nothing(tmp_path: Path) -> None:
    """Two processes each add 1 to one record 300 times: every increment is kept."""
    LocalState(tmp_path).put("counters", "c", {"n": 0})
    start = CONTEXT.Event()
    workers = [CONTEXT.Process(target=_count, args=(str(tmp_path), 300, start)) for _ in "ab"]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert LocalState(tmp_path).get("counters", "c", "Get") == {"n": 600}


def _double(root: str) -> LocalSageMaker:
    return LocalSageMaker(None, LocalState(Path(root)), "us-east-1", "123456789012", print)


def _update(root: str, config: str, started: Any, release: Any, results: Any) -> None:
    """An update whose new fleet starts only once ``release`` is set (no container needed)."""
    local = _double(root)

    def start_fleet(endpoint: str, config_name: str) -> list[list[dict[str, Any]]]:
        started.set()
        release.wait(30)
        return [[{"name": f"fleet-of-{config_name}", "port": 1}]]

    local._start_endpoint = start_fleet  # type: ignore[method-assign]
    local._max_body_bytes = lambda name: 1024  # type: ignore[method-assign]
    try:
        local.update_endpoint(EndpointName="e1", EndpointConfigName=config)
    except Exception as exc:
        results.put((config, str(exc)))
    else:
        results.put((config, "updated"))


def _endpoint(root: Path) -> None:
    LocalState(root).put(
        "endpoints",
        "e1",
        {
            "EndpointName": "e1",
            "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e1",
            "EndpointConfigName": "c0",
            "EndpointStatus": "InService",
            "Instances": [],
        },
    )


@case
def test_two_deploys_onto_one_endpoint_the_second_is_refused(tmp_path: Path) -> None:
    """The issue's lost update: two `deploy --local` onto one endpoint both reported success,
    and one fleet ran unrecorded. Now the second finds it Updating and is refused, as
    SageMaker refuses UpdateEndpoint on an in-progress endpoint."""
    _endpoint(tmp_path)
    started, release, results = CONTEXT.Event(), CONTEXT.Event(), CONTEXT.Queue()
    first = CONTEXT.Process(target=_update, args=(str(tmp_path), "c1", started, release, results))
    first.start()
    assert started.wait(30)  # the first holds the endpoint, its fleet starting
    second = CONTEXT.Process(
        target=_update, args=(str(tmp_path), "c2", CONTEXT.Event(), CONTEXT.Event(), results)
    )
    second.start()
    second.join(30)
    config, outcome = results.get(timeout=5)
    assert config == "c2" and "Cannot update in-progress endpoint" in outcome
    release.set()
    first.join(30)
    assert results.get(timeout=5) == ("c1", "updated")
    record = LocalState(tmp_path).get("endpoints", "e1", "DescribeEndpoint")
    assert record["EndpointStatus"] == "InService" and record["EndpointConfigName"] == "c1"
    assert record["Instances"] == [[{"name": "fleet-of-c1", "port": 1}]]


@case
def test_a_failed_update_gives_the_endpoint_back(tmp_path: Path) -> None:
    """A claim is released when the update fails: the endpoint is InService on its old config
    and the next deploy may update it."""
    _endpoint(tmp_path)
    local = _double(str(tmp_path))

    def broken(endpoint: str, config_name: str) -> list[list[dict[str, Any]]]:
        raise KeyboardInterrupt  # Ctrl-C or SIGTERM while the new fleet starts

    local._start_endpoint = broken  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        local.update_endpoint(EndpointName="e1", EndpointConfigName="c1")
    record = LocalState(tmp_path).get("endpoints", "e1", "DescribeEndpoint")
    assert record["EndpointStatus"] == "InService" and record["EndpointConfigName"] == "c0"


def _register(root: str, start: Any, results: Any) -> None:
    start.wait()
    answer = _double(root).create_model_package(
        ModelPackageGroupName="g", ModelApprovalStatus="PendingManualApproval"
    )
    results.put(int(answer["ModelPackageArn"].rsplit("/", 1)[1]))


@case
def test_two_registrations_at_once_get_two_versions(tmp_path: Path) -> None:
    _double(str(tmp_path)).create_model_package_group(ModelPackageGroupName="g")
    start, results = CONTEXT.Event(), CONTEXT.Queue()
    workers = [
        CONTEXT.Process(target=_register, args=(str(tmp_path), start, results)) for _ in "abcd"
    ]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(timeout=60)
    assert sorted(results.get(timeout=5) for _ in workers) == [1, 2, 3, 4]
    assert LocalState(tmp_path).names("model-packages/g") == ["1", "2", "3", "4"]


def _approve(root: str, field: str, start: Any) -> None:
    start.wait()
    local = _double(root)
    for n in range(50):
        local.update_model_package(
            ModelPackageArn="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1",
            CustomerMetadataProperties={f"{field}-{n}": "1"},
        )


@case
def test_two_package_updates_at_once_both_stay(tmp_path: Path) -> None:
    local = _double(str(tmp_path))
    local.create_model_package_group(ModelPackageGroupName="g")
    local.create_model_package(ModelPackageGroupName="g")
    start = CONTEXT.Event()
    workers = [CONTEXT.Process(target=_approve, args=(str(tmp_path), f, start)) for f in "ab"]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    package = local.describe_model_package(
        ModelPackageName="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"
    )
    assert len(package["CustomerMetadataProperties"]) == 100


def test_concurrency_class_count() -> None:
    # With test_local_state's eight processes creating one record, six in all.
    print("hostile input, round two: {'concurrency':", len(CASES), "+ 1 }")
    assert len(CASES) >= 5
