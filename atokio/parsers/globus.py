"""Streaming parser for Globus/GridFTP server transfer logs (text form).

One transfer per line of ``KEY=value`` pairs separated by spaces
(docs/formats.md#globus-transfer-logs)::

    DATE=20190731073044.992375 HOST=dtn11.nersc.gov PROG=globus-gridftp-server NL.EVNT=FTP_INFO
    START=20190731073030.432241 USER=glock FILE=/home/c/glock/.../wrfout_d01 BUFFER=87040 ...
    DEST=[192.101.102.150] TYPE=STOR CODE=226

(one line in the log).  :class:`GlobusLogParser` gives one dict per line with
the keys exactly as in the log, in their order:

* ``DATE`` (end of the transfer) and ``START`` become float epoch seconds,
  microseconds kept;
* ``BUFFER``, ``BLOCK``, ``NBYTES``, ``STREAMS``, ``STRIPES`` become ints;
* ``DEST`` becomes a list of strings (:func:`listify_ips`);
* everything else stays a string, ``CODE`` included.

Decisions on the points the reference leaves open:

* **Keys** are ``[A-Z][A-Z0-9._]*``, so ``NL.EVNT`` is a key of its own (the
  reference's ``[A-Z]+`` lets ``PROG`` swallow `` NL.EVNT=FTP_INFO``).
* **Values** are not quoted and ``FILE`` may hold spaces and ``=``: a value
  runs up to the first run of spaces or TABs that is followed by a key and
  ``=``, so
  ``.../wrf1hr_d03_2015 04-25_00:00:00`` and ``.../wrf1hr=d03_2015 05-03``
  stay whole (only a value holding `` XYZ=`` is cut).  The last value runs to
  the end of the line; whitespace around the line is dropped.  A key repeated
  on one line keeps its last value.
* **Time zone**: GridFTP writes ``DATE``/``START`` in **UTC**, and they are
  read as UTC (the reference reads them as local time, which is off by the
  zone's offset); ``GlobusLogParser(localtime=True)`` reads them as local time
  as the reference does.
* A non-blank line that does not start with ``KEY=``, or whose time stamps or
  integer fields do not convert, is a :class:`~atokio.parsers.base.ParseError`
  naming the line.  Blank lines are skipped.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Sequence
from itertools import repeat
from operator import methodcaller
from typing import Any, NamedTuple

import numpy as np

from atokio.parsers.base import (
    BatchLineParser,
    Groups,
    LocalClock,
    ParseError,
    char_codes,
    group_rows,
    in_line_order,
    naive_seconds,
)

__all__ = [
    "INT_KEYS",
    "TIME_KEYS",
    "GlobusColumns",
    "GlobusLogParser",
    "gridftp_time",
    "listify_ips",
    "records_of",
]

#: Keys whose values are integers.
INT_KEYS = ("BUFFER", "BLOCK", "NBYTES", "STREAMS", "STRIPES")
#: Keys whose values are ``YYYYMMDDHHMMSS.ffffff`` time stamps.
TIME_KEYS = ("DATE", "START")
_INT_KEYS = frozenset(INT_KEYS)
_TIME_KEYS = frozenset(TIME_KEYS)

_FIRST_KEY = re.compile(r"[A-Z][A-Z0-9._]*=")
_KEY = re.compile(r"[A-Z][A-Z0-9._]*")
_PAIRS = re.compile(r"[ \t]+(?=[A-Z][A-Z0-9._]*=)")
_SPACE_PAIRS = re.compile(r" (?=[A-Z][A-Z0-9._]*=)")
_STAMP = re.compile(r"(\d{10})(\d\d)(\d\d)(?:\.(\d{1,6}))?")
_STAMP_DIGITS = np.array([*range(14), *range(15, 21)])
_POWERS = 10 ** np.arange(3, -1, -1)
_split_pair = methodcaller("split", "=", 1)


def listify_ips(ip_str: str) -> list[str]:
    """``"[a, b]"`` -> ``["a", "b"]``: brackets removed, split on ``,``, stripped.

    A value without brackets gives a one-element list; ``"[]"`` gives ``[]``.
    """
    text = ip_str.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text.strip():
        return []
    return [part.strip() for part in text.split(",")]


def _destinations(column: Sequence[str]) -> list[list[str]]:
    """:func:`listify_ips` of a column: each distinct value parsed once, each record its own list."""
    parsed = {value: listify_ips(value) for value in set(column)}
    return list(map(list.copy, map(parsed.__getitem__, column)))


def _hour_epoch(stamp: str, localtime: bool) -> int:
    hour = datetime.datetime(
        int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10])
    ).timetuple()
    if localtime:
        return int(time.mktime(hour[:4] + (0, 0, 0, 0, -1)))
    return calendar.timegm(hour)


def gridftp_time(text: str, localtime: bool = False) -> float:
    """Epoch seconds of a GridFTP ``YYYYMMDDHHMMSS[.ffffff]`` time stamp (UTC unless ``localtime``).

    ``ValueError`` if the text is not such a time stamp.
    """
    return _Clock(localtime).convert(text)


class _Clock:
    """:func:`gridftp_time` with the epoch of each hour cached, and its vectorised form."""

    def __init__(self, localtime: bool) -> None:
        self.localtime = localtime
        self._hours: dict[str, int] = {}
        self._local = LocalClock() if localtime else None

    def convert(self, text: str) -> float:
        match = _STAMP.fullmatch(text)
        if match is None:
            raise ValueError(f"not a YYYYMMDDHHMMSS.ffffff time stamp: {text!r}")
        hour, minute, second, fraction = match.groups()
        base = self._hours.get(hour)
        if base is None:
            base = self._hours[hour] = _hour_epoch(hour, self.localtime)
        mm = int(minute)
        ss = int(second)
        if mm > 59 or ss > 61:
            raise ValueError(f"not a YYYYMMDDHHMMSS.ffffff time stamp: {text!r}")
        micro = int(fraction.ljust(6, "0")) if fraction else 0
        # exact integer microseconds, one correctly rounded division
        return ((base + mm * 60 + ss) * 1_000_000 + micro) / 1e6

    def convert_column(self, values: Sequence[str]) -> list[float]:
        """:meth:`convert` of every value; vectorised for the usual 21-character stamps."""
        seconds = self.seconds(values)
        return seconds if isinstance(seconds, list) else seconds.tolist()

    def seconds(self, values: Sequence[str], skip: int = 0) -> np.ndarray | list[float]:
        """:meth:`convert_column` as a float64 array (a list when a value is not a usual stamp)
        of the values without their first ``skip`` characters."""
        try:
            codes = char_codes(values, 21 + skip)[:, skip:]
            digits = codes[:, _STAMP_DIGITS]
            if (codes[:, 14] != ord(".") - 48).any() or (digits < 0).any() or (digits > 9).any():
                raise ValueError("not a time stamp")
            naive = naive_seconds(
                digits[:, 0:4] @ _POWERS,
                digits[:, 4] * 10 + digits[:, 5],
                digits[:, 6] * 10 + digits[:, 7],
                digits[:, 8] * 10 + digits[:, 9],
                digits[:, 10] * 10 + digits[:, 11],
                digits[:, 12] * 10 + digits[:, 13],
            )
        except ValueError:
            return [self.convert(value[skip:]) for value in values]
        if self._local is not None:
            naive = self._local.localize(naive)
        micro = digits[:, 14:20] @ (10 ** np.arange(5, -1, -1))
        return (naive * 1_000_000 + micro) / 1e6


#: A group of lines of one layout: ``(positions in the batch or None for all, keys, columns)``;
#: keys ``None``: the column list is the group's records, already built.
_Group = tuple["list[int] | None", "tuple[str, ...] | None", list[Any]]


class GlobusColumns(NamedTuple):
    """A batch of transfer lines as columns: what a worker process sends back.

    Times are float64 arrays, integers lists of ints, other values lists of
    strings (each distinct string once, so that pickling sends it once);
    :meth:`records` builds the dicts (:func:`records_of` for a list of batches).
    """

    #: The number of records.
    size: int
    groups: list[_Group]

    def records(self) -> list[dict[str, Any]]:
        """The records of the batch, one dict per line, in line order."""
        parts = [
            (index, columns if keys is None else _dicts(keys, columns))
            for index, keys, columns in self.groups
        ]
        if len(parts) == 1 and parts[0][0] is None:
            return parts[0][1]
        return in_line_order([(list(range(self.size)) if i is None else i, r) for i, r in parts])


def records_of(batches: list[GlobusColumns]) -> list[dict[str, Any]]:
    """The records of the batches of a columns-mode :class:`GlobusLogParser`, in order."""
    out: list[dict[str, Any]] = []
    for batch in batches:
        out += batch.records()
    return out


def _dicts(keys: tuple[str, ...], columns: list[Any]) -> list[dict[str, Any]]:
    """One dict per row of ``columns`` (named by ``keys``), values as documented."""
    values: list[Any] = []
    for key, column in zip(keys, columns, strict=True):
        if isinstance(column, np.ndarray):
            column = column.tolist()
        elif key == "DEST":
            column = _destinations(column)
        values.append(column)
    return list(map(dict, map(zip, repeat(keys), zip(*values, strict=True))))


class GlobusLogParser(BatchLineParser[dict[str, Any]]):
    """Sans-IO parser of GridFTP transfer-log text: one dict per transfer line.

    See the module docstring for the keys, value types and decisions.
    Lines are cut into pairs a batch at a time: when no line has a TAB, two
    spaces in a row or blanks around it, the lines with the same number of
    spaces are split together on single spaces and handled column by column
    (the ``KEY=`` prefixes checked for a whole column at once; a column
    without any is part of the values before it); other lines take the
    general rule, one at a time.  Both give the same records.

    ``columns=True`` gives :class:`GlobusColumns` batches instead of dicts
    (cheap to send between processes; :func:`records_of` builds the dicts).
    """

    what = "GridFTP transfer"

    def __init__(
        self, source: str = "<input>", *, localtime: bool = False, columns: bool = False
    ) -> None:
        super().__init__(source)
        self.localtime = localtime
        self.columns = columns
        self._clock = _Clock(localtime)

    def parse_lines(self, lines: list[str]) -> list[Any]:
        if not self.columns:
            return super().parse_lines(lines)
        try:
            out = super().parse_lines(lines)
        except ParseError as error:
            error.records = _as_batches(error.records)
            raise
        return _as_batches(out)

    def parse_batch(self, lines: list[str]) -> list[Any] | None:
        batch = self._batch(lines)
        if batch is None:
            return None
        return [batch] if self.columns else batch.records()

    def _batch(self, lines: list[str]) -> GlobusColumns | None:
        """The columns of a batch whose lines split on single spaces, else ``None``."""
        if sum(map(len, map(str.strip, lines))) != sum(map(len, lines)):
            return None  # blanks around a line
        kinds: list[Any] = list(map(str.count, lines, repeat(" ")))
        if "" in lines:
            for i, line in enumerate(lines):
                if not line:
                    kinds[i] = None
        memo: dict[str, str] | None = {} if self.columns else None
        groups: list[_Group] = []
        count = 0
        for spaces, (index, group) in group_rows(kinds, lines).items():
            found = self._split_columns(group, spaces + 1, memo)
            if found is None:
                return None
            groups.append((None if len(index) == len(lines) else index, *found))
            count += len(index)
        return GlobusColumns(count, groups)

    def _split_columns(
        self, lines: list[str], width: int, memo: dict[str, str] | None
    ) -> tuple[tuple[str, ...], list[Any]] | None:
        """Keys and converted columns of lines of ``width`` space-separated tokens, else ``None``."""
        joined = " ".join(lines)
        if "\t" in joined or "  " in joined:
            return None
        tokens = joined.split(" ")
        keys: list[str] = []
        columns: list[Any] = []
        for j in range(width):
            column = tokens[j::width]
            head = column[0]
            eq = head.find("=")
            key = head[:eq]
            if eq > 0 and _KEY.fullmatch(key):
                found = self._key_column(column, key, memo)
                if found is not None:
                    keys.append(key)
                    columns.append(found)
                    continue
            if not columns or any(map(_FIRST_KEY.match, column)):
                return None  # no key first, or keys mixed with values
            if keys[-1] in _INT_KEYS or keys[-1] in _TIME_KEYS:
                return None  # a converted column with more text: the general path decides
            columns[-1] = list(map(" ".join, zip(columns[-1], column, strict=True)))
        if len(set(keys)) != len(keys):
            return None
        return tuple(keys), columns

    def _key_column(self, column: list[str], key: str, memo: dict[str, str] | None) -> Any:
        """The values of a column of ``KEY=value`` tokens converted (``None``: not all ``key=``).

        A column of one repeated token is split once; times and integers are
        converted from the tokens; other columns keep their strings (in columns
        mode, each distinct string once when most repeat).
        """
        n = len(column)
        skip = len(key) + 1
        head = column[0]
        if column.count(head) == n:
            if key in _TIME_KEYS:
                seconds = self._clock.seconds([head[skip:]])
                return seconds.repeat(n) if isinstance(seconds, np.ndarray) else seconds * n
            value: Any = int(head[skip:]) if key in _INT_KEYS else head[skip:]
            return [value] * n
        joined = "\n".join(column)
        # every token starts with "KEY=" exactly when "\nKEY=" is found before all but the first
        if joined.count("\n" + key + "=") != n - 1:
            return None
        if key in _TIME_KEYS:
            return self._clock.seconds(column, skip)
        values = joined[skip:].split("\n" + key + "=")
        if key in _INT_KEYS:
            return _integers(values)
        if memo is not None and len(set(values[:64])) < 32:
            return list(map(memo.setdefault, values, values))
        return values

    def classify(self, lines: list[str]) -> tuple[Groups, tuple[int, str] | None]:
        texts = list(map(str.strip, lines))
        if "\t" in "".join(texts):
            return group_rows(["text" if text else None for text in texts], texts), None
        rows = list(map(str.split, texts, repeat(" ")))
        kinds: list[Any] = list(map(len, rows))
        if "" in texts:
            for i, text in enumerate(texts):
                if not text:
                    kinds[i] = None
        return group_rows(kinds, rows), None

    def build(self, kind: Any, rows: list[Any]) -> list[dict[str, Any]]:
        if kind != "text":
            records = self._columns(rows)
            if records is not None:
                return records
            rows = [" ".join(row) for row in rows]
        return self._build_pairs([_pairs(text) for text in rows])

    def _build_pairs(self, rows: list[list[str]]) -> list[dict[str, Any]]:
        """Records of lines cut into ``KEY=value`` pieces, column by column where the keys agree."""
        by_length: dict[int, list[int]] = {}
        for number, pieces in enumerate(rows):
            by_length.setdefault(len(pieces), []).append(number)
        out: list[Any] = [None] * len(rows)
        for index in by_length.values():
            group = [rows[i] for i in index]
            records = self._columns(group)
            if records is None:
                records = [self._convert_record(dict(map(_split_pair, p))) for p in group]
            for i, record in zip(index, records, strict=True):
                out[i] = record
        return out

    def _columns(self, rows: list[list[str]]) -> list[dict[str, Any]] | None:
        """Records of rows of ``KEY=value`` pieces with the same keys in the same order, else ``None``."""
        keys: list[str] = []
        columns: list[list[Any]] = []
        n = len(rows)
        for column in zip(*rows, strict=True):
            head = column[0]
            eq = head.find("=")
            key = head[:eq]
            if eq <= 0 or not _KEY.fullmatch(key):
                return None
            # every piece starts with "KEY=" exactly when the join splits back into n values
            values = "\n".join(column)[eq + 1 :].split("\n" + key + "=")
            if len(values) != n:
                return None
            keys.append(key)
            columns.append(values)
        if len(set(keys)) != len(keys):
            return None
        for index, key in enumerate(keys):
            if key in _TIME_KEYS:
                columns[index] = self._clock.convert_column(columns[index])
            elif key in _INT_KEYS:
                columns[index] = list(map(int, columns[index]))
            elif key == "DEST":
                columns[index] = _destinations(columns[index])
        return list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))

    def _convert_record(self, record: dict[str, Any]) -> dict[str, Any]:
        convert = self._clock.convert
        for key in TIME_KEYS:
            value = record.get(key)
            if value is not None:
                record[key] = convert(value)
        for key in INT_KEYS:
            value = record.get(key)
            if value is not None:
                record[key] = int(value)
        dest = record.get("DEST")
        if dest is not None:
            record["DEST"] = listify_ips(dest)
        return record


def _integers(values: list[str]) -> np.ndarray | list[int]:
    """``int()`` of every value: an int64 array when all are plain ASCII digit strings that fit."""
    digits = "".join(values)
    if len(values) > 16 and digits.isascii() and digits.isdigit() and max(map(len, values)) < 19:
        return np.fromstring(" ".join(values), dtype=np.int64, sep=" ")
    return list(map(int, values))


def _as_batches(records: list[Any]) -> list[Any]:
    """Records of the general path as one :class:`GlobusColumns` (batches stay as they are)."""
    if not records or isinstance(records[0], GlobusColumns):
        return records
    return [GlobusColumns(len(records), [(None, None, records)])]


def _pairs(text: str) -> list[str]:
    """A stripped line cut into its ``KEY=value`` pieces (values may hold spaces and ``=``)."""
    if _FIRST_KEY.match(text) is None:
        raise ValueError("expected KEY=value pairs")
    if "\t" in text or "  " in text:
        return _PAIRS.split(text)
    return _SPACE_PAIRS.split(text)  # the same cut, found faster
