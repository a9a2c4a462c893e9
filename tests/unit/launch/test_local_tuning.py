"""The local tuner's pieces without Docker: random search over the request's ranges (bounds,
integer draws, scaling, the categorical ``algorithm``, the seed), best-job selection for
Minimize and Maximize, and the records it leaves, checked against botocore's model."""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

import pytest
from botocore.validate import ParamValidator

from mpg_core.hyperparameters import ALGORITHMS
from mpg_launch.aws.validation import operation_model, request_errors
from mpg_launch.aws.waiting import wait_for_job
from mpg_launch.errors import JobFailed
from mpg_launch.jobs import requests as build
from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.engine import tuning
from mpg_launch.local.state import LocalState
from mpg_launch.settings.config import LaunchConfig


@pytest.fixture
def request_(config: LaunchConfig) -> dict[str, Any]:
    return build.tuning_request(config, "tune-units", "prep-1", max_jobs=5, max_parallel=1)


def _ranges(request: dict[str, Any]) -> dict[str, Any]:
    return dict(request["HyperParameterTuningJobConfig"]["ParameterRanges"])


def test_the_request_searches_algorithm_as_a_categorical_range_and_validates(
    request_: dict[str, Any],
) -> None:
    categorical = _ranges(request_)["CategoricalParameterRanges"]
    assert {"Name": "algorithm", "Values": list(ALGORITHMS)} in categorical
    assert request_errors("sagemaker", "CreateHyperParameterTuningJob", request_) == []
    # Every training job the local tuner makes from it is a valid CreateTrainingJob request.
    rng = random.Random(3)
    for index in range(1, 4):
        job = tuning.training_request(
            request_, tuning.job_name("tune-units", index), tuning.sample(_ranges(request_), rng)
        )
        assert request_errors("sagemaker", "CreateTrainingJob", job) == []


def test_draws_stay_in_their_ranges_and_integers_are_integers(request_: dict[str, Any]) -> None:
    ranges = _ranges(request_)
    rng = random.Random(0)
    draws = [tuning.sample(ranges, rng) for _ in range(400)]
    for item in ranges["IntegerParameterRanges"]:
        values = [int(d[item["Name"]]) for d in draws]  # int() fails on "12.5"
        assert min(values) == int(item["MinValue"]) and max(values) == int(item["MaxValue"])
    for item in ranges["ContinuousParameterRanges"]:
        values = [float(d[item["Name"]]) for d in draws]
        assert float(item["MinValue"]) <= min(values) < max(values) <= float(item["MaxValue"])
    # Every family is tried, each about a quarter of the time.
    chosen = [d["algorithm"] for d in draws]
    assert {a: chosen.count(a) for a in ALGORITHMS} == {
        a: pytest.approx(100, abs=35) for a in ALGORITHMS
    }


def test_the_seed_fixes_the_draws() -> None:
    config = {"RandomSeed": 7}
    assert tuning.seed_of(config, "a") == tuning.seed_of(config, "b") == 7
    assert tuning.seed_of({}, "tune-a") == tuning.seed_of({}, "tune-a")
    assert tuning.seed_of({}, "tune-a") != tuning.seed_of({}, "tune-b")
    ranges = {
        "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "1000"}],
        "CategoricalParameterRanges": [{"Name": "algorithm", "Values": list(ALGORITHMS)}],
    }
    first = [tuning.sample(ranges, random.Random(42)) for _ in range(3)]
    again = [tuning.sample(ranges, random.Random(42)) for _ in range(3)]
    other = [tuning.sample(ranges, random.Random(43)) for _ in range(3)]
    assert first == again != other


@pytest.mark.parametrize(
    ("scaling", "median_between"),
    [("Linear", (400, 600)), ("Auto", (400, 600)), ("Logarithmic", (20, 50))],
)
def test_integer_scaling(scaling: str, median_between: tuple[int, int]) -> None:
    """1..1000: a linear draw's median is near 500, a log-uniform one's near sqrt(1000)."""
    ranges = {
        "IntegerParameterRanges": [
            {"Name": "n", "MinValue": "1", "MaxValue": "1000", "ScalingType": scaling}
        ]
    }
    rng = random.Random(1)
    median = statistics.median(int(tuning.sample(ranges, rng)["n"]) for _ in range(2000))
    assert median_between[0] <= median <= median_between[1]


@pytest.mark.parametrize(
    ("scaling", "median_between"),
    [
        ("Linear", (0.4, 0.6)),
        ("Logarithmic", (0.02, 0.05)),  # 0.001..0.999: near sqrt(0.001 * 0.999)
        ("ReverseLogarithmic", (0.95, 0.98)),  # the mirror image: dense near 1
    ],
)
def test_continuous_scaling(scaling: str, median_between: tuple[float, float]) -> None:
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0.001", "MaxValue": "0.999", "ScalingType": scaling}
        ]
    }
    rng = random.Random(2)
    median = statistics.median(float(tuning.sample(ranges, rng)["x"]) for _ in range(2000))
    assert median_between[0] <= median <= median_between[1]


def test_logarithmic_scaling_refuses_a_range_through_zero() -> None:
    ranges = {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
        ]
    }
    with pytest.raises(ValueError, match="MinValue > 0"):
        tuning.sample(ranges, random.Random(0))


def _summary(name: str, status: str, value: float | None, objective: dict[str, str]) -> Any:
    job: dict[str, Any] = {"TrainingJobName": name, "TrainingJobStatus": status}
    if value is not None:
        job["FinalMetricDataList"] = [
            {"MetricName": "train:rmse", "Value": 0.1},
            {"MetricName": objective["MetricName"], "Value": value},
        ]
    return tuning.summary(job, "t", {"algorithm": "extra_trees"}, objective)


