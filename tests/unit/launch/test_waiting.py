"""Waiting: status transitions, log lines as they arrive plus one flush after the end,
FailureReason with a non-zero exit, Ctrl-C stops the job."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mpg_launch.aws.waiting import LogTailer, wait_for_endpoint, wait_for_job
from mpg_launch.errors import JobFailed


class FakeLogs:
    """CloudWatch Logs with events that appear over time (``publish``)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[str]] = {}

    def publish(self, stream: str, *messages: str) -> None:
        self.streams.setdefault(stream, []).extend(messages)

    def describe_log_streams(
        self,
        logGroupName: str,
        logStreamNamePrefix: str,
        **_: Any,
    ) -> dict[str, Any]:
        if not self.streams:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "Describe")
        return {
            "logStreams": [
                {"logStreamName": s} for s in self.streams if s.startswith(logStreamNamePrefix)
            ]
        }

    def get_log_events(
        self,
        logGroupName: str,
        logStreamName: str,
        startFromHead: bool,
        nextToken: str | None = None,
    ) -> dict[str, Any]:
        start = int(nextToken or 0)
        events = self.streams[logStreamName][start:]
        return {
            "events": [{"message": m} for m in events],
            "nextForwardToken": str(start + len(events)),
        }


class FakeSageMaker:
    def __init__(
        self,
        statuses: list[dict[str, Any]],
        logs: FakeLogs | None = None,
        publish: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        self.statuses = statuses
        self.calls = 0
        self.stopped: list[str] = []
        self.logs = logs
        self.publish = publish or {}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        if self.logs and self.calls in self.publish:
            self.logs.publish(f"{TrainingJobName}/algo-1-1700000000", *self.publish[self.calls])
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        return {"TrainingJobName": TrainingJobName, **status}

    def stop_training_job(self, TrainingJobName: str) -> None:
        self.stopped.append(TrainingJobName)

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        return self.describe_training_job(EndpointName)


def test_transitions_and_logs_with_a_final_flush() -> None:
    logs = FakeLogs()
    sm = FakeSageMaker(
        [
            {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"},
            {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"},
            {"TrainingJobStatus": "Completed", "SecondaryStatus": "Completed"},
        ],
        logs,
        publish={1: ("train:rmse=1.0",), 2: ("validation:rmse=2.5", "done")},
    )
    lines: list[str] = []
    job = wait_for_job(sm, "training", "t1", logs=logs, out=lines.append, sleep=lambda s: None)
    assert job["TrainingJobStatus"] == "Completed"
    assert lines[0].startswith("t1: InProgress (Starting)")
    assert "train:rmse=1.0" in lines
    assert lines[-2:] == ["validation:rmse=2.5", "done"]  # printed after the status changed
    assert sum(1 for line in lines if line.startswith("t1: ")) == 3


def test_failure_reason_raises_with_non_zero_exit() -> None:
    sm = FakeSageMaker(
        [
            {
                "TrainingJobStatus": "Failed",
                "FailureReason": "AlgorithmError: ConfigError: bad\nhyperparameter",
            }
        ]
    )
    with pytest.raises(JobFailed) as caught:
        wait_for_job(sm, "training", "t1", out=lambda s: None, sleep=lambda s: None)
    assert "ConfigError: bad hyperparameter" in str(caught.value)
    assert caught.value.exit_code != 0


def test_ctrl_c_stops_the_job_and_reports_stopped() -> None:
    sm = FakeSageMaker(
        [
            {"TrainingJobStatus": "InProgress"},
            {"TrainingJobStatus": "Stopping"},
            {"TrainingJobStatus": "Stopped"},
        ]
    )
    interrupted = []

    def sleep(_: float) -> None:
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt

    with pytest.raises(JobFailed, match="Stopped"):
        wait_for_job(sm, "training", "t1", out=lambda s: None, sleep=sleep)
    assert sm.stopped == ["t1"]


def test_tailer_handles_missing_group_and_multiple_hosts() -> None:
    logs = FakeLogs()
    lines: list[str] = []
    tailer = LogTailer(logs, "/aws/sagemaker/TrainingJobs", "t1/", lines.append)
    assert tailer.poll() == 0
    logs.publish("t1/algo-1-1", "a")
    logs.publish("t1/algo-2-1", "b")
    assert tailer.poll() == 2
    assert lines == ["[algo-1] a", "[algo-2] b"]
    assert tailer.poll() == 0


def test_endpoint_failure_names_the_cleanup() -> None:
    sm = FakeSageMaker(
        [
            {"EndpointStatus": "Creating"},
            {"EndpointStatus": "Failed", "FailureReason": "ping failed"},
        ]
    )
    with pytest.raises(JobFailed, match="mpg-launch delete --endpoint ep"):
        wait_for_endpoint(sm, "ep", out=lambda s: None, sleep=lambda s: None)


def test_a_job_that_ended_before_the_wait_reports_its_own_duration() -> None:
    """The local engine runs a job inside its Create call: the wait begins after it ended, and
    used to print "Completed after 0m00s" for a 33 s job. The job's own times are used."""
    from datetime import UTC, datetime, timedelta

    from mpg_launch.aws.waiting import wait_for_job

    began = datetime(2026, 1, 1, tzinfo=UTC)

    class Done:
        def describe_training_job(self, **_: object) -> dict[str, object]:
            return {
                "TrainingJobStatus": "Completed",
                "CreationTime": began,
                "TrainingEndTime": (began + timedelta(seconds=33)).isoformat(),
            }

    lines: list[str] = []
    wait_for_job(Done(), "training", "t1", out=lines.append, sleep=lambda s: None)
    assert lines == ["t1: Completed after 0m33s"]
