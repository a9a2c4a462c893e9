"""The Auto MPG feature schema: one place for column names, their order and their roles, and
for the rule that reads the spellings people use for them (``Model Year`` is ``model_year``).

Kept free of pandas and numpy: the serving image imports it on its light start-up path.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Final

TARGET: Final = "mpg"
MODEL_YEAR: Final = "model_year"

# Raw feature columns, in the order a headerless CSV row at the endpoint must follow.
FEATURES: Final = (
    "cylinders",
    "displacement",
    "horsepower",
    "weight",
    "acceleration",
    MODEL_YEAR,
    "origin",
)
CAR_NAME: Final = "car_name"

# The UCI file's column order (auto-mpg.data): target first, name last.
UCI_COLUMNS: Final = (TARGET, *FEATURES, CAR_NAME)

# After AgeFromModelYear, model_year is replaced by age.
AGE: Final = "age"
CATEGORICAL: Final = ("cylinders", "origin")
NUMERIC: Final = ("displacement", "horsepower", "weight", "acceleration", AGE)

# UCI codes for origin; unknown codes are allowed at inference and encode as all-zero.
ORIGINS: Final = {1: "usa", 2: "europe", 3: "japan"}

# Cars in the data are model years 1970-1982; the data set was donated in 1983.
REFERENCE_YEAR: Final = 1983

_SEPARATORS = re.compile(r"[\s_-]+")


def canonical_name(name: str) -> str:
    """The project's spelling of a column name: surrounding spaces dropped, lower case, every run
    of spaces, underscores and hyphens one underscore. ``' Model Year '``, ``'model-year'`` and
    ``'MODEL_YEAR'`` are all ``'model_year'``. Raw tables' headers and the endpoint's JSON keys
    are read through it."""
    return _SEPARATORS.sub("_", name.strip().casefold())


def is_header(cells: Iterable[str], known: Collection[str]) -> bool:
    """Whether a CSV line's ``cells`` are a table's header: one of them names a column in
    ``known`` (canonical names) and none is a number. The serving image reads bodies and the
    launcher reads a batch transform's files by this one rule."""
    cells = list(cells)
    return (
        bool(cells)
        and any(canonical_name(c) in known for c in cells)
        and not any(_is_number(c) for c in cells)
    )


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def canonical_names(names: Iterable[object]) -> list[str]:
    """:func:`canonical_name` of each name, in order. Two names meaning the same column (say
    ``model year`` and ``model_year``) are a ValueError naming both: which one holds the data
    cannot be known, so neither is picked."""
    originals = [str(n) for n in names]
    canonical = [canonical_name(n) for n in originals]
    if len(set(canonical)) == len(canonical):
        return canonical
    spellings: dict[str, list[str]] = {}
    for original, name in zip(originals, canonical, strict=True):
        spellings.setdefault(name, []).append(original)
    clashes = "; ".join(
        f"{' and '.join(map(repr, group))} are the same column {name!r}"
        for name, group in spellings.items()
        if len(group) > 1
    )
    raise ValueError(f"ambiguous columns: {clashes}")
