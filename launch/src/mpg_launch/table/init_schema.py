"""``mpg-launch init``: read a headered CSV and write the schema file for the user to review
(target, task, each column's role, the reason for each inference beside it). The inference
and the file's text are :mod:`mpg_core.table_schema`'s; this module is the command around them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpg_launch.settings.files import regular_file
from mpg_launch.table import remembered

TASK_CHOICES = ("regression", "classification")


def add_init_command(sub: Any) -> None:
    help_text = "write a table schema (schema.toml) for a headered CSV and its target column"
    p = sub.add_parser("init", help=help_text, description=help_text)
    p.add_argument("--table", type=Path, required=True, help="headered CSV file")
    p.add_argument("--target", required=True, help="the column to predict")
    p.add_argument("--task", choices=TASK_CHOICES, help="default: inferred from the target column")
    p.add_argument("--out", type=Path, default=Path("schema.toml"), help="default schema.toml")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def write_schema(table: Path, target: str, task: str | None, out_path: Path, force: bool) -> str:
    """Infer ``table``'s schema, write it to ``out_path`` and return its text. MpgError (from
    the core) for a table no model can learn; ValueError for a file that is not a table."""
    from mpg_core.dataset import read_table
    from mpg_core.table_schema import infer_schema, render_schema

    if out_path.exists() and not force:
        raise FileExistsError(f"{out_path} exists; pass --force to overwrite it or another --out")
    frame = read_table(regular_file(table, "--table"))
    schema, reasons = infer_schema(frame, target, task, name=table.stem)  # type: ignore[arg-type]
    text = render_schema(schema, reasons)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return text


def run_init(args: argparse.Namespace, state_root: Path, out: Callable[[str], None] = print) -> int:
    """The command: exit 0 with the file written and remembered for the table (as quickstart
    remembers its schema, :mod:`mpg_launch.table.remembered`), or one line on stderr and
    exit 2."""
    from mpg_core.errors import MpgError

    try:
        text = write_schema(args.table, args.target, args.task, args.out, args.force)
        before = remembered.remembered_schema(state_root, args.table)
        kept = remembered.remember(state_root, args.table, text)
    except (MpgError, OSError, ValueError) as exc:
        print(f"mpg-launch: error: init: {_one_line(exc)}", file=sys.stderr)
        return 2
    out(text.rstrip("\n"))
    out(f"wrote {args.out}: review it, then pass it with --schema {args.out} (or MPG_SCHEMA)")
    replaced = " (replacing the one remembered before)" if before else ""
    out(
        f"remembered it at {kept}{replaced}: commands given --table {args.table} use that copy "
        f"without --schema (edit it there, or give --schema {args.out} after editing {args.out})"
    )
    return 0


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())
