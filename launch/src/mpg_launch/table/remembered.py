"""The schema of a user's table, remembered in the local state folder, so commands on that
table after ``quickstart`` (or ``init``) need no ``--schema`` / ``MPG_SCHEMA``:

<state>/tables/<table name>/schema.toml   the schema quickstart or init wrote

The table's name comes from its file name (``my data.csv`` -> ``my-data``): two tables live side
by side, each with its own schema, S3 prefix, jobs and endpoint.

Every command that is given a table (``--table``, ``MPG_TABLE`` or the config file's ``table``;
``data --source FILE.csv`` with no schema given) finds its schema through :func:`for_table`,
in this order: an explicit ``--schema`` / ``MPG_SCHEMA`` / ``schema``, then the remembered
file; with neither, one error naming the file it looked for and the command that writes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mpg_launch.errors import ConfigError
from mpg_launch.settings.config import LaunchConfig

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
    csv = table if table.suffix.lower() == ".csv" else Path("FILE.csv")
    return ConfigError(
        f"no schema for {table}: none given (--schema, MPG_SCHEMA or 'schema') and none "
        f"remembered at {schema_path(state_root, table)}; run `mpg-launch quickstart --table "
        f"{csv} --target COLUMN` (or `mpg-launch init --table {csv} --target COLUMN`, which "
        "remembers the schema it writes there)"
    )


def narrowed(config: LaunchConfig, table: str, schema: str) -> LaunchConfig:
    """The config of one table, laid out as quickstart lays it out: ``schema``, the table's
    objects under ``<prefix>/<name>/`` and its endpoint ``<name>`` (unless ``--endpoint``
    names another), so a second table never meets the first one's files or endpoint."""
    name = table_name(Path(table))
    given = config.source("endpoint_name") == "--endpoint"
    return replace(
        config,
        table=table,
        schema=schema,
        prefix=f"{config.prefix}/{name}",
        endpoint_name=config.endpoint_name if given else name,
    )


def for_table(
    config: LaunchConfig, state_root: Path, table: str, out: Callable[[str], None]
) -> LaunchConfig:
    """:func:`narrowed` to ``table`` with its schema: the one given (``--schema``,
    ``MPG_SCHEMA``, ``schema``) first, else the one remembered for it (printed), else a
    ConfigError naming the file looked for and the command to run."""
    if config.schema:
        return narrowed(config, table, config.schema)
    found = remembered_schema(state_root, Path(table))
    if found is None:
        raise no_schema_error(state_root, Path(table))
    name = table_name(Path(table))
    out(f"schema: {found} (remembered for table {name})")
    sources = {**config.sources, "schema": f"the schema remembered for table {name}"}
    return narrowed(replace(config, sources=sources), table, str(found))


def remember(state_root: Path, table: Path, text: str) -> Path:
    """Write ``text`` as the schema remembered for ``table`` (atomically: a reader never sees
    half a file) and return where."""
    path = schema_path(state_root, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
