"""The table schema's one reader and writer, and the inference `mpg-launch init` calls."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mpg_core import schema as auto_mpg
from mpg_core.errors import ConfigError, DataError
from mpg_core.table_schema import (
    TableSchema,
    default_schema,
    infer_schema,
    parse_schema,
    render_schema,
    schema_in,
)


def test_the_shipped_schema_is_auto_mpg_as_the_constants_state_it() -> None:
    schema = default_schema()
    assert schema.target == auto_mpg.TARGET and schema.task == "regression"
    assert schema.feature_columns == auto_mpg.FEATURES
    assert schema.names("categorical") == auto_mpg.CATEGORICAL
    assert (*schema.names("numeric"), schema.age_columns[0].age_column) == auto_mpg.NUMERIC
    assert schema.age_columns[0].reference_year == auto_mpg.REFERENCE_YEAR
    assert schema.names("ignored") == (auto_mpg.CAR_NAME,)


def test_render_reads_back_and_carries_the_reasons() -> None:
    schema = default_schema().with_text_columns({"origin"})
    text = render_schema(schema, {"task": "miles per gallon", "origin": 'codes "1"-"3"'})
    assert parse_schema(text) == schema
    assert "# miles per gallon\ntask = " in text
    assert '# codes "1"-"3"\n[[column]]\nname = "origin"' in text
    assert TableSchema.from_dict(schema.as_dict()) == schema


def test_names_are_read_as_table_headers_are() -> None:
    text = (
        'target = "Petal Class"\ntask = "classification"\n'
        '[[column]]\nname = "Sepal-Width"\nrole = "numeric"\n'
    )
    schema = parse_schema(text)
    assert schema.target == "petal_class" and schema.feature_columns == ("sepal_width",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("target = 1", "target must be a non-empty string"),
        ('target = "y"\ntask = "ranking"', "task 'ranking' is not one of"),
        ('target = "y"\ntask = "regression"', "no [[column]] entries"),
        (
            'target = "y"\ntask = "regression"\n[[column]]\nname = "a"\nrole = "ignored"',
            "no usable feature",
        ),
        (
            'target = "y"\ntask = "regression"\n[[column]]\nname = "y"\nrole = "numeric"',
            "the target 'y' is also listed",
        ),
        (
            'target = "y"\ntask = "regression"\n[[column]]\nname = "a"\nrole = "age_from_year"',
            "reference_year must be a four-digit year",
        ),
        (
            'target = "y"\ntask = "regression"\n[[column]]\nname = "a"\nrole = "numeric"\n'
            "[[column]]\nname = 'A'\nrole = 'numeric'",
            "given more than once",
        ),
        ('target = "y"\ntask = "regression"\ncolumns = 3', "unknown key(s) ['columns']"),
        ("target = ", "is not valid TOML"),
    ],
)
def test_bad_files_are_config_errors_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_schema(text)


def test_schema_in_a_folder(tmp_path) -> None:
    assert schema_in(tmp_path / "absent") == default_schema()
    (tmp_path / "a.toml").write_text(render_schema(default_schema()))
    assert schema_in(tmp_path) == default_schema()
    (tmp_path / "b.toml").write_text(render_schema(default_schema()))
    with pytest.raises(ConfigError, match="holds 2 schema files"):
        schema_in(tmp_path)


def _table(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "size": rng.normal(size=rows),
            "colour": rng.choice(["red", "green"], rows),
            "doors": rng.choice([2, 4], rows),
            "same": 1,
            "price": rng.normal(100, 10, rows),
            "label": rng.choice(["yes", "no"], rows),
            "grade": rng.choice([1, 2, 3], rows),
        }
    )


def test_infer_roles_and_tasks_with_reasons() -> None:
    schema, reasons = infer_schema(_table(), "price")
    roles = {c.name: (c.role, c.text) for c in schema.columns}
    assert schema.task == "regression"
    assert roles["id"] == ("ignored", False) and "identifier" in reasons["id"]
    assert roles["same"] == ("ignored", False) and "constant" in reasons["same"]
    assert roles["colour"] == ("categorical", True)
    assert roles["doors"] == ("categorical", False)
    assert roles["size"] == ("numeric", False)
    assert infer_schema(_table(), "label")[0].task == "classification"
    assert infer_schema(_table(), "grade")[0].task == "classification"
    assert infer_schema(_table(), "grade", task="regression")[0].task == "regression"


def test_infer_names_bad_tables() -> None:
    table = _table()
    with pytest.raises(DataError, match="target column 'nope' is not in the table"):
        infer_schema(table, "nope")
    with pytest.raises(DataError, match="target 'same' is constant"):
        infer_schema(table, "same")
    gap = table.assign(price=table["price"].where(table.index != 3))
    with pytest.raises(DataError, match=r"target 'price' has 1 missing value\(s\) \(rows \[3\]\)"):
        infer_schema(gap, "price")
    with pytest.raises(DataError, match="no usable feature"):
        infer_schema(table[["id", "same", "price"]], "price")
    many = table.assign(colour=[f"c{i % 55}" for i in range(len(table))])
    _, reasons = infer_schema(many, "price", max_categorical_levels=50)
    assert "more than max_categorical_levels" in reasons["colour"]


@pytest.mark.parametrize(
    ("values", "order"),
    [
        (["high", "low", "medium", "low"], ("low", "medium", "high")),
        (["XL", "S", "M", "L"], ("S", "M", "L", "XL")),
        (["B", "A", "C", "F"], ("A", "B", "C", "F")),
        (["Good", "Poor", "Excellent"], ("Poor", "Good", "Excellent")),
        (["5 stars", "1 star", "3 stars"], ("1 star", "3 stars", "5 stars")),
    ],
)
def test_init_proposes_ordinal_for_ordered_levels_and_says_why(values, order) -> None:
    frame = pd.DataFrame({"level": values * 10, "y": np.arange(len(values) * 10, dtype=float)})
    schema, reasons = infer_schema(frame, "y")
    (column,) = schema.columns
    assert column.role == "ordinal" and column.order == order
    assert "look ordered" in reasons["level"]
    again = parse_schema(render_schema(schema, reasons))
    assert again == schema


@pytest.mark.parametrize("values", [["red", "green", "blue"], ["low", "high"], ["S", "s", "M"]])
def test_unordered_or_ambiguous_levels_stay_categorical(values) -> None:
    frame = pd.DataFrame({"level": values * 10, "y": np.arange(len(values) * 10, dtype=float)})
    schema, _ = infer_schema(frame, "y")
    assert schema.columns[0].role == "categorical"


def test_an_ordinal_column_needs_its_order_and_only_it_has_one() -> None:
    base = {"target": "y", "task": "regression"}
    with pytest.raises(ConfigError, match="needs order"):
        TableSchema.from_dict({**base, "column": [{"name": "g", "role": "ordinal"}]})
    with pytest.raises(ConfigError, match="needs order"):
        TableSchema.from_dict(
            {**base, "column": [{"name": "g", "role": "categorical", "order": ["a", "b"]}]}
        )
    with pytest.raises(ConfigError, match="distinct"):
        TableSchema.from_dict(
            {**base, "column": [{"name": "g", "role": "ordinal", "order": ["a", "a"]}]}
        )
    schema = TableSchema.from_dict(
        {**base, "column": [{"name": "g", "role": "ordinal", "order": [1, 2, "3 "]}]}
    )
    assert schema.columns[0].order == ("1", "2", "3") and schema.text_columns == ("g",)


def test_many_levels_are_kept_and_init_says_rare_ones_are_grouped() -> None:
    frame = pd.DataFrame(
        {"city": [f"town {i % 60}" for i in range(600)], "y": np.arange(600, dtype=float)}
    )
    schema, reasons = infer_schema(frame, "y", max_categorical_levels=20)
    assert schema.columns[0].role == "categorical" and schema.columns[0].text
    assert "the 19 most frequent get a column each" in reasons["city"]


def test_init_says_which_column_names_it_changes(tmp_path) -> None:
    from mpg_core.dataset import read_table

    path = tmp_path / "t.csv"
    path.write_text("Contract Type,Monthly-Charge,y\nmonthly,1.5,1\nyearly,2.5,2\nmonthly,3,3\n")
    schema, reasons = infer_schema(read_table(path), "y", task="regression")
    assert [c.name for c in schema.columns] == ["contract_type", "monthly_charge"]
    assert "read from the table's column 'Contract Type'" in reasons["contract_type"]
    assert "read from the table's column" in reasons["monthly_charge"]
