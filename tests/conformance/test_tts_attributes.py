"""TTS files atokio writes carry the attributes of pytokio's files, with the same Python types."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import h5py
import numpy
from corpus import INPUTS, need_corpus
from fixtures_common import pacific_time

from atokio.cli import archive_collectdes, archive_lmtdb

__all__ = ["pacific_time"]  # autouse: the corpus was made in that zone


def attributes(path: Path | str) -> dict[str, dict[str, Any]]:
    """``{object name: {attribute: value}}`` of a file, without the ``updated`` time stamps."""
    found: dict[str, dict[str, Any]] = {}
    with h5py.File(path, "r") as h5:
        found["/"] = dict(h5.attrs)
        h5.visititems(
            lambda name, obj: found.__setitem__(
                name, {k: v for k, v in obj.attrs.items() if k != "updated"}
            )
        )
    return found


def same(mine: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> None:
    """The same attributes with the same Python types; equal values except where pytokio erred.

    pytokio's files hold ``version = 'None'`` on most datasets and ``units =
    'bytes/sec'`` on LMT byte counts (``str()`` of a missing value and a wrong
    label); atokio writes ``'1'`` and ``'bytes'`` there, so those two are
    compared by type only.
    """
    assert set(mine) == set(theirs)
    for name, attrs in theirs.items():
        assert set(mine[name]) == set(attrs), name
        for key, value in attrs.items():
            got = mine[name][key]
            assert type(got) is type(value), (name, key, got, value)
            if isinstance(value, numpy.ndarray):
                assert got.dtype.kind == value.dtype.kind and got.tolist() == value.tolist()
            elif key not in ("version", "units") or name == "/":
                assert got == value, (name, key)


def run(main: Any, argv: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        main(argv)


def test_archive_lmtdb_attributes_equal_pytokio_file(tmp_path: Path) -> None:
    need_corpus()
    out = tmp_path / "out.hdf5"
    run(
        archive_lmtdb.main,
        ["-i", str(INPUTS / "snx11025_2018-01-28.sqlite3"), "-o", str(out),
         "2018-01-28T00:00:00", "2018-01-28T00:05:00"],
    )  # fmt: skip
    theirs = attributes(INPUTS / "snx11025_2018-01-28.hdf5")
    same(attributes(out), theirs)
    mine = attributes(out)
    assert mine["datatargets/readbytes"]["units"] == "bytes"
    assert mine["datatargets/readbytes"]["version"] == "1"
    assert mine["datatargets"]["source"] == "lmt"


def test_archive_collectdes_attributes_equal_pytokio_file(tmp_path: Path) -> None:
    need_corpus()
    out = tmp_path / "out.hdf5"
    run(
        archive_collectdes.main,
        ["--input", str(INPUTS / "sample_collectdes-full.json.gz"), "--num-nodes", "16",
         "--ssds-per-node", "4", "-o", str(out), "2017-12-13T00:00:00", "2017-12-13T01:00:00"],
    )  # fmt: skip
    mine = attributes(out)
    theirs = attributes(INPUTS / "sample_tokiots.hdf5")
    same({name: mine[name] for name in theirs}, theirs)  # pytokio's sample kept only these
    assert mine["datatargets/readrates"]["units"] == "bytes/sec"
    assert mine["datatargets/readrates"]["version"] == "1"
