"""``evaluate``: the training image's second command, run as a SageMaker Processing job.

It opens a trained model artifact (the training job's ``model.tar.gz``, a ``pipeline``
artifact: raw rows in, mpg out), predicts the raw test rows and writes the model-quality
report SageMaker Studio and the model registry read, with two plots::

    evaluate --model=/opt/ml/processing/input/model \\
             --test=/opt/ml/processing/input/test \\
             --report=/opt/ml/processing/output/evaluation

This module is the edge: it installs the stop handlers, reads the arguments once into an
:class:`EvaluateConfig` and hands it to :mod:`mpg_training.model_quality`, which is where
numpy, pandas, scikit-learn and matplotlib are imported.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from mpg_core.errors import MpgError
from mpg_core.exits import failure_reported, raise_on_stop_signals
from mpg_core.logs import configure_logging
from mpg_core.platform import FAILURE_FILE, MESSAGE_FILE, OUTPUT_DIR, PROCESSING_DIR, ml_root
from mpg_training.evaluate_settings import EvaluateConfig

log = logging.getLogger("mpg_training.evaluate")


def parse_args(argv: Sequence[str], root: Path) -> EvaluateConfig:
    base = root / PROCESSING_DIR
    parser = argparse.ArgumentParser(prog="evaluate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        type=Path,
        default=base / "input/model",
        help="folder holding the training job's model.tar.gz (or its extracted files)",
    )
    parser.add_argument(
        "--test",
        type=Path,
        default=base / "input/test",
        help="folder of raw test tables (*.csv, *.data) with the actual mpg",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=base / "output/evaluation",
        help="output folder for evaluation.json, predicted-vs-actual.png and residuals.png",
    )
    parser.add_argument(
        "--approved-model",
        type=Path,
        default=base / "input/approved",
        help="folder holding the registry's approved version (its model.tar.gz), scored on "
        "the same test rows for the gate; a folder without a model means no comparison",
    )
    parser.add_argument(
        "--absolute-threshold",
        type=_threshold,
        default=None,
        help="the gate's absolute threshold: test RMSE at most (regression), balanced "
        "accuracy at least (classification); empty or 0 for none",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return EvaluateConfig(
        model_dir=args.model,
        test_dir=args.test,
        report_dir=args.report,
        approved_dir=args.approved_model,
        absolute_threshold=args.absolute_threshold,
    )


def _threshold(text: str) -> float | None:
    """A finite number, or None for an empty value or 0 (the pipeline passes its parameter as
    is, and its default for a user's own table is 0: no absolute bar)."""
    if not text.strip():
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value or None


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    raise_on_stop_signals()  # first: until then PID 1 ignores SIGTERM
    env = os.environ if env is None else env
    root = ml_root(env)
    config = parse_args(sys.argv[1:] if argv is None else argv, root)
    # Processing shows /opt/ml/output/message as ExitMessage; write the failure file too.
    try:
        with failure_reported(root / OUTPUT_DIR, (FAILURE_FILE, MESSAGE_FILE)):
            from mpg_training import model_quality  # the heavy imports, after the handlers

            report = model_quality.run(config)
    except MpgError as exc:
        return exc.exit_code
    except Exception:
        return 1
    log.info("evaluation complete", extra={"report": str(config.report_dir), **report.summary()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
