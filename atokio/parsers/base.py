"""The sans-IO parser contract shared by every format.

A parser is a plain object with no I/O and no event loop, in the style of h11:

* ``feed(data)`` takes the next chunk of bytes (any size, split anywhere) and
  returns the records that are complete now;
* ``close()`` says the input has ended: it returns the records that were still
  pending, or raises :class:`ParseError` when the input was cut short.

Feeding the same bytes in one chunk, byte by byte, or in any other chunking
gives the same records in the same order.  Memory is bounded by the largest
record (plus one line), never by the length of the input.

:class:`LineParser` does the line splitting and line numbering for the many
line-oriented formats; a format only implements :meth:`LineParser.parse_line`
(or overrides :meth:`LineParser.parse_lines` to work on a whole batch of lines,
which is how the fast parsers vectorise).

:class:`BatchLineParser` is that batch form made general: a batch whose lines
share one layout is converted in one pass (:meth:`BatchLineParser.parse_batch`),
any other batch is sorted into groups of one layout (:meth:`~BatchLineParser.classify`,
:func:`group_rows`) and converted a group at a time, column by column
(:meth:`~BatchLineParser.build`).  :class:`LocalClock`, :func:`naive_seconds`
and :func:`char_codes` turn columns of date fields into epoch seconds with numpy.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

R = TypeVar("R")

#: Longest excerpt of an offending line quoted in a :class:`ParseError`.
EXCERPT_CHARS = 80


class ParseError(ValueError):
    """Bad or truncated input, with the source, line number and offending text.

    ``str(error)`` reads ``source:line: message: 'text...'`` so that a user can
    go straight to the line.  The attributes stay available for programs.

    ``records`` holds the records that the failing ``feed()``/``close()`` call
    had completed before the bad line, so that nothing delivered is lost.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line_number: int | None = None,
        text: str | bytes | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line_number = line_number
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        self.text = text
        self.records: list[object] = []
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<input>"
        if self.line_number is not None:
            where = f"{where}:{self.line_number}"
        out = f"{where}: {self.message}"
        if self.text is not None:
            excerpt = self.text
            if len(excerpt) > EXCERPT_CHARS:
                excerpt = excerpt[:EXCERPT_CHARS] + "..."
            out += f": {excerpt!r}"
        return out

    def __reduce__(self):  # keep keyword-only state across process boundaries
        return (_rebuild_parse_error, (self.message, self.source, self.line_number, self.text))


def _rebuild_parse_error(
    message: str, source: str | None, line_number: int | None, text: str | None
) -> ParseError:
    return ParseError(message, source=source, line_number=line_number, text=text)


class Parser(Protocol[R]):
    """What every parser offers (see the module docstring)."""

    source: str

    def feed(self, data: bytes) -> list[R]: ...

    def close(self) -> list[R]: ...


