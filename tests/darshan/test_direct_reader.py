"""The direct reader (libdarshan-util through the darshan package) against darshan-parser 3.5.0 text."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from corpus import SAMPLE_HEADER
from darshan_corpus import EMPTY_LOGS, REAL_LOGS, corpus_log, darshan_text, package_logs

from atokio.collectors.darshanlog import (
    DarshanLogError,
    direct_reader_available,
    iter_darshan_log,
    read_darshan_log,
)
from atokio.parsers.base import parse_all
from atokio.parsers.darshan import DarshanParser, build_darshan_dict
from atokio.parsers.darshan_records import BaseRecord, Header, Module, Mount, Perf, Total

MODES = ("base", "total", "perf")


def text_records(log: str, mode: str, **filters: Any) -> list:
    parser = DarshanParser(source=f"{log}.{mode}.txt", **filters)
    return parse_all(parser, darshan_text(log, mode))


def test_the_library_loads_without_pandas() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from atokio.collectors.darshanlog import direct_reader_available;"
        "assert direct_reader_available(); print(sorted(m for m in ('pandas', 'darshan') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert direct_reader_available()


# -- the corpus: every real log, every mode, the whole dict -------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("log", REAL_LOGS)
def test_same_dict_as_darshan_parser_3_5(utc: None, log: str, mode: str) -> None:
    direct = read_darshan_log(corpus_log(log), modes=(mode,))
    text = text_records(log, mode)
    assert build_darshan_dict(direct) == build_darshan_dict(text)
    assert direct == text  # the same records in the same order, too


def test_all_modes_at_once_give_the_merged_dict(utc: None) -> None:
    direct = build_darshan_dict(read_darshan_log(corpus_log("sample-2"), modes=MODES))
    merged: dict = {}
    for mode in MODES:
        build_darshan_dict(text_records("sample-2", mode), into=merged)
    assert direct == merged
    assert sorted(direct["counters"]) == ["lustre", "mpiio", "posix", "stdio"]
    assert set(direct["counters"]["posix"]) >= {"_total", "_perf"}
    assert "_total" not in direct["counters"]["lustre"]


def test_values_as_darshan_parser_3_5_prints_them(utc: None) -> None:
    result = build_darshan_dict(read_darshan_log(corpus_log("sample"), modes=MODES))
    header = result["header"]
    assert header == SAMPLE_HEADER
    assert result["mounts"]["/"] == "dvs"  # listed twice (rootfs, dvs): the last one wins
    vpic = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"
    posix = result["counters"]["posix"][vpic]["-1"]
    assert (posix["OPENS"], posix["FILENOS"], posix["F_READ_START_TIMESTAMP"]) == (2049, -1, 0.0)
    assert type(posix["F_READ_START_TIMESTAMP"]) is float and type(posix["OPENS"]) is int
    lustre = result["counters"]["lustre"][vpic]["-1"]
    assert {k: lustre[k] for k in list(lustre)[:11]} == {
        "NUM_COMPONENTS": 1,
        "NUM_STRIPES": 24,
        "COMP1_STRIPE_SIZE": 1048576,
        "COMP1_STRIPE_COUNT": 24,
        "COMP1_STRIPE_PATTERN": "N/A",
        "COMP1_FLAGS": "N/A",
        "COMP1_EXT_START": 0,
        "COMP1_EXT_END": -1,
        "COMP1_MIRROR_ID": -1,
        "COMP1_POOL_NAME": "N/A",
        "COMP1_OST_ID_0": 7,
    }
    assert result["counters"]["posix"]["_perf"] == {
        "total_bytes": 2199023259968,
        "slowest_rank_io_time_unique_files": 0.0,
        "slowest_rank_meta_only_time_unique_files": 0.0,
        "slowest_rank_rw_only_time_unique_files": 0.0,
        "slowest_rank_unique_files": 0,
        "time_by_slowest_shared_files": 85.47495,
        "agg_perf_by_slowest": 24535.281934,
    }
    assert result["counters"]["stdio"]["_total"]["FDOPENS"] == -129  # a sum of -1s
    assert sorted(result["counters"]["stdio"]["<STDERR>"], key=int)[:3] == ["0", "16", "32"]


def test_header_times_are_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        header = build_darshan_dict(read_darshan_log(corpus_log("sample"), modes=()))["header"]
    finally:
        monkeypatch.undo()
        time.tzset()
    assert header["start_time_string"] == "Mon Mar 20 02:07:47 2017"
    assert header["end_time_string"] == "Mon Mar 20 02:09:43 2017"


def test_filters_match_the_text_parser(utc: None) -> None:
    filters: dict[str, Any] = {
        "modules": ["posix", "lustre"],
        "counters": ["OPENS", "COMP1_OST_ID_0", "NUM_STRIPES"],
    }
    for mode in MODES:
        direct = read_darshan_log(corpus_log("sample"), modes=(mode,), **filters)
        assert direct == text_records("sample", mode, **filters)
    base = [
        r for r in read_darshan_log(corpus_log("sample"), **filters) if isinstance(r, BaseRecord)
    ]
    assert [(r.module, r.rank, r.counters) for r in base] == [
        ("posix", "-1", {"OPENS": 2049}),
        ("lustre", "-1", {"NUM_STRIPES": 24, "COMP1_OST_ID_0": 7}),
    ]


def test_iterating_gives_the_same_records(utc: None) -> None:
    path = corpus_log("noposix")
    assert list(iter_darshan_log(path, modes=MODES)) == read_darshan_log(path, modes=MODES)
    kinds = [type(r).__name__ for r in iter_darshan_log(path, modes=("total",))]
    assert kinds[:13] == ["Header"] * 13
    assert "BaseRecord" not in kinds and kinds.count("Module") == 1  # LUSTRE is --base only


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown Darshan modes"):
        read_darshan_log(corpus_log("sample"), modes=("all",))


# -- bad files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", EMPTY_LOGS)
def test_the_empty_corpus_logs(name: str) -> None:
    path = corpus_log(name)
    with pytest.raises(DarshanLogError) as caught:
        read_darshan_log(path)
    assert str(caught.value) == f"{path}: invalid log file: empty file"


def test_bad_files_raise_an_error_naming_the_file(tmp_path: Path) -> None:
    log = package_logs()["sample"].read_bytes()
    empty = tmp_path / "empty.darshan"
    empty.write_bytes(b"")
    text = tmp_path / "notes.darshan"
    text.write_text("these are notes about Darshan logs, not a log\n" * 20)
    short = tmp_path / "short.darshan"
    short.write_bytes(log[:100])
    magic = tmp_path / "magic.darshan"
    magic.write_bytes(log[:8] + b"\0" * 8 + log[16:])
    cases = [
        (empty, "invalid log file: empty file"),
        (text, "invalid log file: not a Darshan log (no version in its header)"),
        (short, "invalid log file: not a Darshan log (no version in its header)"),
        (magic, "invalid log file: bad magic number"),
        (tmp_path / "missing.darshan", "cannot open: No such file or directory"),
        (tmp_path, "cannot open: Is a directory"),
    ]
    for path, message in cases:
        with pytest.raises(DarshanLogError) as caught:
            read_darshan_log(path)
        assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize("cut", [400, 1000, 5000, 11000, 11471])
def test_truncated_logs_never_reach_the_library(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "cut.darshan"
    path.write_bytes(package_logs()["sample"].read_bytes()[:cut])
    with pytest.raises(DarshanLogError, match=f"^{path}: truncated log: a region ends at byte "):
        read_darshan_log(path)
    assert path.stat().st_size == cut  # the C library never saw (nor removed) it


def corrupt_sample(tmp_path: Path, start: int) -> Path:
    """A copy of sample.darshan with the 40 bytes from ``start`` garbled."""
    data = bytearray(package_logs()["sample"].read_bytes())
    for i in range(start, start + 40):
        data[i] ^= 0x5A
    path = tmp_path / "corrupt.darshan"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("start", [720, 3000, 7000])
def test_a_corrupt_name_table_never_reaches_the_library(tmp_path: Path, start: int) -> None:
    # sample.darshan: the name table is bytes 708-7810 (the C library crashes on it corrupt)
    path = corrupt_sample(tmp_path, start)
    with pytest.raises(DarshanLogError) as caught:
        read_darshan_log(path)
    assert str(caught.value).startswith(
        f"{path}: corrupt log: the name table region does not decompress (Error -3 "
    )


@pytest.mark.parametrize("start", [7820, 8000, 8300])
def test_corrupt_module_data_is_an_error(tmp_path: Path, start: int) -> None:
    # POSIX data at bytes 7811-7996, MPI-IO 7997-8150, LUSTRE 8151-8237, STDIO 8238-11471:
    # libdarshan-util fails to read a module (not always the corrupt one)
    path = corrupt_sample(tmp_path, start)
    with pytest.raises(DarshanLogError) as caught:
        read_darshan_log(path, modes=MODES)
    assert re.fullmatch(
        rf"{re.escape(str(path))}: corrupt log: cannot read its (POSIX|MPI-IO|LUSTRE|STDIO) records",
        str(caught.value),
    )


# -- without the corpus: the darshan package's own logs ----------------------------------


def test_package_copy_of_sample_without_the_corpus(utc: None) -> None:
    result = build_darshan_dict(read_darshan_log(package_logs()["sample"], modes=MODES))
    assert result["header"]["jobid"] == "4478544"
    assert result["header"]["start_time_string"] == "Mon Mar 20 09:07:47 2017"
    assert (result["header"]["nprocs"], result["header"]["walltime"]) == (2048, 117)
    assert len(result["mounts"]) == 21 and result["mounts"]["/scratch2"] == "lustre"
    vpic = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"
    posix = result["counters"]["posix"]
    assert posix[vpic]["-1"]["BYTES_WRITTEN"] == 2199023259968
    assert posix[vpic]["-1"]["F_OPEN_START_TIMESTAMP"] == 3.919141
    assert posix["_total"]["OPENS"] == 2049
    assert posix["_perf"]["agg_perf_by_slowest"] == 24535.281934
    assert result["counters"]["lustre"][vpic]["-1"]["COMP1_POOL_NAME"] == "N/A"
    assert len(result["counters"]["stdio"]["<STDERR>"]) == 128


def test_package_copy_of_noposixopens_without_the_corpus() -> None:
    records = read_darshan_log(package_logs()["noposixopens"], modes=MODES)
    # values as in the corpus's noposixopens.{total,perf}.txt (darshan-parser 3.5.0)
    assert [r.name for r in records if isinstance(r, Module)] == ["posix", "stdio"]
    totals = {(r.module, r.counter): r.value for r in records if isinstance(r, Total)}
    assert (totals["posix", "OPENS"], totals["posix", "BYTES_READ"]) == (0, 0)
    assert (totals["stdio", "OPENS"], totals["stdio", "WRITES"]) == (3067, 227504)
    perf = {(r.module, r.key): r.value for r in records if isinstance(r, Perf)}
    assert (perf["posix", "total_bytes"], perf["stdio", "total_bytes"]) == (0, 608096825)
    header = {r.key: r.value for r in records if isinstance(r, Header)}
    assert (header["exe"], header["uid"], header["walltime"]) == (["1116507695"], 3270839460, 1111)
    assert sum(isinstance(r, Mount) for r in records) == 58


def test_newer_log_format_and_modules() -> None:
    logs = package_logs()
    hdf5 = build_darshan_dict(read_darshan_log(logs["ior_hdf5_example"], modes=MODES))
    assert hdf5["header"]["version"] == "3.21"
    assert sorted(hdf5["counters"]) == ["h5d", "h5f", "lustre", "mpiio", "posix", "stdio"]
    (dataset,) = (v for k, v in hdf5["counters"]["h5d"].items() if not k.startswith("_"))
    counters = next(iter(dataset.values()))
    # the id of the dataset's file record, as libdarshan-util gives it (0 in this log)
    assert counters["FILE_REC_ID"] == 0 and counters["OPENS"] == 2 and "F_READ_TIME" in counters
    dxt = build_darshan_dict(read_darshan_log(logs["dxt"]))
    assert "posix" in dxt["counters"] and not any("dxt" in m for m in dxt["counters"])


def test_memory_is_released(tmp_path: Path) -> None:
    # many opens of the same log: handles and buffers are freed (no file descriptor left open);
    # read in this process (as the isolated child and the index's workers do)
    from atokio.collectors.darshanlog import _read_log

    path = str(package_logs()["noposixopens"])
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    for _ in range(200):
        _read_log(path, MODES, None, None)
    after = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    assert after == before
