"""Both fast engines equal the artifact's scikit-learn estimator (1e-6 relative) on every
test-split row and on 10,000 random valid rows (missing values, unknown categories, 2- and
4-digit years), in one batch, in odd-sized chunks and row by row: the compiled form
(compiled.npz, numpy and the C tree walk) and the same form compiled at start-up. The
compiled form is served only when its hashes match and never imports scikit-learn; a corrupt
compiled form is refused before the C walk sees it; the fast CSV reader equals the strict
one; a model neither form handles falls back, logged once."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingRegressor

from mpg_core.artifact import compiler, npz, parity
from mpg_core.artifact.compiled import NotCompilable
from mpg_core.artifact.files import (
    ARTIFACT_FILE,
    COMPILED_FILE,
    Artifact,
    read_manifest,
    sha256_file,
    write_manifest,
)
from mpg_core.artifact.reader import load_artifact, open_artifact
from mpg_core.artifact.writer import write_artifact
from mpg_core.errors import RequestError
from mpg_core.schema import FEATURES
from mpg_serving import codecs, fast_csv
from mpg_serving.fast_csv import parse_numeric_csv

RTOL = 1e-6


def random_raw_rows(n: int, seed: int = 7) -> np.ndarray:
    """Valid raw rows over (and past) the data's ranges: 2- and 4-digit model years, unknown
    cylinder and origin codes, and ~5% missing values (which the preprocessor imputes)."""
    rng = np.random.default_rng(seed)
    rows = np.column_stack(
        [
            rng.choice([3, 4, 5, 6, 8, 10], n),
            rng.uniform(60, 500, n).round(1),
            rng.uniform(40, 250, n).round(0),
            rng.uniform(1500, 5500, n).round(0),
            rng.uniform(7, 26, n).round(1),
            np.where(rng.random(n) < 0.5, rng.integers(68, 85, n), rng.integers(1968, 1990, n)),
            rng.choice([1, 2, 3, 4], n),
        ]
    ).astype(np.float64)
    rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


def reference(model_dir: Path, rows: np.ndarray, columns: tuple[str, ...]) -> np.ndarray:
    """The artifact as training wrote it, through scikit-learn's own predict/transform."""
    artifact = load_artifact(model_dir)
    if artifact.kind == "model":
        return np.asarray(artifact.estimator.predict(rows))
    frame = pd.DataFrame(rows, columns=list(columns))
    if artifact.kind == "preprocessor":
        return np.asarray(artifact.estimator.transform(frame))
    return np.asarray(artifact.estimator.predict(frame))


