"""The pure per-file-system summaries (atokio.tools.darshan_summary)."""

from __future__ import annotations

import numpy
import pytest
from darshan_corpus import REAL_LOGS, corpus_log, darshan_text, expected_index, package_logs

from atokio.collectors.darshanlog import read_darshan_arrays, read_darshan_log
from atokio.parsers.base import parse_all
from atokio.parsers.darshan import DarshanParser
from atokio.parsers.darshan_records import BaseRecord, Header, ModuleArrays, Mount
from atokio.tools.darshan_summary import (
    END_TIMESTAMPS,
    INT_COUNTERS,
    START_TIMESTAMPS,
    SUMMARY_COLUMNS,
    compile_mount_to_fsname,
    fsname_of,
    header_row,
    mount_of,
    summarize_arrays,
    summarize_records,
)

HEADER = {"exe": ["/bin/app", "-x"], "jobid": "7", "nprocs": 4, "uid": 5, "version": "3.10",
          "start_time": 10, "end_time": 20, "walltime": 11}  # fmt: skip


def posix(name: str, rank: str = "-1", **counters: float) -> BaseRecord:
    return BaseRecord("posix", rank, name, "", "", {k.upper(): v for k, v in counters.items()})


def stdio(name: str, rank: str = "-1", **counters: float) -> BaseRecord:
    return BaseRecord("stdio", rank, name, "", "", {k.upper(): v for k, v in counters.items()})


def summarize(records: list, mounts: dict[str, str], rules: dict[str, str] | None = None):
    head = [Header(k, v) for k, v in HEADER.items()]
    table = [Mount(m, t) for m, t in mounts.items()]
    return summarize_records(
        head + table + records,
        "alice_app_id7_1-2-3-4_1.darshan",
        compile_mount_to_fsname(rules),
    )


def test_longest_string_prefix_and_unknown() -> None:
    mounts = {"/": "rootfs", "/global": "gpfs", "/global/u2": "gpfs", "/scratch": "lustre"}
    summary = summarize(
        [
            posix("/global/u2/alice/a", opens=1),
            posix("/global/u2x/b", opens=2),  # a plain string prefix: /global/u2 matches
            posix("/global/other", opens=4),
            posix("/tmp/c", opens=8),
            posix("2892568225", opens=16),  # obfuscated name without '/'
            stdio("<STDOUT>", "0", opens=32),
            stdio("/scratch/d", "3", opens=64),
        ],
        mounts,
    )
    opens = {m: row["opens"] for m, row in summary.summaries.items()}
    assert opens == {"/global/u2": 3, "/global": 4, "/": 8, "UNKNOWN": 48, "/scratch": 64}
    files = {m: (row["posix_files"], row["stdio_files"]) for m, row in summary.summaries.items()}
    assert files["UNKNOWN"] == (1, 1) and files["/scratch"] == (0, 1)
    assert mount_of("/global/u2x/b", mounts) == "/global/u2"
    assert mount_of("relative/name", mounts) is None


def test_sums_min_max_keep_not_recorded_values() -> None:
    summary = summarize(
        [
            posix(
                "/s/a",
                "0",
                bytes_read=10,
                reads=1,
                f_open_start_timestamp=2.5,
                f_open_end_timestamp=3.0,
                f_close_start_timestamp=-1.0,
                f_read_end_timestamp=0.0,
            ),
            posix(
                "/s/a",
                "1",
                bytes_read=5,
                reads=2,
                f_open_start_timestamp=1.25,
                f_open_end_timestamp=9.0,
                f_close_start_timestamp=4.0,
                f_read_end_timestamp=0.0,
            ),
            stdio(
                "/s/b",
                "0",
                bytes_written=7,
                writes=1,
                flushes=3,
                f_open_start_timestamp=0.0,
                f_write_end_timestamp=12.0,
            ),
        ],  # fmt: skip
        {"/s": "lustre"},
    )
    (row,) = summary.summaries.values()
    assert row["bytes_read"] == 15 and row["bytes_written"] == 7 and row["flushes"] == 3
    assert (row["posix_files"], row["stdio_files"]) == (2, 1)
    assert row["f_open_start_timestamp"] == 0.0  # 0.0 ("not recorded") is kept as the minimum
    assert row["f_close_start_timestamp"] == -1.0  # so is -1
    assert row["f_open_end_timestamp"] == 9.0 and row["f_write_end_timestamp"] == 12.0
    assert row["f_read_end_timestamp"] == 0.0
    assert row["f_close_end_timestamp"] is None  # no record has it: NULL
    assert list(row) == list(SUMMARY_COLUMNS)


