"""A serving process on 127.0.0.1 with a free port, and the rows the serving tests send."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from mpg_core.schema import FEATURES
from tests.helpers.common import free_port, wait_until

ROW = "8,307,130,3504,12,70,1"
ROW_OBJ = dict(zip(FEATURES, [8, 307, 130, 3504, 12, 70, 1], strict=True))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    max_payload_bytes: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> set[int]:
        """PIDs of the gunicorn workers (the children of the `serve` process)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(c) for c in children}

    def ready(self) -> bool:
        try:
            return requests.get(f"{self.url}/ping", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False


def start_server(model_dir: Path, workers: int = 2, **env: str) -> Server:
    port = free_port()
    process = subprocess.Popen(
        [SERVE],
        env={
            **os.environ,
            "MPG_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    max_mb = int(env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6"))
    server = Server(process, port, max_mb * 1024 * 1024)
    wait_until(lambda: server.ready() or process.poll() is not None, 60, "/ping 200")
    assert process.poll() is None, "serve exited during start-up"
    # /ping answers as soon as one worker is up; wait for all of them.
    wait_until(lambda: len(server.workers()) == workers, 30, f"{workers} workers")
    return server


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


BAD = [
    ("", "text/csv", 400, "empty body"),
    ("\n\n", "text/csv", 400, "empty body"),
    (f"{ROW}\n\n{ROW}", "text/csv", 400, "line 2: empty line"),
    ("8,307,130", "text/csv", 400, "line 1: 3 values; expected 7"),
    (f"{ROW},1", "text/csv", 400, "8 values; expected 7"),
    ("8,307,abc,3504,12,70,1", "text/csv", 400, "column horsepower: 'abc' is not a number"),
    ("8,307,inf,3504,12,70,1", "text/csv", 400, "not a finite number"),
    ('8,"307,130,3504,12,70,1', "text/csv", 400, "malformed CSV"),
    (",".join(FEATURES), "text/csv", 400, "header"),
    (b"8,307,\xff,3504,12,70,1", "text/csv", 400, "not valid UTF-8"),
    ("{not json", "application/json", 400, "malformed JSON"),
    ('{"instances": 5}', "application/json", 400, '"instances" must be a list'),
    ('{"instances": []}', "application/json", 400, "no records"),
    ('{"cylinders": 8}', "application/json", 400, "missing key(s)"),
    (
        json.dumps({**ROW_OBJ, "Model Year": 71}),
        "application/json",
        400,
        "record 0: ambiguous columns: 'model_year' and 'Model Year' are the same column",
    ),
    (
        json.dumps([ROW_OBJ, {**ROW_OBJ, "Origin": 1}]),
        "application/json",
        400,
        "record 1: ambiguous columns: 'origin' and 'Origin'",
    ),
    (
        json.dumps({k: v for k, v in ROW_OBJ.items() if k != "model_year"} | {"year": 70}),
        "application/jsonlines",
        400,
        "line 1: missing key(s) ['model_year']; found ['cylinders', 'displacement', "
        "'horsepower', 'weight', 'acceleration', 'origin', 'year']",
    ),
    (
        "Cylinders,Displacement,Horsepower,Weight,Acceleration,Model Year,Origin",
        "text/csv",
        400,
        "header",
    ),
    ("[[1,2,3]]", "application/json", 400, "3 values; expected 7"),
    ("[[8,307,true,3504,12,70,1]]", "application/json", 400, "is not a number"),
    ('"text"', "application/json", 400, "expected"),
    ("[1,2,3,4,5,6,7]\n\n", "application/jsonlines", 200, None),
    ("[1,2,3,4,5,6,7]\n\n[1,2,3,4,5,6,7]", "application/jsonlines", 400, "line 2: empty line"),
    (ROW, "text/plain", 415, "unsupported Content-Type 'text/plain'"),
    (ROW, None, 415, "missing Content-Type"),
]


SERVE = str(Path(sys.executable).with_name("serve"))
