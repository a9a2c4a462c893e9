import pandas as pd
import pytest

from mpg_core import dataset
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
