"""The pieces the archive tools share: TTS dataset creation, last rows, day files, follow."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import anyio
import h5py
import numpy
import pytest

from atokio.archive import daily, tts
from atokio.archive.timeseries import TimeSeries
from atokio.archive.writer import Batch, DatasetSpec
from atokio.pipelines import archive_collectdes, archive_esnet_snmp, archive_lmtdb


@pytest.fixture(autouse=True)
def pacific(monkeypatch: pytest.MonkeyPatch):
    """Day bounds are local: the tests assume US/Pacific."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(time.mktime(datetime.datetime(year, month, day, hour, minute).timetuple()))


def missing(values: numpy.ndarray) -> numpy.ndarray:
    return (values == 0) & numpy.signbit(values)


START = datetime.datetime(2018, 1, 28)
END = datetime.datetime(2018, 1, 28, 0, 10)
SPECS = [
    tts.NewDataset("datatargets/readbytes", ["OST0000", "OST0001", "OST0002"], "bytes"),
    tts.NewDataset("datatargets/writebytes", ["OST0000", "OST0001", "OST0002"], "bytes"),
    tts.NewDataset("mdservers/cpuload", [], "%"),
    tts.NewDataset("dataservers/memused", units="%", width=7),
]


# -- tts.init_datasets ----------------------------------------------------------------------


def test_init_datasets_new_file(tmp_path: Path) -> None:
    seen: list[tuple[str, tuple[int, int]]] = []
    before = int(time.time())
    with h5py.File(tmp_path / "new.hdf5", "w") as h5:
        created = tts.init_datasets(
            h5, SPECS, START, END, 5, source="lmt", created=lambda n, s: seen.append((n, s))
        )
    after = int(time.time())
    shapes = {
        "datatargets/readbytes": (120, 3),
        "datatargets/writebytes": (120, 3),
        "mdservers/cpuload": (120, 1),
        "dataservers/memused": (120, 7),
    }
    assert created == shapes and list(created) == list(shapes)
    assert seen == list(shapes.items())
    with h5py.File(tmp_path / "new.hdf5", "r") as h5:
        assert set(h5.attrs) == {"start", "end", "version"}
        assert h5.attrs["start"] == epoch(2018, 1, 28) and h5.attrs["start"].dtype == numpy.int64
        assert h5.attrs["end"] == epoch(2018, 1, 28, 0, 10) and h5.attrs["end"].dtype == numpy.int64
        assert h5.attrs["version"] == "1" and isinstance(h5.attrs["version"], str)
        for group in ("datatargets", "mdservers", "dataservers"):
            stamps = h5[f"{group}/timestamps"]
            assert stamps.dtype == numpy.int64
            assert stamps[...].tolist() == list(
                range(epoch(2018, 1, 28), epoch(2018, 1, 28, 0, 10), 5)
            )
            assert dict(h5[group].attrs) == {"source": "lmt"}
        for name, shape in shapes.items():
            dataset = h5[name]
            assert dataset.shape == shape and dataset.maxshape == (shape[0], None)
            assert dataset.dtype == numpy.float64
            assert dataset.chunks == shape  # fewer rows than CHUNK_ROWS: one chunk
            assert dataset.compression == "gzip" and dataset.shuffle
            assert dataset.fillvalue == 0.0 and numpy.signbit(dataset.fillvalue)
            assert missing(dataset[...]).all()
            assert set(dataset.attrs) == {"columns", "units", "version", "updated"}
            assert dataset.attrs["version"] == "1"
            assert before <= int(dataset.attrs["updated"]) <= after
            assert dataset.attrs["updated"].dtype == numpy.int64
        columns = h5["datatargets/readbytes"].attrs["columns"]
        assert columns.dtype == numpy.dtype("S7") and columns.tolist() == [
            b"OST0000",
            b"OST0001",
            b"OST0002",
        ]
        empty = h5["mdservers/cpuload"].attrs["columns"]
        assert empty.dtype == numpy.dtype("S1") and empty.shape == (0,)
        assert h5["datatargets/readbytes"].attrs["units"] == "bytes"
        assert h5["dataservers/memused"].attrs["units"] == "%"


