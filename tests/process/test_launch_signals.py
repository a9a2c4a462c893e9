"""SIGTERM and SIGHUP end mpg-launch as Ctrl-C does, with 128 + the signal (143, 129): the
process blocks reading rows from stdin (predict with no --file), then gets the signal.

The signal is sent once /proc shows the process is there: its SIGTERM and SIGHUP handlers
installed (``SigCgt``) and its main thread in read(0, ...); polled to a deadline, never a
fixed sleep (issue 23's ``signals`` class)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ENV = {
    "MPG_REGION": "us-east-1",
    "MPG_ROLE_ARN": "arn:aws:iam::123456789012:role/R",
    "MPG_BUCKET": "my-bucket",
}


# read(2)'s number, which /proc/<pid>/syscall shows first while a thread is in it.
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}.get(os.uname().machine)


def _caught(pid: int) -> int:
    """The signals ``pid`` has handlers for (``SigCgt`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


def _reading_stdin(pid: int) -> bool:
    if READ_SYSCALL is None:  # another architecture: the handlers are enough
        return True
    fields = Path(f"/proc/{pid}/syscall").read_text().split()
    return len(fields) > 1 and fields[0] == str(READ_SYSCALL) and int(fields[1], 16) == 0


def wait_blocked_on_stdin(process: subprocess.Popen[str], seconds: float = 60) -> None:
    """Until the launcher handles SIGTERM and SIGHUP and waits in read(0): imports done."""
    wanted = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGHUP - 1))
    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "the launcher ended before it read stdin"
        if _caught(process.pid) & wanted == wanted and _reading_stdin(process.pid):
            return
        assert time.monotonic() < deadline, "the launcher never blocked reading stdin"
        time.sleep(0.05)


SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]


@pytest.mark.parametrize(("signum", "code"), SIGNALS)
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
        wait_blocked_on_stdin(process)
        process.send_signal(signum)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err
    assert err.strip().splitlines()[-1].startswith("mpg-launch: interrupted"), err
    assert "Traceback" not in err


def test_signals_class_count() -> None:
    print("hostile input, round two: {'signals':", len(SIGNALS), "}")
    assert {code for _, code in SIGNALS} == {130, 143, 129}