class LineParser(Generic[R]):
    """Base class for line-oriented formats.

    Splits the byte stream on ``\\n`` only (a ``\\r`` before it is removed), so
    file names holding other Unicode line separators stay whole; decodes each
    complete line as UTF-8 (undecodable bytes are replaced, never fatal) and
    hands batches of lines to :meth:`parse_lines`.  An unterminated last line
    is parsed at :meth:`close`.

    ``self.line_number`` is the 1-based number of the last line handed to the
    subclass, for error messages.
    """

    #: Encoding of the text; subclasses may change it.
    encoding = "utf-8"

    def __init__(self, source: str = "<input>") -> None:
        self.source = source
        self.line_number = 0
        self._buffer = bytearray()
        self._closed = False

    # -- the contract -----------------------------------------------------
    def feed(self, data: bytes) -> list[R]:
        if self._closed:
            raise RuntimeError(f"{self.source}: feed() after close()")
        if not data:
            return []
        cut = data.rfind(b"\n")
        if cut < 0:
            self._buffer += data
            return []
        if self._buffer:
            self._buffer += data[: cut + 1]
            block = bytes(self._buffer)
            self._buffer = bytearray(data[cut + 1 :])
        else:
            block = bytes(data[: cut + 1])
            self._buffer = bytearray(data[cut + 1 :])
        return self._parse_block(block[:-1])

    def close(self) -> list[R]:
        if self._closed:
            return []
        self._closed = True
        records: list[R] = []
        if self._buffer:
            records.extend(self._parse_block(bytes(self._buffer)))
            self._buffer = bytearray()
        records.extend(self.finish())
        return records

    # -- for subclasses -----------------------------------------------------
    def _parse_block(self, block: bytes) -> list[R]:
        text = block.decode(self.encoding, errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        return self.parse_lines(lines)

    def parse_lines(self, lines: list[str]) -> list[R]:
        """Parse a batch of complete lines (without line ends)."""
        out: list[R] = []
        try:
            for line in lines:
                self.line_number += 1
                out.extend(self.parse_line(line))
        except ParseError as error:
            error.records = [*out, *error.records]
            raise
        return out

    def parse_line(self, line: str) -> list[R]:
        """Parse one line and return the records it completes."""
        raise NotImplementedError

    def finish(self) -> list[R]:
        """Called once at :meth:`close` after the last line: flush or raise."""
        return []

    def error(self, message: str, text: str | None = None) -> ParseError:
        """A :class:`ParseError` located at the current line."""
        return ParseError(message, source=self.source, line_number=self.line_number, text=text)


# -- batches of lines converted column by column ----------------------------------

#: What a failed conversion of a column (or of one row) raises.
CONVERSION_ERRORS = (ValueError, KeyError, IndexError, TypeError, OverflowError)

#: ``{kind: (line indexes, rows)}``: the lines of a batch grouped by layout.
Groups = dict[Any, tuple[list[int], list[Any]]]


def group_rows(kinds: list[Any], rows: list[Any], skip: Any = None) -> Groups:
    """``{kind: (line indexes, rows)}`` of rows labelled by ``kinds`` (rows of kind ``skip`` dropped).

    Grouping is done with C-level scans (one ``list.count`` for a batch of a
    single kind, one comparison per kind otherwise), not a Python loop per row.
    """
    if not kinds:
        return {}
    first = kinds[0]
    if kinds.count(first) == len(kinds):
        return {} if first == skip else {first: (list(range(len(rows))), rows)}
    codes = {kind: number for number, kind in enumerate(set(kinds))}
    coded = np.fromiter(map(codes.__getitem__, kinds), dtype=np.int64, count=len(kinds))
    groups: Groups = {}
    for kind, number in codes.items():
        if kind == skip:
            continue
        index = np.flatnonzero(coded == number).tolist()
        groups[kind] = (index, [rows[i] for i in index])
    return groups


def in_line_order(parts: Sequence[tuple[list[int], list[Any]]]) -> list[Any]:
    """The items of ``[(line indexes, items), ...]`` (each part in line order) merged by line."""
    if len(parts) == 1:
        return list(parts[0][1])
    index: list[int] = []
    items: list[Any] = []
    for lines, part in parts:
        index.extend(lines)
        items.extend(part)
    order = np.argsort(np.array(index, dtype=np.int64), kind="stable")
    return list(map(items.__getitem__, order.tolist()))


class BatchLineParser(LineParser[R]):
    """A line parser that converts a batch of lines column by column.

    :meth:`parse_batch` may convert a whole batch in one pass when its lines
    share a layout (it returns ``None`` to decline, having changed nothing).
    Otherwise :meth:`classify` sorts the lines of a batch into groups of one
    layout (and names the first bad line, if any); :meth:`build` turns the
    rows of a group into records, vectorised.  When a group does not convert,
    the batch is converted again row by row so that the first row that fails
    is reported as a :class:`ParseError` with its line number, the records
    before it in ``error.records``.  ``build`` must give for a group the
    records it gives for its rows one at a time, and ``parse_batch`` what the
    groups give: that is what makes the output independent of the chunking.
    """

    #: What a record is called in error messages.
    what = "log"

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        #: Lines that were not records of a known kind (not errors), so far.
        self.skipped = 0

    def parse_lines(self, lines: list[str]) -> list[R]:
        base = self.line_number
        try:
            fast = self.parse_batch(lines)
        except CONVERSION_ERRORS:
            fast = None
        if fast is not None:
            self.line_number = base + len(lines)
            return fast
        groups, failure = self.classify(lines)
        try:
            out = self._convert(groups)
        except CONVERSION_ERRORS:
            out = self._convert_slowly(groups, base, lines)
        if failure is not None:
            index, message = failure
            self.line_number = base + index + 1
            error = self.error(message, lines[index])
            error.records = list(out)
            raise error
        self.line_number = base + len(lines)
        return out

    def parse_batch(self, lines: list[str]) -> list[R] | None:
        """The records of a whole batch in one pass, or ``None`` (then :meth:`classify` runs).

        It must return exactly what :meth:`classify` and :meth:`build` give, and
        change no state (``skipped`` included) unless it returns records; a
        conversion error it raises counts as ``None``.
        """
        return None

    def classify(self, lines: list[str]) -> tuple[Groups, tuple[int, str] | None]:
        """Group the lines by layout: ``{kind: (line indexes, rows)}`` and the first bad line.

        Only the lines before the first bad line (``(index, message)``) are grouped.
        """
        raise NotImplementedError

    def build(self, kind: Any, rows: list[Any]) -> list[R]:
        """The records of the rows of one group (one record per row)."""
        raise NotImplementedError

    def _convert(self, groups: Groups) -> list[R]:
        if len(groups) == 1:
            ((kind, (_, rows)),) = groups.items()
            return self.build(kind, rows)
        return in_line_order(
            [(index, self.build(kind, rows)) for kind, (index, rows) in groups.items()]
        )

    def _convert_slowly(self, groups: Groups, base: int, lines: list[str]) -> list[R]:
        """Row by row, in line order, to name the first row that does not convert."""
        rows = sorted(
            (
                (line, kind, row)
                for kind, (index, group) in groups.items()
                for line, row in zip(index, group, strict=True)
            ),
            key=lambda item: item[0],
        )
        out: list[R] = []
        for line, kind, row in rows:
            try:
                out.extend(self.build(kind, [row]))
            except CONVERSION_ERRORS as exc:
                self.line_number = base + line + 1
                error = self.error(f"bad {self.what} record ({exc})", lines[line])
                error.records = list(out)
                raise error from None
        return out


# -- local date fields, a column at a time ---------------------------------------------

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_HMS_DIGITS = np.array([0, 1, 3, 4, 6, 7])
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def digit_columns(column: Sequence[str], width: int, digits: np.ndarray) -> np.ndarray:
    """The decimal digits at positions ``digits`` of strings that are all ``width`` long.

    Returns an ``(n, len(digits))`` int64 array; ``ValueError`` when a string
    has another length or a non-digit at one of those positions.
    """
    codes = char_codes(column, width)
    values = codes[:, digits]
    if (values < 0).any() or (values > 9).any():
        raise ValueError("expected decimal digits")
    return values


def char_codes(column: Sequence[str], width: int) -> np.ndarray:
    """``(n, width)`` int64 array of the code points of the strings, minus 48 (``"0"``).

    ``ValueError`` unless every string is exactly ``width`` characters long.
    """
    n = len(column)
    text = np.array(column)
    if text.dtype != np.dtype(f"<U{width}") or text.shape != (n,):
        raise ValueError(f"expected {width}-character fields")
    codes = text.view(np.uint32).reshape(n, width).astype(np.int64) - 48
    if (codes == -48).any():  # a shorter string, padded with NUL
        raise ValueError(f"expected {width}-character fields")
    return codes


def naive_seconds(
    year: np.ndarray,
    month: np.ndarray,
    day: np.ndarray,
    hour: np.ndarray,
    minute: np.ndarray,
    second: np.ndarray,
) -> np.ndarray:
    """Seconds since 1970-01-01T00:00 of the (proleptic Gregorian) dates, as if they were UTC.

    ``ValueError`` if a field is out of range (seconds up to 61, as ``strptime``).
    """
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    bad_month = (month < 1) | (month > 12)
    month_days = _MONTH_DAYS[np.where(bad_month, 0, month)] + ((month == 2) & leap)
    if (
        bad_month
        | (year < 1)
        | (year > 9999)
        | (day < 1)
        | (day > month_days)
        | (hour < 0)
        | (hour > 23)
        | (minute < 0)
        | (minute > 59)
        | (second < 0)
        | (second > 61)
    ).any():
        raise ValueError("date out of range")
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468) * 86400 + hour * 3600 + minute * 60 + second


