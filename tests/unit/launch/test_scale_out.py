"""Scaling out from the launcher: ``data --shards`` against a real moto server, and training
on more than one instance refused before any request or client."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpg_launch.cli.main import main
from mpg_launch.local.engine.staging import download_prefix

REGION = "us-east-1"
ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


def no_clients(config: object, out: object) -> object:
    raise AssertionError("the refusal must come before any client is made")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--preprocessing-job", "p1"],
        ["train", "--preprocessing-job", "p1", "--local"],
        ["tune", "--preprocessing-job", "p1"],
    ],
)
@pytest.mark.parametrize("dry_run", [["--dry-run"], []])
def test_training_on_several_instances_is_refused_naming_the_fix(
    argv: list[str], dry_run: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "mpg.toml"
    config.write_text('[instances.training]\ntype = "ml.m5.xlarge"\ncount = 3\n')
    lines: list[str] = []
    code = main(
        [*argv, *dry_run, "--config", str(config)], env=ENV, factory=no_clients, out=lines.append
    )
    assert code == 2
    assert lines == []  # no request printed
    err = capsys.readouterr().err.strip()
    assert err == (
        "mpg-launch: error: instances.training count = 3: a random forest trains on one "
        "instance and does not distribute; set count = 1 and a bigger type, e.g. type = "
        '"ml.m5.4xlarge", whose cores n_jobs=-1 (the default) uses'
    )


def test_shards_are_disjoint_cover_the_prefix_and_may_be_empty(tmp_path: Path) -> None:
    """The local runner's ShardedByS3Key: about 1/n of the key-sorted objects per host, no
    object on two hosts, none lost; a host beyond the object count gets an empty folder (as
    on SageMaker), while FullyReplicated gives every host everything."""
    source = tmp_path / "prefix"
    source.mkdir()
    names = ["a.csv", "b.csv", "c.csv"]
    for name in names:
        (source / name).write_text(name)
    hosts = 4
    staged = [
        download_prefix(None, source.as_uri(), tmp_path / f"algo-{i + 1}", shard=(i, hosts))
        for i in range(hosts)
    ]
    assert sorted(p.name for files in staged for p in files) == names
    assert [len(files) for files in staged] == [1, 1, 1, 0]
    assert (tmp_path / "algo-4").is_dir() and list((tmp_path / "algo-4").iterdir()) == []
    whole = download_prefix(None, source.as_uri(), tmp_path / "replicated")
    assert sorted(p.name for p in whole) == names
