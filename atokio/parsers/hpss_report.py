"""Streaming parser for the HPSS daily report (docs/formats.md#hpss).

:class:`HpssReportParser` reads the report and gives one :class:`ReportDate`
followed by one section dict per table (the shape of :func:`parse_section`);
:func:`build_report` assembles them.  The table helpers keep their pytokio
names, documented through :mod:`atokio.connectors.hpss`; they are also
importable from :mod:`atokio.parsers.hpss`, the home of the two log parsers.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from atokio.parsers.base import CONVERSION_ERRORS, LineParser, ParseError

__all__ = [
    "FLOAT_COLUMNS",
    "INT_COLUMNS",
    "REKEY_COLUMNS",
    "TIMEDELTA_COLUMNS",
    "HpssReportParser",
    "ReportDate",
    "build_report",
    "convert_cell",
    "find_columns",
    "hpss_timedelta_to_secs",
    "parse_section",
    "rekey_table",
]

_ERRORS = CONVERSION_ERRORS

# -- daily report ------------------------------------------------------------------------

#: Report columns converted to float, to int, and time-span columns (``D-HH:MM:SS``).
FLOAT_COLUMNS = frozenset(
    {"io_gb", "write_gb", "read_gb", "copy_gb", "mig (gb)", "purge(gb)", "lock%"}
)
INT_COLUMNS = frozenset(
    {
        "users",
        "ops",
        "w_ops",
        "r_ops",
        "c_ops",
        "migfiles",
        "purfiles",
        "count",
        "cleans",
        "locks",
        "mounts",
    }
)
TIMEDELTA_COLUMNS = frozenset({"migtime", "purgetime", "availtime", "locktime", "mounttime"})

#: Table title -> the column its records are keyed by (other tables stay lists).
REKEY_COLUMNS = {
    "io totals by client application": "client",
    "io totals by client host": "host",
    "io totals by hpss client gateway (ui) host": "host",
    "migration purge report": "sc",
}

_REPORT_DATE = re.compile(r"^\s*HPSS Report for Date (\d{4})-(\d{2})-(\d{2})\s*$")
_TIMEDELTA = re.compile(r"^\s*(\d+)-(\d+):(\d+):(\d+)\s*$")


class ReportDate(NamedTuple):
    """The date of a daily report (its first line), as a naive midnight."""

    date: datetime.datetime


def find_columns(
    line: str, sep: str = "=", gap: str = " ", strict: bool = False
) -> list[tuple[int, int]]:
    """Column extents ``[(start, end), ...]`` drawn by a separator line such as ``=====  ===``.

    Each run of ``sep`` characters is a column.  Column *k* runs from the end
    of run *k-1* (so it takes the ``gap`` characters before its run; the first
    column starts at 0) to the end of run *k*; with ``strict=True`` it covers
    only the run itself.  A line holding anything but ``sep`` and ``gap``
    (e.g. the ``+`` of the cartridge matrix) draws no columns: ``[]``.
    """
    text = line.rstrip("\r\n")
    if not text or not sep or set(text) - {sep, gap} or sep not in text:
        return []
    columns: list[tuple[int, int]] = []
    previous_end = 0
    for run in re.finditer(re.escape(sep) + "+", text):
        start, end = run.span()
        columns.append((start if strict else previous_end, end))
        previous_end = end
    return columns


def hpss_timedelta_to_secs(timedelta_str: str) -> int:
    """Seconds of an HPSS time span ``D-HH:MM:SS`` (``"0-05:20:07"`` -> 19207); -1 if unparsable."""
    match = _TIMEDELTA.match(timedelta_str)
    if not match:
        return -1
    days, hours, minutes, seconds = map(int, match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def convert_cell(name: str, text: str) -> Any:
    """A report cell as its column's type (text of a cell that does not convert is kept)."""
    try:
        if name in INT_COLUMNS:
            return int(text)
        if name in FLOAT_COLUMNS:
            return float(text)
    except ValueError:
        return text
    return text


def _is_separator(line: str) -> bool:
    return bool(find_columns(line))


def _is_title(line: str) -> bool:
    return ":" in line


def _section_start(
    title: str, heading: str, separator: str
) -> tuple[dict[str, Any], list[tuple[int, int]], list[str]] | None:
    """``(section, columns, names)`` if the three lines open a table, else ``None``."""
    if not _is_title(title) or not heading.strip():
        return None
    columns = find_columns(separator)
    if not columns:
        return None
    system, _, name = title.partition(":")
    names = [heading[s:e].strip().lower() for s, e in columns]
    section = {"system": system.strip().lower(), "title": name.strip().lower(), "records": []}
    return section, columns, names


def _is_row(line: str, columns: list[tuple[int, int]]) -> bool:
    return bool(line.strip()) and len(line) > columns[-1][0]


