"""A container's PID 1 ignores SIGTERM until it installs a handler. The job entry points
install theirs first, so their modules must load without the heavy libraries (seconds of
imports during which a StopTrainingJob would otherwise be ignored until SIGKILL)."""

import subprocess
import sys

HEAVY = ("numpy", "pandas", "sklearn", "scipy", "sagemaker_training")


def test_job_entry_points_import_no_heavy_library() -> None:
    script = (
        "import sys, mpg_training.cli, mpg_preprocessing.cli;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
