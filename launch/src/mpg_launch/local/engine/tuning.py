"""A hyperparameter tuning job on the local engine, from the very same request dict.

SageMaker's tuner is a service; this is a stand-in good enough to try the tuning request, the
metric regexes and the ranges end to end before paying for instances:

- **random search only**: every job's hyperparameters are drawn at random from the ranges
  (seeded by ``RandomSeed``, else by the tuning job's name, so a rerun draws the same). The
  Bayesian and Hyperband strategies are not emulated; whatever ``Strategy`` says, the draws
  are random search's, as SageMaker's ``Random`` strategy makes them. ``ScalingType``
  Logarithmic / ReverseLogarithmic draw on that scale; ``Auto`` draws linearly.
- **one job at a time**: ``MaxParallelTrainingJobs`` is read but the jobs run one after
  another (one Docker engine); ``MaxNumberOfTrainingJobs`` is the budget.
- each job's objective is the last value its ``MetricDefinitions`` regex found in the job's
  log lines (the training job's ``FinalMetricDataList``), as SageMaker reads it. A failed job
  counts as failed and the search goes on; no completed job with an objective: Failed.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

Request = Mapping[str, Any]


def seed_of(config: Request, name: str) -> int:
    """``RandomSeed`` if the request gives one, else a stable number from the job's name."""
    if "RandomSeed" in config:
        return int(config["RandomSeed"])
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")


def _draw(low: float, high: float, scaling: str, rng: random.Random) -> float:
    if scaling == "Logarithmic":
        if low <= 0:
            raise ValueError(f"Logarithmic scaling needs MinValue > 0, got {low}")
        return math.exp(rng.uniform(math.log(low), math.log(high)))
    if scaling == "ReverseLogarithmic":  # dense near 1: 1 - log-uniform(1 - high, 1 - low)
        if high >= 1:
            raise ValueError(f"ReverseLogarithmic scaling needs MaxValue < 1, got {high}")
        return 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    return rng.uniform(low, high)  # Linear, and Auto (SageMaker's choice is not emulated)


def sample(ranges: Request, rng: random.Random) -> dict[str, str]:
    """One job's tuned hyperparameters (strings, as on the wire) drawn from ParameterRanges."""
    drawn: dict[str, str] = {}
    for item in ranges.get("IntegerParameterRanges", []):
        low, high = int(item["MinValue"]), int(item["MaxValue"])
        scaling = item.get("ScalingType", "Auto")
        # An integer range's every value is equally likely on a linear scale: draw on
        # [low, high + 1) and floor; clamp for the log scale's rounding at the top.
        value: float
        if scaling == "Logarithmic":
            value = round(_draw(low, high, scaling, rng))
        else:
            value = math.floor(_draw(low, high + 1, scaling, rng))
        drawn[item["Name"]] = str(min(max(int(value), low), high))
    for item in ranges.get("ContinuousParameterRanges", []):
        bottom, top = float(item["MinValue"]), float(item["MaxValue"])
        number = _draw(bottom, top, item.get("ScalingType", "Auto"), rng)
        drawn[item["Name"]] = repr(min(max(number, bottom), top))
    for item in ranges.get("CategoricalParameterRanges", []):
        drawn[item["Name"]] = rng.choice(list(item["Values"]))
    return drawn


def objective_metric(job: Request, objective: Request) -> dict[str, Any] | None:
    """The objective as the tuner records it for one training job, or None if the job's
    logs never printed it."""
    for metric in job.get("FinalMetricDataList", []):
        if metric["MetricName"] == objective["MetricName"]:
            return {
                "Type": objective["Type"],
                "MetricName": metric["MetricName"],
                "Value": float(metric["Value"]),
            }
    return None