def test_inactive_mounts_are_dropped() -> None:
    summary = summarize(
        [posix("/a/x", seeks=5, mmaps=1), posix("/b/y", stats=1), stdio("<STDERR>", "0")],
        {"/a": "nfs", "/b": "nfs"},
    )
    assert list(summary.summaries) == ["/b"]
    assert summary.mounts == {"/b": "/b"}
    idle = summarize([stdio("<STDERR>", "0")], {"/a": "nfs"})
    assert (idle.summaries, idle.reason) == ({}, "no POSIX or STDIO activity")
    no_table = summarize([posix("/a/x", opens=1)], {})
    assert (no_table.summaries, no_table.mounts, no_table.reason) == ({}, {}, "no mount table")
    assert summary.reason is None


def test_fsname_rules_anchored_last_match_wins() -> None:
    rules = compile_mount_to_fsname(
        {"^/global/project": "project2", "^/global/projectb": "projectb", "cscratch1": "cscratch"}
    )
    assert fsname_of("/global/projectb", rules) == "projectb"
    assert fsname_of("/global/project", rules) == "project2"
    assert fsname_of("/global/cscratch1", rules) == "/global/cscratch1"  # matched at the start only
    summary = summarize([posix("/global/projectb/f", opens=1)], {"/global/projectb": "dvs"},
                        {"^/global/project": "project2", "^/global/projectb": "projectb"})  # fmt: skip
    assert summary.mounts == {"/global/projectb": "projectb"}


def test_header_row() -> None:
    assert header_row(HEADER, "/logs/2019/1/2/alice_my_app_id7_1-2-3-4_1.darshan") == {
        "filename": "alice_my_app_id7_1-2-3-4_1.darshan",
        "end_time": 20,
        "exe": "/bin/app",
        "exename": "app",
        "jobid": "7",
        "nprocs": 4,
        "start_time": 10,
        "uid": 5,
        "username": "alice",
        "version": "3.10",
        "walltime": 11,
    }
    assert header_row({"exe": ["160345792"]}, "noposix.darshan")["username"] is None
    assert header_row({}, "x.darshan")["exe"] == ""


def test_timestamps_are_rounded_as_darshan_parser_prints_them() -> None:
    arrays = ModuleArrays("posix", ["/s/a", "/s/a"])
    arrays.counters["opens"] = numpy.array([1, 1])
    arrays.timestamps["f_open_start_timestamp"] = numpy.array([3.9191410541534424, 5.0])
    arrays.timestamps["f_open_end_timestamp"] = numpy.array([0.1234565, 2.0000004])
    summary = summarize_arrays(HEADER, {"/s": "lustre"}, [arrays], "x.darshan", [])
    row = summary.summaries["/s"]
    assert row["f_open_start_timestamp"] == 3.919141
    assert row["f_open_end_timestamp"] == 2.0


@pytest.mark.parametrize("log", REAL_LOGS)
def test_both_paths_give_the_rows_worked_out_from_the_text(log: str) -> None:
    path = str(corpus_log(log))
    columns = INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
    from_arrays = summarize_arrays(*read_darshan_arrays(path, columns), path, [])
    from_direct_records = summarize_records(read_darshan_log(path), path, [])
    from_text = summarize_records(parse_all(DarshanParser(), darshan_text(log, "base")), path, [])
    expected = expected_index(log)
    assert from_arrays.summaries == expected["rows"]
    assert from_direct_records == from_arrays
    assert from_text == from_arrays
    assert {k: v for k, v in from_arrays.headers.items() if k != "username"} == expected["header"]


def test_package_log_without_the_corpus() -> None:
    path = str(package_logs()["sample-goodost"])
    columns = INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
    summary = summarize_arrays(*read_darshan_arrays(path, columns), path, [])
    # as worked out from the corpus's sample-goodost.base.txt (darshan-parser 3.5.0)
    assert summary.summaries["/scratch1"] == {
        "bytes_read": 0, "bytes_written": 51539607552, "reads": 0, "writes": 6144,
        "file_not_aligned": 0, "consec_reads": 0, "consec_writes": 6096, "mmaps": 0, "opens": 48,
        "seeks": 6144, "stats": 48, "fdsyncs": 0, "fsyncs": 48, "flushes": 0, "seq_reads": 0,
        "seq_writes": 6096, "rw_switches": 0, "posix_files": 48, "stdio_files": 0,
        "f_open_start_timestamp": 0.206536, "f_read_start_timestamp": 0.0,
        "f_write_start_timestamp": 0.215085, "f_close_start_timestamp": 2.29061,
        "f_open_end_timestamp": 0.232533, "f_read_end_timestamp": 0.0,
        "f_write_end_timestamp": 3.918732, "f_close_end_timestamp": 3.993687,
    }  # fmt: skip
    assert summary.summaries["UNKNOWN"]["stdio_files"] == 2
    assert summary.summaries["UNKNOWN"]["bytes_written"] == 1584
