"""Target leakage: a column that alone predicts the target almost perfectly is found (the
log of the target, a field filled in after the outcome), an ordinary strong column is not,
init marks a leak in the schema, and a user's acknowledgement lets it through."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mpg_core.leakage import SCORE, TargetLeakError, check_leakage, find_leaks
from mpg_core.table_schema import infer_schema, parse_schema, render_schema
from tests.tables import (
    TABLES,
    Table,
    breast_cancer_with_leak,
    diabetes_with_leak,
    imbalanced_wine,
)


def leaks_of(table: Table) -> dict[str, float]:
    frame = table.frame
    columns = [c for c in frame.columns if c != table.target]
    return {
        leak.column: leak.score
        for leak in find_leaks(table.task, frame[columns], frame[table.target], columns)
    }


@pytest.mark.parametrize("name", sorted(TABLES))
def test_ordinary_tables_have_no_leak(name: str) -> None:
    # Breast cancer's best column alone scores ROC AUC ~0.95, iris's petal width a balanced
    # accuracy ~0.95: strong, not leaks.
    assert leaks_of(TABLES[name]) == {}


def test_the_log_of_the_target_is_a_leak() -> None:
    assert leaks_of(diabetes_with_leak()) == {"log_progression": 1.0}


def test_a_field_filled_in_after_the_outcome_is_a_leak() -> None:
    found = leaks_of(breast_cancer_with_leak())
    assert list(found) == ["followup_code"] and found["followup_code"] >= SCORE


def test_a_copy_of_the_labels_is_a_leak() -> None:
    frame = TABLES["iris"].frame.copy()
    frame["species_code"] = frame["species"].map({"setosa": 0, "versicolor": 1, "virginica": 2})
    found = find_leaks("classification", frame, frame["species"], ["species_code", "garden"])
    assert [leak.column for leak in found] == ["species_code"]
    assert "one-to-one relabelling" in found[0].reason


def test_the_error_names_the_column_and_its_score_and_the_fix() -> None:
    table = breast_cancer_with_leak()
    frame = table.frame
    columns = [c for c in frame.columns if c != table.target]
    half = len(frame) // 2
    with pytest.raises(TargetLeakError) as err:
        check_leakage(
            "classification",
            frame[columns][:half],
            frame[table.target][:half],
            columns,
            frame[columns][half:],
            frame[table.target][half:],
        )
    text = str(err.value)
    assert "'followup_code'" in text and "ROC AUC 0.9" in text and "accept_leakage" in text
    assert err.value.exit_code == 3  # a DataError


def test_init_marks_a_leak_and_the_file_round_trips() -> None:
    table = diabetes_with_leak()
    schema, reasons = infer_schema(table.frame, table.target)
    (column,) = [c for c in schema.columns if c.name == "log_progression"]
    assert column.role == "ignored" and column.leakage is not None
    assert "monotone function of the target" in column.leakage
    assert reasons["log_progression"].startswith("target leak")
    text = render_schema(schema, reasons)
    assert 'leakage = "a monotone function' in text
    assert parse_schema(text) == schema
    assert "log_progression" not in schema.feature_columns


def test_an_accepted_column_is_not_checked() -> None:
    text = render_schema(infer_schema(diabetes_with_leak().frame, "progression")[0])
    accepted = parse_schema(
        text.replace(
            'name = "log_progression"\nrole = "ignored"',
            'name = "log_progression"\nrole = "numeric"\naccept_leakage = true',
        )
    )
    assert "log_progression" in accepted.feature_columns
    assert "log_progression" not in accepted.leak_checked_columns


def test_init_proposes_balanced_class_weight_for_a_rare_class() -> None:
    table = imbalanced_wine()
    _, reasons = infer_schema(table.frame, table.target)
    assert "class_weight=balanced" in reasons["task"] and "'rare'" in reasons["task"]
    _, balanced = infer_schema(TABLES["iris"].frame, "species")
    assert "class_weight" not in balanced["task"]


def test_a_leak_hidden_in_text_levels_is_found() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(size=400))
    level = pd.Series(np.where(y > 0, "high", "low"))
    frame = pd.DataFrame({"band": level, "noise": rng.normal(size=400)})
    labels = pd.Series(np.where(y > 0, "up", "down"))
    found = find_leaks("classification", frame, labels, ["band", "noise"])
    assert [leak.column for leak in found] == ["band"]