def _day_number(year: str, month: str, day: str) -> int:
    """Days since 1970-01-01 of ``ctime()`` date fields (``"2019"``, ``"Aug"``, ``"9"``)."""
    return datetime.date(int(year), _MONTHS[month], int(day)).toordinal() - _EPOCH_ORDINAL


#: ``ctime()`` prefixes of 24 characters (``Sat Aug  9 00:05:01 2019`` and a separator).
_CTIME_WIDTH = 25
#: Where a 23-character ``ctime()`` date (``Sat Aug 9 ...``, day not padded) takes the
#: characters of the padded form: the space before the day is doubled.
_CTIME_SHORT = np.array([0, 1, 2, 3, 4, 5, 6, 7, 7, *range(8, 24)])
_CTIME_LONG = np.arange(_CTIME_WIDTH)
_CTIME_PREFIX = itemgetter(slice(0, _CTIME_WIDTH))
_CTIME_SPACES = np.array([3, 7, 10, 19, 24])
_CTIME_DIGITS = np.array([9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23])
_CTIME_MONTHS = {int.from_bytes(name.encode(), "big"): number for name, number in _MONTHS.items()}
_CTIME_MONTH_CODES = np.array(sorted(_CTIME_MONTHS), dtype=np.int64)
_CTIME_MONTH_NUMBERS = np.array([_CTIME_MONTHS[c] for c in sorted(_CTIME_MONTHS)])