def in_chunks(predict, rows: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([predict(rows[i : i + size]) for i in range(0, len(rows), size)])


@pytest.fixture(scope="module")
def test_rows(trained) -> np.ndarray:
    test = pd.read_csv(trained.bronze / "test" / "test.csv")
    return test[list(FEATURES)].to_numpy(dtype=np.float64)


def artifact_dir(source: Path, engine: str, tmp_path: Path) -> Path:
    """``source`` as written (the compiled form serves it), or a copy without compiled.npz
    (the start-up fast path serves it)."""
    if engine == "compiled":
        return source
    copy = tmp_path / source.name
    shutil.copytree(source, copy)
    (copy / COMPILED_FILE).unlink()
    return copy


@pytest.mark.parametrize("engine", ["compiled", "fast"])
@pytest.mark.parametrize("kind", ["pipeline_dir", "preprocessor_dir"])
def test_raw_row_artifacts_match_sklearn(
    trained, test_rows: np.ndarray, kind: str, engine: str, tmp_path: Path
) -> None:
    model_dir = artifact_dir(getattr(trained, kind), engine, tmp_path)
    opened = open_artifact(model_dir)
    assert opened.engine == engine
    for rows in (test_rows, random_raw_rows(10_000)):
        expected = reference(model_dir, rows, opened.input_columns)
        # One batch (10,000 rows: two of serving's slices), and chunks that leave the C
        # walk's 16-row lanes part-filled.
        np.testing.assert_allclose(opened.predict(rows), expected, rtol=RTOL)
        chunked = in_chunks(opened.predict, rows, 37)
        np.testing.assert_allclose(chunked, expected, rtol=RTOL)
    one_by_one = in_chunks(opened.predict, test_rows, 1)
    np.testing.assert_allclose(one_by_one, reference(model_dir, test_rows, FEATURES), rtol=RTOL)


@pytest.mark.parametrize("engine", ["compiled", "fast"])
def test_model_artifact_matches_sklearn(trained, engine: str, tmp_path: Path) -> None:
    model_dir = artifact_dir(trained.model_dir, engine, tmp_path)
    opened = open_artifact(model_dir)
    assert opened.engine == engine
    features = pd.read_csv(trained.features / "test" / "test.csv").drop(columns=["mpg"])
    rng = np.random.default_rng(3)
    for rows in (features.to_numpy(dtype=np.float64), rng.normal(size=(10_000, features.shape[1]))):
        expected = reference(model_dir, rows, opened.input_columns)
        np.testing.assert_allclose(opened.predict(rows), expected, rtol=RTOL)
        np.testing.assert_allclose(in_chunks(opened.predict, rows, 16), expected, rtol=RTOL)


@pytest.mark.parametrize("engine", ["compiled", "fast"])
def test_values_beyond_float32_are_a_client_error(trained, engine: str, tmp_path: Path) -> None:
    opened = open_artifact(artifact_dir(trained.pipeline_dir, engine, tmp_path))
    row = np.array([[8, 307, 130, 1e300, 12, 70, 1]], dtype=np.float64)
    with pytest.raises(RequestError, match="too large"):
        opened.predict(row)


def test_compiled_form_is_recorded_in_the_manifest(trained) -> None:
    for model_dir in (trained.pipeline_dir, trained.model_dir, trained.preprocessor_dir):
        manifest = json.loads((model_dir / ARTIFACT_FILE).read_text())
        entry = manifest["compiled"]
        assert entry["sha256"] == sha256_file(model_dir / COMPILED_FILE)
        assert manifest["estimator_sha256"] == sha256_file(model_dir / "estimator.joblib")
        assert entry["checked_rows"] >= parity.RANDOM_ROWS
        assert entry["max_relative_error"] <= RTOL


def test_compiled_path_imports_neither_sklearn_nor_pandas(trained) -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from mpg_core.artifact.reader import open_artifact; "
        "from mpg_serving.app import create_app; "
        f"p = open_artifact(Path({str(trained.pipeline_dir)!r})); "
        "import numpy as np; p.predict(np.array([[8, 307, 130, 3504, 12, 70, 1.0]])); "
        "print(p.engine, sorted(m for m in ('sklearn', 'pandas', 'scipy', 'joblib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split("\n")[-2] == "compiled []"


@pytest.mark.parametrize("tamper", ["compiled", "estimator", "format"])
def test_a_compiled_form_that_does_not_match_is_not_served(
    trained, tmp_path: Path, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(trained.pipeline_dir, model_dir)
    if tamper == "compiled":
        with (model_dir / COMPILED_FILE).open("ab") as f:
            f.write(b"\0")
    elif tamper == "estimator":
        shutil.copy(trained.model_dir / "estimator.joblib", model_dir / "estimator.joblib")
    else:
        with mock.patch.object(npz, "COMPILED_FORMAT", 99):
            written = write_artifact(model_dir, load_artifact(model_dir))
        assert written["compiled"]["format"] == 99
    with caplog.at_level(logging.INFO, logger="mpg_core.artifact"):
        opened = open_artifact(model_dir)
    assert opened.engine in ("fast", "sklearn")
    unavailable = [r for r in caplog.records if "compiled form unavailable" in r.getMessage()]
    assert len(unavailable) == 1


@pytest.mark.parametrize(
    ("name", "value"), [("left", 10**9), ("left", 0), ("feature", 99), ("roots", -1)]
)
def test_a_compiled_forest_pointing_outside_its_arrays_is_refused(
    trained, tmp_path: Path, name: str, value: int
) -> None:
    """The C walk trusts the node indices: a compiled form whose hash matches but whose arrays
    do not hold together (a child outside the arrays or a cycle, a feature past the width, a
    root outside the nodes) is refused at load, and the estimator serves instead."""
    model_dir = tmp_path / "model"
    shutil.copytree(trained.pipeline_dir, model_dir)
    with np.load(model_dir / COMPILED_FILE) as data:
        arrays = dict(data)
    arrays[f"forest_{name}"][0] = value  # node 0 is the first tree's root, a split
    with (model_dir / COMPILED_FILE).open("wb") as f:
        np.savez(f, **arrays)
    manifest = read_manifest(model_dir)
    manifest["compiled"]["sha256"] = sha256_file(model_dir / COMPILED_FILE)
    write_manifest(model_dir, manifest)
    with pytest.raises(NotCompilable, match="inconsistent"):
        npz.load_compiled(model_dir / COMPILED_FILE)
    opened = open_artifact(model_dir)
    assert opened.engine == "fast"
    rows = random_raw_rows(100)
    expected = reference(model_dir, rows, FEATURES)
    np.testing.assert_allclose(opened.predict(rows), expected, rtol=RTOL)


def test_writer_refuses_what_it_cannot_reproduce(trained, tmp_path: Path) -> None:
    features = pd.read_csv(trained.features / "train" / "train.csv")
    X, y = features.drop(columns=["mpg"]), features["mpg"]
    # A Poisson loss answers through a log link, which the compiled walk does not reproduce.
    boosted = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X.to_numpy(), y)
    written = write_artifact(
        tmp_path / "boosted", Artifact("model", boosted, tuple(X.columns), ("mpg",))
    )
    assert written["compiled"] is None
    assert not (tmp_path / "boosted" / COMPILED_FILE).exists()
    assert json.loads((tmp_path / "boosted" / ARTIFACT_FILE).read_text())["compiled"] is None

    # A compiled form that disagrees with the estimator is never written.
    model_dir = tmp_path / "model"
    shutil.copytree(trained.model_dir, model_dir)
    artifact = load_artifact(model_dir)
    real = compiler.compile_forest

    def off_by_a_bit(forest):  # type: ignore[no-untyped-def]
        out = real(forest)
        return dataclasses.replace(out, value=out.value * (1 + 1e-5))

    with mock.patch.object(compiler, "compile_forest", off_by_a_bit):
        assert write_artifact(model_dir, artifact)["compiled"] is None
    assert not (model_dir / COMPILED_FILE).exists()
    assert open_artifact(model_dir).engine == "fast"


def test_unsupported_model_falls_back_to_sklearn_logged_once(
    trained, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    features = pd.read_csv(trained.features / "train" / "train.csv")
    X, y = features.drop(columns=["mpg"]), features["mpg"]
    boosted = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X.to_numpy(), y)
    write_artifact(tmp_path, Artifact("model", boosted, tuple(X.columns), ("mpg",)))
    with caplog.at_level(logging.INFO, logger="mpg_core.artifact"):
        opened = open_artifact(tmp_path)
        rows = X.to_numpy(dtype=np.float64)
        np.testing.assert_allclose(opened.predict(rows), boosted.predict(rows), rtol=RTOL)
        opened.predict(rows)
    assert opened.engine == "sklearn"
    fallbacks = [r for r in caplog.records if "fast path unavailable" in r.getMessage()]
    assert len(fallbacks) == 1


# --- the fast CSV reader never changes what a body means -------------------------------------

number_text = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.text(alphabet="0123456789.+-eE", min_size=0, max_size=8),  # mostly not numbers
)


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.lists(number_text, min_size=6, max_size=8), min_size=1, max_size=5),
    line_end=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
    allow_missing=st.booleans(),
)
def test_fast_csv_equals_strict_csv(
    rows: list[list[str]], line_end: str, trailing: bool, allow_missing: bool
) -> None:
    body = (line_end.join(",".join(r) for r in rows) + (line_end if trailing else "")).encode()
    columns = FEATURES
    try:
        strict = codecs.decode_csv_strict(body, columns, allow_missing)
    except RequestError:
        strict = None
    fast = parse_numeric_csv(body, len(columns))
    if fast is None:
        return  # the strict reader decides, as it did before
    assert strict is not None, f"fast reader accepted what the strict one refuses: {body!r}"
    np.testing.assert_array_equal(fast, strict)


