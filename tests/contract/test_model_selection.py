"""``algorithm = auto`` through the preprocessing and training jobs on offline tables: the
leaderboard, the ensemble, calibration and the decision threshold in evaluation.json and
artifact.json, served by the compiled walk at /invocations with labels through the
threshold; permutation importance by raw column; the leak check stopping preprocessing."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core import dataset
from mpg_core.artifact.files import DECISION_THRESHOLD_KEY, read_manifest
from mpg_core.artifact.reader import load_artifact, open_artifact
from mpg_core.hyperparameters import Hyperparameters
from mpg_core.leakage import TargetLeakError
from mpg_core.table_schema import Column, TableSchema, infer_schema
from mpg_preprocessing.job import PreprocessConfig
from mpg_preprocessing.job import run as preprocess
from mpg_serving.app import create_app
from mpg_serving.settings import ServeSettings
from mpg_training.job import TrainConfig
from mpg_training.job import run as train
from tests.tables import Table, breast_cancer, breast_cancer_with_leak, imbalanced_wine


@dataclass(frozen=True)
class Prepared:
    root: Path
    schema: TableSchema
    splits: dataset.Splits

    @property
    def channels(self) -> dict[str, Path]:
        features = {s: self.root / "features" / s for s in ("train", "validation", "test")}
        return {**features, "preprocessor": self.root / "preprocessor"}


def bronze(table: Table, root: Path, schema: TableSchema | None = None) -> Prepared:
    frame = dataset.read_table(table.write(root / "table"))  # column names as init reads them
    schema = schema or infer_schema(frame, table.target)[0]
    splits = dataset.split_table(frame, schema)
    dataset.write_splits(splits, root / "bronze")
    return Prepared(root, schema, splits)


def preprocessed(table: Table, root: Path, schema: TableSchema | None = None) -> Prepared:
    prepared = bronze(table, root, schema)
    preprocess(
        PreprocessConfig(
            train_dir=root / "bronze/train",
            validation_dir=root / "bronze/validation",
            test_dir=root / "bronze/test",
            features_dir=root / "features",
            preprocessor_dir=root / "preprocessor",
            schema=prepared.schema,
        )
    )
    return prepared


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Prepared, dict, dict]:
    """Breast cancer trained with the defaults (auto)."""
    root = tmp_path_factory.mktemp("auto-binary")
    prepared = preprocessed(breast_cancer(), root)
    train(
        TrainConfig(
            channels=prepared.channels,
            model_dir=root / "model",
            output_data_dir=root / "out",
            hyperparameters=Hyperparameters(),
        )
    )
    report = json.loads((root / "out/evaluation.json").read_text())
    return prepared, report, read_manifest(root / "model")


def test_auto_compares_every_family_and_reports_a_leaderboard(binary) -> None:
    _, report, _ = binary
    selection = report["selection"]
    assert selection["metric"] == "log_loss" and selection["validation_split"] == "validation"
    # A small table: every train and validation row judges, out of fold.
    assert selection["judged_on"].startswith("5-fold cross-validation over the train and")
    names = {row["model"] for row in selection["leaderboard"]}
    assert {"random_forest", "extra_trees", "hist_gradient_boosting"} <= names
    for row in selection["leaderboard"]:
        assert row["fit_seconds"] >= 0 and row["size_bytes"] > 0
        assert 0 < row["serve_us_per_row"] < 5_000  # one row through the compiled walk
        assert {"log_loss", "roc_auc", "balanced_accuracy"} <= set(row["validation"])
        assert {"log_loss", "roc_auc", "balanced_accuracy"} <= set(row["judged"])
    losses = [row["judged"]["log_loss"] for row in selection["leaderboard"]]
    assert losses == sorted(losses)
    assert selection["chosen"] in names
    assert report["hyperparameters"]["algorithm"] == "auto"


def test_the_binary_model_has_a_threshold_used_for_every_label(binary) -> None:
    prepared, report, manifest = binary
    threshold = manifest[DECISION_THRESHOLD_KEY]
    assert 0 < threshold < 1 and report["decision_threshold"] == threshold
    assert report["decision_metric"] == "balanced_accuracy"
    assert report["calibration"]["judged_by"].startswith("5-fold cross-fitting")
    opened = open_artifact(prepared.root / "model")
    assert opened.engine == "compiled"
    test = prepared.splits.test
    rows = test[list(opened.input_columns)].to_numpy(dtype=np.float64)
    proba = opened.predict(rows)
    pipeline = load_artifact(prepared.root / "model").estimator
    expected = pipeline.predict_proba(pd.DataFrame(rows, columns=list(opened.input_columns)))
    assert np.abs(proba - expected).max() <= 1e-6
    settings = ServeSettings.from_env({"MPG_MODEL_DIR": str(prepared.root / "model")})
    client = create_app(opened, settings).test_client()
    body = "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)
    answer = client.post(
        "/invocations", data=body, content_type="text/csv", headers={"Accept": "application/json"}
    ).get_json()["predictions"]
    classes = manifest["classes"]
    want = [classes[1] if p >= threshold else classes[0] for p in proba[:, 1]]
    assert [a["label"] for a in answer] == want
    got = np.array([[a["probabilities"][str(c)] for c in classes] for a in answer])
    np.testing.assert_allclose(got, proba, atol=1e-12)  # probabilities as they are
    assert report["metrics"]["test"]["roc_auc"] > 0.95


def test_permutation_importance_is_by_the_tables_own_columns(binary) -> None:
    prepared, report, _ = binary
    importance = report["permutation_importance"]
    assert set(importance) == set(prepared.schema.feature_columns)
    means = [v["mean"] for v in importance.values()]
    assert means == sorted(means, reverse=True) and means[0] > 0


def test_the_report_compares_with_a_trivial_baseline(binary) -> None:
    _, report, _ = binary
    baseline = report["baseline"]
    assert baseline["kind"].startswith("class priors")
    assert report["metrics"]["test"]["log_loss"] < baseline["metrics"]["test"]["log_loss"]
    assert baseline["gate"]["passed"] and baseline["gate"]["decided_by"] == "all"


def test_auto_on_auto_mpg_improves_validation_and_stays_fast(trained, tmp_path: Path) -> None:
    import time

    channels = {s: trained.features / s for s in ("train", "validation", "test")}
    channels["preprocessor"] = trained.preprocessor_tarball.parent
    started = time.monotonic()
    evaluation = train(
        TrainConfig(channels, tmp_path / "auto", tmp_path / "auto-out", Hyperparameters())
    )
    seconds = time.monotonic() - started
    forest = train(
        TrainConfig(
            channels, tmp_path / "rf", tmp_path / "rf-out", Hyperparameters("random_forest")
        )
    )
    assert evaluation["validation"]["rmse"] <= forest["validation"]["rmse"]
    assert seconds < 30  # a few seconds on an idle machine
    report = json.loads((tmp_path / "auto-out/evaluation.json").read_text())
    chosen = report["selection"]["chosen"]
    assert open_artifact(tmp_path / "auto").engine == "compiled"
    assert "origin" in report["permutation_importance"]  # not its one-hot parts
    assert chosen != "random_forest" or evaluation == forest


def test_a_named_family_trains_only_that_family(trained, tmp_path: Path) -> None:
    channels = {s: trained.features / s for s in ("train", "validation", "test")}
    train(
        TrainConfig(
            channels,
            tmp_path / "m",
            tmp_path / "o",
            Hyperparameters("extra_trees", n_estimators=10),
        )
    )
    report = json.loads((tmp_path / "o/evaluation.json").read_text())
    assert "selection" not in report and report["hyperparameters"]["algorithm"] == "extra_trees"
    assert type(load_artifact(tmp_path / "m").estimator).__name__ == "ExtraTreesRegressor"


def test_an_imbalanced_table_with_balanced_class_weight(tmp_path: Path) -> None:
    prepared = preprocessed(imbalanced_wine(), tmp_path)
    evaluation = train(
        TrainConfig(
            prepared.channels,
            tmp_path / "m",
            tmp_path / "o",
            Hyperparameters(class_weight="balanced"),
        )
    )
    manifest = read_manifest(tmp_path / "m")
    assert manifest["classes"] == ["common", "rare"]
    assert DECISION_THRESHOLD_KEY in manifest
    report = json.loads((tmp_path / "o/evaluation.json").read_text())
    assert report["hyperparameters"]["class_weight"] == "balanced"
    # ~2 rare rows among the test rows: one miss is a balanced accuracy of 0.75.
    assert evaluation["test"]["roc_auc"] > 0.9 and evaluation["test"]["balanced_accuracy"] >= 0.7


def test_a_leak_stops_preprocessing_naming_the_column(tmp_path: Path) -> None:
    table = breast_cancer_with_leak()
    frame = dataset.read_table(table.write(tmp_path / "table"))
    inferred = infer_schema(frame.drop(columns="followup_code"), table.target)[0]

    schema = replace(inferred, columns=(*inferred.columns, Column("followup_code", "numeric")))
    with pytest.raises(TargetLeakError, match=r"'followup_code': alone it predicts .* ROC AUC"):
        preprocessed(table, tmp_path / "leak", schema)
    accepted = replace(
        inferred,
        columns=(*inferred.columns, Column("followup_code", "numeric", accept_leakage=True)),
    )
    prepared = preprocessed(table, tmp_path / "accepted", accepted)
    assert (prepared.root / "preprocessor" / "model.tar.gz").is_file()


def test_the_evaluate_report_shows_the_importance_and_the_gate(binary, tmp_path: Path) -> None:
    from mpg_training.evaluate_settings import EvaluateConfig
    from mpg_training.model_quality import PERMUTATION_IMPORTANCE_PLOT, REPORT_FILE
    from mpg_training.model_quality import run as evaluate

    prepared, training, _ = binary
    evaluate(EvaluateConfig(prepared.root / "model", prepared.root / "bronze/test", tmp_path))
    report = json.loads((tmp_path / REPORT_FILE).read_text())
    importance = report["permutation_importance"]
    assert importance["measured_on"] == "validation"
    assert importance["columns"] == training["permutation_importance"]
    assert (tmp_path / PERMUTATION_IMPORTANCE_PLOT).read_bytes().startswith(b"\x89PNG")
    gate = report["gate"]
    assert gate["passed"] and gate["metric"] == "log_loss"
    assert gate["checks"][0]["check"] == "baseline"
    assert gate["checks"][0]["value"] < gate["baseline"]["test"]["log_loss"]


def test_without_a_validation_channel_auto_judges_on_a_held_out_fifth(
    trained, tmp_path: Path
) -> None:
    evaluation = train(
        TrainConfig(
            {"train": trained.features / "train"},
            tmp_path / "m",
            tmp_path / "o",
            Hyperparameters(n_estimators=20),
        )
    )
    report = json.loads((tmp_path / "o/evaluation.json").read_text())
    assert report["selection"]["validation_split"] == "train holdout"
    assert set(evaluation) == {"train"} and report["permutation_importance"] == {}
    assert open_artifact(tmp_path / "m").engine == "compiled"
    # Chosen on the held-out fifth, then fitted again on every train row.
    rows = len(pd.read_csv(trained.features / "train" / "train.csv"))
    assert report["selection"]["fitted_rows"] == report["rows"]["train"] == rows


def test_with_a_validation_channel_the_chosen_model_is_the_one_fitted_on_train(
    trained, tmp_path: Path
) -> None:
    channels = {s: trained.features / s for s in ("train", "validation")}
    train(TrainConfig(channels, tmp_path / "m", tmp_path / "o", Hyperparameters(n_estimators=20)))
    report = json.loads((tmp_path / "o/evaluation.json").read_text())
    assert report["selection"]["fitted_rows"] == report["rows"]["train"]
