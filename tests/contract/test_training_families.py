"""Every model family through the training job: trained with ``algorithm`` set (the rest at
their defaults), its pipeline artifact passes the parity gate and is served by the compiled
form (engine "compiled"), equal to the scikit-learn pipeline on raw rows with missing values
and unseen categories; and a parameter of another family stops the job with its name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mpg_core.artifact.files import COMPILED_FILE, read_manifest
from mpg_core.artifact.reader import load_artifact, open_artifact
from mpg_core.errors import ConfigError
from mpg_core.hyperparameters import ALGORITHMS, parse_hyperparameters
from mpg_core.schema import FEATURES
from mpg_training.job import TrainConfig
from mpg_training.job import run as train


def raw_rows(n: int, seed: int = 11) -> np.ndarray:
    """Raw rows past the data's ranges: unknown cylinder and origin codes, 2- and 4-digit
    years, ~5% missing values (the preprocessor imputes them)."""
    rng = np.random.default_rng(seed)
    rows = np.column_stack(
        [
            rng.choice([3, 4, 5, 6, 8, 10, 12], n),
            rng.uniform(60, 500, n),
            rng.uniform(40, 250, n),
            rng.uniform(1500, 5500, n),
            rng.uniform(7, 26, n),
            np.where(rng.random(n) < 0.5, rng.integers(68, 85, n), rng.integers(1968, 1990, n)),
            rng.choice([1, 2, 3, 4, 7], n),
        ]
    ).astype(np.float64)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_each_family_trains_passes_the_gate_and_is_served_compiled(
    trained, algorithm: str, tmp_path: Path
) -> None:
    channels = {s: trained.features / s for s in ("train", "validation", "test")}
    hp = parse_hyperparameters({"algorithm": algorithm, "n_estimators": "25"})
    evaluation = train(
        TrainConfig(
            channels={**channels, "preprocessor": trained.preprocessor_tarball.parent},
            model_dir=tmp_path / "model",
            output_data_dir=tmp_path / "out",
            hyperparameters=hp,
        )
    )
    # A fair model of any family on Auto MPG (a mean predictor scores about 7.8).
    assert evaluation["validation"]["rmse"] < 4.0
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["hyperparameters"]["algorithm"] == algorithm
    manifest = read_manifest(tmp_path / "model")
    assert manifest["compiled"]["max_relative_error"] <= 1e-6
    assert (tmp_path / "model" / COMPILED_FILE).is_file()

    opened = open_artifact(tmp_path / "model")
    assert opened.engine == "compiled"
    rows = raw_rows(3000)
    pipeline = load_artifact(tmp_path / "model").estimator
    expected = pipeline.predict(pd.DataFrame(rows, columns=list(FEATURES)))
    np.testing.assert_allclose(opened.predict(rows), expected, rtol=1e-6)
    np.testing.assert_allclose(opened.predict(rows[:1]), expected[:1], rtol=1e-6)


def test_a_parameter_of_another_family_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="subsample does not apply to algorithm=extra_trees"):
        parse_hyperparameters({"algorithm": "extra_trees", "subsample": "0.5"})
