"""TimeSeries, the TTS HDF5 format, the Hdf5 connector, tools.hdf5 and the single writer."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import h5py
import numpy
import pytest
from corpus import INPUTS, need_corpus

from atokio.archive.writer import Batch, DatasetSpec, open_writer, write_batches
from atokio.connectors.hdf5 import Hdf5
from atokio.timeseries import TimeSeries, sorted_nodenames, timeseries_deltas


@pytest.fixture(autouse=True)
def pacific(monkeypatch: pytest.MonkeyPatch):
    """The reference data assume US/Pacific local time."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def epoch(*args: int) -> int:
    return int(time.mktime(datetime.datetime(*args).timetuple()))


# -- TimeSeries ------------------------------------------------------------------------


def test_init_insert_and_missing() -> None:
    ts = TimeSeries(
        "datatargets/readbytes",
        datetime.datetime(2019, 1, 6),
        datetime.datetime(2019, 1, 6, 0, 1),
        10,
        3,
    )
    assert ts.timestamp_key == "/datatargets/timestamps"
    assert ts.timestamps.tolist() == [epoch(2019, 1, 6, 0, 0, s) for s in range(0, 60, 10)]
    assert ts.dataset.shape == (6, 3) and numpy.signbit(ts.dataset).all()
    assert ts.insert_element(datetime.datetime(2019, 1, 6, 0, 0, 15), "ost1", 5.0) is True
    assert ts.insert_element(
        datetime.datetime(2019, 1, 6, 0, 0, 17), "ost1", 2.0, reducer=lambda a, b: a + b
    )
    assert ts.insert_element(datetime.datetime(2019, 1, 6, 0, 0, 10), "ost0", 0.0)
    assert (
        ts.insert_element(datetime.datetime(2019, 1, 6, 0, 1), "ost0", 1.0) is False
    )  # end is exclusive
    assert ts.insert_element(datetime.datetime(2019, 1, 6, 0, 0, 10), "ost2", 4.0, align="r")
    assert ts.columns == ["ost1", "ost0", "ost2"]
    assert ts.dataset[1].tolist() == [7.0, 0.0, -0.0]
    assert ts.dataset[0, 2] == 4.0
    assert ts.missing()[1].tolist() == [0, 0, 1]
    with pytest.raises(IndexError, match="no free column left for 'ost3'"):
        ts.insert_element(datetime.datetime(2019, 1, 6), "ost3", 1.0)


def test_insert_many_is_one_operation_per_batch() -> None:
    ts = TimeSeries(
        "datatargets/writebytes",
        datetime.datetime(2019, 1, 6),
        datetime.datetime(2019, 1, 6, 0, 0, 30),
        10,
        0,
    )
    t0 = int(ts.timestamps[0])
    dropped = ts.insert_many(
        [t0, t0 + 10, t0 + 12, t0 - 1, t0 + 30], ["b", "a", "a", "a", "b"], [1, 2, 3, 4, 5]
    )
    assert dropped == 2
    assert ts.columns == ["a", "b"]
    assert ts.dataset.tolist() == [[-0.0, 1.0], [3.0, -0.0], [-0.0, -0.0]]
    ts.insert_many([t0, t0], ["b", "b"], [10, 20], reducer="sum")
    assert ts.dataset[0].tolist() == [-0.0, 31.0]


def test_reshaping() -> None:
    ts = TimeSeries(
        "mdtargets/opens",
        datetime.datetime(2019, 1, 6),
        datetime.datetime(2019, 1, 6, 0, 0, 20),
        5,
        3,
    )
    ts.set_columns(["md10", "md2", "md1"])
    ts.dataset[:] = numpy.arange(12).reshape(4, 3)
    ts.sort_columns()
    assert ts.columns == ["md1", "md2", "md10"]
    assert ts.dataset[0].tolist() == [2.0, 1.0, 0.0]
    ts.swap_columns(0, 2)
    assert ts.columns == ["md10", "md2", "md1"] and ts.column_map["md1"] == 2
    ts.add_rows(2)
    assert ts.timestamps[-1] - ts.timestamps[0] == 25 and ts.dataset.shape == (6, 3)
    ts.trim_rows(2)
    assert ts.dataset.shape == (4, 3)
    ts.convert_to_deltas()
    # md10 starts at 0 ("no data"): its first delta is missing
    assert ts.dataset[:, 0].tolist() == [-0.0, 3.0, 3.0] and numpy.signbit(ts.dataset[0, 0])
    assert ts.dataset[:, 2].tolist() == [3.0, 3.0, 3.0] and len(ts.timestamps) == 3
    ts.set_timestamp_key("/other/timestamps", safe=True)
    assert ts.timestamp_key == "/mdtargets/timestamps"


