"""The shared output helpers (whole files or nothing) and the one-line failure messages."""

from __future__ import annotations

import errno
import gzip
import json
import os
import sqlite3
from pathlib import Path

import h5py
import pytest

from atokio.cli._common import InputFailed, describe_error, reading, write_csv, write_json
from atokio.common import atomic_output, atomic_path


def test_atomic_output_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="midway"), atomic_output(str(target)) as out:
        out.write("new, but cut short")
        raise RuntimeError("midway")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.json"]
    with atomic_output(str(target)) as out:
        out.write("new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_output_gzip_binary_and_keep(tmp_path: Path) -> None:
    packed = tmp_path / "out.json.gz"
    with atomic_output(str(packed)) as out:
        out.write('{"a": 1}')
    assert gzip.decompress(packed.read_bytes()) == b'{"a": 1}'
    raw = tmp_path / "out.bin"
    with atomic_output(str(raw), "wb") as out:
        out.write(b"\x00\x01")
    assert raw.read_bytes() == b"\x00\x01"
    with pytest.raises(FileExistsError), atomic_output(str(raw), "wb", replace=False) as out:
        out.write(b"other")
    assert raw.read_bytes() == b"\x00\x01"
    assert sorted(os.listdir(tmp_path)) == ["out.bin", "out.json.gz"]


def test_outputs_never_create_folders_nor_follow_symlinks(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as missing, atomic_output(str(tmp_path / "no" / "x")):
        pass
    assert (missing.value.strerror, missing.value.filename) == (
        "output folder does not exist",
        str(tmp_path / "no"),
    )
    assert not (tmp_path / "no").exists()
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    (tmp_path / "link").symlink_to(victim)
    with atomic_output(str(tmp_path / "link")) as out:
        out.write("written")
    assert victim.read_text() == "untouched"
    assert not (tmp_path / "link").is_symlink()
    assert (tmp_path / "link").read_text() == "written"


def test_atomic_path_copies_and_keeps_on_failure(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with atomic_path(str(db)) as scratch, sqlite3.connect(scratch) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
    with (
        pytest.raises(ValueError, match="half"),
        atomic_path(str(db), copy_existing=True) as scratch,
    ):
        with sqlite3.connect(scratch) as connection:
            connection.execute("INSERT INTO t VALUES (2)")
        raise ValueError("half done")
    with (
        atomic_path(str(db), copy_existing=True) as scratch,
        sqlite3.connect(scratch) as connection,
    ):
        connection.execute("INSERT INTO t VALUES (3)")
    rows = sqlite3.connect(db).execute("SELECT x FROM t ORDER BY x").fetchall()
    assert rows == [(1,), (3,)]
    assert os.listdir(tmp_path) == ["cache.sqlite"]


def test_write_json_and_csv_to_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pandas

    target = tmp_path / "o.json"
    write_json({"b": 1, "a": [1]}, str(target), announce=True)
    assert capsys.readouterr().out == f"Caching to {target}\n"
    assert target.read_text() == '{"b": 1, "a": [1]}'
    with pytest.raises(FileExistsError):
        write_json({}, str(target), replace=False)
    assert json.loads(target.read_text()) == {"b": 1, "a": [1]}
    frame = pandas.DataFrame({"x": [1, 2]})
    write_csv(frame, str(tmp_path / "o.csv"))
    assert (tmp_path / "o.csv").read_text() == ",x\n0,1\n1,2\n"


def test_messages(tmp_path: Path) -> None:
    garbage = tmp_path / "g.hdf5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(OSError) as hdf5:
        h5py.File(garbage, "r")
    assert describe_error(hdf5.value) == (
        "not a readable HDF5 file: check that it is an HDF5 file and not damaged"
    )
    with pytest.raises(OSError) as missing:
        h5py.File(tmp_path / "none.hdf5", "r")
    assert (
        describe_error(missing.value) == f"no such file: {tmp_path / 'none.hdf5'}: check the path"
    )
    group = ExceptionGroup(
        "unhandled errors in a TaskGroup", [ConnectionRefusedError(111, "refused")]
    )
    assert describe_error(group) == (
        "connection failed: [Errno 111] refused: check the host and port, and that the server is "
        "running"
    )
    assert describe_error(FileNotFoundError("sacct: command not found")) == (
        "sacct: command not found: install it, put it on PATH, or give a saved file instead"
    )
    assert describe_error(PermissionError(errno.EACCES, "Permission denied", "/x")) == (
        "permission denied: /x: check its permissions"
    )
    assert describe_error(RuntimeError("No databases available to query")) == (
        "database unavailable: No databases available to query: check the host, credentials and "
        "that it is running"
    )
    assert describe_error(KeyError("file system 'x' is not configured")) == (
        "file system 'x' is not configured"
    )
    assert describe_error(RuntimeError("no provider (slurm: JobNotFound: none)")) == (
        "no provider (slurm: none)"
    )
    assert describe_error(MemoryError()) == (
        "out of memory: the input is too large or damaged: check it, or raise the memory limit"
    )


def test_reading_names_the_input(tmp_path: Path) -> None:
    with pytest.raises(InputFailed) as failed, reading("dump.json", "JSON cache"):
        json.loads("{")
    assert str(failed.value) == (
        "cannot read dump.json: not valid JSON (Expecting property name enclosed in double "
        "quotes at line 1): check that it is a valid JSON cache"
    )
    with pytest.raises(ValueError, match="^no rows$"), reading("x"):
        raise ValueError("no rows")  # not a decoding failure: passed through