#: Widest span of hours whose UTC offsets a :class:`LocalClock` keeps in an array (20 years).
_TABLE_HOURS = 20 * 366 * 24
_UNKNOWN = np.iinfo(np.int64).min


class LocalClock:
    """Turns local date fields into epoch seconds, a column at a time.

    The calendar arithmetic is vectorised; the UTC offset of each distinct
    hour is asked of ``time.mktime`` once and cached, so the result is what
    ``time.mktime(datetime.strptime(text, "%a %b %d %H:%M:%S %Y").timetuple())``
    gives.  The weekday field is not checked.  The cache belongs to the
    instance: a change of ``TZ`` takes effect for new parsers.
    """

    def __init__(self) -> None:
        self._offsets: dict[int, int] = {}
        self._days: dict[tuple[str, str, str], int] = {}
        # UTC offsets by hour as an array (first hour, offsets; _UNKNOWN where not asked yet)
        self._table_first = 0
        self._table = np.empty(0, dtype=np.int64)

    def epochs(
        self,
        years: Sequence[str],
        months: Sequence[str],
        days: Sequence[str],
        hms: Sequence[str],
    ) -> np.ndarray:
        """Epoch seconds (float64) of ``ctime()`` fields; ``ValueError`` if one is not a date."""
        n = len(hms)
        dates = list(zip(years, months, days, strict=True))
        known = self._days
        for date in set(dates).difference(known):
            known[date] = _day_number(*date)
        day_number = np.fromiter(map(known.__getitem__, dates), dtype=np.int64, count=n)
        codes = char_codes(hms, 8)
        digits = codes[:, _HMS_DIGITS]
        if (
            (digits < 0).any()
            or (digits > 9).any()
            or (codes[:, 2] != 10).any()
            or (codes[:, 5] != 10).any()
        ):
            raise ValueError("time of day is not HH:MM:SS")
        hour = digits[:, 0] * 10 + digits[:, 1]
        minute = digits[:, 2] * 10 + digits[:, 3]
        second = digits[:, 4] * 10 + digits[:, 5]
        if ((hour > 23) | (minute > 59) | (second > 61)).any():
            raise ValueError("time of day out of range")
        naive = day_number * 86400 + hour * 3600 + minute * 60 + second
        return self.localize(naive).astype(np.float64)

    def ctime_epochs(self, texts: Sequence[str]) -> np.ndarray | None:
        """Epoch seconds (float64) of texts that start with a ``ctime()`` date, or ``None``.

        Each text must start with the five date fields separated by single
        spaces (``Sat Aug  9 00:05:01 2019`` or ``Sat Aug 9 00:05:01 2019``),
        followed by a space, in ASCII; the result is then what :meth:`epochs`
        gives for those five fields split on whitespace.  ``None`` if a text
        has another layout; ``ValueError`` if a date is out of range.
        """
        n = len(texts)
        if not n:
            return None
        head = "".join(map(_CTIME_PREFIX, texts))
        if len(head) != n * _CTIME_WIDTH or not head.isascii():
            return None
        codes = np.frombuffer(head.encode("ascii"), dtype=np.uint8).reshape(n, _CTIME_WIDTH)
        short = codes[:, 9] == 32
        if short.any():
            where = np.where(short[:, None], _CTIME_SHORT, _CTIME_LONG)
            codes = codes[np.arange(n)[:, None], where]
        digits = codes[:, _CTIME_DIGITS].astype(np.int64) - 48
        day_tens = codes[:, 8].astype(np.int64) - 48
        if (
            (codes[:, _CTIME_SPACES] != 32).any()
            or (codes[:, 13] != 58).any()
            or (codes[:, 16] != 58).any()
            or (codes[:, 0:3] <= 32).any()
            or (digits < 0).any()
            or (digits > 9).any()
            or ((day_tens != -16) & ((day_tens < 0) | (day_tens > 9))).any()
        ):
            return None
        month_code = codes[:, 4:7].astype(np.int64) @ np.array([65536, 256, 1])
        slot = np.minimum(np.searchsorted(_CTIME_MONTH_CODES, month_code), 11)
        if (_CTIME_MONTH_CODES[slot] != month_code).any():
            return None
        naive = naive_seconds(
            digits[:, 7:11] @ np.array([1000, 100, 10, 1]),
            _CTIME_MONTH_NUMBERS[slot],
            np.maximum(day_tens, 0) * 10 + digits[:, 0],
            digits[:, 1] * 10 + digits[:, 2],
            digits[:, 3] * 10 + digits[:, 4],
            digits[:, 5] * 10 + digits[:, 6],
        )
        return self.localize(naive).astype(np.float64)

    def localize(self, naive: np.ndarray) -> np.ndarray:
        """Epoch seconds (int64) of naive local times given as :func:`naive_seconds`."""
        hours = naive // 3600
        first = int(hours[0])
        if (hours == first).all():
            return naive + self._offset(first)
        low, high = int(hours.min()), int(hours.max())
        table = self._hour_table(low, high)
        if table is not None:
            index = hours - self._table_first
            offsets = table[index]
            unknown = offsets == _UNKNOWN
            if unknown.any():
                for hour in np.unique(hours[unknown]).tolist():
                    table[hour - self._table_first] = self._offset(hour)
                offsets = table[index]
            return naive + offsets
        unique, inverse = np.unique(hours, return_inverse=True)
        offsets = np.array([self._offset(int(h)) for h in unique], dtype=np.int64)
        return naive + offsets[inverse]

    def _hour_table(self, low: int, high: int) -> np.ndarray | None:
        """The offset table grown to cover hours ``low``..``high`` (None if that is too wide)."""
        first, table = self._table_first, self._table
        if table.size and first <= low and high < first + table.size:
            return table
        start = min(low, first) if table.size else low
        stop = max(high + 1, first + table.size) if table.size else high + 1
        if stop - start > _TABLE_HOURS:
            return None
        grown = np.full(stop - start, _UNKNOWN, dtype=np.int64)
        grown[first - start : first - start + table.size] = table
        self._table_first, self._table = start, grown
        return grown

    def _offset(self, hour: int) -> int:
        offset = self._offsets.get(hour)
        if offset is None:
            t = time.gmtime(hour * 3600)
            local = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, 0, 0, 0, 0, -1))
            offset = self._offsets[hour] = int(local) - hour * 3600
        return offset


def parse_all(parser: Parser[R], data: bytes, chunk_size: int = 1 << 20) -> list[R]:
    """Feed ``data`` to ``parser`` in chunks and close it: the records, in order.

    A convenience for tests and small in-memory inputs; real data is streamed
    by the collectors.
    """
    records: list[R] = []
    view = memoryview(data)
    for start in range(0, len(data), chunk_size):
        records.extend(parser.feed(bytes(view[start : start + chunk_size])))
    records.extend(parser.close())
    return records