def test_sorted_nodenames() -> None:
    assert sorted_nodenames(["bb231", "bb23", "bb2", "bb10"]) == ["bb2", "bb10", "bb23", "bb231"]
    assert sorted_nodenames(["OST0010", "OST000a", "OST0002"], sort_hex=True) == [
        "OST0002",
        "OST000a",
        "OST0010",
    ]


def test_deltas_never_negative_across_gaps_and_resets() -> None:
    counters = numpy.array([[10.0], [15.0], [0.0], [0.0], [30.0], [31.0], [5.0], [9.0]])
    deltas = timeseries_deltas(counters)
    assert deltas[:, 0].tolist() == [5.0, -0.0, -0.0, 15.0, 1.0, -0.0, 4.0]
    assert numpy.signbit(deltas[1, 0])  # missing, not a measured zero
    assert timeseries_deltas(numpy.array([[1.0, 2.0]])).shape == (0, 2)


# -- TTS files -------------------------------------------------------------------------


def test_commit_round_trip(tmp_path: Path) -> None:
    ts = TimeSeries(
        "datatargets/readbytes",
        datetime.datetime(2019, 1, 6),
        datetime.datetime(2019, 1, 6, 1),
        60,
        3,
    )
    ts.set_columns(["ost10", "ost2", "ost1"])
    ts.dataset[:] = numpy.arange(180, dtype=float).reshape(60, 3)
    ts.dataset[5, 1] = -0.0
    ts.dataset_metadata = {"units": "bytes"}
    ts.group_metadata = {"source": "lmt"}
    path = tmp_path / "day.hdf5"
    with Hdf5(str(path), "w") as out:
        out.commit_timeseries(ts)
    with h5py.File(path, "r") as raw:  # what the reference reader sees
        assert raw.attrs["start"] == epoch(2019, 1, 6) and raw.attrs["end"] == epoch(2019, 1, 6, 1)
        assert raw["datatargets/timestamps"].dtype == numpy.int64
        assert raw["datatargets/readbytes"].dtype == numpy.float64
        assert raw["datatargets/readbytes"].compression == "gzip"
        assert [c.decode() for c in raw["datatargets/readbytes"].attrs["columns"]] == [
            "ost1",
            "ost2",
            "ost10",
        ]
    with Hdf5(str(path)) as back:
        frame = back.to_dataframe("datatargets/readbytes")
        assert list(frame.columns) == ["ost1", "ost2", "ost10"]
        assert frame.index[1] == datetime.datetime(2019, 1, 6, 0, 1)
        assert frame["ost10"].iloc[3] == 9.0 and frame["ost1"].iloc[3] == 11.0
        assert numpy.isnan(frame["ost2"].iloc[5])
        assert back.get_missing("datatargets/readbytes").sum() == 1
        assert back["datatargets/readbytes/missing"][5].tolist() == [0, 1, 0]
        assert back["datatargets/readrates"][3].tolist() == [11.0 / 60, 10.0 / 60, 9.0 / 60]
        assert back.get_version("datatargets/readbytes") == "1"
        assert back.get_index("datatargets/readbytes", datetime.datetime(2019, 1, 6, 0, 2, 59)) == 2
        copy = back.to_timeseries("datatargets/readbytes")
        assert (
            copy is not None and copy.columns == ["ost1", "ost2", "ost10"] and copy.timestep == 60
        )
        assert copy.dataset_metadata["units"] == "bytes" and copy.group_metadata == {
            "source": "lmt"
        }
        assert back.to_timeseries("datatargets/nothing") is None
    part = TimeSeries(
        "datatargets/readbytes",
        datetime.datetime(2019, 1, 6, 0, 30),
        datetime.datetime(2019, 1, 6, 0, 32),
        60,
        3,
    )
    part.set_columns(["ost1", "ost2", "ost10"])
    part.dataset[:] = 1.0
    with Hdf5(str(path), "a") as out:
        out.commit_timeseries(part)
    with Hdf5(str(path)) as back:
        values = back["datatargets/readbytes"][...]
        assert values[30].tolist() == [1.0, 1.0, 1.0] and values[29].tolist() == [89.0, 88.0, 87.0]
    outside = TimeSeries(
        "datatargets/readbytes",
        datetime.datetime(2019, 1, 6, 2),
        datetime.datetime(2019, 1, 6, 3),
        60,
        3,
    )
    with (
        Hdf5(str(path), "a") as out,
        pytest.raises(IndexError, match="not a subset of existing data"),
    ):
        out.commit_timeseries(outside)


