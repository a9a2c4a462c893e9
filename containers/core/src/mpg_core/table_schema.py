"""The table schema: which column is the target, the task, and each column's role. One module
reads and writes it; everyone else takes its typed result, :class:`TableSchema`.

The file is TOML, written for people to review (``mpg-launch init`` writes one with the reason
for each inference beside it)::

    target = "mpg"
    task = "regression"            # or "classification"
    max_categorical_levels = 50

    [[column]]                     # one per column, in the table's order
    name = "cylinders"
    role = "categorical"           # numeric | categorical | ignored | age_from_year

    [[column]]
    name = "model_year"
    role = "age_from_year"         # replaced by its age at reference_year
    reference_year = 1983
    age_column = "age"

The columns that are not ``ignored`` are the model's raw inputs, in file order: the order a
headerless CSV row at the endpoint follows. Names are read through
:func:`mpg_core.schema.canonical_name`, as table headers are. Auto MPG's schema is shipped as
package data and is the default everywhere (:func:`default_schema`).

Standard library only (tomllib): the launcher and the serving image import it on their light
start-up paths.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from mpg_core.errors import ConfigError, DataError
from mpg_core.schema import canonical_name

if TYPE_CHECKING:
    import pandas as pd

Task = Literal["regression", "classification"]
TASKS: Final[tuple[Task, ...]] = ("regression", "classification")
Role = Literal["numeric", "categorical", "ordinal", "ignored", "age_from_year"]
ROLES: Final[tuple[Role, ...]] = ("numeric", "categorical", "ordinal", "ignored", "age_from_year")
DEFAULT_MAX_LEVELS: Final = 50
# What an ordinal column's value outside its order (or never seen) encodes as: below the
# lowest level (0), so trees can tell it apart from every level.
ORDINAL_UNKNOWN: Final = -1.0
SCHEMA_SUFFIX: Final = ".toml"
# The copy of the schema the preprocessing job writes beside each split's features.
FEATURES_SCHEMA_FILE: Final = "schema.json"
AUTO_MPG_RESOURCE: Final = "data/auto-mpg.schema.toml"
# Where mpg_core.dataset.read_table keeps the header's own spellings (canonical -> original).
ORIGINAL_NAMES_ATTR: Final = "original_names"

_TOP_KEYS = {"target", "task", "max_categorical_levels", "column", "name"}
_COLUMN_KEYS = {
    "name",
    "role",
    "reference_year",
    "age_column",
    "text",
    "order",
    "leakage",
    "accept_leakage",
}


@dataclass(frozen=True)
class Column:
    """One column of the raw table and what the model does with it.

    ``text``: a categorical column whose values are strings (found by the preprocessing job
    and recorded in the schema it passes on); numeric categories are read as numbers.
    ``order``: an ordinal column's levels, lowest first (its values are read as text, spaces
    around them dropped; a value not in the order encodes as :data:`ORDINAL_UNKNOWN`)."""

    name: str
    role: Role
    reference_year: int | None = None  # age_from_year only
    age_column: str | None = None  # age_from_year only: the derived feature's name
    text: bool = False  # categorical only
    order: tuple[str, ...] = ()  # ordinal only
    # Target leakage (mpg_core.leakage): why init found the column leaks (it is then ignored),
    # and the user's acknowledgement that it does not (the preprocessing job skips the check).
    leakage: str | None = None
    accept_leakage: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "role": self.role}
        if self.role == "age_from_year":
            out["reference_year"] = self.reference_year
            out["age_column"] = self.age_column
        if self.text:
            out["text"] = True
        if self.order:
            out["order"] = list(self.order)
        if self.leakage:
            out["leakage"] = self.leakage
        if self.accept_leakage:
            out["accept_leakage"] = True
        return out


@dataclass(frozen=True)
class TableSchema:
    """A checked schema: build it with :func:`from_dict`, :func:`load_schema` or
    :func:`default_schema`, never field by field (the checks live in :func:`from_dict`)."""

    target: str
    task: Task
    columns: tuple[Column, ...]
    max_categorical_levels: int = DEFAULT_MAX_LEVELS
    name: str = ""  # the table's name, for messages and reports

    # --- what the jobs read -------------------------------------------------------------------

    @property
    def feature_columns(self) -> tuple[str, ...]:
        """The model's raw input columns, in order (every column not ignored)."""
        return tuple(c.name for c in self.columns if c.role != "ignored")

    def names(self, role: Role) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.role == role)

    @property
    def leak_checked_columns(self) -> tuple[str, ...]:
        """The feature columns the target-leak check judges (all but accepted ones)."""
        return tuple(c.name for c in self.columns if c.role != "ignored" and not c.accept_leakage)

    @property
    def age_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "age_from_year")

    @property
    def text_columns(self) -> tuple[str, ...]:
        """Columns read as text: categorical ones holding strings, and every ordinal one."""
        return tuple(c.name for c in self.columns if c.text or c.role == "ordinal")

    @property
    def ordinal_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.role == "ordinal")

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    def with_text_columns(self, names: set[str]) -> TableSchema:
        """This schema with ``names`` (categorical columns holding strings) marked as text."""
        return replace(
            self, columns=tuple(replace(c, text=c.text or c.name in names) for c in self.columns)
        )

    # --- to and from artifact.json ------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "task": self.task,
            "max_categorical_levels": self.max_categorical_levels,
            "column": [c.as_dict() for c in self.columns],
        }
        if self.name:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "schema") -> TableSchema:
        """Check ``data`` (a parsed TOML file or an artifact.json ``schema``); ConfigError
        naming the key and the fix for anything wrong."""
        return _parse(data, where)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _year(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1000 <= value <= 9999:
        raise ConfigError(f"{where} must be a four-digit year such as 1983, not {value!r}")
    return value


def _column(item: Any, where: str) -> Column:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a table with name and role, not {item!r}")
    unknown = sorted(set(item) - _COLUMN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; a column has {sorted(_COLUMN_KEYS)}")
    name = canonical_name(_text(item.get("name"), f"{where}.name"))
    where = f"{where} ({name!r})"
    role = item.get("role")
    if role not in ROLES:
        raise ConfigError(f"{where}: role {role!r} is not one of {list(ROLES)}")
    text = item.get("text", False)
    if not isinstance(text, bool) or (text and role != "categorical"):
        raise ConfigError(f"{where}: text = {text!r}; only a categorical column may be text")
    leakage = item.get("leakage")
    if leakage is not None:
        leakage = _text(leakage, f"{where}.leakage")
    accept = item.get("accept_leakage", False)
    if not isinstance(accept, bool):
        raise ConfigError(f"{where}: accept_leakage = {accept!r}; write true or false")
    order = item.get("order")
    if (order is not None) != (role == "ordinal"):
        raise ConfigError(
            f"{where}: an ordinal column needs order = [...] (its levels, lowest first), and "
            f"only an ordinal column has one (role {role!r})"
        )
    if role == "ordinal":
        return Column(
            name,
            role,
            order=_order(order, f"{where}.order"),
            leakage=leakage,
            accept_leakage=accept,
        )
    if role == "age_from_year":
        year = _year(item.get("reference_year"), f"{where}.reference_year")
        age = canonical_name(_text(item.get("age_column", f"{name}_age"), f"{where}.age_column"))
        return Column(
            name,
            role,
            reference_year=year,
            age_column=age,
            leakage=leakage,
            accept_leakage=accept,
        )
    extra = sorted({"reference_year", "age_column"} & set(item))
    if extra:
        raise ConfigError(f"{where}: {extra} only apply to role 'age_from_year', not {role!r}")
    return Column(name, role, text=text, leakage=leakage, accept_leakage=accept)


def _order(value: Any, where: str) -> tuple[str, ...]:
    """An ordinal column's levels: at least two distinct non-empty values (numbers are read
    as the text a table holds), spaces around them dropped."""
    if not isinstance(value, list) or not all(
        isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
    ):
        raise ConfigError(f"{where} must be a list of levels, lowest first, not {value!r}")
    levels = tuple(str(v).strip() for v in value)
    if len(levels) < 2 or "" in levels or len(set(levels)) != len(levels):
        raise ConfigError(f"{where} needs two or more distinct non-empty levels, not {value!r}")
    return levels


def _parse(data: Mapping[str, Any], where: str) -> TableSchema:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table of keys, not {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; a schema has {sorted(_TOP_KEYS)}")
    target = canonical_name(_text(data.get("target"), f"{where}: target"))
    task = data.get("task")
    if task not in TASKS:
        raise ConfigError(f"{where}: task {task!r} is not one of {list(TASKS)}")
    levels = data.get("max_categorical_levels", DEFAULT_MAX_LEVELS)
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ConfigError(
            f"{where}: max_categorical_levels must be an integer >= 2, not {levels!r}"
        )
    items = data.get("column")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where}: no [[column]] entries; list the table's columns and roles")
    columns = tuple(_column(item, f"{where}: column {i + 1}") for i, item in enumerate(items))
    names = [c.name for c in columns] + [c.age_column for c in columns if c.age_column]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"{where}: column name(s) {repeated} given more than once")
    if target in names:
        raise ConfigError(
            f"{where}: the target {target!r} is also listed as a column; leave it out of "
            "[[column]] (it is never a feature)"
        )
    schema = TableSchema(
        target=target,
        task=task,
        columns=columns,
        max_categorical_levels=levels,
        name=str(data.get("name", "")),
    )
    if not schema.feature_columns:
        raise ConfigError(
            f"{where}: no usable feature: every column is ignored; give at least one column "
            "the role numeric, categorical or age_from_year"
        )
    return schema


# --- files ------------------------------------------------------------------------------------


def parse_schema(text: str, where: str = "schema") -> TableSchema:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from None
    return TableSchema.from_dict(data, where)


def load_schema(path: Path) -> TableSchema:
    """The schema in ``path``; ConfigError naming the file when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read schema file {path}: {exc}") from None
    return parse_schema(text, str(path))


def default_schema() -> TableSchema:
    """Auto MPG's schema, shipped with the package: the default of every job and command."""
    text = resources.files("mpg_core").joinpath(AUTO_MPG_RESOURCE).read_text("utf-8")
    return parse_schema(text, f"mpg_core/{AUTO_MPG_RESOURCE}")


def schema_in(directory: Path | None) -> TableSchema:
    """The one ``*.toml`` schema in ``directory`` (a processing input); the default (Auto MPG)
    when the folder is absent or holds none; ConfigError when it holds several."""
    if directory is None or not directory.is_dir():
        return default_schema()
    found = sorted(p for p in directory.rglob(f"*{SCHEMA_SUFFIX}") if p.is_file())
    if not found:
        return default_schema()
    if len(found) > 1:
        raise ConfigError(
            f"{directory} holds {len(found)} schema files {[p.name for p in found]}; give one"
        )
    return load_schema(found[0])


def schema_from_manifest(manifest: Mapping[str, Any], where: str) -> TableSchema:
    """The schema an artifact.json records; Auto MPG's for artifacts written before schemas
    travelled (they were all Auto MPG)."""
    data = manifest.get("schema")
    return default_schema() if data is None else TableSchema.from_dict(data, where)


def write_features_schema(schema: TableSchema, folder: Path) -> Path:
    """The copy beside a split's features that a training job without a preprocessor channel
    reads (:func:`features_schema`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FEATURES_SCHEMA_FILE
    path.write_text(json.dumps(schema.as_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def features_schema(directory: Path) -> TableSchema | None:
    """The schema copy in a features channel, or None when it has none (features written
    before schemas travelled)."""
    found = sorted(directory.rglob(FEATURES_SCHEMA_FILE)) if directory.is_dir() else []
    if not found:
        return None
    try:
        data = json.loads(found[0].read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {found[0]}: {exc}") from None
    return TableSchema.from_dict(data, str(found[0]))


# --- writing a reviewable file ----------------------------------------------------------------


def _toml_string(value: str) -> str:
    # JSON's escapes (\", \\, \n, \uXXXX) are all valid in a TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def _comment(reason: str | None) -> list[str]:
    if not reason:
        return []
    return [f"# {line}".rstrip() for line in reason.splitlines()]


def render_schema(schema: TableSchema, reasons: Mapping[str, str] | None = None) -> str:
    """The schema as a commented TOML file that :func:`parse_schema` reads back to ``schema``.

    ``reasons``: text to write above an entry, keyed by column name, plus ``"task"`` (beside
    the task) and ``"table"`` (the file's opening comment); :func:`infer_schema` returns
    them."""
    reasons = reasons or {}
    lines = _comment(reasons.get("table")) or [
        "# Table schema: the target, the task and each column's role. Review it, edit it, and",
        "# give it to every command (--schema); the jobs read it, no code is edited.",
    ]
    lines.append(
        "# Roles: numeric | categorical | ordinal (+ order, lowest first) | ignored | "
        "age_from_year (+ reference_year)."
    )
    lines.append("")
    if schema.name:
        lines.append(f"name = {_toml_string(schema.name)}")
    lines.append(f"target = {_toml_string(schema.target)}")
    lines.extend(_comment(reasons.get("task")))
    lines.append(f"task = {_toml_string(schema.task)}")
    lines.append(
        "# A categorical column keeps its most frequent levels up to this many one-hot columns;"
    )
    lines.append("# the rarer ones share one column (and so does a level never seen in training).")
    lines.append(f"max_categorical_levels = {schema.max_categorical_levels}")
    for column in schema.columns:
        lines.append("")
        lines.extend(_comment(reasons.get(column.name)))
        lines.append("[[column]]")
        lines.append(f"name = {_toml_string(column.name)}")
        lines.append(f"role = {_toml_string(column.role)}")
        if column.role == "age_from_year":
            lines.append(f"reference_year = {column.reference_year}")
            lines.append(f"age_column = {_toml_string(str(column.age_column))}")
        if column.text:
            lines.append("text = true")
        if column.order:
            lines.append(f"order = [{', '.join(_toml_string(v) for v in column.order)}]")
        if column.leakage:
            lines.append(f"leakage = {_toml_string(column.leakage)}")
        if column.accept_leakage:
            lines.append("accept_leakage = true")
    return "\n".join(lines) + "\n"


# --- inferring a schema from a table (mpg-launch init) ----------------------------------------

# A numeric target with at most this many distinct values, all whole numbers, is a label.
MAX_CLASSES_INFERRED: Final = 20
# Text with more distinct values than this, or longer on average, is free text.
FREE_TEXT_MEAN_LENGTH: Final = 30


def _as_numbers(values: pd.Series) -> pd.Series | None:
    """``values`` as float64 when every non-missing value is a number, else None."""
    import pandas as pd

    if values.dtype.kind in "biuf":
        return values.astype("float64")
    present = values.dropna()
    parsed = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    if parsed.isna().any():
        return None
    return pd.to_numeric(values.astype("string").str.strip(), errors="coerce").astype("float64")


def _infer_task(target: pd.Series, name: str) -> tuple[Task, str]:
    numbers = _as_numbers(target)
    distinct = int(target.nunique())
    if numbers is None:
        return "classification", f"the target {name!r} holds text: {distinct} classes"
    whole = bool(((numbers.dropna() % 1) == 0).all())
    if whole and distinct <= MAX_CLASSES_INFERRED:
        return "classification", (
            f"the target {name!r} has {distinct} distinct whole numbers "
            f"(<= {MAX_CLASSES_INFERRED}): classes"
        )
    return "regression", f"the target {name!r} is numeric with {distinct} distinct values"


# Scales whose levels are ordered: a text column whose values (letter case aside) are three or
# more levels of one of them is proposed as ordinal, in the scale's order.
ORDERED_SCALES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("a rating", ("very low", "low", "medium", "high", "very high")),
    ("a rating", ("low", "moderate", "high")),
    ("a size scale", ("xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl")),
    ("a size scale", ("extra small", "small", "medium", "large", "extra large")),
    ("a grade scale", ("a", "b", "c", "d", "e", "f")),
    ("a quality scale", ("poor", "fair", "good", "very good", "excellent")),
    ("a frequency scale", ("never", "rarely", "sometimes", "often", "always")),
    (
        "an agreement scale",
        ("strongly disagree", "disagree", "neutral", "agree", "strongly agree"),
    ),
)
_STARS = re.compile(r"^(\d{1,2})\s*stars?$")


def ordered_levels(values: Sequence[str]) -> tuple[tuple[str, ...], str] | None:
    """(the levels in order, the scale's name) when the distinct ``values`` look ordered: 3+
    levels of one of :data:`ORDERED_SCALES` (letter case aside) or star ratings (``1 star``,
    ``4 stars``); None otherwise, or when two values differ only in case."""
    distinct = sorted(set(values))
    folded = {v.casefold(): v for v in distinct}
    if len(distinct) < 3 or len(folded) != len(distinct):
        return None
    stars = [_STARS.match(v) for v in folded]
    if all(stars):
        ranks = {folded[m.string]: int(m.group(1)) for m in stars if m}
        return tuple(sorted(ranks, key=ranks.__getitem__)), "star ratings"
    for name, scale in ORDERED_SCALES:
        if set(folded) <= set(scale):
            return tuple(folded[level] for level in scale if level in folded), name
    return None


def _infer_column(values: pd.Series, name: str, rows: int, max_levels: int) -> tuple[Column, str]:
    """The column and the reason for its role."""
    present = values.dropna()
    distinct = int(present.nunique())
    missing = rows - len(present)
    note = f"; {missing} missing value(s), imputed" if missing else ""
    if distinct <= 1:
        return Column(name, "ignored"), (
            f"constant ({distinct} distinct value): carries no information"
        )
    numbers = _as_numbers(values)
    if numbers is not None:
        whole = bool(((numbers.dropna() % 1) == 0).all())
        if whole and distinct == rows and rows > max_levels:
            return Column(name, "ignored"), "identifier-like: a distinct whole number on every row"
        if whole and distinct <= min(10, max_levels):
            return Column(name, "categorical"), (
                f"{distinct} distinct whole numbers: categories{note}"
            )
        return Column(name, "numeric"), f"numbers, {distinct} distinct values{note}"
    text = present.astype(str).str.strip()
    if distinct == len(present) and rows > max_levels:
        return Column(name, "ignored"), "identifier-like: a distinct value on every row"
    mean_length = float(text.str.len().mean())
    if distinct > max_levels and mean_length > FREE_TEXT_MEAN_LENGTH:
        return Column(name, "ignored"), (
            f"free text: {distinct} distinct strings, {mean_length:.0f} characters on average"
        )
    ordered = ordered_levels(list(text.unique()))
    if ordered is not None:
        order, scale = ordered
        return Column(name, "ordinal", order=order), (
            f"text whose levels look ordered ({scale}): ordinal, encoded as the rank in this "
            f"order (a value outside it as {ORDINAL_UNKNOWN:g}); make it categorical if the "
            f"order means nothing{note}"
        )
    if distinct > max_levels:
        return Column(name, "categorical", text=True), (
            f"text with {distinct} distinct values, more than max_categorical_levels = "
            f"{max_levels}: the {max_levels - 1} most frequent get a column each, the rarer "
            f"ones (and any value unseen in training) share one{note}"
        )
    return Column(name, "categorical", text=True), (
        f"text with {distinct} distinct values: categories{note}"
    )


def infer_schema(
    frame: pd.DataFrame,
    target: str,
    task: Task | None = None,
    max_categorical_levels: int = DEFAULT_MAX_LEVELS,
    name: str = "",
) -> tuple[TableSchema, dict[str, str]]:
    """A schema for ``frame`` (columns as :func:`mpg_core.dataset.read_table` reads them) and
    the reason for each inference, keyed by column name and ``"task"``.

    DataError for a table no model can learn: the target missing, constant or with missing
    values, or no usable feature."""
    target = canonical_name(target)
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} is not in the table; found {list(frame.columns)}"
        )
    labels = frame[target]
    if labels.isna().any():
        rows = list(labels[labels.isna()].index[:5])
        raise DataError(
            f"target {target!r} has {int(labels.isna().sum())} missing value(s) (rows {rows}); "
            "fill or drop those rows"
        )
    if labels.nunique() < 2:
        raise DataError(f"target {target!r} is constant: there is nothing to learn")
    reasons: dict[str, str] = {}
    if task is None:
        task, reasons["task"] = _infer_task(labels, target)
    elif task not in TASKS:
        raise ConfigError(f"task {task!r} is not one of {list(TASKS)}")
    else:
        reasons["task"] = "given on the command line"
    if task == "regression" and _as_numbers(labels) is None:
        raise DataError(f"task regression needs a numeric target; {target!r} holds text")
    columns = []
    # The table's own header spellings, when read_table kept them (frame.attrs).
    originals = dict(frame.attrs.get(ORIGINAL_NAMES_ATTR, {}))
    for column in frame.columns:
        if column == target:
            continue
        inferred, reasons[column] = _infer_column(
            frame[column], column, len(frame), max_categorical_levels
        )
        original = originals.get(column, column)
        if original != column:
            reasons[column] += (
                f"\nread from the table's column {original!r}: names are lower-cased, spaces "
                "and hyphens as _, here, at the endpoint and in JSON keys (any spelling works)"
            )
        columns.append(inferred)
    columns = _mark_leaks(frame, target, task, columns, reasons)
    if task == "classification":
        _propose_class_weight(labels, reasons)
    if all(c.role == "ignored" for c in columns):
        raise DataError(
            "no usable feature: every column besides the target is ignored "
            f"({'; '.join(f'{c.name}: {reasons[c.name]}' for c in columns) or 'none'})"
        )
    data = TableSchema(target, task, tuple(columns), max_categorical_levels, name).as_dict()
    return TableSchema.from_dict(data, "inferred schema"), reasons


# init proposes class_weight = "balanced" when the smallest class is under this share of rows.
IMBALANCED_SHARE: Final = 0.10


def _propose_class_weight(labels: pd.Series, reasons: dict[str, str]) -> None:
    shares = labels.astype(str).value_counts(normalize=True)
    if shares.min() < IMBALANCED_SHARE:
        reasons["task"] += (
            f"\nimbalanced: the smallest class {shares.idxmin()!r} is {shares.min():.1%} of the "
            f"rows (< {IMBALANCED_SHARE:.0%}); train with -H class_weight=balanced"
        )


def _mark_leaks(
    frame: pd.DataFrame, target: str, task: Task, columns: list[Column], reasons: dict[str, str]
) -> list[Column]:
    """``columns`` with those that leak the target (mpg_core.leakage) ignored and marked
    ``leakage = "<reason>"``, the reason said in ``reasons``."""
    from mpg_core.leakage import find_leaks

    used = [c.name for c in columns if c.role != "ignored"]
    labels = frame[target]
    numbers = _as_numbers(labels) if task == "regression" else None
    if numbers is not None:
        labels = numbers
    leaks = {leak.column: leak.reason for leak in find_leaks(task, frame[used], labels, used)}
    out = []
    for column in columns:
        if column.name in leaks:
            reasons[column.name] = (
                f"target leak: {leaks[column.name]}; ignored. If it will be known when the "
                "model is used, give it a role and set accept_leakage = true"
            )
            column = Column(column.name, "ignored", leakage=leaks[column.name])
        out.append(column)
    return out


__all__ = [
    "Column",
    "TableSchema",
    "default_schema",
    "infer_schema",
    "load_schema",
    "parse_schema",
    "render_schema",
    "schema_in",
]
