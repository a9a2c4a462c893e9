"""The JSONPath subset batch transform's ``DataProcessing`` filters accept, parsed and applied.

SageMaker documents its own subset ("Supported JSONPath Operators", batch-transform-data-
processing): ``$``; ``.name``; ``*``; ``['a','b']``; ``[1]``, ``[1,3,-1]``; ``[2:5]``,
``[:5]``, ``[2:]``. It differs from general JSONPath libraries (jsonpath-ng included) in
ways that change answers, so this small parser holds exactly that subset:

* a slice's end is **inclusive** (``$[1:4]`` is "the second through fifth columns", ``[:5]``
  the first six), where Python-style libraries stop before the end;
* one bracket holds indexes and at most one slice (``$[0,5:]`` is an example in the API
  reference; ``$[0:2,246:]`` is refused: "only single range filters ... are supported");
* only letters, digits and ``$ [ ] * . , : - '`` and spaces may appear (SageMaker refuses
  even ``_``: "Unexpected "_" in JsonPath");
* CSV rows are JSON arrays, so a CSV filter uses indexes only;
* an index outside the row is an error, not an empty answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpg_launch.errors import ConfigError

# What SageMaker's validation accepts (its error lists the operators; names are alphanumeric).
_ALLOWED = re.compile(r"^[A-Za-z0-9$\[\]*.,:\-' ]*$")
_NAME = re.compile(r"[A-Za-z0-9]+")
_INT = r"\s*-?\d+\s*"
_INDEX = re.compile(rf"^{_INT}$")
_SLICE = re.compile(rf"^(?:{_INT})?:(?:{_INT})?$")
_QUOTED = re.compile(r"^\s*'([A-Za-z0-9]+)'\s*$")
MAX_LENGTH = 63  # botocore's model: InputFilter and OutputFilter are 0-63 characters


class FilterError(ValueError):
    """A filter cannot be applied to a record (an index beyond it, a name it does not have)."""


@dataclass(frozen=True)
class Slice:
    """``[start:end]`` with SageMaker's inclusive end; ``None`` means "from the first" or
    "to the last"."""

    start: int | None
    end: int | None


Selector = int | Slice


@dataclass(frozen=True)
class Step:
    """One step of a path: a child name, the wildcard, names in brackets, or indexes."""

    kind: str  # "name", "names", "wildcard" or "indexes"
    names: tuple[str, ...] = ()
    selectors: tuple[Selector, ...] = ()


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps

    @property
    def uses_names(self) -> bool:
        return any(step.kind in ("name", "names") for step in self.steps)


def _bracket(body: str, text: str) -> Step:
    parts = body.split(",")
    quoted = [_QUOTED.match(p) for p in parts]
    if all(quoted):  # one name is that child, as .name; several make an object of them
        names = tuple(m.group(1) for m in quoted if m)
        return Step("name" if len(names) == 1 else "names", names=names)
    if body.strip() == "*":
        return Step("wildcard")
    selectors: list[Selector] = []
    for part in parts:
        if _INDEX.match(part):
            selectors.append(int(part))
        elif _SLICE.match(part):
            start, end = (p.strip() for p in part.split(":"))
            selectors.append(Slice(int(start) if start else None, int(end) if end else None))
        else:
            raise ConfigError(
                f"filter {text!r}: [{body}] is not an index (1, -1), a slice (2:5, :5, 2:), "
                "a list of them, or quoted names ('a','b')"
            )
    if sum(isinstance(s, Slice) for s in selectors) > 1:
        raise ConfigError(
            f"filter {text!r}: SageMaker allows one slice per bracket ([{body}] has more); "
            "list indexes beside one slice, e.g. $[0,5:]"
        )
    return Step("indexes", selectors=tuple(selectors))


def parse(text: str) -> Path:
    """Parse ``text`` or raise a one-line :class:`ConfigError` naming what SageMaker refuses."""
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"filter {text!r} is {len(text)} characters; at most {MAX_LENGTH}")
    bad = sorted({c for c in text if not _ALLOWED.match(c)})
    if bad:
        raise ConfigError(
            f"filter {text!r}: SageMaker refuses {''.join(bad)!r} in a JSONPath; use letters, "
            "digits and $ [ ] * . , : - ' only"
        )
    if not text.startswith("$"):
        raise ConfigError(f"filter {text!r} must start with $ (the record)")
    steps: list[Step] = []
    rest = text[1:]
    while rest:
        if rest.startswith("["):
            close = rest.find("]")
            if close < 0:
                raise ConfigError(f"filter {text!r}: a [ is not closed")
            steps.append(_bracket(rest[1:close], text))
            rest = rest[close + 1 :]
        elif rest.startswith(".*"):
            steps.append(Step("wildcard"))
            rest = rest[2:]
        elif rest.startswith(".["):  # $.field.['a','b'], as the docs write it
            rest = rest[1:]
        elif rest.startswith("."):
            match = _NAME.match(rest, 1)
            if not match:
                raise ConfigError(f"filter {text!r}: a name must follow '.'")
            steps.append(Step("name", names=(match.group(),)))
            rest = rest[match.end() :]
        else:
            raise ConfigError(f"filter {text!r}: unexpected {rest[0]!r} at {rest!r}")
    return Path(text, tuple(steps))


def parse_csv_filter(text: str) -> Path:
    """A filter for CSV rows: indexes and slices only (a row is a JSON array)."""
    path = parse(text)
    if path.uses_names:
        raise ConfigError(
            f"filter {text!r} names a field, but CSV rows are arrays: use indexes, e.g. $[1:]"
        )
    return path


def _positions(selectors: tuple[Selector, ...], size: int, text: str) -> list[int]:
    positions: list[int] = []
    for selector in selectors:
        if isinstance(selector, Slice):
            start = 0 if selector.start is None else selector.start
            end = size - 1 if selector.end is None else selector.end
            start, end = (v + size if v < 0 else v for v in (start, end))
            positions.extend(range(max(start, 0), min(end, size - 1) + 1))
        else:
            index = selector + size if selector < 0 else selector
            if not 0 <= index < size:
                raise FilterError(f"{text}: index {selector} is outside a record of {size} values")
            positions.append(index)
    return positions


def _step(value: Any, step: Step, text: str) -> Any:
    if step.kind == "wildcard":
        if isinstance(value, Mapping):
            return list(value.values())
        if isinstance(value, list):
            return list(value)
        raise FilterError(f"{text}: * asked of a value that is neither an object nor an array")
    if step.kind in ("name", "names"):
        if not isinstance(value, Mapping):
            raise FilterError(f"{text}: {step.names[0]!r} asked of a value that is not an object")
        missing = [n for n in step.names if n not in value]
        if missing:
            raise FilterError(f"{text}: the record has no {missing[0]!r}")
        if step.kind == "name":
            return value[step.names[0]]
        return {name: value[name] for name in step.names}
    if not isinstance(value, list):
        raise FilterError(f"{text}: indexes asked of a value that is not an array")
    single = len(step.selectors) == 1 and isinstance(step.selectors[0], int)
    picked = [value[i] for i in _positions(step.selectors, len(value), text)]
    return picked[0] if single else picked


def apply(path: Path, record: Any) -> Any:
    """The part of ``record`` (a parsed JSON value, or a CSV row as a list) ``path`` selects."""
    value = record
    for step in path.steps:
        value = _step(value, step, path.text)
    return value