def test_corpus_tts_and_h5lmt_agree() -> None:
    need_corpus()
    with (
        Hdf5(str(INPUTS / "snx11025_2018-01-28.hdf5")) as v1,
        Hdf5(str(INPUTS / "snx11025_2018-01-28.h5lmt")) as v0,
    ):
        assert (v1.get_version(), v0.get_version()) == ("1", "0")
        frame = v1.to_dataframe("datatargets/readbytes")
        assert frame.shape == (60, 24)
        assert frame.index[0] == datetime.datetime(2018, 1, 28) and frame.index[
            1
        ] == datetime.datetime(2018, 1, 28, 0, 0, 5)
        assert frame["snx11025-OST0002"].iloc[:2].tolist() == [0.0, 4096.0]
        old = v0.to_dataframe("datatargets/readbytes")
        assert old.shape == (61, 24)
        # H5LMT rates are right-aligned: its row i is TTS row i-1 (FORMATS.md 15.1)
        assert numpy.array_equal(old.values[1:], frame.values)
        assert list(old.columns) == list(frame.columns)
        for name in ("datatargets/writebytes", "mdtargets/opens", "mdtargets/getattrs"):
            assert numpy.allclose(v0[name][...][1:], v1[name][...]), name
        for name in ("dataservers/cpuload", "mdservers/cpuload"):
            assert numpy.allclose(v0[name][...][:60], v1[name][...]), name
        assert v0.get_columns("mdservers/cpuload").tolist() == ["_unknown"]
        assert v0["datatargets/readbytes/missing"].sum() == 0
        assert int(v1.attrs["start"]) == 1517126400 and int(v1.attrs["end"]) == 1517126700


def test_corpus_collectd_tts_and_versions() -> None:
    need_corpus()
    with Hdf5(str(INPUTS / "sample_tokiots.hdf5")) as tokio:
        rates = tokio.to_timeseries("datatargets/readrates")
        assert rates is not None and rates.dataset.shape == (360, 64) and rates.timestep == 10
        assert rates.columns[:2] == ["bb1:nvme0n1", "bb1:nvme1n1"]
        assert int(rates.missing().sum()) == 16002
        assert tokio["datatargets/readbytes"][0, 1] == pytest.approx(rates.dataset[0, 1] * 10)
        assert tokio.get_version("datatargets/writerates") == "None"
    with Hdf5(str(INPUTS / "versions_test.hdf5")) as versions:
        assert [versions.get_version(x) for x in ("/a/b", "/a/c", "/a/d", "/a/")] == [
            "dataset_b", "dataset_c", "global", "group",
        ]  # fmt: skip


def test_file_without_version_needs_ignore_version(tmp_path: Path) -> None:
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as raw:
        raw["x"] = numpy.zeros(3)
    with pytest.raises(KeyError, match="no valid version attribute"):
        Hdf5(str(path))
    with Hdf5(str(path), ignore_version=True) as loose:
        assert loose.get_version() is None


# -- the single writer --------------------------------------------------------------


