"""The preprocess entry point on N simulated hosts: the launcher's own request, its inputs
staged per host the way ShardedByS3Key and FullyReplicated spread them (the local runner's
staging, on file:// folders), one resourceconfig.json and processingjobconfig.json per host.

The invariants: all hosts together write every input row exactly once, with the values a
one-instance run writes; every host fits the identical preprocessor; it is saved once."""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mpg_core import dataset
from mpg_core.artifact.files import read_manifest, unpack_model_tarball
from mpg_core.hyperparameters import Hyperparameters
from mpg_launch.jobs.requests import processing_request
from mpg_launch.local.engine.staging import download_prefix
from mpg_launch.settings.config import Instances, LaunchConfig, load_config
from mpg_preprocessing.cli import main
from mpg_training.job import TrainConfig
from mpg_training.job import run as train

SPLITS = dataset.SPLITS
FILES_PER_SPLIT = 3
OPT_ML = "/opt/ml"
PREPROCESSOR_TARBALL = "processing/output/preprocessor/model.tar.gz"


@dataclass(frozen=True)
class Hosts:
    """What one simulated job left behind."""

    roots: dict[str, Path]  # host -> its /opt/ml
    events: dict[str, list[dict[str, Any]]]  # host -> what the job logged
    codes: dict[str, int]  # host -> exit code

    @property
    def fingerprints(self) -> dict[str, str]:
        """host -> sha256 of the preprocessor it fitted."""
        return {
            host: event["estimator_sha256"]
            for host, events in self.events.items()
            for event in events
            if event["message"] == "fitted preprocessor"
        }

    def feature_files(self, split: str) -> list[Path]:
        return sorted(
            path
            for root in self.roots.values()
            for path in (root / "processing/output/features" / split).glob("*.csv")
        )

    def tarballs(self) -> list[Path]:
        found = (root / PREPROCESSOR_TARBALL for root in self.roots.values())
        return sorted(path for path in found if path.exists())


def lines(paths: list[Path]) -> Counter[str]:
    """The data rows of headered CSV files, as a multiset of exact text lines."""
    found: Counter[str] = Counter()
    for path in paths:
        found.update(path.read_text().splitlines()[1:])
    return found


def raw_rows(bronze: Path, split: str) -> int:
    return sum(len(pd.read_csv(path)) for path in (bronze / split).glob("*.csv"))


def rebased(text: str, root: Path) -> str:
    return text.replace(OPT_ML, str(root))


class JobLog(logging.Handler):
    """The job's log events (a handler on the job's own logger, which the entry point's
    logging set-up leaves in place)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append({**record.__dict__, "message": record.getMessage()})


def simulate(bronze: Path, tmp: Path, count: int, request: dict[str, Any] | None = None) -> Hosts:
    """Run the launcher's processing request (or ``request``) on ``count`` hosts, here."""
    if request is None:
        request = processing_request(launch_config(count), "prep")
    hosts = [f"algo-{i}" for i in range(1, count + 1)]
    roots, events, codes = {}, {}, {}
    job_log = logging.getLogger("mpg_preprocessing.job")
    for index, host in enumerate(hosts):
        root = tmp / host
        (root / "config").mkdir(parents=True)
        (root / "config/resourceconfig.json").write_text(
            json.dumps({"current_host": host, "hosts": hosts})
        )
        (root / "config/processingjobconfig.json").write_text(json.dumps(request))
        for item in request["ProcessingInputs"]:
            s3_input = item["S3Input"]
            # Each S3 prefix (the fit input is the train prefix) as a local bronze folder.
            split = s3_input["S3Uri"].rstrip("/").rsplit("/", 1)[-1]
            sharded = s3_input["S3DataDistributionType"] == "ShardedByS3Key"
            download_prefix(
                None,
                (bronze / split).as_uri(),
                Path(rebased(s3_input["LocalPath"], root)),
                shard=(index, count) if sharded else None,
            )
        args = [rebased(a, root) for a in request["AppSpecification"]["ContainerArguments"]]
        log = JobLog()
        job_log.addHandler(log)
        try:
            codes[host] = main(args, env={"SAGEMAKER_BASE_DIR": str(root)})
        finally:
            job_log.removeHandler(log)
        roots[host], events[host] = root, log.events
    return Hosts(roots, events, codes)


def launch_config(count: int) -> LaunchConfig:
    config = load_config(env={"MPG_REGION": "us-east-1", "MPG_BUCKET": "bucket"}, need_role=False)
    return replace(config, instances={"processing": Instances(count=count)})


