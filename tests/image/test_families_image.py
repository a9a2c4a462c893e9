"""Each model family trains in the training image, passes the parity gate there (compiled.npz
written), and is served by the compiled walk (engine "compiled") in the serving image, with
scikit-learn's answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from mpg_core.artifact.files import COMPILED_FILE, read_manifest
from mpg_core.artifact.reader import load_artifact
from mpg_core.hyperparameters import ALGORITHMS
from mpg_core.schema import FEATURES
from tests.helpers.images import docker, run_training, start_serving
from tests.helpers.jobs import make_tree

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_family_trains_in_the_image_and_is_served_compiled(
    images, trained, algorithm: str, tmp_path: Path, containers: list[str]
) -> None:
    root = make_tree(tmp_path, trained, {"algorithm": algorithm, "n_estimators": "30"})
    result = run_training(images, root)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    model_dir = root / "model"
    manifest = read_manifest(model_dir)
    assert manifest["compiled"] is not None, "the parity gate refused the compiled form"
    assert manifest["compiled"]["max_relative_error"] <= 1e-6
    assert (model_dir / COMPILED_FILE).is_file()

    port = start_serving(images, model_dir, containers)
    test = pd.read_csv(trained.bronze / "test" / "test.csv")[list(FEATURES)]
    body = test.to_csv(header=False, index=False)
    response = requests.post(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "text/csv", "Accept": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    served = np.asarray(response.json()["predictions"], dtype=np.float64)
    expected = load_artifact(model_dir).estimator.predict(test.astype(np.float64))
    np.testing.assert_allclose(served, expected, rtol=1e-6)
    logs = docker("logs", containers[-1])
    loaded = [
        json.loads(line)
        for line in (logs.stdout + logs.stderr).splitlines()
        if '"model loaded"' in line
    ]
    assert loaded and all(entry["engine"] == "compiled" for entry in loaded), loaded
