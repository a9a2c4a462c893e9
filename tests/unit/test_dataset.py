from pathlib import Path

import pandas as pd
import pytest

from mpg_core import dataset
from mpg_core.errors import DataError
from mpg_core.schema import UCI_COLUMNS


def test_bundled_copy_is_the_uci_file() -> None:
    df = dataset.load_auto_mpg()
    assert list(df.columns) == list(UCI_COLUMNS)
    assert len(df) == 398
    assert df["horsepower"].isna().sum() == 6  # the '?' cells
    assert df.loc[0, "car_name"] == "chevrolet chevelle malibu"
    assert set(df["origin"]) == {1, 2, 3}


def test_parse_uci_keeps_names_with_spaces_and_missing_values() -> None:
    text = (
        '18.0   8   307.0      130.0      3504.      12.0   70  1\t"chevrolet chevelle malibu"\n'
        '25.0   4   98.00      ?          2046.      19.0   71  1\t"ford pinto"\n'
    )
    df = dataset.parse_uci(text)
    assert df["car_name"].tolist() == ["chevrolet chevelle malibu", "ford pinto"]
    assert pd.isna(df.loc[1, "horsepower"])
    assert df.loc[0, "weight"] == 3504.0


def test_split_is_reproducible_and_disjoint() -> None:
    df = dataset.load_auto_mpg()
    a, b = dataset.split(df, seed=7), dataset.split(df, seed=7)
    for (_, x), (_, y) in zip(a.items(), b.items(), strict=True):
        pd.testing.assert_frame_equal(x, y)
    indexes = [set(part.index) for _, part in a.items()]
    assert sum(len(i) for i in indexes) == len(df)
    assert not (indexes[0] & indexes[1] or indexes[0] & indexes[2] or indexes[1] & indexes[2])
    assert [len(p) for _, p in a.items()] == [278, 60, 60]
    other = dataset.split(df, seed=8)
    assert set(other.test.index) != set(a.test.index)


def test_split_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError, match="fractions"):
        dataset.split(dataset.load_auto_mpg(), validation=0.6, test=0.5)


def test_write_splits_round_trips(tmp_path) -> None:
    splits = dataset.split(dataset.load_auto_mpg())
    written = dataset.write_splits(splits, tmp_path)
    assert sorted(written) == ["test", "train", "validation"]
    back = pd.read_csv(written["test"])
    assert list(back.columns) == list(UCI_COLUMNS)
    assert len(back) == len(splits.test)


def test_main_writes_splits(tmp_path, capsys) -> None:
    assert dataset.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "validation" / "validation.csv").is_file()
    assert "train:" in capsys.readouterr().out


def test_loads_from_an_http_url(tmp_path) -> None:
    """The online path (the UCI URL) with a real HTTP server on 127.0.0.1."""
    import functools
    import http.server
    import shutil
    import threading
    from importlib import resources

    source = resources.files("mpg_core").joinpath("data/auto-mpg.data")
    with resources.as_file(source) as path:
        shutil.copy(path, tmp_path / "auto-mpg.data")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/auto-mpg.data"
        pd.testing.assert_frame_equal(dataset.load_auto_mpg(url), dataset.load_auto_mpg())
    finally:
        server.shutdown()


# --- read_table: every raw table file, in the forms people have them -----------------------

ARTICLE_HEADER = (
    "mpg,cylinders,displacement,horsepower,weight,acceleration,model year,origin,car name"
)
CAR = "18.0,8,307.0,130.0,3504.0,12.0,70,1,chevrolet chevelle malibu"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_table_reads_the_article_header_as_the_schema_names(tmp_path: Path) -> None:
    frame = dataset.read_table(write(tmp_path, "train.csv", f"{ARTICLE_HEADER}\n{CAR}\n"))
    assert list(frame.columns) == list(UCI_COLUMNS)
    assert frame.loc[0, "model_year"] == 70 and frame.loc[0, "car_name"] == CAR.split(",")[-1]


def test_read_table_keeps_extra_columns_and_reads_any_spelling(tmp_path: Path) -> None:
    text = (
        "\ufeffID, MPG ,Cylinders,Displacement,Horsepower,WEIGHT,Acceleration,Model-Year,"
        "origin,Car-Name,\n"
        '7,18,8,307,?,3504,12,70,1,"chevy, malibu",\n'
    )
    frame = dataset.read_table(write(tmp_path, "t.csv", text))
    assert list(frame.columns) == ["id", *UCI_COLUMNS, "unnamed_10"]
    assert frame.loc[0, "car_name"] == "chevy, malibu" and frame.loc[0, "horsepower"] == "?"


