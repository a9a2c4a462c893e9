"""The schema of a user's table, remembered in the local state folder, so commands on that
table after ``quickstart`` need no ``--schema`` / ``MPG_SCHEMA``:

<state>/tables/<table name>/schema.toml   the schema quickstart wrote (or reused)

The table's name comes from its file name (``my data.csv`` -> ``my-data``): two tables live side
by side, each with its own schema, S3 prefix, jobs and endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path

from mpg_launch.errors import ConfigError

# Room for "-train-<8 hex>" after it within SageMaker's 63 characters.
NAME_LIMIT = 40


def table_name(table: Path) -> str:
    """A SageMaker name (letters, digits, inner hyphens) from the table's file name."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", table.stem).strip("-").lower()[:NAME_LIMIT].strip("-")
    if not name or not name[0].isalpha():
        name = f"t-{name}".rstrip("-")[:NAME_LIMIT]
    return name


def schema_path(state_root: Path, table: Path) -> Path:
    return state_root / "tables" / table_name(table) / "schema.toml"


def remembered_schema(state_root: Path, table: Path) -> Path | None:
    """The schema remembered for ``table``, or None."""
    path = schema_path(state_root, table)
    return path if path.is_file() else None


def no_schema_error(state_root: Path, table: Path) -> ConfigError:
    """A headered table given without a schema: what to run, and where the schema was looked
    for (not Auto MPG's reader's complaint about the file's first line)."""
    return ConfigError(
        f"no schema for {table}: none given (--schema, MPG_SCHEMA or 'schema') and none "
        f"remembered at {schema_path(state_root, table)}; run `mpg-launch quickstart --table "
        f"{table} --target COLUMN` (or `mpg-launch init --table {table} --target COLUMN` and "
        "pass --schema)"
    )
