"""``deploy --local --rollout canary`` on the real serving image: the old and the new
containers side by side, a share of live traffic on the new one, its 5xx share and p99 latency
watched by the rollback alarms deploy creates, then the update completed or rolled back.

The bad model is a real artifact that loads and passes ``/ping`` but answers 5xx: a
features -> mpg model trained on features in another scaling (shifted to be positive, then
logged), so the standardized feature rows the endpoint receives make its log step give NaN,
which its linear regression refuses (a server error, not the client's). S3 on moto."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.files import Artifact, pack_model_tarball
from mpg_core.artifact.writer import write_artifact
from mpg_launch.cli.main import main
from mpg_launch.local.clients.sagemaker import LocalRuntime
from mpg_launch.local.state import LocalState
from tests.helpers.common import Trained
from tests.helpers.launch import containers_of

REGION = "us-east-1"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(420)]
ROLLOUT = ["--rollout", "canary", "--rollout-step-percent", "50", "--rollout-wait", "4"]
ROLLOUT += ["--rollout-bake", "3", "--max-latency-ms", "2000"]


def bad_model(trained: Trained, folder: Path) -> Path:
    """A features -> mpg artifact whose features are wrong for the traffic (see the module)."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train = pd.read_csv(trained.features / "train" / "train.csv")
    x, y = train.iloc[:, 1:].to_numpy(), train.iloc[:, 0].to_numpy()
    shifted = x - x.min(axis=0) + 1
    estimator = make_pipeline(FunctionTransformer(np.log), LinearRegression()).fit(shifted, y)
    write_artifact(folder, Artifact("model", estimator, tuple(train.columns[1:]), ("mpg",)))
    return pack_model_tarball(folder, folder.parent / "bad.tar.gz")


class Traffic:
    """Feature rows sent to the local endpoint from a thread, as clients would, counted."""

    def __init__(self, state: Path, endpoint: str, body: bytes) -> None:
        self.runtime = LocalRuntime(LocalState(state))
        self.endpoint, self.body = endpoint, body
        self.outcomes: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.runtime.invoke_endpoint(
                    EndpointName=self.endpoint, Body=self.body, ContentType="text/csv"
                )
                self.outcomes["ok"] += 1
            except Exception as exc:  # the failures are what the test counts
                self.outcomes[type(exc).__name__] += 1
            self._stop.wait(0.05)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def models(env: dict[str, str], bucket: str, trained: Trained, tmp_path: Path) -> Iterator[str]:
    s3 = boto3.client("s3", region_name=REGION)
    good = pack_model_tarball(trained.model_dir, tmp_path / "good.tar.gz")
    s3.upload_file(str(good), bucket, "m/old/model.tar.gz")
    s3.upload_file(str(good), bucket, "m/good/model.tar.gz")
    s3.upload_file(str(bad_model(trained, tmp_path / "bad")), bucket, "m/bad/model.tar.gz")
    yield f"s3://{bucket}/m"


def test_canary_rolls_back_a_failing_model_and_completes_a_good_one(
    env: dict[str, str],
    models: str,
    trained: Trained,
) -> None:
    state = Path(env["MPG_LOCAL_STATE_DIR"])
    argv = ["--local", "--endpoint", "ro"]
    assert main(["deploy", *argv, "--model-data", f"{models}/old/model.tar.gz"], env=env) == 0
    old_config = LocalState(state).get("endpoints", "ro", "test")["EndpointConfigName"]
    test = pd.read_csv(trained.features / "test" / "test.csv")
    body = test.iloc[:5, 1:].to_csv(header=False, index=False).encode()

    lines: list[str] = []
    with Traffic(state, "ro", body) as traffic:
        code = main(
            ["deploy", *argv, "--model-data", f"{models}/bad/model.tar.gz", *ROLLOUT],
            env=env,
            out=lines.append,
        )
    text = "\n".join(lines)
    assert code == 1, text  # JobFailed: the endpoint still serves its old config
    assert "50% of traffic to" in text and "-5xx-rate in ALARM during wait 1" in text
    assert "rolled back: new fleet removed, ro InService on " + old_config in text
    record = LocalState(state).get("endpoints", "ro", "test")
    assert record["EndpointStatus"] == "InService"
    assert record["EndpointConfigName"] == old_config
    assert record["FailureReason"].startswith(f"Rolled back to {old_config}: alarm ")
    assert "Rollout" not in record
    assert len(containers_of(state)) == 1  # the new container is gone, the old one serves
    # Some requests reached the canary and failed; the old fleet answered the rest.
    assert traffic.outcomes["ClientError"] >= 1 and traffic.outcomes["ok"] >= 1
    # After the rollback every request is answered by the old model.
    runtime = LocalRuntime(LocalState(state))
    for _ in range(10):
        answer = runtime.invoke_endpoint(EndpointName="ro", Body=body, ContentType="text/csv")
        assert len(answer["Body"].read().split()) == 5

    lines.clear()
    with Traffic(state, "ro", body) as traffic:
        code = main(
            ["deploy", *argv, "--model-data", f"{models}/good/model.tar.gz", *ROLLOUT],
            env=env,
            out=lines.append,
        )
    text = "\n".join(lines)
    assert code == 0, text
    assert "wait 1 over: new fleet" in text and "bake over: new fleet" in text
    record = LocalState(state).get("endpoints", "ro", "test")
    assert record["EndpointStatus"] == "InService" and "FailureReason" not in record
    assert record["EndpointConfigName"] != old_config
    assert "update complete: old fleet removed" in text
    assert traffic.outcomes["ok"] >= 20 and set(traffic.outcomes) == {"ok"}
    assert len(containers_of(state)) == 1  # the old container is gone
    assert main(["delete", *argv], env=env, out=lambda s: None) == 0
