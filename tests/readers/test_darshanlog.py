"""The direct Darshan log reader (libdarshan-util through the ``darshan`` package)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from corpus import DARSHAN, REAL_LOGS, darshan_text, need_corpus

from atokio.collectors.darshanlog import DarshanLogError, read_darshan_arrays, read_darshan_log
from atokio.parsers.base import parse_all
from atokio.parsers.darshan import DarshanParser, build_darshan_dict
from atokio.parsers.darshan_records import BaseRecord
from atokio.tools.darshan_summary import (
    END_TIMESTAMPS,
    INT_COUNTERS,
    START_TIMESTAMPS,
    summarize_arrays,
    summarize_records,
)

EXAMPLE_LOGS = Path(
    __import__("darshan.examples.example_logs").examples.example_logs.__file__
).parent


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """The corpus text was made with TZ=UTC (the *_asci header lines are local time)."""
    need_corpus()
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("log", REAL_LOGS)
@pytest.mark.parametrize("mode", ["base", "total", "perf"])
def test_same_records_as_darshan_parser_3_5(utc: None, log: str, mode: str) -> None:
    direct = read_darshan_log(DARSHAN / f"{log}.darshan", modes=(mode,))
    text = parse_all(DarshanParser(), darshan_text(log, mode))
    assert direct == text


def test_all_modes_give_the_merged_dict(utc: None) -> None:
    direct = build_darshan_dict(
        read_darshan_log(DARSHAN / "sample-2.darshan", modes=("base", "total", "perf"))
    )
    expected: dict = {}
    for mode in ("base", "total", "perf"):
        build_darshan_dict(
            parse_all(DarshanParser(), darshan_text("sample-2", mode)), into=expected
        )
    assert direct == expected


def test_filters(utc: None) -> None:
    records = read_darshan_log(
        DARSHAN / "sample.darshan", modules=["lustre"], counters=["COMP1_OST_ID_0", "NUM_STRIPES"]
    )
    base = [r for r in records if isinstance(r, BaseRecord)]
    assert [(r.module, r.rank, r.counters) for r in base] == [
        ("lustre", "-1", {"NUM_STRIPES": 24, "COMP1_OST_ID_0": 7})
    ]


def test_package_example_log_without_the_corpus() -> None:
    records = read_darshan_log(EXAMPLE_LOGS / "example.darshan", modes=("base", "perf"))
    result = build_darshan_dict(records)
    assert result["header"]["jobid"] == "4478544"
    assert result["header"]["nprocs"] == 2048
    assert result["header"]["walltime"] == 117
    assert result["header"]["metadata"] == [
        "lib_ver = 3.1.3",
        "h = romio_no_indep_rw=true;cb_nodes=4",
    ]
    vpic = "/scratch2/scratchdirs/glock/tokioabc-s.4478544/vpicio/vpicio.hdf5"
    assert result["counters"]["posix"][vpic]["-1"]["OPENS"] == 2049
    assert result["counters"]["posix"][vpic]["-1"]["BYTES_WRITTEN"] == 2199023259968
    assert result["counters"]["posix"]["_perf"]["agg_perf_by_slowest"] == 24535.281934
    assert result["counters"]["lustre"][vpic]["-1"]["COMP1_STRIPE_PATTERN"] == "N/A"
    assert result["mounts"]["/scratch2"] == "lustre"


def test_newer_log_formats_of_the_package() -> None:
    result = build_darshan_dict(read_darshan_log(EXAMPLE_LOGS / "ior_hdf5_example.darshan"))
    assert result["header"]["version"] == "3.21"
    assert {"posix", "mpiio", "h5f", "h5d", "stdio"} <= set(result["counters"])


def test_bad_files_are_refused_before_the_c_library(tmp_path: Path) -> None:
    empty = tmp_path / "empty.darshan"
    empty.write_bytes(b"")
    text = tmp_path / "text.darshan"
    text.write_text(
        "this is not a darshan log at all, but it is long enough to have a header\n" * 10
    )
    truncated = tmp_path / "truncated.darshan"
    truncated.write_bytes((EXAMPLE_LOGS / "example.darshan").read_bytes()[:5000])
    badmagic = tmp_path / "magic.darshan"
    data = bytearray((EXAMPLE_LOGS / "example.darshan").read_bytes())
    data[8:16] = b"\0" * 8
    badmagic.write_bytes(bytes(data))
    with pytest.raises(DarshanLogError, match=f"^{empty}: invalid log file: empty file$"):
        read_darshan_log(empty)
    with pytest.raises(DarshanLogError, match="not a Darshan log"):
        read_darshan_log(text)
    with pytest.raises(
        DarshanLogError, match=r"truncated log: a region ends at byte 7811, the file has 5000"
    ):
        read_darshan_log(truncated)
    with pytest.raises(DarshanLogError, match="bad magic number"):
        read_darshan_log(badmagic)
    with pytest.raises(DarshanLogError, match="cannot open"):
        read_darshan_log(tmp_path / "missing.darshan")
    assert os.path.exists(truncated)  # never handed to (and never unlinked by) the C library


@pytest.mark.parametrize("log", REAL_LOGS)
def test_arrays_give_the_same_summaries_as_records(log: str) -> None:
    need_corpus()
    path = str(DARSHAN / f"{log}.darshan")
    header, mounts, modules = read_darshan_arrays(
        path, INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
    )
    rules: list = []
    assert summarize_arrays(header, mounts, modules, path, rules) == summarize_records(
        read_darshan_log(path), path, rules
    )
