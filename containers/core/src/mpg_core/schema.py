"""The Auto MPG feature schema: one place for column names, their order and their roles."""

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
