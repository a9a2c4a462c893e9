"""launch/README.md's settings tables, generated from the declarations
(:mod:`mpg_launch.settings.declared`), so the README cannot drift from the code: every
top-level key, every key of deploy's tables and every key of ``[monitor]``. ``make readme``
(``python -m mpg_launch.settings.readme launch/README.md``) rewrites the text between the
markers; a unit test checks that the README holds what this module generates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mpg_launch.settings import declared, markdown

SETTINGS_MARKERS = (
    "<!-- settings table: generated from launch/src/mpg_launch/settings/declared.py by "
    "`make readme`; edit the declarations, not this table -->",
    "<!-- end of the settings table -->",
)
TABLE_KEYS_MARKERS = (
    "<!-- table keys: generated from launch/src/mpg_launch/settings/declared.py by "
    "`make readme`; edit the declarations, not this table -->",
    "<!-- end of the table keys -->",
)
MONITOR_KEYS_MARKERS = (
    "<!-- monitor keys: generated from launch/src/mpg_launch/settings/declared.py by "
    "`make readme`; edit the declarations, not this table -->",
    "<!-- end of the monitor keys -->",
)
# The config file's name of a table, where it is not the LaunchConfig field's.
SPELLED = {"async_inference": "async", "instances": "instances.<stage>"}


def _key(setting: declared.Setting) -> str:
    name = SPELLED.get(setting.key, setting.key)
    return f"`[{name}]`" if setting.kind == declared.TABLE else f"`{name}`"


def _flag(setting: declared.Setting) -> str:
    if setting.readme_flag is not None:
        return setting.readme_flag
    if not setting.flag:
        return ""
    also = ", ".join(f"`{a}`" for a in setting.aliases)
    return f"`{setting.flag}`" + (f" (or {also})" if also else "")


def settings_table() -> str:
    """Every top-level key: its flag, environment variables, what it allows, its default and
    what it sets."""
    lines = [
        markdown.row(["Key", "Flag", "Environment", "Allowed", "Default", "What it sets"]),
        markdown.rule(6),
    ]
    for s in declared.SETTINGS:
        env = ", ".join(f"`{v}`" for v in s.env)
        lines.append(markdown.row([_key(s), _flag(s), env, s.allowed, s.default, s.sets]))
    return "\n".join(lines)


def _defaults() -> dict[str, dict[str, Any]]:
    """table -> key -> its settings object's default (the object holds it, not the
    declaration)."""
    from mpg_launch.endpoint import rollout_settings
    from mpg_launch.endpoint import settings as endpoint_settings

    objects = {**endpoint_settings.SECTIONS, "rollout": rollout_settings.Rollout}
    return {table: markdown.field_defaults(cls) for table, cls in objects.items()}


def table_keys_table() -> str:
    """Every key of deploy's tables: its flag, type, bounds, default and help."""
    defaults = _defaults()
    lines = [
        markdown.row(["Table", "Key", "Flag", "Type", "Bounds", "Default", "What it sets"]),
        markdown.rule(7),
    ]
    for k in declared.TABLE_KEYS:
        table = f"`[{SPELLED.get(k.table, k.table)}]`"
        lines.append(markdown.row([table, *markdown.key_cells(k, defaults[k.table])]))
    return "\n".join(lines)


def monitor_keys_table() -> str:
    """Every key of ``[monitor]`` (a flag of every ``monitor`` action): its flag, type,
    bounds, default and help (:func:`mpg_launch.monitor.settings.readme_table`)."""
    from mpg_launch.monitor.settings import readme_table

    return readme_table()


def _between(text: str, markers: tuple[str, str], body: str) -> str:
    start, end = markers
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"the README needs the markers once each: {start} ... {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"


def generated(text: str) -> str:
    """``text`` (the README) with its three tables regenerated."""
    text = _between(text, SETTINGS_MARKERS, settings_table())
    text = _between(text, TABLE_KEYS_MARKERS, table_keys_table())
    return _between(text, MONITOR_KEYS_MARKERS, monitor_keys_table())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path, help="launch/README.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if it is out of date")
    args = parser.parse_args(argv)
    text = args.readme.read_text(encoding="utf-8")
    new = generated(text)
    if args.check:
        if new != text:
            print(f"{args.readme} is out of date: run `make readme`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        args.readme.write_text(new, encoding="utf-8")
        print(f"rewrote the settings tables of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
