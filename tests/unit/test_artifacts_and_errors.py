import io
import json
import tarfile
from pathlib import Path

import pytest

from mpg_core.artifact.files import Artifact, pack_model_tarball, unpack_model_tarball
from mpg_core.artifact.reader import load_artifact
from mpg_core.artifact.writer import write_artifact
from mpg_core.errors import ConfigError, DataError, failure_text, write_failure


def test_tarball_has_files_at_top_level_and_round_trips(tmp_path: Path) -> None:
    write_artifact(
        tmp_path / "a",
        Artifact(kind="model", estimator={"w": 1}, input_columns=("x",), output_columns=("mpg",)),
    )
    tar_path = pack_model_tarball(tmp_path / "a", tmp_path / "out" / "model.tar.gz")
    with tarfile.open(tar_path) as tar:
        assert sorted(tar.getnames()) == ["artifact.json", "estimator.joblib"]
    loaded = load_artifact(unpack_model_tarball(tar_path, tmp_path / "b"))
    assert loaded.kind == "model" and loaded.estimator == {"w": 1}
    assert json.loads((tmp_path / "b" / "artifact.json").read_text())["versions"]["scikit-learn"]


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil"])
def test_unpack_refuses_paths_out_of_the_folder(tmp_path: Path, name: str) -> None:
    member = tarfile.TarInfo(name)
    member.size = 1
    with pytest.raises(ConfigError, match="refusing to extract"):
        unpack_model_tarball(_tar_with(tmp_path, member, b"x"), tmp_path / "dest")
    assert not (tmp_path / "escape.txt").exists()


def test_unpack_refuses_links(tmp_path: Path) -> None:
    member = tarfile.TarInfo("link")
    member.type = tarfile.SYMTYPE
    member.linkname = "/etc/passwd"
    with pytest.raises(ConfigError, match="refusing to extract"):
        unpack_model_tarball(_tar_with(tmp_path, member), tmp_path / "dest")


def test_load_artifact_explains_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "model.tar.gz").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"no artifact.json .*found \['model.tar.gz'\]"):
        load_artifact(tmp_path)


def test_failure_text_puts_the_message_first_and_fits_1kb() -> None:
    assert failure_text(DataError("train: no rows")) == "DataError: train: no rows"
    try:
        raise ValueError("x" * 5000)
    except ValueError as exc:
        text = failure_text(exc)
    assert text.startswith("ValueError: xxx")
    assert len(text) == 1024 and text.endswith("...")


def test_write_failure_writes_each_file(tmp_path: Path) -> None:
    write_failure(tmp_path / "output", DataError("bad"), ("failure", "message"))
    assert (tmp_path / "output" / "failure").read_text() == "DataError: bad\n"
    assert (tmp_path / "output" / "message").read_text() == "DataError: bad\n"


def test_info_round_trips_and_may_not_overwrite_the_format(tmp_path: Path) -> None:
    artifact = Artifact("model", {"w": 1}, ("x",), ("mpg",), info={"fitted_on_rows": 3})
    manifest = write_artifact(tmp_path / "a", artifact)
    assert manifest["compiled"] is None  # a dict is no estimator the compiler knows
    assert load_artifact(tmp_path / "a").info == {"fitted_on_rows": 3}
    # Saving a loaded artifact again writes a fresh manifest, not the old one's entries.
    again = write_artifact(tmp_path / "b", load_artifact(tmp_path / "a"))
    assert (
        again["fitted_on_rows"] == 3 and again["estimator_sha256"] == manifest["estimator_sha256"]
    )
    with pytest.raises(ValueError, match="own keys"):
        write_artifact(tmp_path / "c", Artifact("model", {}, ("x",), ("mpg",), {"compiled": 1}))
    assert not (tmp_path / "c").exists()
