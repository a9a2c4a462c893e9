"""One coercion for every setting, however it arrives (config file, environment variable,
flag): each function turns a value into its type or raises ``ValueError``, and the reader that
called it names the key and the fix.

Where the config reader and the ``[autoscaling]``/``[serverless]``/``[data_capture]``/
``[async]``/``[rollout]`` readers used to disagree, the stricter rule holds for all of them:

- a whole number is an integer, or a string of digits: ``2.0``, ``"2.0"``, ``2.7`` and ``true``
  are refused, not rounded or counted;
- a switch is ``true`` or ``false`` (or those words as a string, in any case): ``"yes"``,
  ``"1"`` and ``1`` are refused;
- a string is a string: ``5`` is refused, not turned into ``"5"``;
- a list of strings is a list, or one comma-separated string.

Standard library only: the CLI imports this for ``--help``.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Any

_DIGITS = re.compile(r"[+-]?\d+")


def integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    raise ValueError(value)


def number(value: Any) -> float:
    """A finite number: an integer, a float or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(value)
    found = float(value)
    if not math.isfinite(found):
        raise ValueError(value)
    return found


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError(value)


def string(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(value)


def strings(value: Any) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b"]`` as ``("a", "b")``; blanks dropped."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


def base(hint: Any) -> Any:
    """``int`` for ``int | None``: the type a value must have when it is given."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(h for h in typing.get_args(hint) if h is not type(None))
    return hint


def of_type(hint: Any, value: Any) -> Any:
    """``value`` as a field annotated ``hint`` (int, float, bool, str, tuple[str, ...], or any
    of them ``| None``)."""
    kind = base(hint)
    coerce = {int: integer, float: number, bool: boolean, str: string}.get(kind)
    if coerce is not None:
        return coerce(value)
    if typing.get_origin(kind) is tuple:
        return strings(value)
    raise TypeError(f"no coercion for {hint!r}")