def test_fast_csv_reads_large_bodies_exactly() -> None:
    rows = random_raw_rows(20_000, seed=11)
    rows = rows[~np.isnan(rows).any(axis=1)]
    rows[:, 1] = rows[:, 1] * np.pi  # full 17-digit floats, not just one decimal
    body = "\n".join(",".join(repr(float(v)) for v in r) for r in rows).encode()
    assert len(body) > 64 * 1024
    np.testing.assert_array_equal(parse_numeric_csv(body, 7), rows)
    broken = body.replace(b"\n", b",", 1)  # one line of 14 cells, one short line
    assert parse_numeric_csv(broken, 7) is None
    # Without pandas in the process (the compiled path), numpy's reader gives the same.
    with mock.patch.dict(sys.modules, {"pandas": None}):
        np.testing.assert_array_equal(parse_numeric_csv(body, 7), rows)
        assert parse_numeric_csv(broken, 7) is None
        assert parse_numeric_csv(body.replace(b"3", b"3e", 1), 7) is None


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.lists(number_text, min_size=7, max_size=7), min_size=1, max_size=5))
def test_numpy_large_body_reader_equals_strict_csv(rows: list[list[str]]) -> None:
    body = "\n".join(",".join(r) for r in rows).encode()
    try:
        strict = codecs.decode_csv_strict(body, FEATURES, True)
    except RequestError:
        strict = None
    with (
        mock.patch.object(fast_csv, "LARGE_BODY_BYTES", 0),
        mock.patch.dict(sys.modules, {"pandas": None}),
    ):
        fast = parse_numeric_csv(body, len(FEATURES))
    if fast is not None:
        assert strict is not None, f"numpy reader accepted what the strict one refuses: {body!r}"
        np.testing.assert_array_equal(fast, strict)


