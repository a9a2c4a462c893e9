"""The one way the launcher opens a file the user names (a config, a table, a schema): only a
regular file, so ``/dev/zero``, a FIFO or a terminal fails at once instead of hanging, and JSON
with a key given twice is refused instead of the last one silently winning."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any


class NotRegularFile(OSError):
    """The path exists but is a device, FIFO, socket or folder."""


def regular_file(path: str | os.PathLike[str], what: str) -> Path:
    """``path`` if it is a regular file (symbolic links followed), else :class:`NotRegularFile`
    naming ``what``; a missing file raises FileNotFoundError as ``open`` would."""
    path = Path(path)
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
        raise NotRegularFile(f"{what} {path} is {kind}; give a regular file")
    return path


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: a key given twice is an error."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"key {key!r} is given twice")
        seen[key] = value
    return seen


def load_json(text: str) -> Any:
    """JSON whose objects repeat no key (ValueError otherwise, JSONDecodeError on syntax)."""
    return json.loads(text, object_pairs_hook=unique_keys)
