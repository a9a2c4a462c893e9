"""``train`` in the training image: sagemaker-training's runner, started the way its own
``train`` command starts it, but with the stop handler installed first.

A container's PID 1 ignores SIGTERM until it installs a handler, and the runner only reaches
``mpg_training.job:main`` (which installs one) after seconds of imports: a StopTrainingJob in
that window would otherwise wait for the SIGKILL 120 s later. The Dockerfile points ``train``
at this command.
"""

from __future__ import annotations

import os
import signal
import sys

from mpg_core.errors import MpgError, write_failure
from mpg_core.exits import raise_on_stop_signals
from mpg_core.platform import OUTPUT_DIR, ml_root


def main() -> None:
    raise_on_stop_signals((signal.SIGTERM,))
    try:
        from sagemaker_training import trainer
    except MpgError as exc:  # stopped while importing
        write_failure(ml_root(os.environ) / OUTPUT_DIR, exc)
        sys.exit(exc.exit_code)
    # Runs SAGEMAKER_TRAINING_MODULE (mpg_training.job:main); exits with its result.
    trainer.train()


if __name__ == "__main__":
    main()