@pytest.fixture(scope="module")
def bronze(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded splits, each as three files with its rows dealt among them."""
    root = tmp_path_factory.mktemp("bronze")
    dataset.write_split_shards(dataset.split(dataset.load_auto_mpg()), root, FILES_PER_SPLIT)
    return root


@pytest.fixture(scope="module")
def one_instance(bronze: Path, tmp_path_factory: pytest.TempPathFactory) -> Hosts:
    """The reference: one instance, the launcher's request, the same three files a split."""
    hosts = simulate(bronze, tmp_path_factory.mktemp("n1"), 1)
    assert hosts.codes == {"algo-1": 0}
    return hosts


@pytest.mark.parametrize("count", [2, 3, 4])  # 4: more hosts than files, one gets nothing
def test_n_hosts_write_every_row_once_with_one_preprocessor(
    count: int, bronze: Path, one_instance: Hosts, tmp_path: Path
) -> None:
    hosts = simulate(bronze, tmp_path, count)
    assert set(hosts.codes.values()) == {0}
    for split in SPLITS:
        expected = lines(one_instance.feature_files(split))
        assert sum(expected.values()) == raw_rows(bronze, split)
        # Every host's rows together: each input row once, with the one-instance values.
        assert lines(hosts.feature_files(split)) == expected
        # Host-unique names: no host's file hides another's when they share the S3 prefix.
        names = [p.name for p in hosts.feature_files(split)]
        assert len(names) == len(set(names)) == min(count, FILES_PER_SPLIT)
    # One preprocessor: every host fitted the same one, the one-instance run's, saved once.
    (reference,) = one_instance.fingerprints.values()
    assert hosts.fingerprints == dict.fromkeys(hosts.roots, reference)
    assert hosts.tarballs() == [hosts.roots["algo-1"] / PREPROCESSOR_TARBALL]
    unpacked = unpack_model_tarball(hosts.tarballs()[0], tmp_path / "artifact")
    manifest = read_manifest(unpacked)
    assert manifest["estimator_sha256"] == reference
    assert manifest["fitted_on_rows"] == raw_rows(bronze, "train")


def test_a_host_without_files_writes_nothing_logs_it_and_succeeds(
    bronze: Path, tmp_path: Path
) -> None:
    hosts = simulate(bronze, tmp_path, FILES_PER_SPLIT + 1)
    idle = f"algo-{FILES_PER_SPLIT + 1}"
    root = hosts.roots[idle]
    assert hosts.codes[idle] == 0
    for split in SPLITS:
        assert list((root / "processing/input" / split).iterdir()) == []  # an empty shard
    assert not any((root / "processing/output").rglob("*.*"))
    skipped = [
        e["split"] for e in hosts.events[idle] if e["message"].startswith("no rows for this host")
    ]
    assert skipped == list(SPLITS)


def test_training_reads_every_host_s_features_as_one_table(bronze: Path, tmp_path: Path) -> None:
    """The features prefix of a 3-host job (one file per host and split, as S3 holds them)
    as training channels: every row is trained on or evaluated once."""
    hosts = simulate(bronze, tmp_path / "hosts", 3)
    channels = {}
    for split in SPLITS:
        channel = tmp_path / "channels" / split
        channel.mkdir(parents=True)
        for path in hosts.feature_files(split):
            shutil.copy(path, channel / path.name)
        channels[split] = channel
    train(
        TrainConfig(
            channels=channels,
            model_dir=tmp_path / "model",
            output_data_dir=tmp_path / "output",
            hyperparameters=Hyperparameters(n_estimators=10),
        )
    )
    report = json.loads((tmp_path / "output/evaluation.json").read_text())
    assert report["rows"] == {
        split: sum(lines(hosts.feature_files(split)).values()) for split in SPLITS
    }
    assert report["rows"] == {split: raw_rows(bronze, split) for split in SPLITS}


def test_sharded_files_give_the_one_file_run_s_features(
    one_instance: Hosts, trained: Any, tmp_path: Path
) -> None:
    """Three files per split, rows dealt, against the pipeline's one file per split (the
    session's in-process run): the same rows with the same values, to rounding."""
    for split in SPLITS:
        sharded = pd.concat(pd.read_csv(p) for p in one_instance.feature_files(split))
        single = pd.read_csv(trained.features / split / f"{split}.csv")
        assert list(sharded.columns) == list(single.columns)
        np.testing.assert_allclose(sorted_rows(sharded), sorted_rows(single), rtol=1e-9)


def sorted_rows(frame: pd.DataFrame) -> np.ndarray:
    values = frame.to_numpy()
    return values[np.lexsort(values.T[::-1])]


def test_the_fit_input_must_hold_rows(bronze: Path, tmp_path: Path) -> None:
    no_train = tmp_path / "bronze"
    shutil.copytree(bronze, no_train)
    shutil.rmtree(no_train / "train")
    (no_train / "train").mkdir()
    (no_train / "train/notes.txt").write_text("no tables here")
    hosts = simulate(no_train, tmp_path / "hosts", 2)
    assert set(hosts.codes.values()) == {3}
    reason = (hosts.roots["algo-1"] / "output/failure").read_text()
    assert reason.startswith("DataError: fit (the whole train split): no .csv or .data files")


def _with_distribution(request: dict[str, Any], name: str, distribution: str) -> dict[str, Any]:
    inputs = [
        {**i, "S3Input": {**i["S3Input"], "S3DataDistributionType": distribution}}
        if i["InputName"] == name
        else i
        for i in request["ProcessingInputs"]
    ]
    return {**request, "ProcessingInputs": inputs}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: _with_distribution(r, "validation", "FullyReplicated"),
            "--validation {root}/processing/input/validation is FullyReplicated over 2 "
            "instances, so every host would write every row; make that input ShardedByS3Key",
        ),
        (
            lambda r: _with_distribution(r, "fit", "ShardedByS3Key"),
            "--fit {root}/processing/input/fit is ShardedByS3Key over 2 instances, so each "
            "would fit a different preprocessor; make that input FullyReplicated",
        ),
        (
            lambda r: {
                **r,
                "AppSpecification": {
                    **r["AppSpecification"],
                    "ContainerArguments": [
                        a for a in r["AppSpecification"]["ContainerArguments"] if "--fit" not in a
                    ],
                },
            },
            "2 instances need --fit: the whole train split (FullyReplicated) to fit on, apart "
            "from --train {root}/processing/input/train, this host's ShardedByS3Key share",
        ),
    ],
)
def test_spreading_that_would_give_wrong_features_is_refused(
    bronze: Path, tmp_path: Path, change: Any, expected: str
) -> None:
    request = change(processing_request(launch_config(2), "prep"))
    hosts = simulate(bronze, tmp_path, 2, request)
    assert set(hosts.codes.values()) == {2}
    for root in hosts.roots.values():
        reason = (root / "output/message").read_text().strip()
        assert reason == "ConfigError: " + expected.format(root=root)
        assert not (root / "processing/output/features").exists()
