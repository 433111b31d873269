"""The crash-safe path of every archive write, and the check of an existing output."""

from __future__ import annotations

import datetime
import logging
import os
import time
from pathlib import Path

import h5py
import numpy
import pytest

from atokio.archive import daily, tts
from atokio.archive.files import ArchiveFileError, check_output, safe_update
from atokio.archive.writer import Batch, write_batches


@pytest.fixture(autouse=True)
def pacific(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


DAY = datetime.date(2018, 1, 28)


def midnight() -> int:
    """2018-01-28 00:00 local time (the fixture has set the zone)."""
    return int(time.mktime(datetime.datetime(2018, 1, 28).timetuple()))


def tts_file(path: Path, step: int = 60) -> None:
    epochs = numpy.arange(midnight(), midnight() + 10 * step, step)
    batch = Batch("datatargets/readbytes", epochs, ["ost0"] * len(epochs), numpy.ones(len(epochs)))
    write_batches(str(path), step, [batch])


def test_check_output_accepts_a_tts_file_of_its_step(tmp_path: Path) -> None:
    path = tmp_path / "ok.hdf5"
    assert check_output(str(path), 60) is False  # absent
    tts_file(path)
    assert check_output(str(path), 60, ["datatargets/readbytes"]) is True
    assert check_output(str(path)) is True
    with pytest.raises(ArchiveFileError) as refused:
        check_output(str(path), 30, tool="archive_lmtdb")
    assert str(refused.value) == (
        f"archive_lmtdb: {path}: rows of 60 s in /datatargets, not 30 s: "
        "use --timestep 60 or another output"
    )


def test_check_output_refuses_what_is_not_tts(tmp_path: Path) -> None:
    text = tmp_path / "notes.hdf5"
    text.write_text("not HDF5 at all\n")
    with pytest.raises(ArchiveFileError) as refused:
        check_output(str(text), 5, tool="archive_lmtdb")
    assert str(refused.value) == f"archive_lmtdb: {text}: not an HDF5 file: choose another output"

    h5lmt = tmp_path / "snx11025.h5lmt"
    with h5py.File(h5lmt, "w") as h5:
        h5.create_dataset("FSStepsGroup/FSStepsDataSet", data=numpy.arange(10))
        h5.create_dataset("OSTReadGroup/OSTBulkReadDataSet", data=numpy.zeros((2, 10)))
    with pytest.raises(ArchiveFileError) as refused:
        check_output(str(h5lmt), 5, tool="archive_lmtdb")
    assert str(refused.value) == (
        f"archive_lmtdb: {h5lmt}: not a TOKIO Time Series file (H5LMT or another layout): "
        "choose another output"
    )

    odd = tmp_path / "odd.hdf5"
    tts_file(odd)
    with h5py.File(odd, "a") as h5:
        del h5["datatargets/readbytes"]
        h5.create_dataset("datatargets/readbytes", data=numpy.zeros((3, 1)))
    with pytest.raises(ArchiveFileError) as refused:
        check_output(str(odd), 60, ["datatargets/readbytes"], tool="archive")
    assert str(refused.value) == (
        f"archive: {odd}: /datatargets/readbytes has 3 rows for 1440 time stamps: "
        "choose another output"
    )


def test_half_made_files_are_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    empty = tmp_path / "empty.hdf5"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.hdf5"
    tts_file(truncated)
    truncated.write_bytes(truncated.read_bytes()[:2048])
    blank = tmp_path / "blank.hdf5"
    h5py.File(blank, "w").close()
    with caplog.at_level(logging.WARNING, logger="atokio"):
        for path in (empty, truncated, blank):
            assert check_output(str(path), 60, tool="archive_x") is False
    assert [r.getMessage() for r in caplog.records] == [
        f"archive_x: {path} was left half-made by an interrupted run; rebuilding it"
        for path in (empty, truncated, blank)
    ]
    # the day-file path rebuilds it
    names = ["datatargets/readbytes"]

    def initialise(h5: h5py.File, start: datetime.datetime, end: datetime.datetime) -> None:
        tts.init_datasets(h5, [tts.NewDataset(names[0], ["ost0"], "bytes")], start, end, 60)

    daily.init_day_file(str(truncated), DAY, names, initialise, 60)
    assert check_output(str(truncated), 60, names) is True


def test_new_and_updated_files_keep_the_usual_modes(tmp_path: Path) -> None:
    path = tmp_path / "day.hdf5"
    mask = os.umask(0o027)
    try:
        tts_file(path)
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o640  # as open() would have made it
    path.chmod(0o604)
    tts_file(path)  # updated through a scratch copy: the mode stays
    assert path.stat().st_mode & 0o777 == 0o604


def test_a_failed_update_leaves_the_file_and_no_scratch(tmp_path: Path) -> None:
    path = tmp_path / "day.hdf5"
    tts_file(path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="disk full"):
        with safe_update(str(path)) as h5:
            h5["datatargets/readbytes"][0, 0] = 99.0
            raise RuntimeError("disk full")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["day.hdf5"]


def test_planted_symlinks_are_never_followed(tmp_path: Path) -> None:
    """Scratch files are made exclusively: a symlink where one might go is never written through."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "fol"
    folder.mkdir()
    path = folder / "2018-01-28.hdf5"
    # the fixed names of earlier releases, and a scratch name of a process that is gone
    planted = [
        folder / "2018-01-28.hdf5.writing",
        folder / "2018-01-28.hdf5.init",
        folder / ".2018-01-28.hdf5.999999999.abcdef.writing",
    ]
    for link in planted:
        link.symlink_to(victim)

    def initialise(h5: h5py.File, start: datetime.datetime, end: datetime.datetime) -> None:
        spec = tts.NewDataset("datatargets/readbytes", ["ost0"], "bytes")
        tts.init_datasets(h5, [spec], start, end, 60)

    daily.init_day_file(str(path), DAY, ["datatargets/readbytes"], initialise, 60)
    for link in planted:
        link.unlink(missing_ok=True)
        link.symlink_to(victim)
    epochs = numpy.arange(midnight(), midnight() + 600, 60)
    batch = Batch("datatargets/readbytes", epochs, ["ost0"] * 10, numpy.full(10, 2.0))
    write_batches(str(folder / "%Y-%m-%d.hdf5"), 60, [batch])

    assert victim.read_text() == "precious\n"
    assert path.is_file() and not path.is_symlink()
    assert sorted(os.listdir(folder)) == ["2018-01-28.hdf5"]  # links removed, never followed
    with h5py.File(path, "r") as h5:
        assert h5["datatargets/readbytes"][:10, 0].tolist() == [2.0] * 10
