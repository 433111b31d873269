"""Line-aligned byte ranges of a file, parsed on every core and consumed in order."""

from __future__ import annotations

import gzip
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest

from atokio.collectors.files import aconsume_file_ranges, line_ranges, parse_range, read_range
from atokio.parsers.hpss import FtpLogParser


def numbered(path: str, start: int, stop: int) -> list[int]:
    """The numbers on the lines of ``[start, stop)`` (a top-level function: sent to workers)."""
    data = b"".join(read_range(path, start, stop))
    if b"bad" in data:
        raise ValueError(f"{path}: a bad line in [{start}, {stop})")
    return [int(line) for line in data.split(b"\n") if line]


def collect(
    path: Path, piece: int, workers: int | None, **options: Any
) -> list[tuple[int, list[int]]]:
    got: list[tuple[int, list[int]]] = []
    anyio.run(
        lambda: aconsume_file_ranges(
            path,
            numbered,
            lambda start, part: got.append((start, part)),
            piece=piece,
            workers=workers,
            **options,
        )
    )
    return got


@pytest.mark.parametrize("piece", [1, 7, 100, 4096])
def test_ranges_tile_the_file_and_end_after_line_breaks(tmp_path: Path, piece: int) -> None:
    path = tmp_path / "lines.txt"
    data = b"".join(b"%d\n" % k for k in range(1000)) + b"1000"  # no final line break
    path.write_bytes(data)
    ranges = line_ranges(path, len(data), piece)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(data[stop - 1 : stop] == b"\n" for _, stop in ranges[:-1])


def test_results_come_in_file_order_from_the_workers(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(b"%d\n" % k for k in range(20000)))
    got = collect(path, 4096, 2)
    assert len(got) > 20
    assert [start for start, _ in got] == sorted(start for start, _ in got)
    assert [n for _, part in got for n in part] == list(range(20000))


def test_a_gzip_file_is_one_call_over_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt.gz"
    path.write_bytes(gzip.compress(b"".join(b"%d\n" % k for k in range(5000))))
    assert collect(path, 100, 2) == [(0, list(range(5000)))]


def test_an_error_in_a_range_is_raised_after_the_ranges_before_it(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    lines = [b"%d\n" % k for k in range(20000)]
    lines[15000] = b"bad\n"
    path.write_bytes(b"".join(lines))
    got: list[tuple[int, list[int]]] = []
    with pytest.raises(ValueError, match="a bad line in"):
        anyio.run(
            lambda: aconsume_file_ranges(
                path, numbered, lambda start, part: got.append((start, part)), piece=4096
            )
        )
    seen = [n for _, part in got for n in part]
    assert seen == list(range(len(seen))) and 10000 < len(seen) < 15000


def test_ranges_computed_here_until_the_pool_is_ready_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(b"%d\n" % k for k in range(20000)))
    assert collect(path, 4096, None, here_until_ready=True) == collect(path, 4096, 2)


def test_an_error_raised_by_consume_ends_the_reading_as_itself(tmp_path: Path) -> None:
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(b"%d\n" % k for k in range(20000)))
    got: list[int] = []

    def consume(start: int, part: list[int]) -> None:
        got.append(start)
        if len(got) == 3:
            raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        anyio.run(lambda: aconsume_file_ranges(path, numbered, consume, piece=4096))
    assert len(got) == 3


def test_parse_range_gives_records_parser_and_error(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    good = b"Mon Dec 31 00:06:48 2018 0.430 h 0 /p b o RETR_Cmd r ftp u\n"
    path.write_bytes(good * 3 + b"Mon Dec 31 00:06:48 2018 x h 0 /p b o RETR_Cmd r ftp u\n" + good)
    make = partial(FtpLogParser, "log")
    records, parser, error = parse_range(path, 0, 3 * len(good), make)
    assert len(records) == 3 and error is None and parser.line_number == 3
    records, parser, error = parse_range(path, 0, -1, make)  # -1: the whole file
    assert len(records) == 3 and error is not None and error.line_number == 4
    records, parser, error = parse_range(path, len(good), path.stat().st_size, make)
    assert len(records) == 2
    assert error is not None and error.line_number == 3 and error.source == "log"
