"""connectors.hdf5 as pytokio scripts use it: the default mode, versions, dataset providers."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import h5py
import numpy
import pytest
from corpus import INPUTS, need_corpus

from atokio.archive.timeseries import TimeSeries
from atokio.connectors.hdf5 import SCHEMA_DATASET_PROVIDERS, Hdf5

H5LMT = "snx11025_2018-01-28.h5lmt"
TTS = "snx11025_2018-01-28.hdf5"


def copy(name: str, tmp_path: Path) -> Path:
    need_corpus()
    target = tmp_path / name
    shutil.copyfile(INPUTS / name, target)  # a writable copy (copyfile keeps no mode bits)
    return target


def test_h5lmt_providers_are_all_readable(tmp_path: Path) -> None:
    names = set(SCHEMA_DATASET_PROVIDERS[None])
    assert {
        "datatargets/readbytes", "datatargets/writebytes", "datatargets/readrates",
        "datatargets/writerates", "mdtargets/opens", "mdtargets/openrates",
        "dataservers/cpuload", "mdservers/cpuload",
    } <= names  # fmt: skip
    assert set(SCHEMA_DATASET_PROVIDERS["1"]) >= {"datatargets/readbytes", "datatargets/readrates"}
    with Hdf5(str(copy(H5LMT, tmp_path)), mode="r") as h5lmt:
        stamps = h5lmt.get_timestamps("datatargets/readrates")[...]
        for name in sorted(names):
            values = numpy.asarray(h5lmt[name][...])
            assert values.shape[0] in (len(stamps), len(stamps) - 1), name
        rates = numpy.asarray(h5lmt["datatargets/readrates"][...], dtype=float)
        amounts = numpy.asarray(h5lmt["datatargets/readbytes"][...], dtype=float)
        assert numpy.array_equal(amounts, rates * 5)


def test_default_mode_reads_and_writes(tmp_path: Path) -> None:
    path = copy(TTS, tmp_path)
    with Hdf5(str(path)) as h5:
        assert h5.mode == "r+"
        series = h5.to_timeseries("datatargets/readbytes")
        assert series is not None
        series.dataset[0, 0] = 12345.0
        h5.commit_timeseries(series)
        series.timestamps = series.timestamps + 86400  # a day after the file's range
        with pytest.raises(IndexError):
            h5.commit_timeseries(series)
    with h5py.File(path, "r") as check:
        assert check["datatargets/readbytes"][0, 0] == 12345.0


def test_default_mode_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "new.hdf5"
    series = TimeSeries()
    start = datetime.datetime(2019, 1, 1)
    series.init(start, start + datetime.timedelta(minutes=1), 10, 2, "datatargets/readbytes")
    series.set_columns(["a", "b"])
    with Hdf5(str(path)) as h5:
        h5.commit_timeseries(series)
    with h5py.File(path, "r") as check:
        assert check.attrs["version"] == "1" and isinstance(check.attrs["version"], str)
        assert check["datatargets/readbytes"].shape == (6, 2)


def test_a_read_only_file_is_opened_read_only(tmp_path: Path) -> None:
    path = copy(TTS, tmp_path)
    path.chmod(0o444)
    before = path.stat().st_mtime_ns, path.read_bytes()
    with Hdf5(str(path)) as h5:
        assert h5.mode == "r"
        assert h5.get_version() == "1"
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


def test_get_version(tmp_path: Path) -> None:
    with Hdf5(str(copy("versions_test.hdf5", tmp_path)), mode="r") as h5:
        assert h5.get_version("/a/b") == "dataset_b"
        assert h5.get_version("/a/d") == "global"
        with pytest.raises(KeyError):
            h5.get_version("/a/nothing")
    with Hdf5(str(copy("sample_tokiots.hdf5", tmp_path)), mode="r") as h5:
        assert h5.get_version("datatargets/readrates") == "1"
        assert h5.get_version("datatargets/readbytes") == "1"  # derived from readrates
        with pytest.raises(KeyError):
            h5.get_version("datatargets/nothing")


def test_set_version_writes_a_str(tmp_path: Path) -> None:
    path = copy(TTS, tmp_path)
    with Hdf5(str(path)) as h5:
        h5.set_version("1")
        h5.set_version("2", "datatargets/readbytes")
    with h5py.File(path, "r") as check:
        assert check.attrs["version"] == "1"
        assert check["datatargets/readbytes"].attrs["version"] == "2"
        assert isinstance(check["datatargets/readbytes"].attrs["version"], str)
