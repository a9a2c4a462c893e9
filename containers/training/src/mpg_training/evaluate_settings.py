"""What an evaluation job reads and writes, read once by ``evaluate`` (the light entry point)
and handed to :mod:`mpg_training.model_quality` (the heavy work). A module of its own so that
neither of the two imports the other's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvaluateConfig:
    model_dir: Path  # holds model.tar.gz, or the files of an extracted artifact
    test_dir: Path  # raw, headered test tables with the actual mpg
    report_dir: Path  # evaluation.json and the plots go here
    # The registry's approved version (its model.tar.gz or files), scored on the same test
    # rows for the gate; a folder holding no model (or None) means no comparison.
    approved_dir: Path | None = None
    # The pipeline's absolute threshold (RmseThreshold: rmse at most; BalancedAccuracyThreshold:
    # balanced accuracy at least), or None for none.
    absolute_threshold: float | None = None
