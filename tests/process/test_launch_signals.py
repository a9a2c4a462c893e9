"""SIGTERM and SIGHUP end mpg-launch as Ctrl-C does, with 128 + the signal (143, 129): the
process blocks reading rows from stdin (predict with no --file), then gets the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_a_signal_ends_the_launcher_like_ctrl_c(signum: signal.Signals, code: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPG_")} | ENV
    process = subprocess.Popen(
        [sys.executable, "-m", "mpg_launch.cli.main", "predict", "--endpoint", "e1"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        time.sleep(3)  # imports done, blocked reading stdin
        assert process.poll() is None
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("mpg-launch: interrupted"), err
    assert "Traceback" not in err