# --- the fast JSON reader never changes what a body means ------------------------------------

json_cell = st.one_of(
    st.floats(),  # NaN and infinities too (Python's json writes them as NaN, Infinity)
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.text(alphabet="0123456789.e-", max_size=4),
    st.lists(st.integers(0, 9), max_size=2),
)
json_record = st.one_of(
    st.lists(json_cell, min_size=6, max_size=8),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=7, max_size=7),
    # numbers and booleans only: numpy would read true as 1, the strict reader refuses it
    st.lists(
        st.one_of(st.integers(-5, 5), st.booleans(), st.floats(-1e3, 1e3)), min_size=7, max_size=7
    ),
    st.fixed_dictionaries({c: json_cell for c in FEATURES}),
)


def decoded(body: bytes, content_type: str, allow_missing: bool, fast: bool) -> object:
    """The matrix (as text, so NaN equals NaN), or the error, with or without the fast path."""
    strict_only = mock.patch.object(codecs, "_plain_matrix", return_value=None)
    with contextlib.nullcontext() if fast else strict_only:
        try:
            return repr(codecs.decode(body, content_type, FEATURES, allow_missing).tolist())
        except RequestError as exc:
            return str(exc)


@settings(max_examples=400, deadline=None)
@given(
    records=st.lists(json_record, min_size=0, max_size=4),
    wrap=st.sampled_from(["instances", "list", "lines"]),
    allow_missing=st.booleans(),
)
def test_fast_json_equals_strict_json(records: list, wrap: str, allow_missing: bool) -> None:
    if wrap == "lines":
        body, content_type = "".join(json.dumps(r) + "\n" for r in records), codecs.JSONLINES
    else:
        payload = {"instances": records} if wrap == "instances" else records
        body, content_type = json.dumps(payload), codecs.JSON
    fast = decoded(body.encode(), content_type, allow_missing, fast=True)
    strict = decoded(body.encode(), content_type, allow_missing, fast=False)
    assert fast == strict


def test_fast_json_reads_plain_batches() -> None:
    rows = random_raw_rows(2_000, seed=5)
    rows = rows[~np.isnan(rows).any(axis=1)]
    body = json.dumps({"instances": rows.tolist()}).encode()
    with mock.patch.object(codecs, "_record", side_effect=AssertionError("strict path")):
        np.testing.assert_array_equal(codecs.decode(body, codecs.JSON, FEATURES, True), rows)
        lines = "".join(json.dumps(r) + "\n" for r in rows.tolist()).encode()
        np.testing.assert_array_equal(codecs.decode(lines, codecs.JSONLINES, FEATURES, True), rows)


