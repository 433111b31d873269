"""A Darshan object read again in the same mode gives the same dict (pytokio overwrote, never raised)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
from corpus import DARSHAN, darshan_text, need_corpus

from atokio.collectors.darshanlog import direct_reader_available
from atokio.connectors.darshan import Darshan

FILE = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"


def test_loading_a_cache_twice_keeps_the_same_dict(tmp_path: Path) -> None:
    need_corpus()
    cache = tmp_path / "sample.base.txt"
    cache.write_bytes(darshan_text("sample", "base"))
    darshan = Darshan(cache_file=str(cache))
    first = copy.deepcopy(dict(darshan))
    assert first["counters"]["posix"][FILE]["-1"]["BYTES_WRITTEN"] == 2199023259968
    darshan.load()
    darshan.load_str(cache.read_text())
    assert dict(darshan) == first


def test_a_later_pass_adds_to_and_replaces_earlier_ones(tmp_path: Path) -> None:
    need_corpus()
    darshan = Darshan(cache_file=None, from_string=darshan_text("sample", "total").decode())
    totals = copy.deepcopy(darshan["counters"]["posix"]["_total"])
    darshan.load_str(darshan_text("sample", "base").decode())
    darshan.load_str(darshan_text("sample", "total").decode())
    assert darshan["counters"]["posix"]["_total"] == totals
    assert darshan["counters"]["posix"][FILE]["-1"]["OPENS"] == 2049
    assert darshan["header"]["metadata"] == [
        "lib_ver = 3.1.3",
        "h = romio_no_indep_rw=true;cb_nodes=4",
    ]


def test_reading_a_log_twice_in_one_mode(tmp_path: Path) -> None:
    need_corpus()
    if not direct_reader_available():
        pytest.skip("libdarshan-util (the darshan package) cannot be loaded")
    log = tmp_path / "sample.darshan"
    shutil.copy(DARSHAN / "sample.darshan", log)
    darshan = Darshan(str(log), reader="direct")
    darshan.darshan_parser_base()
    once = copy.deepcopy(dict(darshan))
    darshan.darshan_parser_base()
    assert dict(darshan) == once
    darshan.darshan_parser_total()
    assert darshan["counters"]["posix"]["_total"]["OPENS"] == 2049
    assert darshan["counters"]["posix"][FILE]["-1"] == once["counters"]["posix"][FILE]["-1"]
