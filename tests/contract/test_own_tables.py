"""Tables the kit does not ship, through the real job entry points on tmp /opt/ml trees:
schema inferred and written as TOML, split (stratified for classification), ``preprocess``,
``train`` (sagemaker-training's runner, as the image runs it) and ``evaluate``."""

from __future__ import annotations

import json
import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core import dataset
from mpg_core.artifact.files import MODEL_TARBALL, pack_model_tarball, read_manifest
from mpg_core.artifact.reader import open_artifact
from mpg_core.metrics import metric_definitions
from mpg_core.table_schema import infer_schema, load_schema
from mpg_training.evaluate import main as evaluate_main
from mpg_training.model_quality import CONFUSION_MATRIX_PLOT, REPORT_FILE, ROC_CURVE_PLOT
from tests.helpers.jobs import PNG_SIGNATURE, preprocess, processing_root, run_train, training_tree
from tests.tables import TABLES, Table


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """The entry points install the jobs' stop handlers in this process; put pytest's back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def evaluate(model_dir: Path, test_dir: Path, root: Path) -> int:
    inputs = root / "processing" / "input"
    (inputs / "model").mkdir(parents=True)
    pack_model_tarball(model_dir, inputs / "model" / MODEL_TARBALL)
    shutil.copytree(test_dir, inputs / "test")
    return evaluate_main(
        [
            f"--model={inputs}/model",
            f"--test={inputs}/test",
            f"--report={root}/processing/output/evaluation",
        ],
        env={"SAGEMAKER_BASE_DIR": str(root)},
    )


def printed_metrics(logs: str, task: str) -> dict[str, float]:
    values = {}
    for definition in metric_definitions(task):
        found = re.findall(definition["Regex"], logs)
        assert len(found) <= 1, definition
        if found:
            values[definition["Name"]] = float(found[0])
    return values


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_table_of_your_own_from_csv_to_report(name: str, tmp_path: Path) -> None:
    table = TABLES[name]
    processed = processing_root(table, tmp_path / "p")
    assert preprocess(processed) == 0, (processed / "output/failure").read_text()
    out = processed / "processing/output"
    features = {
        s: pd.read_csv(out / "features" / s / f"{s}.csv") for s in ("train", "validation", "test")
    }
    sizes = {s: len(f) for s, f in features.items()}
    assert sum(sizes.values()) == len(table.frame)
    schema = load_schema(next((processed / "processing/input/schema").glob("*.toml")))
    for split, frame in features.items():
        assert frame.columns[0] == schema.target
        assert not frame.drop(columns=[schema.target]).isna().any().any()
        copy = json.loads((out / "features" / split / "schema.json").read_text())
        assert copy["target"] == schema.target and copy["task"] == schema.task
    if schema.is_classification:
        # Stratified: every class in every split, in about the table's proportions.
        shares = table.frame[table.target].value_counts(normalize=True)
        for frame in features.values():
            got = frame[schema.target].astype(str).value_counts(normalize=True)
            assert set(got.index) == set(shares.index.astype(str))
            assert np.allclose(got.sort_index(), shares.rename(str).sort_index(), atol=0.06)

    root = training_tree(tmp_path / "t", processed, {"n_estimators": "60"})
    result = run_train(root)
    assert result.returncode == 0, result.stdout + result.stderr
    values = printed_metrics(result.stdout + result.stderr, schema.task)
    assert {f"test:{m}" for m in ("accuracy", "roc_auc")} <= set(values) or ("test:rmse" in values)
    manifest = read_manifest(root / "model")
    assert manifest["task"] == schema.task and manifest["kind"] == "pipeline"
    assert manifest["schema"]["target"] == schema.target
    assert tuple(manifest["input_columns"]) == schema.feature_columns
    if schema.is_classification:
        labels = sorted(set(table.frame[table.target]))
        assert manifest["classes"] == labels  # sorted as scikit-learn's, ints stay ints
        assert values["test:accuracy"] > 0.85 and values["test:roc_auc"] > 0.9
        assert 0 < values["test:log_loss"] < 0.5
    else:
        assert "classes" not in manifest
        assert values["test:r2"] > 0.2  # diabetes is a hard table: R² ~0.4-0.5 is usual

    assert evaluate(root / "model", processed / "processing/input/test", tmp_path / "e") == 0
    report_dir = tmp_path / "e/processing/output/evaluation"
    report = json.loads((report_dir / REPORT_FILE).read_text())
    if schema.is_classification:
        key = (
            "binary_classification_metrics"
            if len(manifest["classes"]) == 2
            else "multiclass_classification_metrics"
        )
        metrics = report[key]
        # The evaluation of the raw test split gives what training printed for its features.
        assert metrics["accuracy"]["value"] == pytest.approx(values["test:accuracy"], abs=1e-6)
        matrix = metrics["confusion_matrix"]
        assert sorted(matrix) == sorted(str(c) for c in manifest["classes"])
        assert sum(sum(row.values()) for row in matrix.values()) == sizes["test"]
        assert (report_dir / CONFUSION_MATRIX_PLOT).read_bytes().startswith(PNG_SIGNATURE)
        if key.startswith("binary"):
            assert metrics["auc"]["value"] == pytest.approx(values["test:roc_auc"], abs=1e-6)
            curve = metrics["receiver_operating_characteristic_curve"]
            assert (
                curve["false_positive_rates"][0] == 0.0 and curve["true_positive_rates"][-1] == 1.0
            )
            assert (report_dir / ROC_CURVE_PLOT).read_bytes().startswith(PNG_SIGNATURE)
            pr = metrics["precision_recall_curve"]
            assert len(pr["precisions"]) == len(pr["recalls"]) and pr["recalls"][0] == 1.0
        else:
            assert metrics["f1_macro"]["value"] == pytest.approx(values["test:f1_macro"], abs=1e-6)
    else:
        metrics = report["regression_metrics"]
        assert metrics["rmse"]["value"] == pytest.approx(values["test:rmse"], abs=1e-6)
    print(
        f"\n{name}: task={schema.task} splits={sizes} test="
        + json.dumps(
            {k.split(":")[1]: round(v, 4) for k, v in values.items() if k.startswith("test:")}
        )
    )


def test_text_and_numeric_categories_are_both_compiled(tmp_path: Path) -> None:
    """A preprocessor with text categories (iris' garden) is compiled like one with numbers
    only (wine): its levels travel in the compiled form, and serving never loads the
    estimator."""
    from mpg_core.artifact.files import unpack_model_tarball

    for name, text in (("iris", ["garden"]), ("wine", [])):
        processed = processing_root(TABLES[name], tmp_path / name)
        assert preprocess(processed) == 0
        folder = tmp_path / name / "artifact"
        unpack_model_tarball(processed / "processing/output/preprocessor" / MODEL_TARBALL, folder)
        manifest = read_manifest(folder)
        assert manifest["compiled"] is not None
        assert manifest["schema"]["task"] == "classification"
        assert [c["name"] for c in manifest["schema"]["column"] if c.get("text")] == text
        opened = open_artifact(folder)
        assert opened.engine == "compiled"
        levels = {c: k for c, k in zip(opened.input_columns, opened.input_levels, strict=True) if k}
        assert levels == ({"garden": ("edinburgh", "kew", "wisley")} if text else {})
        # Under the level limit, no column has rare levels: the plain one-hot comparison.
        assert not any(b.slots for b in opened.model.preprocessor.blocks)


def _failure(root: Path) -> str:
    return (root / "output" / "failure").read_text()


def test_a_class_seen_only_outside_train_is_named(tmp_path: Path) -> None:
    processed = processing_root(TABLES["wine"], tmp_path)
    test_csv = processed / "processing/input/test/test.csv"
    frame = pd.read_csv(test_csv)
    frame.loc[0, "cultivar"] = 7
    frame.to_csv(test_csv, index=False)
    assert preprocess(processed) == 3
    assert "test: class(es) [7] of 'cultivar' never occur in the train split" in _failure(processed)


def test_schema_columns_absent_from_the_table_are_named(tmp_path: Path) -> None:
    processed = processing_root(TABLES["iris"], tmp_path)
    train_csv = processed / "processing/input/train/train.csv"
    pd.read_csv(train_csv).drop(columns=["garden"]).to_csv(train_csv, index=False)
    assert preprocess(processed) == 3
    assert "missing column(s) ['garden'] in train.csv" in _failure(processed)


def test_a_categorical_column_with_more_levels_than_the_limit_is_kept_grouped(
    tmp_path: Path,
) -> None:
    """Above max_categorical_levels a column is kept: its rarer levels share one column (and
    so does a level unseen in training), and the preprocessor is still compiled."""
    from mpg_core.artifact.files import unpack_model_tarball

    processed = processing_root(TABLES["iris"], tmp_path)
    schema_file = next((processed / "processing/input/schema").glob("*.toml"))
    text = schema_file.read_text().replace(
        "max_categorical_levels = 50", "max_categorical_levels = 2"
    )
    schema_file.write_text(text)
    assert preprocess(processed) == 0
    folder = tmp_path / "artifact"
    unpack_model_tarball(processed / "processing/output/preprocessor" / MODEL_TARBALL, folder)
    garden = [c for c in read_manifest(folder)["output_columns"] if c.startswith("garden")]
    assert len(garden) == 2 and garden[-1] == "garden_infrequent_sklearn"
    opened = open_artifact(folder)
    assert opened.engine == "compiled"
    (block,) = [b for b in opened.model.preprocessor.blocks if b.slots]
    assert block.widths == (2,) and block.unknown == (1,)


def test_a_bad_schema_file_is_a_config_error(tmp_path: Path) -> None:
    processed = processing_root(TABLES["wine"], tmp_path)
    schema_file = next((processed / "processing/input/schema").glob("*.toml"))
    schema_file.write_text(schema_file.read_text().replace('role = "numeric"', 'role = "numbr"', 1))
    assert preprocess(processed) == 2
    assert "role 'numbr' is not one of" in _failure(processed)


def test_a_class_too_small_for_the_splits_is_named(tmp_path: Path) -> None:
    table = TABLES["iris"]
    small = Table("iris_small", table.target, table.task, table.frame.iloc[:104])  # 4 virginica
    raw = dataset.read_table(small.write(tmp_path))
    schema, _ = infer_schema(raw, small.target)
    from mpg_core.errors import DataError

    with pytest.raises(DataError, match=r"fewer rows than the splits need \(7 .*'virginica': 4"):
        dataset.split_table(raw, schema)


def test_a_constant_target_is_named(tmp_path: Path) -> None:
    processed = processing_root(TABLES["wine"], tmp_path)
    train_csv = processed / "processing/input/train/train.csv"
    pd.read_csv(train_csv).assign(cultivar=1).to_csv(train_csv, index=False)
    assert preprocess(processed) == 3
    assert "train: the target 'cultivar' is constant (a single class [1])" in _failure(processed)
