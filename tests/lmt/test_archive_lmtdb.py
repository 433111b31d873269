"""archive_lmtdb: LMT rows into TOKIO Time Series, compared with the corpus reference output."""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import anyio
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lmt_mariadb import MariaDbServer, lmtdb_args
from lmt_paths import RESET_SQLITE, SNX_HDF5, SNX_SQLITE

from atokio.cli.archive_lmtdb import CONFIG, counter_deltas, natural_sorted, read_window
from atokio.connectors.lmtdb import LmtDb
from atokio.timeseries import timeseries_deltas

T0 = datetime.datetime(2018, 1, 28, 0, 0, 0)
T1 = datetime.datetime(2018, 1, 28, 0, 5, 0)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal value by value, the sign of zero (the missing-data mark) included."""
    return a.shape == b.shape and bool(np.all((a == b) & (np.signbit(a) == np.signbit(b))))


def loop_deltas(column: list[float]) -> list[float]:
    """The delta rule of FORMATS.md 10.4, written as the state machine it describes."""
    out = [-0.0] * (len(column) - 1)
    searching = True
    last_nonzero: float | None = None
    previous: float | None = None
    for i, value in enumerate(column):
        if value == 0 or math.isnan(value):
            searching = True
            previous = None
            continue
        if searching:
            if last_nonzero is not None and value >= last_nonzero:
                out[i - 1] = value - last_nonzero
                searching = False
        elif previous is not None and value < previous:
            searching = True
        else:
            out[i - 1] = value - (previous if previous is not None else value)
        last_nonzero = value
        previous = value
    return out


values = st.one_of(
    st.just(0.0), st.just(-0.0), st.just(float("nan")), st.integers(1, 60).map(float)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), min_size=0, max_size=25))
def test_counter_deltas_follow_the_documented_rule(rows: list[list[float]]) -> None:
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), 3)
    got = counter_deltas(matrix)
    assert got.shape == (max(len(rows) - 1, 0), 3)
    for col in range(3):
        expected = np.array(loop_deltas(matrix[:, col].tolist()), dtype=np.float64)
        assert same(got[:, col], expected), (matrix[:, col], got[:, col], expected)
    assert not np.any(got < 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.just(0.0), st.integers(1, 40).map(float)), min_size=4, max_size=4),
        min_size=0,
        max_size=30,
    )
)
def test_counter_deltas_agree_with_timeseries_deltas(rows: list[list[float]]) -> None:
    """The vectorised deltas give what atokio.timeseries.timeseries_deltas gives."""
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    assert same(counter_deltas(matrix), timeseries_deltas(matrix))


def test_counter_deltas_examples() -> None:
    column = np.array([[100.0], [200.0], [0.0], [-0.0], [260.0], [50.0], [60.0], [60.0]])
    got = counter_deltas(column)[:, 0]
    # 100 over the first row; the change across the gap goes to the gap's last row;
    # the reset to 50 stores nothing; then ordinary deltas, a measured zero is +0.0
    assert same(got, np.array([100.0, -0.0, -0.0, 60.0, -0.0, 10.0, 0.0]))


def test_natural_sort() -> None:
    assert natural_sorted(["bb231", "bb23", "bb3"]) == ["bb3", "bb23", "bb231"]
    osts = [f"snx11025-OST{i:04x}" for i in (16, 10, 9, 0, 11)]
    assert natural_sorted(osts, sort_hex=True) == [
        "snx11025-OST0000",
        "snx11025-OST0009",
        "snx11025-OST000a",
        "snx11025-OST000b",
        "snx11025-OST0010",
    ]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.anyio
async def test_window_matches_reference_from_sqlite(lmt_corpus: Path, anyio_backend: str) -> None:
    db = LmtDb(cache_file=SNX_SQLITE)
    datasets = await read_window(db, T0, T1, 5, timechunk=datetime.timedelta(seconds=100))
    with h5py.File(SNX_HDF5, "r") as ref:
        assert sorted(datasets) == sorted(CONFIG)
        for name in CONFIG:
            columns = [c.decode() for c in ref[name].attrs["columns"]]
            series = datasets[name]
            assert series.columns == columns, name
            assert same(series.dataset, ref[name][...]), name
            group = name.split("/")[0]
            assert np.array_equal(series.timestamps, ref[f"{group}/timestamps"][...])
    db.close_cache()


def test_window_from_mariadb_equals_sqlite(mariadb: MariaDbServer) -> None:
    for database, path in (("snx11025", SNX_SQLITE), ("lmtdb_reset", RESET_SQLITE)):
        lite = LmtDb(cache_file=path)
        remote = LmtDb(**lmtdb_args(mariadb, database))
        try:
            stamps = lite.query("SELECT MIN(TIMESTAMP), MAX(TIMESTAMP) FROM TIMESTAMP_INFO")[0]
            start = datetime.datetime.fromisoformat(stamps[0])
            end = datetime.datetime.fromisoformat(stamps[1])
            a = anyio.run(read_window, lite, start, end, 5)
            b = anyio.run(read_window, remote, start, end, 5, backend="trio")
            for name in CONFIG:
                assert a[name].columns == b[name].columns
                assert same(a[name].dataset, b[name].dataset), (database, name)
                assert np.array_equal(a[name].timestamps, b[name].timestamps)
        finally:
            remote.close()
            lite.close_cache()


def test_reset_sample_has_no_negative_deltas(lmt_corpus: Path) -> None:
    db = LmtDb(cache_file=RESET_SQLITE)
    start = datetime.datetime(2018, 4, 18, 7, 35, 15)
    end = datetime.datetime(2018, 4, 18, 7, 40, 35)
    datasets = anyio.run(read_window, db, start, end, 5)
    read = datasets["datatargets/readbytes"].dataset[:, 0]
    # 07:35:15 .. 07:35:45 are deltas of real samples; the OSS is gone until 07:39:05,
    # then reports zeros (no data) until 07:40:15, then restarts from 62537728
    rows = {start + datetime.timedelta(seconds=5 * i): v for i, v in enumerate(read)}
    assert rows[datetime.datetime(2018, 4, 18, 7, 35, 15)] == 438210628444160 - 438210627739648
    assert all(
        np.signbit(v) and v == 0
        for t, v in rows.items()
        if datetime.datetime(2018, 4, 18, 7, 35, 45)
        <= t
        < datetime.datetime(2018, 4, 18, 7, 40, 20)
    )
    assert not np.any(read < 0)
    assert np.count_nonzero(~np.signbit(read)) > 0
    ops = datasets["mdtargets/opens"].dataset
    assert ops.shape == (64, 5) and not np.any(ops < 0)
    assert datasets["mdtargets/opens"].columns == [
        "snx11168n003",
        "snx11168n252",
        "snx11168n253",
        "snx11168n254",
        "snx11168n255",
    ]
    db.close_cache()