def best_of(summaries: list[dict[str, Any]], objective: Request) -> dict[str, Any] | None:
    """The completed job with the best objective (lowest for Minimize, highest for
    Maximize); the earlier job wins a tie."""
    scored = [
        s
        for s in summaries
        if s["TrainingJobStatus"] == "Completed"
        and "FinalHyperParameterTuningJobObjectiveMetric" in s
    ]
    if not scored:
        return None
    sign = -1.0 if objective["Type"] == "Maximize" else 1.0
    return min(
        scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )


def training_request(request: Request, job_name: str, tuned: Mapping[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request the tuner makes for one job of the definition."""
    definition = dict(request["TrainingJobDefinition"])
    static = definition.pop("StaticHyperParameters", {})
    definition.pop("DefinitionName", None)
    definition.pop("TuningObjective", None)
    definition.pop("HyperParameterRanges", None)
    job: dict[str, Any] = {
        "TrainingJobName": job_name,
        **definition,
        "HyperParameters": {**static, **tuned},
    }
    if request.get("Tags"):
        job["Tags"] = list(request["Tags"])
    return job


def job_name(tuning_job: str, index: int) -> str:
    """``<tuning job>-NNN-<8 hex>``, as SageMaker names a tuning job's training jobs."""
    digest = hashlib.sha256(f"{tuning_job}/{index}".encode()).hexdigest()[:8]
    return f"{tuning_job}-{index:03d}-{digest}"


def summary(
    job: Request, tuning_job: str, tuned: Mapping[str, str], objective: Request
) -> dict[str, Any]:
    """A HyperParameterTrainingJobSummary of a finished (or failed) training job."""
    status = job.get("TrainingJobStatus", "Failed")
    entry: dict[str, Any] = {
        "TrainingJobName": job["TrainingJobName"],
        "TrainingJobArn": job.get("TrainingJobArn", ""),
        "TuningJobName": tuning_job,
        "CreationTime": job.get("CreationTime") or datetime.now(UTC),
        "TrainingJobStatus": status,
        "TunedHyperParameters": dict(tuned),
    }
    if job.get("TrainingEndTime"):
        entry["TrainingEndTime"] = job["TrainingEndTime"]
    if job.get("FailureReason"):
        entry["FailureReason"] = job["FailureReason"]
    metric = objective_metric(job, objective) if status == "Completed" else None
    if metric:
        entry["FinalHyperParameterTuningJobObjectiveMetric"] = metric
    entry["ObjectiveStatus"] = "Succeeded" if metric else "Failed"
    return entry


def counters(summaries: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """TrainingJobStatusCounters and ObjectiveStatusCounters of the jobs so far."""
    by_status = [s["TrainingJobStatus"] for s in summaries]
    training = {
        "Completed": by_status.count("Completed"),
        "InProgress": by_status.count("InProgress"),
        "RetryableError": 0,
        "NonRetryableError": by_status.count("Failed"),
        "Stopped": by_status.count("Stopped"),
    }
    objective = [s.get("ObjectiveStatus") for s in summaries]
    objectives = {
        "Succeeded": objective.count("Succeeded"),
        "Pending": objective.count("Pending"),
        "Failed": objective.count("Failed"),
    }
    return training, objectives


def run_tuning(
    request: Request,
    arn: str,
    train: Callable[[dict[str, Any]], dict[str, Any]],
    record: Callable[[dict[str, Any]], None],
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the budget's training jobs one by one through ``train`` (a CreateTrainingJob
    request in, its DescribeTrainingJob out; an exception counts as a failed job), calling
    ``record`` with the tuning job's description after each; return the final one.
    Ctrl-C records the tuning job Stopped and goes on up."""
    name = request["HyperParameterTuningJobName"]
    config = request["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    budget = int(config["ResourceLimits"]["MaxNumberOfTrainingJobs"])
    rng = random.Random(seed_of(config, name))  # noqa: S311 - a search, not a secret
    summaries: list[dict[str, Any]] = []
    state: dict[str, Any] = {
        **request,
        "HyperParameterTuningJobArn": arn,
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": datetime.now(UTC),
    }

    def save(**changes: Any) -> dict[str, Any]:
        training, objectives = counters(summaries)
        state.update(
            changes,
            TrainingJobStatusCounters=training,
            ObjectiveStatusCounters=objectives,
            TrainingJobSummaries=list(summaries),
            LastModifiedTime=datetime.now(UTC),
        )
        best = best_of(summaries, objective)
        if best:
            state["BestTrainingJob"] = {k: v for k, v in best.items() if k != "TuningJobName"}
        record(dict(state))
        return state

    save()
    if config["ResourceLimits"].get("MaxParallelTrainingJobs", 1) > 1:
        out("note: --local runs the tuning's training jobs one at a time")
    if config.get("Strategy") != "Random":
        out(f"note: --local searches at random (SageMaker's {config.get('Strategy')} is not)")
    for index in range(1, budget + 1):
        tuned = sample(config.get("ParameterRanges", {}), rng)
        job = training_request(request, job_name(name, index), tuned)
        out(f"tuning {name}: job {index}/{budget} {job['TrainingJobName']} {tuned}")
        pending = summary(
            {"TrainingJobName": job["TrainingJobName"], "TrainingJobStatus": "InProgress"},
            name,
            tuned,
            objective,
        )
        pending["ObjectiveStatus"] = "Pending"
        summaries.append(pending)
        save()
        try:
            described = train(job)
        except KeyboardInterrupt:
            summaries[-1] = {**pending, "TrainingJobStatus": "Stopped", "ObjectiveStatus": "Failed"}
            save(
                HyperParameterTuningJobStatus="Stopped",
                HyperParameterTuningEndTime=datetime.now(UTC),
                FailureReason="stopped by the user (Ctrl-C)",
            )
            raise
        except Exception as exc:  # a job that cannot start is a failed job; the search goes on
            described = {
                "TrainingJobName": job["TrainingJobName"],
                "TrainingJobStatus": "Failed",
                "FailureReason": str(exc)[:1024],
            }
        # A failed job's record may lack its name (it failed before it was recorded whole):
        # the summary names the job the tuner started, so the search goes on (no KeyError).
        described = {"TrainingJobName": job["TrainingJobName"], **described}
        summaries[-1] = summary(described, name, tuned, objective)
        done = summaries[-1]
        metric = done.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        out(
            f"tuning {name}: {done['TrainingJobName']} {done['TrainingJobStatus']}"
            + (f" {objective['MetricName']}={metric}" if metric is not None else "")
        )
        save()
    if best_of(summaries, objective) is None:
        reasons = sorted({s.get("FailureReason", "no objective metric") for s in summaries})
        return save(
            HyperParameterTuningJobStatus="Failed",
            HyperParameterTuningEndTime=datetime.now(UTC),
            FailureReason=(
                f"no training job completed with {objective['MetricName']}: " + "; ".join(reasons)
            )[:1024],
        )
    return save(
        HyperParameterTuningJobStatus="Completed",
        HyperParameterTuningEndTime=datetime.now(UTC),
    )


def listed(
    summaries: list[dict[str, Any]],
    status: str | None = None,
    sort_by: str = "Name",
    order: str = "Ascending",
) -> list[dict[str, Any]]:
    """ListTrainingJobsForHyperParameterTuningJob's summaries, filtered and sorted as asked
    (by FinalObjectiveMetricValue: jobs without one last, as SageMaker lists them)."""
    chosen = [s for s in summaries if status is None or s["TrainingJobStatus"] == status]
    reverse = order == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        scored = [s for s in chosen if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        rest = [s for s in chosen if s not in scored]
        scored.sort(
            key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            reverse=reverse,
        )
        return scored + rest
    key = {"CreationTime": "CreationTime", "Status": "TrainingJobStatus"}.get(
        sort_by, "TrainingJobName"
    )
    return sorted(chosen, key=lambda s: str(s.get(key, "")), reverse=reverse)