@pytest.mark.parametrize(("kind", "best"), [("Minimize", "b"), ("Maximize", "c")])
def test_best_job_follows_the_objective_direction(kind: str, best: str) -> None:
    objective = {"Type": kind, "MetricName": "validation:rmse"}
    jobs = [
        _summary("a", "Completed", 3.0, objective),
        _summary("b", "Completed", 2.0, objective),
        _summary("c", "Completed", 5.0, objective),
        _summary("d", "Failed", None, objective),  # no metric, never the best
        _summary("e", "Completed", None, objective),  # completed without the objective
    ]
    chosen = tuning.best_of(jobs, objective)
    assert chosen is not None and chosen["TrainingJobName"] == best
    assert chosen["FinalHyperParameterTuningJobObjectiveMetric"]["Type"] == kind
    assert [j["ObjectiveStatus"] for j in jobs] == ["Succeeded"] * 3 + ["Failed"] * 2
    assert tuning.best_of(jobs[3:], objective) is None


def _describe_errors(record: dict[str, Any]) -> list[str]:
    shape = operation_model("sagemaker", "DescribeHyperParameterTuningJob").output_shape
    assert shape is not None
    report = ParamValidator().validate(record, shape)
    return report.generate_report().splitlines() if report.has_errors() else []


def _run(request: dict[str, Any], tmp_path: Path, train: Any) -> LocalSageMaker:
    """The tuner's loop with ``train`` standing in for the container (the Docker test runs
    the real one), its records kept in a real state folder and read back as the client does."""
    local = LocalSageMaker(None, LocalState(tmp_path), "eu-west-1", "123456789012", lambda s: None)
    name = request["HyperParameterTuningJobName"]
    tuning.run_tuning(
        request,
        "arn:aws:sagemaker:eu-west-1:123456789012:hyper-parameter-tuning-job/" + name,
        train,
        lambda record: local.state.put("tuning-jobs", name, record),
        lambda s: None,
    )
    return local


def test_a_failing_family_counts_as_failed_and_the_search_goes_on(
    request_: dict[str, Any], tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []

    def train(job: dict[str, Any]) -> dict[str, Any]:
        seen.append(job["HyperParameters"])
        if job["HyperParameters"]["algorithm"] == "gradient_boosting":
            raise RuntimeError("AlgorithmError: boom")
        rmse = float(job["HyperParameters"]["max_features"]) * 10
        return {
            "TrainingJobName": job["TrainingJobName"],
            "TrainingJobStatus": "Completed",
            "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": rmse}],
        }

    request_["HyperParameterTuningJobConfig"]["RandomSeed"] = 4
    local = _run(request_, tmp_path, train)
    described = local.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-units")
    assert _describe_errors(described) == []
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    failed = sum(h["algorithm"] == "gradient_boosting" for h in seen)
    assert len(seen) == 5 and 0 < failed < 5  # seed 4 draws both kinds
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 5 - failed,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": failed,
        "Stopped": 0,
    }
    best = described["BestTrainingJob"]
    lowest = min(
        float(h["max_features"]) * 10 for h in seen if h["algorithm"] != "gradient_boosting"
    )
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "validation:rmse",
        "Value": lowest,
    }
    assert float(best["TunedHyperParameters"]["max_features"]) * 10 == lowest
    listed = local.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-units", SortBy="FinalObjectiveMetricValue"
    )["TrainingJobSummaries"]
    assert listed[0]["TrainingJobName"] == best["TrainingJobName"]
    assert [j["TrainingJobStatus"] for j in listed[5 - failed :]] == ["Failed"] * failed


def test_all_jobs_failing_fails_the_tuning_job_with_a_reason(
    request_: dict[str, Any], tmp_path: Path
) -> None:
    def train(job: dict[str, Any]) -> dict[str, Any]:
        return {
            "TrainingJobName": job["TrainingJobName"],
            "TrainingJobStatus": "Failed",
            "FailureReason": "AlgorithmError: no data",
        }

    local = _run(request_, tmp_path, train)
    described = local.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-units")
    assert _describe_errors(described) == []
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "BestTrainingJob" not in described
    assert described["FailureReason"] == (
        "no training job completed with validation:rmse: AlgorithmError: no data"
    )
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 5
    # The launcher's waiter reads it as any tuning job: JobFailed, which the CLI exits 1 on.
    with pytest.raises(JobFailed, match="tuning job tune-units Failed: no training job"):
        wait_for_job(local, "tuning", "tune-units", out=lambda s: None, sleep=lambda s: None)


def test_a_failed_job_described_without_its_name_does_not_stop_the_search(
    request_: dict[str, Any], tmp_path: Path
) -> None:
    """`tune --local` crashed with KeyError: 'TrainingJobName' when a failed job's record
    came back without its name; the README says the search goes on."""
    calls: list[str] = []

    def train(job: dict[str, Any]) -> dict[str, Any]:
        calls.append(job["TrainingJobName"])
        if len(calls) == 2:
            return {"TrainingJobStatus": "Failed", "FailureReason": "container exited 1"}
        return {
            "TrainingJobName": job["TrainingJobName"],
            "TrainingJobStatus": "Completed",
            "FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 1.0 + len(calls)}],
        }

    local = _run(request_, tmp_path, train)
    described = local.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-units")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert len(calls) == 5
    jobs = local.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-units"
    )["TrainingJobSummaries"]
    assert calls[1] in {j["TrainingJobName"] for j in jobs}
