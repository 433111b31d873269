"""A sans-IO parser run over byte ranges of a file in worker processes: order, line numbers, errors."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import anyio
import pytest

from atokio.collectors.files import aparse_file_ranges, line_ranges
from atokio.parsers.base import LineParser, ParseError


class NumberParser(LineParser[tuple[int, int]]):
    """``(line number, value)`` of lines holding an integer (a top-level class: sent to workers)."""

    def parse_line(self, line: str) -> list[tuple[int, int]]:
        if not line:
            return []
        try:
            return [(self.line_number, int(line))]
        except ValueError:
            raise self.error("not a number", line) from None


def parse(
    path: Path, piece: int, workers: int | None = 2, boundary: bytes = b"\n"
) -> list[tuple[int, int]]:
    """``(line number in the file, value)`` of every line, through :func:`aparse_file_ranges`."""
    got: list[tuple[int, int]] = []

    def take(records: list[tuple[int, int]], lines_before: int) -> None:
        got.extend((line + lines_before, value) for line, value in records)

    anyio.run(
        lambda: aparse_file_ranges(
            path,
            functools.partial(NumberParser, str(path)),
            take,
            piece=piece,
            workers=workers,
            boundary=boundary,
        )
    )
    return got


def numbers_file(path: Path, count: int, bad: int | None = None) -> list[tuple[int, int]]:
    """Write ``count`` numbered lines (a blank line every 7th, ``bad`` not a number)."""
    lines = []
    expected = []
    for k in range(count):
        if k % 7 == 3:
            lines.append(b"")
        elif k == bad:
            lines.append(b"oops")
        else:
            lines.append(b"%d" % (k * 31))
            expected.append((k + 1, k * 31))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected


@pytest.mark.parametrize("piece", [1, 64, 1000, 1 << 20])
def test_records_and_line_numbers_equal_one_parse(tmp_path: Path, piece: int) -> None:
    path = tmp_path / "numbers.txt"
    expected = numbers_file(path, 5000)
    assert parse(path, piece) == expected
    assert parse(path, piece, workers=1) == expected


def test_a_bad_line_is_numbered_in_the_whole_file_after_the_records_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "numbers.txt"
    expected = numbers_file(path, 5000, bad=4321)
    got: list[tuple[int, int]] = []
    with pytest.raises(ParseError) as caught:
        anyio.run(
            lambda: aparse_file_ranges(
                path,
                functools.partial(NumberParser, "numbers"),
                lambda records, before: got.extend((n + before, v) for n, v in records),
                piece=500,
                workers=2,
            )
        )
    assert caught.value.line_number == 4322
    assert caught.value.source == "numbers"
    assert caught.value.text == "oops"
    assert str(caught.value) == "numbers:4322: not a number: 'oops'"
    assert got == [item for item in expected if item[0] < 4322]


def test_gzip_input_is_one_parse(tmp_path: Path) -> None:
    plain = tmp_path / "numbers.txt"
    expected = numbers_file(plain, 3000)
    packed = tmp_path / "numbers.txt.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert parse(packed, 100) == expected


@pytest.mark.parametrize("piece", [1, 10, 70_000, 200_000])
def test_ranges_end_only_before_a_boundary(tmp_path: Path, piece: int) -> None:
    blocks = [b"BEGIN %d\n" % k + b"x BEGIN y\n" * (k * 997 % 13000) for k in range(40)]
    data = b"junk\n" + b"".join(blocks)
    path = tmp_path / "blocks.txt"
    path.write_bytes(data)
    ranges = line_ranges(path, len(data), piece, b"\nBEGIN")
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert all(data[start:].startswith(b"BEGIN ") for start, _ in ranges[1:])
    if piece == 1:
        assert len(ranges) == 41  # every block, the junk line before the first
    with pytest.raises(ValueError, match="must start with a line break"):
        line_ranges(path, len(data), piece, b"BEGIN")
