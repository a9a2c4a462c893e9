"""``mpg-launch tune --local`` on the real training image, S3 on moto: three training jobs
drawn from the table's ranges (``algorithm`` among them, as a categorical range), the best
by validation:rmse, and that value is what the best job's own evaluation report says."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from mpg_core.hyperparameters import ALGORITHMS
from mpg_launch.cli.main import main
from mpg_launch.local.clients.sagemaker import LocalSageMaker
from mpg_launch.local.state import LocalState
from tests.helpers.launch import containers_of

REGION = "us-east-1"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(600)]


def _report(uri: str) -> dict[str, Any]:
    """evaluation.json from a training job's output.tar.gz (the job's own metrics)."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read()), mode="r:gz") as tar:
        member = tar.extractfile("evaluation.json")
        assert member is not None
        return dict(json.load(member))


def test_tune_locally_finds_the_best_job(bucket: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "MPG_LOCAL_STATE_DIR": str(state)}
    lines: list[str] = []
    try:
        assert main(["data"], env=env, out=lines.append) == 0
        prep = ["preprocess", "--local", "--job-name", "prep-tune"]
        assert main(prep, env=env, out=lines.append) == 0
        tune = [
            "tune",
            "--local",
            "--job-name",
            "tune-e2e",
            "--preprocessing-job",
            "prep-tune",
            "--max-jobs",
            "3",
            "--max-parallel",
            "1",
        ]
        assert main(tune, env=env, out=lines.append) == 0, "\n".join(lines[-30:])
    finally:
        assert containers_of(state) == []

    local = LocalSageMaker(
        boto3.client("s3", region_name=REGION), LocalState(state), REGION, "0", lambda s: None
    )
    described = local.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-e2e")
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 3
    jobs = local.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-e2e"
    )["TrainingJobSummaries"]
    assert len(jobs) == 3

    values = {}
    for job in jobs:
        trained = local.describe_training_job(TrainingJobName=job["TrainingJobName"])
        tuned = job["TunedHyperParameters"]
        assert tuned["algorithm"] in ALGORITHMS
        assert trained["HyperParameters"] == tuned  # the config fixes none of them
        # The recorded objective is the job's own: its log line and its evaluation report.
        logged = {m["MetricName"]: m["Value"] for m in trained["FinalMetricDataList"]}
        value = job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert value == logged["validation:rmse"]
        report = _report(
            trained["ModelArtifacts"]["S3ModelArtifacts"].replace("model.tar", "output.tar")
        )
        assert report["metrics"]["validation"]["rmse"] == pytest.approx(value, rel=1e-5)
        assert report["hyperparameters"]["algorithm"] == tuned["algorithm"]
        values[job["TrainingJobName"]] = value

    best = described["BestTrainingJob"]
    assert best["TrainingJobName"] == min(values, key=values.__getitem__)
    metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
    assert metric == {
        "Type": "Minimize",
        "MetricName": "validation:rmse",
        "Value": min(values.values()),
    }
    assert f"best: {best['TrainingJobName']} validation:rmse={metric['Value']}" in "\n".join(lines)