def day_cells(
    day: tuple[int, int, int], step: int, columns: list[str], hours: float = 1.0
) -> Batch:
    start = epoch(*day)
    rows = numpy.arange(int(hours * 3600 / step))
    epochs = numpy.repeat(start + rows * step, len(columns))
    names = numpy.tile(numpy.array(columns, dtype=object), len(rows))
    values = numpy.repeat(rows, len(columns)) * 100.0 + numpy.tile(
        numpy.arange(len(columns)), len(rows)
    )
    return Batch("datatargets/readbytes", epochs, names, values)


SPECS = {"datatargets/readbytes": DatasetSpec("bytes", source="lmt")}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_writer_rolls_over_at_midnight(tmp_path: Path, anyio_backend: str) -> None:
    template = str(tmp_path / "%Y-%m-%d" / "fs.hdf5")
    late = day_cells((2019, 1, 6, 23), 60, ["ost1", "ost0"])
    async with open_writer(template, 60, SPECS, channel_size=2, flush_cells=50) as send:
        for i in range(0, len(late), 10):
            await send.send(
                Batch(
                    late.dataset,
                    late.epochs[i : i + 10],
                    late.columns[i : i + 10],
                    late.values[i : i + 10],
                )
            )
        await send.send(day_cells((2019, 1, 7), 60, ["ost1", "ost0"], hours=0.5))
    first, second = tmp_path / "2019-01-06" / "fs.hdf5", tmp_path / "2019-01-07" / "fs.hdf5"
    with Hdf5(str(first)) as day1, Hdf5(str(second)) as day2:
        assert int(day1.attrs["start"]) == epoch(2019, 1, 6) and int(day1.attrs["end"]) == epoch(
            2019, 1, 7
        )
        values = day1["datatargets/readbytes"][...]
        assert values.shape == (1440, 2)
        assert list(day1.get_columns("datatargets/readbytes")) == ["ost0", "ost1"]
        assert values[23 * 60 + 5].tolist() == [501.0, 500.0]
        assert day1.get_missing("datatargets/readbytes")[: 23 * 60].all()
        assert day2["datatargets/readbytes"][29].tolist() == [2901.0, 2900.0]
        assert day2.get_missing("datatargets/readbytes")[30:].all()
        assert day1["datatargets/readbytes"].attrs["units"] == "bytes"
        assert day1["datatargets"].attrs["source"] == "lmt"
    assert not list(tmp_path.rglob("*.writing"))


def test_writer_resumes_without_losing_or_duplicating(tmp_path: Path) -> None:
    template = str(tmp_path / "%Y-%m-%d.hdf5")
    write_batches(template, 60, [day_cells((2019, 1, 6), 60, ["a", "b"], hours=1)], SPECS)
    again = day_cells((2019, 1, 6, 0, 30), 60, ["b", "c"], hours=1)
    again.values = again.values + 0.5
    write_batches(template, 60, [again], SPECS)
    write_batches(
        template,
        60,
        [
            Batch(
                "datatargets/readbytes",
                [epoch(2019, 1, 6, 0, 10)] * 2,
                ["a", "a"],
                [1.0, 2.0],
                "sum",
            )
        ],
    )
    with Hdf5(str(tmp_path / "2019-01-06.hdf5")) as day:
        values = day["datatargets/readbytes"][...]
        assert list(day.get_columns("datatargets/readbytes")) == ["a", "b", "c"]
        assert values[10].tolist() == [1003.0, 1001.0, -0.0]  # a: 1000 + 1 + 2
        assert values[29].tolist() == [2900.0, 2901.0, -0.0]
        assert values[30].tolist() == [3000.0, 0.5, 1.5]  # b rewritten, c new; a kept
        assert values[89].tolist() == [-0.0, 5900.5, 5901.5]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_cancellation_flushes_what_was_sent(tmp_path: Path, anyio_backend: str) -> None:
    template = str(tmp_path / "%Y-%m-%d.hdf5")
    with anyio.move_on_after(0.5):
        async with open_writer(template, 60, SPECS, flush_cells=10**9) as send:
            await send.send(day_cells((2019, 1, 6), 60, ["a"], hours=1))
            await anyio.sleep(30)
    with Hdf5(str(tmp_path / "2019-01-06.hdf5")) as day:
        assert day["datatargets/readbytes"][59, 0] == 5900.0


