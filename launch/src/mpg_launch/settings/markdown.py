"""The cells of launch/README.md's settings tables: how a declaration
(:mod:`mpg_launch.settings.declared`) and its settings object's default read in Markdown.
:mod:`mpg_launch.settings.readme` writes the tables with these; a package whose settings
object is its own (the monitor) renders its table with them too, without importing the
README writer (which imports every settings object).

Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from mpg_launch.settings import declared

_KINDS = {int: "whole number", float: "number", bool: "true or false", str: "text"}
KEY_HEADER = ("Key", "Flag", "Type", "Bounds", "Default", "What it sets")


def row(cells: Sequence[str]) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def rule(count: int) -> str:
    return "|" + "|".join("---" for _ in range(count)) + "|"


def number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def bounds(key: declared.TableKey) -> str:
    low, high = key.minimum, key.maximum
    if key.kind == tuple[str, ...]:
        return f"at most {number(high)}" if high is not None else ""
    if low is not None and high is not None:
        return f"{number(low)} to {number(high)}"
    if low is not None:
        return f"{number(low)} or more"
    return f"at most {number(high)}" if high is not None else ""


def kind(hint: Any) -> str:
    if hint == Mapping[str, float]:
        return "table of numbers"
    return _KINDS.get(hint, "list of text")


def default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ", ".join(f"`{v}`" for v in value) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"`{k} = {v}`" for k, v in value.items()) or "none"
    return f"`{value}`" if isinstance(value, str) else number(value)


def field_defaults(cls: type) -> dict[str, Any]:
    """field -> default of a settings dataclass (a field without one is required)."""
    found: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            found[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            found[field.name] = field.default_factory()
    return found


def key_cells(key: declared.TableKey, defaults: Mapping[str, Any]) -> list[str]:
    """A table key's Key, Flag, Type, Bounds, Default and What it sets (``defaults``: its
    table's settings object's)."""
    found = defaults.get(key.key, dataclasses.MISSING)
    return [
        f"`{key.key}`",
        f"`{key.flag}`" if key.flag else "",
        kind(key.kind),
        bounds(key),
        "required" if found is dataclasses.MISSING else default(found),
        key.help.replace("%%", "%"),
    ]


def keys_table(keys: Sequence[declared.TableKey], defaults: Mapping[str, Any]) -> str:
    """One table's keys, a row each."""
    lines = [row(KEY_HEADER), rule(len(KEY_HEADER))]
    return "\n".join([*lines, *(row(key_cells(k, defaults)) for k in keys)])