# --- the fast writer spells every answer as the per-value writer does ------------------------


def encoded(result: np.ndarray, accept: str, fast: bool) -> bytes:
    with contextlib.nullcontext() if fast else mock.patch.object(codecs, "_encode_fast") as off:
        if not fast:
            off.return_value = None
        return codecs.encode(result, accept)


any_float = st.floats(width=64)  # NaN, infinities, subnormals, 1e-05 and 1e+16 spellings
plain_float = st.floats(1e-4, 1e300) | st.floats(-1e300, -1e-4) | st.just(0.0)


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(any_float | plain_float, min_size=0, max_size=600),
    columns=st.sampled_from([0, 1, 3]),
    accept=st.sampled_from(codecs.CONTENT_TYPES),
)
def test_fast_encode_equals_per_value_encode(
    values: list[float], columns: int, accept: str
) -> None:
    result = np.array(values, dtype=np.float64)
    if columns:
        result = result[: len(result) // columns * columns].reshape(-1, columns)
    with mock.patch.object(codecs, "FAST_TEXT_VALUES", 1):
        assert encoded(result, accept, fast=True) == encoded(result, accept, fast=False)


def test_fast_encode_is_used_for_big_batches_and_reads_back_exactly() -> None:
    rng = np.random.default_rng(3)
    predictions = rng.uniform(5, 50, 50_000) * np.pi
    features = rng.normal(size=(5_000, 13))
    features[features == 0] = 1.0
    features[np.abs(features) < 1e-4] = 1e-3
    for result in (predictions, features):
        assert codecs._encode_fast(result, codecs.CSV) is not None
        for accept in codecs.CONTENT_TYPES:
            assert encoded(result, accept, fast=True) == encoded(result, accept, fast=False)
        text = codecs.encode(result, codecs.CSV).decode().splitlines()
        back = np.array([[float(v) for v in line.split(",")] for line in text])
        np.testing.assert_array_equal(back.reshape(result.shape), result)
    tiny = np.full(1_000, 2.5e-5)  # repr writes 2.5e-05, orjson 0.000025: the per-value path
    assert codecs._encode_fast(tiny, codecs.CSV) is None
    assert codecs.encode(tiny, codecs.CSV).startswith(b"2.5e-05\n")


# --- the C reader of short decimals reads every cell as float() does, or declines -----------

decimal_text = st.one_of(
    st.from_regex(r"\A[+-]?[0-9]{0,9}(\.[0-9]{0,9})?([eE][+-]?[0-9]{1,3})?\Z"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**18), 10**18).map(str),
    st.decimals(places=3, allow_nan=False, allow_infinity=False).map(str),
    st.text(alphabet="0123456789.+-eE", max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(rows=st.lists(st.lists(decimal_text, min_size=1, max_size=4), min_size=1, max_size=4))
def test_c_decimal_reader_equals_float_or_declines(rows: list[list[str]]) -> None:
    from mpg_core._decimal_csv import read_decimal_csv

    width = len(rows[0])
    body = "\n".join(",".join(r) for r in rows).encode()
    out = np.empty((len(rows), width))
    if not read_decimal_csv(body, out):
        return  # the numpy or strict reader decides
    assert all(len(r) == width for r in rows), body
    expected = np.array([[float(v) for v in r] for r in rows])
    assert out.tobytes() == expected.tobytes(), body  # bit for bit, -0.0 included


def test_c_decimal_reader_takes_data_files_and_declines_the_rest() -> None:
    from mpg_core._decimal_csv import read_decimal_csv

    rows = random_raw_rows(3_000, seed=2)
    rows = rows[~np.isnan(rows).any(axis=1)]
    cells = [[f"{v:.1f}" for v in r] for r in rows]
    body = "\n".join(",".join(r) for r in cells).encode()
    out = np.empty(rows.shape)
    assert read_decimal_csv(body, out)
    np.testing.assert_array_equal(out, [[float(v) for v in r] for r in cells])
    for declined in (b"1,2\n3", b"1,2,3", b"1,,2", b"1e,2", b"1.2.3,4", b"12345678901234567,1"):
        assert not read_decimal_csv(declined, np.empty((declined.count(b"\n") + 1, 2)))
    assert parse_numeric_csv(body, rows.shape[1]) is not None
