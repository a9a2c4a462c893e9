"""Running the images' jobs in-process or as the installed commands on a temporary /opt/ml
tree (``SAGEMAKER_BASE_DIR``): what the contract and image tests share."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from mpg_core import dataset
from mpg_core.artifact.files import MODEL_TARBALL, pack_model_tarball
from mpg_core.table_schema import infer_schema, load_schema, render_schema
from mpg_preprocessing.cli import main as preprocess_main
from tests.tables import Table

# The image's `train` is mpg-train (sagemaker-training's runner, stop handler first).
TRAIN = str(Path(sys.executable).with_name("mpg-train"))


CHANNELS = ("train", "validation", "test", "preprocessor")


def make_tree(
    root: Path, trained, hyperparameters: dict[str, str], channels: tuple[str, ...] = CHANNELS
) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                c: {
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for c in channels
            }
        )
    )
    (config / "resourceconfig.json").write_text(
        json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}
        )
    )
    for channel in channels:
        source = (
            trained.preprocessor_tarball.parent
            if channel == "preprocessor"
            else trained.features / channel
        )
        shutil.copytree(source, root / "input" / "data" / channel)
    return root


def run_train(root: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SAGEMAKER_BASE_DIR": str(root),
        "SAGEMAKER_TRAINING_MODULE": "mpg_training.job:main",
    }
    return subprocess.run([TRAIN], env=env, capture_output=True, text=True, timeout=timeout)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_schema(table: Table, folder: Path) -> Path:
    """What ``mpg-launch init`` does: infer, render with the reasons, write."""
    raw = dataset.read_table(table.write(folder / "table"))
    schema, reasons = infer_schema(raw, table.target)
    assert schema.task == table.task, reasons["task"]
    path = folder / "schema" / f"{table.name}.toml"
    path.parent.mkdir(parents=True)
    path.write_text(render_schema(schema, reasons))
    assert load_schema(path) == schema
    return path


def processing_root(table: Table, root: Path) -> Path:
    """/opt/ml/processing/input: the schema and the table's seeded splits."""
    schema_path = write_schema(table, root / "work")
    inputs = root / "processing" / "input"
    assert (
        dataset.main(
            [
                "--table",
                str(root / "work/table" / f"{table.name}.csv"),
                "--schema",
                str(schema_path),
                "--out",
                str(inputs),
            ]
        )
        == 0
    )
    shutil.copytree(schema_path.parent, inputs / "schema")
    return root


def preprocess(root: Path, *args: str) -> int:
    return preprocess_main(list(args), env={"SAGEMAKER_BASE_DIR": str(root)})


def training_tree(root: Path, processed: Path, hyperparameters: dict[str, str]) -> Path:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channels = ("train", "validation", "test", "preprocessor")
    (config / "inputdataconfig.json").write_text(
        json.dumps({c: {"TrainingInputMode": "File"} for c in channels})
    )
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    out = processed / "processing" / "output"
    for split in ("train", "validation", "test"):
        shutil.copytree(out / "features" / split, root / "input/data" / split)
    shutil.copytree(out / "preprocessor", root / "input/data/preprocessor")
    return root


def processing_tree(root: Path, artifact_dir: Path, test_dir: Path) -> Path:
    """/opt/ml/processing as the Evaluate step lays it out: model.tar.gz and the raw test split."""
    inputs = root / "processing" / "input"
    (inputs / "model").mkdir(parents=True)
    pack_model_tarball(artifact_dir, inputs / "model" / MODEL_TARBALL)
    shutil.copytree(test_dir, inputs / "test")
    return root
