import pytest

from mpg_core.schema import (
    CAR_NAME,
    CATEGORICAL,
    FEATURES,
    MODEL_YEAR,
    NUMERIC,
    TARGET,
    UCI_COLUMNS,
    canonical_name,
    canonical_names,
)


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("model year", MODEL_YEAR),
        ("Model Year", MODEL_YEAR),
        ("model-year", MODEL_YEAR),
        ("MODEL_YEAR", MODEL_YEAR),
        (" model year ", MODEL_YEAR),
        ("\tModel  -  Year\n", MODEL_YEAR),
        ("model__year", MODEL_YEAR),
        ("car name", CAR_NAME),
        ("Car-Name", CAR_NAME),
        ("MPG", TARGET),
        (" Cylinders", "cylinders"),
    ],
)
def test_spellings_people_use_read_as_the_schema_name(spelling: str, canonical: str) -> None:
    assert canonical_name(spelling) == canonical


def test_the_schema_own_names_are_already_canonical_and_distinct() -> None:
    names = {*UCI_COLUMNS, *NUMERIC, *CATEGORICAL}
    assert all(canonical_name(n) == n for n in names)
    # The preprocessor's output names (the model artifact's inputs) keep their dots and digits.
    assert canonical_name("cylinders_8.0") == "cylinders_8.0"
    assert len({canonical_name(n) for n in FEATURES}) == len(FEATURES)


def test_other_characters_are_kept() -> None:
    assert canonical_name("horse power") != canonical_name("horsepower")
    assert canonical_name("weight (lb)") == "weight_(lb)"
    assert canonical_name("") == ""


def test_canonical_names_keeps_order_and_reads_non_text_names() -> None:
    assert canonical_names(["MPG", "Model Year", 3]) == ["mpg", "model_year", "3"]
    assert canonical_names(iter(["a", "b"])) == ["a", "b"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            ["mpg", "model year", "Model_Year"],
            "'model year' and 'Model_Year' are the same column 'model_year'",
        ),
        (["mpg", "mpg"], "'mpg' and 'mpg' are the same column 'mpg'"),
        (["a", "A", "a "], "'a' and 'A' and 'a ' are the same column 'a'"),
    ],
)
def test_two_names_for_one_column_are_ambiguous(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match="ambiguous columns") as caught:
        canonical_names(names)
    assert message in str(caught.value)
