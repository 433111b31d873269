"""Streaming parser of one Lustre ``lfs df`` output (docs/formats.md#lfs-df).

Each record is a ``(file_system, target, fields)`` triple
(:data:`atokio.parsers.lfs.Target`), in input order.  Fields of a target
(``snx11035-OST0000_UUID 90767651352 65371112780 24440205704  73%
/scratch2[OST:0]``): ``total_kib``, ``used_kib``, ``remaining_kib`` (ints,
KiB), ``mount_pt``, ``role`` (``ost``/``mdt``, the bracketed role
lower-cased) and ``target_index`` (int); the percent column is not kept.

Header lines, blank lines, ``filesystem summary:`` lines and status lines
such as ``snx11168-OST0005_UUID : inactive device`` are skipped.  A line that
starts like a target line (a ``..._UUID`` name followed by a number) but is
not a complete one is a :class:`~atokio.parsers.base.ParseError` (typically a
truncated file).  See :mod:`atokio.parsers.lfs` for the rules shared with
``lctl dl -t``.

Speed: a batch of lines is parsed at once: target lines are picked with one
substring test each, split into tokens with a single ``str.split`` of the
joined lines, the numeric columns are validated on their concatenation and
converted by numpy in one call, and names and mount points are parsed once
per distinct value.  Anything irregular goes through the per-line regular
expression (:func:`df_lines_slowly`), which defines the rules and locates errors.
"""

from __future__ import annotations

import re
from typing import Any

from atokio.parsers.base import LineParser
from atokio.parsers.lfs import Columns, Target, all_digits, digit_ints, located_error

__all__ = [
    "DF_LINE",
    "DF_LOOKS_LIKE_TARGET",
    "FULLNESS_KEYS",
    "LfsDfParser",
    "df_lines_slowly",
    "parse_lfs_df_lines",
]

#: Longest number taken without question (Python's ``int`` refuses over 4300 digits).
_MAX_DIGITS = 4000

#: Keys of one ``lfs df`` target, in order.
FULLNESS_KEYS = ("total_kib", "used_kib", "remaining_kib", "mount_pt", "role", "target_index")

_UUID = re.compile(r"([^\s_-]+)-([^\s_-]+)_UUID")
_MOUNT = re.compile(r"(\S*)\[([A-Za-z]+):(\d+)\]")
#: The rule of one target line (``nersc_lfsstate._REX_LFS_DF``).
DF_LINE = re.compile(
    r"\s*([^\s_-]+)-([^\s_-]+)_UUID\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(.*?)\[([A-Za-z]+):(\d+)\]\s*"
)
#: A line that starts like a target line (an error when it is not a whole one).
DF_LOOKS_LIKE_TARGET = re.compile(r"\s*\S+_UUID\s+\d")


class _DfMemo:
    """Per-parser caches of the parsed UUIDs and mount fields (they repeat in every block)."""

    def __init__(self) -> None:
        self.fs: dict[str, str | None] = {}
        self.target: dict[str, str] = {}
        self.mount: dict[str, tuple[str, str, int] | None] = {}

    def learn_uuids(self, uuids: list[str]) -> bool:
        for uuid in uuids:
            if uuid not in self.fs:
                match = _UUID.fullmatch(uuid)
                if match is None:
                    self.fs[uuid] = None
                else:
                    self.fs[uuid], self.target[uuid] = match.group(1), match.group(2)
        return None not in map(self.fs.__getitem__, uuids)

    def learn_mounts(self, mounts: list[str]) -> list[tuple[str, str, int] | None]:
        found = list(map(self.mount.get, mounts))
        if None in found:
            for position, mount in enumerate(mounts):
                if found[position] is None:
                    match = _MOUNT.fullmatch(mount)
                    value = None
                    if match is not None and len(match.group(3)) <= _MAX_DIGITS:
                        value = (match.group(1), match.group(2).lower(), int(match.group(3)))
                    self.mount[mount] = found[position] = value  # None: the slow path tells
        return found


def _df_fast(lines: list[str], memo: _DfMemo) -> Columns | None:
    """The columns of a regular batch of ``lfs df`` lines, or None to take the slow path."""
    picked = [line for line in lines if "_UUID" in line]
    count = len(picked)
    if not count:
        return [], [], []
    tokens = " ".join(picked).split()
    if len(tokens) != 6 * count:
        return None
    numbers = tokens[1::6] + tokens[2::6] + tokens[3::6]
    if not all_digits(numbers):
        return None
    percents = "".join(tokens[4::6])
    if percents.count("%") != count or not percents.replace("%", "").isdigit():
        return None
    uuids = tokens[0::6]
    if not memo.learn_uuids(uuids):
        return None
    mounts = memo.learn_mounts(tokens[5::6])
    if None in mounts:
        return None
    values = digit_ints(numbers)
    fields = [
        {
            "total_kib": total,
            "used_kib": used,
            "remaining_kib": remaining,
            "mount_pt": mount[0],
            "role": mount[1],
            "target_index": mount[2],
        }
        for total, used, remaining, mount in zip(
            values[:count], values[count : 2 * count], values[2 * count :], mounts, strict=True
        )
        if mount is not None
    ]
    file_systems: list[str] = list(map(memo.fs.__getitem__, uuids))  # type: ignore[arg-type]
    return file_systems, list(map(memo.target.__getitem__, uuids)), fields


def df_lines_slowly(lines: list[str], first_line: int, source: str) -> Columns:
    """Line-by-line ``lfs df`` parsing: the reference rules, with error locations.

    A number too long for Python's ``int`` conversion is a :class:`ParseError`.
    """
    file_systems: list[str] = []
    targets: list[str] = []
    fields: list[dict[str, Any]] = []
    for offset, line in enumerate(lines):
        match = DF_LINE.fullmatch(line)
        if match is None:
            if DF_LOOKS_LIKE_TARGET.match(line):
                raise located_error(
                    source, first_line + offset, "malformed lfs df target line", line
                )
            continue
        fs, target, total, used, remaining, mount, role, index = match.groups()
        try:
            record = {
                "total_kib": int(total),
                "used_kib": int(used),
                "remaining_kib": int(remaining),
                "mount_pt": mount,
                "role": role.lower(),
                "target_index": int(index),
            }
        except ValueError as error:  # more digits than int() converts
            raise located_error(
                source, first_line + offset, f"number out of range ({error})", line
            ) from None
        file_systems.append(fs)
        targets.append(target)
        fields.append(record)
    return file_systems, targets, fields


def parse_lfs_df_lines(
    lines: list[str], first_line: int = 1, source: str = "<input>", memo: _DfMemo | None = None
) -> Columns:
    """``(file_systems, targets, fields)`` columns of complete ``lfs df`` lines.

    ``first_line`` is the line number of ``lines[0]`` (for errors).
    """
    fast = _df_fast(lines, memo if memo is not None else _DfMemo())
    if fast is not None:
        return fast
    return df_lines_slowly(lines, first_line, source)


class LfsDfParser(LineParser[Target]):
    """One ``lfs df`` output: ``(file_system, target, fields)`` records in input order."""

    def __init__(self, source: str = "lfs df") -> None:
        super().__init__(source)
        self._memo = _DfMemo()

    def parse_lines(self, lines: list[str]) -> list[Target]:
        first = self.line_number + 1
        self.line_number += len(lines)
        columns = parse_lfs_df_lines(lines, first, self.source, self._memo)
        return list(zip(*columns, strict=True))