def test_init_datasets_only_what_is_missing(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.hdf5", "w") as h5:
        tts.init_datasets(h5, SPECS[:1], START, END, 5, source="lmt")
        h5["datatargets/readbytes"][3, 1] = 42.0
        created = tts.init_datasets(h5, SPECS, START, END, 5, source="lmt")
        assert list(created) == [spec.name for spec in SPECS[1:]]
        assert h5["datatargets/readbytes"][3, 1] == 42.0
        # nothing missing: no check, nothing written, even with another range
        assert tts.init_datasets(h5, SPECS, START, END + datetime.timedelta(hours=1), 5) == {}


def test_init_datasets_mismatch_and_bad_range(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.hdf5", "w") as h5:
        tts.init_datasets(h5, SPECS[:1], START, END, 5)
        with pytest.raises(IndexError, match="^Mismatched start or end values$"):
            tts.init_datasets(h5, SPECS, START, END + datetime.timedelta(seconds=5), 5)
        with pytest.raises(IndexError, match="^Mismatched start or end values$"):
            tts.init_datasets(h5, SPECS, START - datetime.timedelta(seconds=5), END, 5)
        assert "datatargets/writebytes" not in h5
    with h5py.File(tmp_path / "g.hdf5", "w") as h5:
        h5.attrs["end"] = numpy.int64(epoch(2018, 1, 28, 0, 10))  # start absent: -1
        with pytest.raises(IndexError, match="Mismatched"):
            tts.init_datasets(h5, SPECS, START, END, 5)
    with h5py.File(tmp_path / "h.hdf5", "w") as h5:
        with pytest.raises(ValueError, match="init_start >= init_end"):
            tts.init_datasets(h5, SPECS, END, START, 5)
        assert not h5.attrs and not list(h5)


def test_init_datasets_options(tmp_path: Path) -> None:
    wide = [tts.NewDataset("datatargets/readrates", units="bytes/sec", width=300)]
    with h5py.File(tmp_path / "f.hdf5", "w") as h5:
        # epoch seconds work as well as datetimes; no source, no attributes
        tts.init_datasets(
            h5,
            SPECS[:1] + wide,
            epoch(2018, 1, 28),
            epoch(2018, 1, 29),
            1,
            attributes=False,
            chunks=(360, 128),
        )
        assert h5.attrs["start"] == epoch(2018, 1, 28) and h5.attrs["version"] == "1"
        assert h5["datatargets/readbytes"].shape == (86400, 3)
        assert h5["datatargets/readbytes"].chunks == (360, 3)
        assert h5["datatargets/readrates"].chunks == (360, 128)
        assert not h5["datatargets/readbytes"].attrs and not h5["datatargets"].attrs


def test_init_datasets_uses_existing_timestamps(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "f.hdf5", "w") as h5:
        h5.create_dataset("/shared/stamps", data=numpy.arange(0, 50, 10, dtype=numpy.int64))
        spec = tts.NewDataset("datatargets/x", ["a"], timestamp_key="/shared/stamps")
        assert tts.init_datasets(h5, [spec], START, END, 5) == {"datatargets/x": (5, 1)}
        assert "datatargets/timestamps" not in h5
        assert h5["datatargets/x"].attrs["units"] == "UNKNOWN"


# -- tts.last_timestamp -----------------------------------------------------------------------


def test_last_timestamp(tmp_path: Path) -> None:
    day = datetime.datetime(2018, 1, 28)
    with h5py.File(tmp_path / "f.hdf5", "w") as h5:
        names = [spec.name for spec in SPECS]
        tts.init_datasets(h5, SPECS, day, day + datetime.timedelta(days=1), 5)
        assert tts.last_timestamp(h5, names) is None
        h5["datatargets/readbytes"][3, 2] = 1.0  # 17280 rows: found after several blocks
        assert tts.last_timestamp(h5, names) == epoch(2018, 1, 28) + 15
        h5["mdservers/cpuload"][100, 0] = 0.0  # +0.0 is data, -0.0 is not
        h5["datatargets/writebytes"][200, 0] = -0.0
        assert tts.last_timestamp(h5, names) == epoch(2018, 1, 28) + 500
        assert tts.last_timestamp(h5, ["datatargets/readbytes", "nosuch/dataset"]) == (
            epoch(2018, 1, 28) + 15
        )
        h5["dataservers/memused"][-1, 6] = numpy.nan
        assert tts.last_timestamp(h5, names) == epoch(2018, 1, 29) - 5


# -- day files ---------------------------------------------------------------------------------


def test_day_names_and_bounds() -> None:
    assert daily.day_template("output.hdf5") == "output-%Y-%m-%d.hdf5"
    assert daily.day_template("a/out") == "a/out-%Y-%m-%d.hdf5"
    assert daily.day_template("a/%Y/%m-%d.h5") == "a/%Y/%m-%d.h5"
    day = datetime.date(2018, 3, 11)  # spring forward: 23 hours
    assert daily.day_path("x/%Y-%m-%d.hdf5", day) == "x/2018-03-11.hdf5"
    start, end = daily.day_bounds(day)
    assert (start, end) == (datetime.datetime(2018, 3, 11), datetime.datetime(2018, 3, 12))
    assert epoch(2018, 3, 12) - epoch(2018, 3, 11) == 23 * 3600
    # the CLIs keep their names for these
    assert archive_lmtdb.day_template is daily.day_template
    assert archive_lmtdb.commit_datasets is daily.commit_datasets
    assert archive_collectdes.day_template is daily.day_template


def _initialise(specs: list[tts.NewDataset]):
    def initialise(h5: h5py.File, start: datetime.datetime, end: datetime.datetime) -> None:
        tts.init_datasets(h5, specs, start, end, 60, source="test")

    return initialise


def test_init_day_file_creates_and_keeps(tmp_path: Path) -> None:
    day = datetime.date(2018, 1, 28)
    path = str(tmp_path / "deep" / "dir" / "day.hdf5")
    names = [spec.name for spec in SPECS]
    daily.init_day_file(path, day, names, _initialise(SPECS))
    assert sorted(os.listdir(tmp_path / "deep" / "dir")) == ["day.hdf5"]  # no scratch left
    with h5py.File(path, "r") as h5:
        assert (int(h5.attrs["start"]), int(h5.attrs["end"])) == (
            epoch(2018, 1, 28),
            epoch(2018, 1, 29),
        )
        assert all(h5[name].shape[0] == 1440 for name in names)
    # complete: the file is not rewritten
    inode = os.stat(path).st_ino
    daily.init_day_file(path, day, names, _initialise([]))
    assert os.stat(path).st_ino == inode


def test_init_day_file_adds_to_a_copy(tmp_path: Path) -> None:
    day = datetime.date(2018, 1, 28)
    path = str(tmp_path / "day.hdf5")
    daily.init_day_file(path, day, [SPECS[0].name], _initialise(SPECS[:1]))
    with h5py.File(path, "a") as h5:
        h5[SPECS[0].name][5, 0] = 7.0
    inode = os.stat(path).st_ino
    with open(path + ".init", "wb") as stale:
        stale.write(b"left by a crash")
    daily.init_day_file(path, day, [s.name for s in SPECS], _initialise(SPECS))
    assert os.stat(path).st_ino != inode  # replaced by the scratch copy
    assert not os.path.exists(path + ".init")
    with h5py.File(path, "r") as h5:
        assert h5[SPECS[0].name][5, 0] == 7.0
        assert all(spec.name in h5 for spec in SPECS)


def test_init_day_file_is_atomic_and_checks_the_day(tmp_path: Path) -> None:
    day = datetime.date(2018, 1, 28)
    path = str(tmp_path / "day.hdf5")
    daily.init_day_file(path, day, [SPECS[0].name], _initialise(SPECS[:1]))
    with open(path, "rb") as handle:
        before = handle.read()

    def broken(h5: h5py.File, start: datetime.datetime, end: datetime.datetime) -> None:
        h5.create_dataset("half/done", data=[1])
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        daily.init_day_file(path, day, [s.name for s in SPECS], broken)
    with open(path, "rb") as handle:
        assert handle.read() == before  # the day file is as it was
    with pytest.raises(ValueError, match="does not cover the day 2018-01-29"):
        daily.init_day_file(path, datetime.date(2018, 1, 29), ["x/y"], _initialise(SPECS))
    # every tool checks the day (archive_collectdes too)
    with pytest.raises(ValueError, match="does not cover the day"):
        archive_collectdes._init_day_file(path, datetime.date(2018, 1, 27), 10, 2, 2)


def test_prepare_days_once_per_day() -> None:
    calls: list[tuple[str, datetime.date]] = []
    ready: set[datetime.date] = set()

    async def main() -> None:
        def init(path: str, day: datetime.date) -> None:
            calls.append((path, day))

        end = datetime.datetime(2018, 1, 30)  # exclusive: the 30th is not touched
        await daily.prepare_days("%Y-%m-%d", datetime.date(2018, 1, 28), end, ready, init)
        await daily.prepare_days("%Y-%m-%d", datetime.date(2018, 1, 29), end, ready, init)

    anyio.run(main)
    assert calls == [
        ("2018-01-28", datetime.date(2018, 1, 28)),
        ("2018-01-29", datetime.date(2018, 1, 29)),
    ]
    assert ready == {datetime.date(2018, 1, 28), datetime.date(2018, 1, 29)}


def test_resume_point(tmp_path: Path) -> None:
    template = str(tmp_path / "fs-%Y-%m-%d.hdf5")
    names = [spec.name for spec in SPECS]
    now = datetime.datetime(2018, 1, 29, 0, 30)
    assert daily.resume_point(template, now, 60, names) is None
    yesterday = daily.day_path(template, datetime.date(2018, 1, 28))
    daily.init_day_file(yesterday, datetime.date(2018, 1, 28), names, _initialise(SPECS))
    assert daily.resume_point(template, now, 60, names) is None  # no data yet
    with h5py.File(yesterday, "a") as h5:
        h5["datatargets/writebytes"][1000, 1] = 3.0
        h5["dataservers/memused"][1439, 0] = 3.0  # not looked at below
    want = datetime.datetime(2018, 1, 28) + datetime.timedelta(minutes=1001)
    assert daily.resume_point(template, now, 60, names[:3]) == want
    assert daily.resume_point(template, now, 60, names) == datetime.datetime(2018, 1, 29)
    today = daily.day_path(template, datetime.date(2018, 1, 29))
    daily.init_day_file(today, datetime.date(2018, 1, 29), names, _initialise(SPECS))
    with h5py.File(today, "a") as h5:
        h5["mdservers/cpuload"][10, 0] = 1.0
    assert daily.resume_point(template, now, 60, names) == datetime.datetime(2018, 1, 29, 0, 11)
    # two days later neither today's nor yesterday's file exists
    assert daily.resume_point(template, now + datetime.timedelta(days=2), 60, names) is None


def test_tool_resume_points_use_their_datasets(tmp_path: Path) -> None:
    template = str(tmp_path / "t-%Y-%m-%d.hdf5")
    day = datetime.date(2018, 1, 28)
    path = daily.day_path(template, day)
    source = archive_esnet_snmp.EsnetSnmpSource([("sunn-cr5", "x")], 30)
    daily.init_day_file(path, day, source.units(), source.init_day, 30)
    with h5py.File(path, "a") as h5:
        h5["datatargets/readrates"][4, 0] = 1.0
        h5.create_dataset("other/thing", data=numpy.ones((2880, 1)))
        h5.create_dataset("other/timestamps", data=numpy.arange(2880) * 30 + epoch(2018, 1, 28))
    now = datetime.datetime(2018, 1, 28, 12)
    assert archive_esnet_snmp.resume_point(template, now, 30) == datetime.datetime(
        2018, 1, 28, 0, 2, 30
    )
    assert archive_lmtdb.resume_point(template, now, 30) is None  # no LMT dataset there


# -- follow_day_files ---------------------------------------------------------------------------


def test_follow_day_files_polls_and_commits(tmp_path: Path) -> None:
    template = str(tmp_path / "f-%Y-%m-%d.hdf5")
    start = datetime.datetime(2018, 1, 28, 23, 58)
    until = datetime.datetime(2018, 1, 29, 0, 2)
    windows: list[tuple[datetime.datetime, datetime.datetime]] = []

    async def poll(send, begin: datetime.datetime, end: datetime.datetime) -> None:
        windows.append((begin, end))
        epochs = numpy.arange(
            int(time.mktime(begin.timetuple())), int(time.mktime(end.timetuple())), 60
        )
        await send.send(Batch("datatargets/x", epochs, ["a"] * len(epochs), [1.0] * len(epochs)))

    resumed: list[datetime.datetime] = []

    def resume(tmpl: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
        resumed.append(now)
        return start

    far = datetime.datetime(2030, 1, 1)
    stopped = anyio.run(
        lambda: daily.follow_day_files(
            poll,
            template,
            60,
            daily.writer_specs({"datatargets/x": "bytes"}, "test"),
            resume,
            daily.FollowOptions(until=until, now=lambda: far, handle_signals=False, max_window=120),
        )
    )
    assert stopped == until and resumed == [far]
    assert windows == [
        (start, datetime.datetime(2018, 1, 29)),
        (datetime.datetime(2018, 1, 29), until),
    ]
    for day, rows in (
        (datetime.date(2018, 1, 28), [1438, 1439]),
        (datetime.date(2018, 1, 29), [0, 1]),
    ):
        with h5py.File(daily.day_path(template, day), "r") as h5:
            data = h5["datatargets/x"][...]
            assert numpy.nonzero(~missing(data))[0].tolist() == rows
            assert h5["datatargets/x"].attrs["units"] == "bytes"
            assert h5["datatargets"].attrs["source"] == "test"


def test_writer_specs_and_metadata() -> None:
    specs = daily.writer_specs({"a/b": "%", "a/c": "ops"}, "lmt")
    assert specs == {
        "a/b": DatasetSpec(units="%", version="1", source="lmt"),
        "a/c": DatasetSpec(units="ops", version="1", source="lmt"),
    }
    series = TimeSeries(dataset_name="a/b")
    daily.set_metadata(series, "%", "lmt")
    assert series.version == series.global_version == "1"
    assert series.dataset_metadata == {"version": "1", "units": "%"}
    assert series.group_metadata == {"source": "lmt"}


def test_insert_indices_need_the_files_grid_and_step() -> None:
    existing = numpy.arange(1000, 1100, 10)  # 10 rows of 10 s
    assert tts.get_insert_indices(numpy.array([1020, 1030, 1040]), existing) == (2, 5)
    assert tts.get_insert_indices(numpy.array([1080]), existing, timestep=10) == (8, 9)
    with pytest.raises(IndexError, match="time step of 5 s into one of 10 s"):
        tts.get_insert_indices(numpy.array([1020, 1025]), existing)
    with pytest.raises(IndexError, match="time step of 20 s into one of 10 s"):
        tts.get_insert_indices(numpy.array([1020]), existing, timestep=20)
    with pytest.raises(IndexError, match="not a subset of existing data"):
        tts.get_insert_indices(numpy.array([1025]), existing)  # off the grid
    with pytest.raises(IndexError, match="not a subset of existing data"):
        tts.get_insert_indices(numpy.array([1090, 1100]), existing)  # runs past the end