def _parse_row(line: str, columns: list[tuple[int, int]], names: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, (start, end) in zip(names, columns, strict=True):
        cell = line[start:end].strip().lower()
        record[name] = convert_cell(name, cell)
        if name in TIMEDELTA_COLUMNS:
            record[name + "secs"] = hpss_timedelta_to_secs(cell)
    return record


def parse_section(lines: Sequence[str], start_line: int = 0) -> tuple[dict[str, Any], int]:
    """One table of the daily report: ``({"system", "title", "records": [...]}, end)``.

    ``lines[start_line]`` is the title (``System : Title``), the next line the
    heading, the one after it the ``====`` separator that sets the columns, and
    the rows follow until a blank line or a line too short to reach the last
    column.  System, title, column names and cells are lower-cased; cells are
    typed by :func:`convert_cell` and time spans get an extra ``<name>secs``.
    ``end`` is the index of the line after the table's last row.  When the
    lines at ``start_line`` do not open a table, returns ``({}, start_line + 1)``.
    """
    if start_line + 2 >= len(lines):
        return {}, start_line + 1
    opened = _section_start(lines[start_line], lines[start_line + 1], lines[start_line + 2])
    if opened is None:
        return {}, start_line + 1
    section, columns, names = opened
    index = start_line + 3
    while index < len(lines) and _is_row(lines[index], columns):
        section["records"].append(_parse_row(lines[index], columns, names))
        index += 1
    return section, index


def rekey_table(table: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of ``table`` whose ``records`` list becomes a dict keyed by each record's ``key``.

    ``key`` is removed from the inner records (which are copied, not changed).
    Duplicate keys are not handled: the last record with a key wins.
    """
    keyed: dict[Any, dict[str, Any]] = {}
    for record in table["records"]:
        inner = dict(record)
        keyed[inner.pop(key)] = inner
    result = dict(table)
    result["records"] = keyed
    return result


class HpssReportParser(LineParser[Any]):
    """Sans-IO parser of the HPSS daily report.

    Gives a :class:`ReportDate` for the first line (``HPSS Report for Date
    YYYY-MM-DD``; blank lines before it are allowed, anything else is a
    :class:`~atokio.parsers.base.ParseError`, and so is an input without it),
    then one :func:`parse_section` dict per table as soon as the table ends.
    Tables are recognised exactly as by a :func:`parse_section` loop that tries
    every line as a title: the parser keeps a look-ahead of two lines.
    """

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        self._dated = False
        self._window: list[str] = []
        self._section: dict[str, Any] | None = None
        self._columns: list[tuple[int, int]] = []
        self._names: list[str] = []

    def parse_line(self, line: str) -> list[Any]:
        if not self._dated:
            if not line.strip():
                return []
            match = _REPORT_DATE.match(line)
            if not match:
                raise self.error("expected 'HPSS Report for Date YYYY-MM-DD' as first line", line)
            try:
                year, month, day = map(int, match.groups())
                date = datetime.datetime(year, month, day)
            except ValueError as exc:
                raise self.error(f"bad report date ({exc})", line) from None
            self._dated = True
            return [ReportDate(date)]
        out: list[Any] = []
        if self._section is not None:
            if _is_row(line, self._columns):
                self._section["records"].append(_parse_row(line, self._columns, self._names))
                return out
            out.append(self._section)
            self._section = None
            self._window = []
        if len(self._window) == 2:
            opened = _section_start(self._window[0], self._window[1], line)
            if opened is not None:
                self._section, self._columns, self._names = opened
                self._window = []
                return out
        self._window.append(line)
        if len(self._window) > 2:
            del self._window[0]
        return out

    def finish(self) -> list[Any]:
        if not self._dated:
            raise ParseError(
                "not an HPSS daily report: no 'HPSS Report for Date YYYY-MM-DD' line",
                source=self.source,
                line_number=self.line_number,
            )
        if self._section is not None:
            section, self._section = self._section, None
            return [section]
        return []


def build_report(
    records: Iterable[Any], into: dict[str, Any] | None = None
) -> tuple[datetime.datetime | None, dict[str, Any]]:
    """``(date, {system: {title: records}})`` from :class:`HpssReportParser` records.

    Tables named in :data:`REKEY_COLUMNS` are keyed by that column (when every
    record has it); the others stay lists.  A ``(system, title)`` seen again is
    merged into the first (dicts updated, lists extended).
    """
    result: dict[str, Any] = into if into is not None else {}
    date: datetime.datetime | None = None
    for record in records:
        if isinstance(record, ReportDate):
            date = record.date
            continue
        table = record
        key = REKEY_COLUMNS.get(table["title"])
        if key is not None and all(key in row for row in table["records"]):
            table = rekey_table(table, key)
        tables = result.setdefault(table["system"], {})
        existing = tables.get(table["title"])
        rows = table["records"]
        if isinstance(existing, dict) and isinstance(rows, dict):
            existing.update(rows)
        elif isinstance(existing, list) and isinstance(rows, list):
            existing.extend(rows)
        else:
            tables[table["title"]] = rows
    return date, result