@pytest.mark.parametrize("with_name", [True, False])
def test_read_table_reads_headerless_csv_in_uci_order(tmp_path: Path, with_name: bool) -> None:
    row = CAR if with_name else CAR.rsplit(",", 1)[0]
    frame = dataset.read_table(write(tmp_path, "t.csv", f"\n{row}\n25,4,98,,2046,19,71,1\n"))
    assert list(frame.columns) == list(UCI_COLUMNS[: 9 if with_name else 8])
    assert frame["mpg"].tolist() == [18.0, 25.0] and pd.isna(frame.loc[1, "horsepower"])


def test_read_table_reads_the_bundled_uci_file_as_load_auto_mpg_does(tmp_path: Path) -> None:
    from importlib import resources

    with resources.as_file(resources.files("mpg_core").joinpath("data/auto-mpg.data")) as path:
        pd.testing.assert_frame_equal(dataset.read_table(path), dataset.load_auto_mpg())


def test_read_table_reads_uci_lines_by_content_not_by_suffix(tmp_path: Path) -> None:
    # Copies of the UCI file lose the tab before the name, or the name; the suffix is free.
    text = '18.0   8   307.0   130.0   3504.   12.0   70  1  "chevrolet chevelle malibu"\n'
    text += "25.0   4   98.00   ?       2046.   19.0   71  1\n"
    frame = dataset.read_table(write(tmp_path, "cars.csv", text))
    assert list(frame.columns) == list(UCI_COLUMNS)
    assert frame["car_name"].tolist() == ["chevrolet chevelle malibu", ""]
    assert pd.isna(frame.loc[1, "horsepower"]) and frame.loc[0, "weight"] == 3504.0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "t.csv",
            "mpg,model year,model_year\n1,2,3\n",
            "t.csv: ambiguous columns: 'model year' and 'model_year' are the same column",
        ),
        ("t.csv", "mpg,MPG\n1,2\n", "'mpg' and 'MPG' are the same column 'mpg'"),
        ("t.csv", "mpg,mpg\n1,2\n", "'mpg' and 'mpg' are the same column 'mpg'"),
        ("t.csv", "18,8,307\n", "t.csv has no header and 3 columns"),
        ("t.csv", "\n\n", "t.csv is empty"),
        ("t.data", "18.0 8 307.0\n", "t.data: line 1 has 3 fields"),
    ],
)
def test_read_table_errors_name_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(DataError) as caught:
        dataset.read_table(write(tmp_path, name, text))
    assert message in str(caught.value)


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_deal_rows_puts_every_row_in_exactly_one_part_reproducibly(shards: int) -> None:
    frame = dataset.split(dataset.load_auto_mpg()).validation
    parts = dataset.deal_rows(frame, shards)
    assert len(parts) == shards
    dealt = [i for part in parts for i in part.index]
    assert sorted(dealt) == sorted(frame.index)  # each row once, none lost
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    again = dataset.deal_rows(frame, shards)
    assert all(a.equals(b) for a, b in zip(parts, again, strict=True))


def test_deal_rows_refuses_no_parts() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        dataset.deal_rows(pd.DataFrame({"a": [1]}), 0)


def test_shard_names_sort_in_part_order() -> None:
    assert dataset.shard_names("train", 1) == ["train.csv"]
    names = dataset.shard_names("train", 12)
    assert names[0] == "train-00-of-12.csv" and names[-1] == "train-11-of-12.csv"
    assert sorted(names) == names


def test_write_split_shards_gives_headered_files_with_all_rows(tmp_path) -> None:
    splits = dataset.split(dataset.load_auto_mpg())
    written = dataset.write_split_shards(splits, tmp_path, 3)
    for name, frame in splits.items():
        paths = written[name]
        assert [p.name for p in paths] == dataset.shard_names(name, 3)
        back = pd.concat(pd.read_csv(p) for p in paths)
        assert all(pd.read_csv(p).columns.tolist() == list(UCI_COLUMNS) for p in paths)
        assert len(back) == len(frame)
        key = list(UCI_COLUMNS)
        pd.testing.assert_frame_equal(
            back.sort_values(key).reset_index(drop=True),
            frame.sort_values(key).reset_index(drop=True),
            check_dtype=False,
        )


def test_main_writes_shards(tmp_path, capsys) -> None:
    assert dataset.main(["--out", str(tmp_path), "--shards", "2"]) == 0
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == [
        "test-0-of-2.csv",
        "test-1-of-2.csv",
    ]
