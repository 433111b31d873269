"""Date fields of parsed lines turned into epoch seconds, a column at a time (numpy).

:class:`LocalClock` converts columns of local dates (``ctime()`` fields, or
``ctime()`` prefixes of whole lines) to epoch seconds, asking ``time.mktime``
for the UTC offset once per distinct hour; :func:`naive_seconds` does the
calendar arithmetic of many dates at once; :func:`char_codes` and
:func:`digit_columns` view fixed-width text fields as arrays of digits.  The
batch parsers (:class:`atokio.parsers.base.BatchLineParser`) use them; they are
re-exported from :mod:`atokio.parsers.base`, where they used to live.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from operator import itemgetter

import numpy as np

__all__ = ["LocalClock", "char_codes", "ctime_naive_codes", "digit_columns", "naive_seconds"]

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
        return self.localize(self.naive_epochs(years, months, days, hms)).astype(np.float64)

    def naive_epochs(
        self,
        years: Sequence[str],
        months: Sequence[str],
        days: Sequence[str],
        hms: Sequence[str],
    ) -> np.ndarray:
        """What :meth:`epochs` gives before the UTC offset is applied (int64, as if UTC).

        Needs no time zone: a worker process can compute it and the process
        whose ``TZ`` counts applies :meth:`localize`.
        """
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
        return day_number * 86400 + hour * 3600 + minute * 60 + second

    def ctime_epochs(self, texts: Sequence[str]) -> np.ndarray | None:
        """Epoch seconds (float64) of texts that start with a ``ctime()`` date, or ``None``.

        Each text must start with the five date fields separated by single
        spaces (``Sat Aug  9 00:05:01 2019`` or ``Sat Aug 9 00:05:01 2019``),
        followed by a space, in ASCII; the result is then what :meth:`epochs`
        gives for those five fields split on whitespace.  ``None`` if a text
        has another layout; ``ValueError`` if a date is out of range.
        """
        naive = self.ctime_naive(texts)
        return None if naive is None else self.localize(naive).astype(np.float64)

    def ctime_naive(self, texts: Sequence[str]) -> np.ndarray | None:
        """What :meth:`ctime_epochs` gives before the UTC offset is applied (int64, as if UTC)."""
        n = len(texts)
        if not n:
            return None
        head = "".join(map(_CTIME_PREFIX, texts))
        if len(head) != n * _CTIME_WIDTH or not head.isascii():
            return None
        codes = np.frombuffer(head.encode("ascii"), dtype=np.uint8).reshape(n, _CTIME_WIDTH)
        return ctime_naive_codes(codes)

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


def ctime_naive_codes(codes: np.ndarray) -> np.ndarray | None:
    """:meth:`LocalClock.ctime_naive` of the first 25 bytes of each text, an ``(n, 25)`` uint8
    array (ASCII), for parsers that read lines as bytes."""
    n = len(codes)
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
    return naive_seconds(
        digits[:, 7:11] @ np.array([1000, 100, 10, 1]),
        _CTIME_MONTH_NUMBERS[slot],
        np.maximum(day_tens, 0) * 10 + digits[:, 0],
        digits[:, 1] * 10 + digits[:, 2],
        digits[:, 3] * 10 + digits[:, 4],
        digits[:, 5] * 10 + digits[:, 6],
    )
