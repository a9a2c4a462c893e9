"""What the local runner remembers between CLI invocations (``deploy`` in one process,
``predict`` and ``delete`` in others): one JSON file per resource under the state folder."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

DEFAULT_STATE_DIR = Path.home() / ".cache" / "mpg-launch" / "local"
# Response fields boto3 gives as datetimes (the state files hold them as text).
# The CloudWatch alarms the local clients store and a local rollout evaluates.
ALARMS = "alarms"
TIMESTAMP_KEYS = ("CreationTime", "LastModifiedTime", "LastRunTime", "StartTime", "EndTime")


def state_label(root: Path) -> str:
    """A short, stable id of a state folder for container labels."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def not_found(operation: str, message: str) -> ClientError:
    """The error SageMaker answers for a missing resource, so callers handle both alike."""
    return ClientError({"Error": {"Code": "ValidationException", "Message": message}}, operation)


def with_datetimes(value: Any) -> Any:
    """``value`` with the timestamps of :data:`TIMESTAMP_KEYS` (at any depth) as datetimes."""
    if isinstance(value, dict):
        return {
            k: datetime.fromisoformat(v)
            if k in TIMESTAMP_KEYS and isinstance(v, str)
            else with_datetimes(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [with_datetimes(v) for v in value]
    return value


# The state holds model artifacts and captured requests: only its owner may read it.
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class LocalState:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, name: str) -> Path:
        return self.root / kind / f"{name}.json"

    def _private_folder(self, folder: Path) -> Path:
        """``folder`` (under the root) and the folders above it, created 0700; the root is
        made 0700 if it was not, so nothing beneath it is readable by others."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=FOLDER_MODE)
        if self.root.stat().st_mode & 0o777 != FOLDER_MODE:
            self.root.chmod(FOLDER_MODE)
        here = self.root
        for part in folder.relative_to(self.root).parts:
            here = here / part
            if not here.is_dir():
                here.mkdir(mode=FOLDER_MODE, exist_ok=True)
        return folder

    @contextlib.contextmanager
    def locked(self, kind: str, name: str) -> Iterator[None]:
        """An exclusive lock on one record across processes (``fcntl.flock``): hold it around
        a read-modify-write, so two commands on one endpoint cannot lose an update."""
        folder = self._private_folder(self.root / ".locks" / kind)
        fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def create(self, kind: str, name: str, record: dict[str, Any]) -> bool:
        """Write ``record`` only if there is none yet (under the record's lock): False when
        another command created it first."""
        with self.locked(kind, name):
            if self.exists(kind, name):
                return False
            self.put(kind, name, record)
            return True

    def update(
        self,
        kind: str,
        name: str,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        operation: str,
    ) -> dict[str, Any]:
        """Read, change and write one record under its lock, so no other command's change
        between the read and the write is lost. ``change`` edits the record in place (or
        returns the record to write) and may raise to write nothing. Returns what was written."""
        with self.locked(kind, name):
            record = self.get(kind, name, operation)
            changed = change(record)
            record = record if changed is None else changed
            self.put(kind, name, record)
            return record

    def put(self, kind: str, name: str, record: dict[str, Any]) -> None:
        path = self._path(kind, name)
        self._private_folder(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per writer
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(json.dumps(record, indent=2, default=str))
        tmp.replace(path)  # readers in other processes never see half a file

    def get(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        path = self._path(kind, name)
        if not path.is_file():
            raise not_found(
                operation, f'Could not find {kind[:-1].replace("-", " ")} "{name}" (local).'
            )
        return dict(json.loads(path.read_text(encoding="utf-8")))

    def exists(self, kind: str, name: str) -> bool:
        return self._path(kind, name).is_file()

    def delete(self, kind: str, name: str) -> None:
        self._path(kind, name).unlink(missing_ok=True)

    def names(self, kind: str) -> list[str]:
        folder = self.root / kind
        return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []

    def work_dir(self, kind: str, name: str) -> Path:
        """A folder for a resource's files (staged inputs, extracted models)."""
        return self._private_folder(self.root / "work" / kind / name)