def test_backpressure_bounds_the_channel() -> None:
    async def main() -> int:
        send, receive = anyio.create_memory_object_stream[int](2)
        sent = 0
        with anyio.move_on_after(0.2):
            for i in range(10):
                await send.send(i)
                sent += 1
        return sent

    assert anyio.run(main) == 2


WRITER_CHILD = textwrap.dedent(
    """
    import sys, time, datetime, numpy
    from atokio.archive.writer import Batch, DayFileWriter
    template, start = sys.argv[1], int(sys.argv[2])
    writer = DayFileWriter(template, 5, flush_cells=10**9)
    for k in range(10**6):
        epochs = start + 5 * numpy.arange(k * 10, k * 10 + 10)
        writer.add(Batch("datatargets/readbytes", numpy.repeat(epochs, 4),
                         numpy.tile(numpy.array(["c0", "c1", "c2", "c3"], dtype=object), 10),
                         numpy.repeat(numpy.arange(k * 10, k * 10 + 10), 4).astype(float)))
        writer.commit()
        print(k, flush=True)
    """
)


def test_kill_9_between_commits_leaves_a_readable_file(tmp_path: Path) -> None:
    template = str(tmp_path / "%Y-%m-%d.hdf5")
    start = epoch(2019, 1, 6)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD, template, str(start)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TZ": "America/Los_Angeles"},
    )
    assert child.stdout is not None
    for _ in range(12):  # let it commit a dozen times, then kill it mid-flight
        child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait()
    with Hdf5(str(tmp_path / "2019-01-06.hdf5")) as day:
        values = day["datatargets/readbytes"][...]
    written = ~((values == 0.0) & numpy.signbit(values))
    rows = numpy.flatnonzero(written.all(axis=1))
    assert len(rows) >= 120  # at least the 12 commits we saw
    assert rows.tolist() == list(range(len(rows)))  # a prefix of the rows, none half-written
    assert written[len(rows) :].sum() == 0
    assert values[rows, 2].tolist() == [float(r) for r in rows]


def test_tools_hdf5_reads_only_the_range_across_days(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atokio import config
    from atokio.tools import hdf5 as tools_hdf5

    template = str(tmp_path / "%Y-%m-%d" / "fs.hdf5")
    batches = [
        day_cells(day, 300, ["x", "y"], hours=24)
        for day in ((2019, 1, 5), (2019, 1, 6), (2019, 1, 7))
    ]
    write_batches(template, 300, batches, SPECS)
    monkeypatch.setitem(
        config.CONFIG, "hdf5_files", {"fs": [str(tmp_path / "%Y-%m-%d" / "missing.h5"), template]}
    )
    start, end = datetime.datetime(2019, 1, 5, 23), datetime.datetime(2019, 1, 7, 1, 2)
    files = tools_hdf5.get_files_and_indices("fs", "datatargets/readbytes", start, end)
    assert [(Path(p).parent.name, a, b) for p, a, b in files] == [
        ("2019-01-05", 276, 288),
        ("2019-01-06", 0, 288),
        ("2019-01-07", 0, 13),
    ]
    frame = tools_hdf5.get_dataframe_from_time_range("fs", "datatargets/readbytes", start, end)
    assert frame is not None
    assert frame.shape == (12 + 288 + 13, 2)
    assert frame.index[0] == start and frame.index[-1] == datetime.datetime(2019, 1, 7, 1, 0)
    assert frame["y"].iloc[0] == 27601.0 and frame["x"].iloc[-1] == 1200.0
    assert (
        tools_hdf5.get_dataframe_from_time_range(
            "fs",
            "datatargets/readbytes",
            datetime.datetime(2020, 1, 1),
            datetime.datetime(2020, 1, 2),
        )
        is None
    )
    assert json.dumps(tools_hdf5.enumerate_hdf5("fs", start, end)).count("fs.hdf5") == 3
