"""--local holds the images to SageMaker's limits: failure reasons from /opt/ml/output/failure,
MaxRuntimeInSeconds enforced with SIGTERM, several instances as algo-1..N, the ping health
check, the 6 MiB body limit. Real containers on the local engine, S3 on moto."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
import pytest

from mpg_launch.aws.names import features_uri
from mpg_launch.aws.s3 import split_s3_uri
from mpg_launch.cli.main import main
from mpg_launch.settings.config import load_config
from tests.helpers.launch import containers_of

REGION = "us-east-1"
pytestmark = [pytest.mark.docker, pytest.mark.aws, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def prepared(env: dict[str, str]) -> dict[str, str]:
    assert main(["data"], env=env, out=lambda s: None) == 0
    assert main(["preprocess", "--local", "--job-name", "prep"], env=env, out=lambda s: None) == 0
    return env


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mpg.toml"
    path.write_text(text)
    return str(path)


def test_failure_reason_comes_from_the_failure_file(
    prepared: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A failure only the container can see (the launcher checks hyperparameters itself): the
    train features hold text where a number belongs."""
    config = load_config(env=prepared, overrides={"local": True})
    bucket, prefix = split_s3_uri(features_uri(config, "prep", "train"))
    s3 = boto3.client("s3", region_name=REGION)
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
        header, first, *rest = body.splitlines()
        broken = ",".join(["many", *first.split(",")[1:]])
        s3.put_object(Bucket=bucket, Key=obj["Key"], Body="\n".join([header, broken, *rest]))
    code = main(
        ["train", "--local", "--job-name", "bad", "--preprocessing-job", "prep"],
        env=prepared,
        out=lambda s: None,
    )
    err = capsys.readouterr().err.strip()
    assert code == 1  # JobFailed: the job failed
    assert err.startswith("mpg-launch: error: training job bad Failed: AlgorithmError: DataError")
    assert "'many'" in err
    assert len(err.splitlines()) == 1


def test_max_runtime_stops_the_job_with_sigterm(
    prepared: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    code = main(
        [
            "train",
            "--local",
            "--job-name",
            "slow",
            "--preprocessing-job",
            "prep",
            "--config",
            config_file(tmp_path, "max_runtime_seconds = 4"),
            "-H",
            "algorithm=random_forest",
            "-H",
            "n_estimators=10000",
            "-H",
            "n_jobs=1",
        ],
        env=prepared,
        out=lines.append,
    )
    assert code == 1  # JobFailed: the job failed
    assert "MaxRuntimeExceeded" in capsys.readouterr().err
    # The job saw SIGTERM (and said so) rather than being killed outright.
    assert any("SIGTERM" in line for line in lines), lines[-5:]


def test_endpoint_that_fails_its_ping_check_is_failed_and_cleaned_up(
    env: dict[str, str], bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("not-a-model.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=bucket, Key="junk/model.tar.gz", Body=buffer.getvalue()
    )
    code = main(
        [
            "deploy",
            "--local",
            "--endpoint",
            "broken",
            "--model-data",
            f"s3://{bucket}/junk/model.tar.gz",
            "--poll-seconds",
            "0.1",
        ],
        env=env,
        out=lambda s: None,
    )
    assert code == 1  # JobFailed: the job failed
    assert "did not pass the ping health check" in capsys.readouterr().err
    assert containers_of(Path(env["MPG_LOCAL_STATE_DIR"])) == []
    assert main(["delete", "--local", "--endpoint", "broken"], env=env, out=lambda s: None) == 0


def test_two_instance_endpoint_and_the_6_mib_limit(
    prepared: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = prepared
    assert (
        main(
            [
                "train",
                "--local",
                "--job-name",
                "t",
                "--preprocessing-job",
                "prep",
                "-H",
                "n_estimators=10",
            ],
            env=env,
            out=lambda s: None,
        )
        == 0
    )
    cfg = config_file(tmp_path, "[instances.serving]\ncount = 2\n")
    assert (
        main(
            ["deploy", "--local", "--endpoint", "two", "--training-job", "t", "--config", cfg],
            env=env,
            out=lambda s: None,
        )
        == 0
    )
    names = containers_of(Path(env["MPG_LOCAL_STATE_DIR"]))
    assert len(names) == 2
    assert any(n.endswith("-algo-1") for n in names) and any(n.endswith("-algo-2") for n in names)
    rows = tmp_path / "rows.csv"
    rows.write_text("4,97,88,2130,14.5,70,3\n")
    lines: list[str] = []
    assert (
        main(
            ["predict", "--local", "--endpoint", "two", "--file", str(rows)],
            env=env,
            out=lines.append,
        )
        == 0
    )
    assert 20 < float(lines[-1]) < 45
    big = tmp_path / "big.csv"
    big.write_bytes(b"4,97,88,2130,14.5,70,3\n" * (7 * 1024 * 1024 // 23))
    assert (
        main(
            ["predict", "--local", "--endpoint", "two", "--file", str(big)],
            env=env,
            out=lambda s: None,
        )
        != 0
    )
    assert "at most 6291456" in capsys.readouterr().err
    assert main(["delete", "--local", "--endpoint", "two"], env=env, out=lambda s: None) == 0
    assert containers_of(Path(env["MPG_LOCAL_STATE_DIR"])) == []
