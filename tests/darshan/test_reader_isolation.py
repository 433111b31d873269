"""Issue 13, items 2 and 3: corrupt Darshan logs never take the caller down nor its memory."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest
from darshan_corpus import package_logs

from atokio.collectors.darshanfile import check_file
from atokio.collectors.darshanlog import DarshanLogError, read_darshan_arrays, read_darshan_log
from atokio.collectors.limits import format_size, parse_duration, parse_size
from atokio.collectors.workers import IsolatedCallError, call_isolated
from atokio.parsers.darshan_records import Header

MODES = ("base", "total", "perf")


def mutated(tmp_path: Path, log: str, offset: int, value: int) -> Path:
    data = bytearray(package_logs()[log].read_bytes())
    data[offset] = value
    path = tmp_path / f"{log}-{offset}.darshan"
    path.write_bytes(bytes(data))
    return path


def test_an_abort_in_libdarshan_util_is_an_error_naming_the_file(tmp_path: Path) -> None:
    # byte 2 of the version string: libdarshan-util reads the log in an older
    # format and fails an assertion (abort), which used to end the caller
    path = mutated(tmp_path, "sample", 2, ord("0"))
    for read in (
        lambda: read_darshan_log(path, modes=MODES),
        lambda: read_darshan_arrays(path, ["bytes_read"]),
    ):
        with pytest.raises(DarshanLogError) as caught:
            read()
        message = str(caught.value)
        assert message.startswith(f"{path}: corrupt log: libdarshan-util aborted: ")
        assert message.endswith(
            "darshan_log_get_filtered_namehash: Assertion `buf_len == 0' failed."
        )
    # the reader goes on with the next log
    assert read_darshan_log(package_logs()["sample"], modes=())[0].value == "3.10"


def test_a_stripe_count_the_log_cannot_hold_is_refused_before_allocation(tmp_path: Path) -> None:
    # noposix.darshan byte 15617 0x49 -> 0x59 made a Lustre record of 373,333,524 stripes
    path = mutated(tmp_path, "noposix", 15617, 0x59)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with pytest.raises(DarshanLogError) as caught:
        read_darshan_log(path, modes=("base",))
    assert str(caught.value).startswith(f"{path}: corrupt log: ")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert max(before, after) < 1 << 20  # KiB: no child ever reached 1 GiB


def test_counts_are_bounded_by_the_module_data() -> None:
    log = check_file(str(package_logs()["sample"]))
    total = log.module_data_size()
    assert total > log.size  # decompressed, more than the file
    assert log.holds(total) and not log.holds(total + 1)
    assert log.holds(log.size)  # sizes within the file need no decompression


def test_the_time_limit_ends_the_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOKIO_DARSHAN_TIME_LIMIT", "0.0001")
    path = package_logs()["sample"]
    with pytest.raises(DarshanLogError) as caught:
        read_darshan_log(path)
    assert str(caught.value) == (
        f"{path}: the Darshan reader exceeded the time limit of 0.0001 s "
        "(ATOKIO_DARSHAN_TIME_LIMIT); the log is corrupt or very large"
    )


def test_a_bad_limit_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOKIO_DARSHAN_MEMORY_LIMIT", "lots")
    with pytest.raises(ValueError) as caught:
        read_darshan_log(package_logs()["sample"])
    assert str(caught.value) == (
        "ATOKIO_DARSHAN_MEMORY_LIMIT: 'lots' is not a size: give bytes or a number with K, M, G or T"
    )


def test_the_timezone_of_the_caller_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    path = package_logs()["sample"]
    strings = []
    for zone in ("UTC", "America/Los_Angeles"):
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        header = {r.key: r.value for r in read_darshan_log(path, modes=()) if isinstance(r, Header)}
        strings.append(header["start_time_string"])
    monkeypatch.undo()
    time.tzset()
    assert strings == ["Mon Mar 20 09:07:47 2017", "Mon Mar 20 02:07:47 2017"]


# -- the isolated child itself --------------------------------------------------------


def test_an_isolated_call_gives_the_result_or_the_exception() -> None:
    assert call_isolated(sorted, [3, 1, 2]) == [1, 2, 3]
    with pytest.raises(ValueError, match="invalid literal for int"):
        call_isolated(int, "x")
    assert call_isolated(os.getpid) != os.getpid()


def test_an_abort_a_limit_and_a_stall_in_the_child() -> None:
    with pytest.raises(IsolatedCallError) as caught:
        call_isolated(os.abort)
    assert str(caught.value) == "aborted"
    with pytest.raises(IsolatedCallError) as caught:
        call_isolated(bytearray, 1 << 30, memory_limit=256 << 20)
    assert str(caught.value) == "exceeded the memory limit of 256 MiB"
    with pytest.raises(IsolatedCallError) as caught:
        call_isolated(time.sleep, 60, time_limit=0.5)
    assert str(caught.value) == "exceeded the time limit of 0.5 s"
    assert call_isolated(sum, [1, 2], time_limit=5) == 3  # a fresh child takes over


def test_sizes_and_durations() -> None:
    assert parse_size("2G") == 2 << 30 and parse_size("512MiB") == 512 << 20
    assert parse_size("100") == 100 and parse_size("0") is None and parse_size("none") is None
    assert parse_duration("2.5") == 2.5 and parse_duration("unlimited") is None
    assert format_size(2 << 30) == "2 GiB" and format_size(1536) == "1.5 KiB"
    with pytest.raises(ValueError, match=r"^x: '-3' is not a number of seconds$"):
        parse_duration("-3", "x")


def test_mutated_logs_through_the_connector_are_reported_and_the_caller_lives(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # issue 13 "done when", scaled down: mutated logs through Darshan(log).darshan_parser_base()
    import random

    from atokio.connectors.darshan import Darshan

    source = package_logs()["sample"].read_bytes()
    rng = random.Random(13)
    offsets = [2, 15, 16, 24, 40, 700, *rng.sample(range(len(source)), 34)]
    reported = 0
    for n, offset in enumerate(offsets):
        data = bytearray(source)
        data[offset] = (data[offset] + rng.randrange(1, 256)) % 256
        path = tmp_path / f"m{n}.darshan"
        path.write_bytes(bytes(data))
        caplog.clear()
        with caplog.at_level("WARNING", logger="atokio.connectors.darshan"):
            result = Darshan(str(path), reader="direct").darshan_parser_base()
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        if warnings:  # a bad log is reported, naming the file
            reported += 1
            assert all(message.startswith(f"{path}: ") for message in warnings), warnings
        else:
            assert "header" in result
    assert reported >= 5  # the version, magic and region-table mutations at least
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert children < 1 << 20  # KiB: no reader child reached 1 GiB


def test_a_relative_path_means_what_it_means_to_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here.darshan").write_bytes(package_logs()["sample"].read_bytes())
    read_darshan_log(package_logs()["sample"], modes=())  # a child exists, started elsewhere
    monkeypatch.chdir(tmp_path)
    header = {
        r.key: r.value for r in read_darshan_log("here.darshan", modes=()) if isinstance(r, Header)
    }
    assert header["jobid"] == "4478544"
    with pytest.raises(
        DarshanLogError, match=r"^gone\.darshan: cannot open: No such file or directory$"
    ):
        read_darshan_log("gone.darshan")
