"""Streaming parsers for HPSS logs: the FTP/PFTP log, the HSI/HTAR log and the daily report.

Three sans-IO parsers (FORMATS.md section 5) and the table helpers that
:mod:`atokio.connectors.hpss` documents under their pytokio names:

* :class:`FtpLogParser` reads the HPSS 7.3 FTP/PFTP transfer log and gives
  ``(protocol, record)`` pairs, ``protocol`` being ``"ftp"`` or ``"pftp"``;
* :class:`HsiLogParser` reads the HSI/HTAR log and gives ``(application,
  record)`` pairs, ``application`` being ``"hsi"`` or ``"htar"``;
* :class:`HpssReportParser` reads the HPSS daily report and gives one
  :class:`ReportDate` followed by one section dict per table (the shape of
  :func:`parse_section`); :func:`build_report` assembles them.

Time stamps of both logs are ``ctime()`` style (``Sat Aug  9 00:05:01 2019``,
the day possibly padded with a space) in the **local** time zone of the
process, as in the reference: ``end_timestamp`` is a float of epoch seconds.

Decisions on the points the reference leaves open:

* FTP: ``start_timestamp = end_timestamp - duration_sec`` and ``bytes_sec =
  bytes / max(duration_sec, duration_sec_resolution)`` are computed (the class
  docstring promises them); a transfer logged as lasting ``0.000`` s thus gets
  the upper bound of its rate instead of an infinite one.  Commands other than
  the six store/retrieve commands are kept without an ``opname`` key.  A line
  whose HPSS path holds spaces (which the plain whitespace split cannot read)
  is recovered by matching the fields from both ends.  Lines that are not
  transfer records (``POPN_Cmd``, anything without ``ftp`` as the service) are
  skipped and counted in :attr:`FtpLogParser.skipped`.
* HSI: the layout is chosen by the operation: ``FU`` records carry no
  ``dest_path`` and no ``account_id``, ``FR`` records no ``account_id``, extra
  trailing fields (the empty field that ends an ``FU`` line) are ignored.
  HTAR lines of 18 fields have no ``remote_ftp_host`` key, lines of 19 do.
  Lines of other applications are skipped and counted in
  :attr:`HsiLogParser.skipped`.  ``bytes_sec`` of ``hsi`` records is the logged
  KB/s rate times 1000; for ``htar`` records it is the logged KB/s figure as
  is, exactly as the reference documents it (so mind the unit).
* A line with the shape of a record but a value that does not convert, or an
  HSI/HTAR line with too few fields, is a :class:`~atokio.parsers.base.ParseError`
  naming the line.
* Daily report: cells are typed inside :func:`parse_section` (floats, ints and
  ``D-HH:MM:SS`` spans plus ``<name>secs``, see :func:`convert_cell`); a cell
  that does not convert keeps its text.  A ``(system, title)`` seen twice is
  merged by :func:`build_report`.

Speed: both logs are parsed a batch of lines at a time.  Lines are split once,
grouped by layout, and each group is converted column by column (``map`` over
a column, numpy for the time stamps and rates); the per-line Python work is the
split and the building of the record dict.  A batch whose columns do not
convert is parsed again line by line to find and report the offending line, so
the result never depends on how the input was chunked.
"""

from __future__ import annotations

import datetime
import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from itertools import compress, repeat
from operator import itemgetter, not_
from typing import Any, NamedTuple, TypeVar

import numpy as np

from atokio.parsers.base import LineParser, ParseError

__all__ = [
    "FLOAT_COLUMNS",
    "BatchLineParser",
    "FTP_OPNAMES",
    "INT_COLUMNS",
    "REKEY_COLUMNS",
    "TIMEDELTA_COLUMNS",
    "FtpLogParser",
    "HpssReportParser",
    "HsiLogParser",
    "LocalClock",
    "ReportDate",
    "build_report",
    "char_codes",
    "convert_cell",
    "digit_columns",
    "find_columns",
    "ftp_protocol",
    "group_rows",
    "get_ascii_resolution",
    "hpss_timedelta_to_secs",
    "naive_seconds",
    "parse_section",
    "rekey_table",
]

#: ``10.0 ** -k`` for k decimals (the same values for the scalar and the vectorised form).
_RESOLUTION = tuple(10.0**-k for k in range(330))
_RESOLUTION_ARRAY = np.array(_RESOLUTION)

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_HMS_DIGITS = np.array([0, 1, 3, 4, 6, 7])
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_ERRORS = (ValueError, KeyError, IndexError, TypeError, OverflowError)

R = TypeVar("R")

#: Command -> ``opname`` of the FTP log (other ``*_Cmd`` commands get none).
FTP_OPNAMES = {
    "STOR_Cmd": "LH",
    "PSTO_Cmd": "LH",
    "LFSTO_Cmd": "LH",
    "RETR_Cmd": "HL",
    "PRTR_Cmd": "HL",
    "LFRTR_Cmd": "HL",
}


def get_ascii_resolution(numeric_str: str) -> float:
    """The smallest step the printed number can express: ``"0.010"`` -> 0.001, ``"33"`` -> 1.0.

    Lets consumers bound the rate of a transfer logged as taking ``0.000`` s.
    Scientific notation is not understood (``"1e3"`` -> 1.0).
    """
    text = numeric_str.strip()
    dot = text.rfind(".")
    if dot < 0:
        return 1.0
    return _RESOLUTION[min(len(text) - dot - 1, len(_RESOLUTION) - 1)]


def _resolutions(column: Sequence[str]) -> np.ndarray:
    """:func:`get_ascii_resolution` of every string of a column."""
    joined = "".join(column)
    if " " in joined or not joined.isprintable():
        column = [value.strip() for value in column]
    dots = np.fromiter(map(str.rfind, column, repeat(".")), dtype=np.int64, count=len(column))
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    decimals = np.where(dots < 0, 0, lengths - dots - 1)
    np.minimum(decimals, len(_RESOLUTION) - 1, out=decimals)
    return _RESOLUTION_ARRAY[decimals]


def _mapped(column: Sequence[str], convert: Callable[[str], Any]) -> list[Any]:
    """``convert`` over a column; a column of few distinct values converts each only once."""
    distinct = set(column)
    if len(distinct) * 8 > len(column):
        return list(map(convert, column))
    table = {value: convert(value) for value in distinct}
    return list(map(table.__getitem__, column))


def _resolution_column(column: Sequence[str]) -> list[float]:
    """:func:`get_ascii_resolution` of every value of a column, as a list."""
    if len(set(column)) * 8 > len(column):
        return _resolutions(column).tolist()
    return _mapped(column, get_ascii_resolution)


def ftp_protocol(command: str) -> str:
    """``"pftp"`` for parallel-FTP commands (``P...``, ``LF...``), else ``"ftp"``."""
    return "pftp" if command.startswith(("P", "LF")) else "ftp"


# -- local ctime() time stamps --------------------------------------------------


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


_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def _day_number(year: str, month: str, day: str) -> int:
    """Days since 1970-01-01 of ``ctime()`` date fields (``"2019"``, ``"Aug"``, ``"9"``)."""
    return datetime.date(int(year), _MONTHS[month], int(day)).toordinal() - _EPOCH_ORDINAL


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

    def localize(self, naive: np.ndarray) -> np.ndarray:
        """Epoch seconds (int64) of naive local times given as :func:`naive_seconds`."""
        hours = naive // 3600
        first = int(hours[0])
        if (hours == first).all():
            return naive + self._offset(first)
        unique, inverse = np.unique(hours, return_inverse=True)
        offsets = np.array([self._offset(int(h)) for h in unique], dtype=np.int64)
        return naive + offsets[inverse]

    def _offset(self, hour: int) -> int:
        offset = self._offsets.get(hour)
        if offset is None:
            t = time.gmtime(hour * 3600)
            local = time.mktime((t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, 0, 0, 0, 0, -1))
            offset = self._offsets[hour] = int(local) - hour * 3600
        return offset


Pair = tuple[str, dict[str, Any]]
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


class BatchLineParser(LineParser[R]):
    """A line parser that converts a batch of lines column by column.

    :meth:`classify` sorts the lines of a batch into groups of one layout
    (and names the first bad line, if any); :meth:`build` turns the rows of a
    group into records, vectorised.  When a group does not convert, the batch
    is converted again row by row so that the first row that fails is reported
    as a :class:`~atokio.parsers.base.ParseError` with its line number, the
    records before it in ``error.records``.  ``build`` must give for a group
    the records it gives for its rows one at a time: that is what makes the
    output independent of the chunking.
    """

    #: What a record is called in error messages.
    what = "log"

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        #: Lines that were not records of a known kind (not errors), so far.
        self.skipped = 0

    def parse_lines(self, lines: list[str]) -> list[R]:
        base = self.line_number
        groups, failure = self.classify(lines)
        try:
            out = self._convert(groups)
        except _ERRORS:
            out = self._convert_slowly(groups, base, lines)
        if failure is not None:
            index, message = failure
            self.line_number = base + index + 1
            error = self.error(message, lines[index])
            error.records = list(out)
            raise error
        self.line_number = base + len(lines)
        return out

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
        slots: list[Any] = [None] * sum(len(index) for index, _ in groups.values())
        order = sorted(i for index, _ in groups.values() for i in index)
        position = {line: slot for slot, line in enumerate(order)}
        for kind, (index, rows) in groups.items():
            for line, record in zip(index, self.build(kind, rows), strict=True):
                slots[position[line]] = record
        return slots

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
            except _ERRORS as exc:
                self.line_number = base + line + 1
                error = self.error(f"bad {self.what} record ({exc})", lines[line])
                error.records = list(out)
                raise error from None
        return out


class _LogParser(BatchLineParser[Pair]):
    """The two HPSS logs: ``(bucket, record)`` pairs and a local clock."""

    def __init__(self, source: str = "<input>") -> None:
        super().__init__(source)
        self._clock = LocalClock()


# -- FTP log ----------------------------------------------------------------------

#: A transfer line whose path may hold spaces: the fields read from both ends.
_FTP_LINE = re.compile(
    r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([0-9.]+)\s+(\S+)\s+(\d+)\s+(.+?)\s+"
    r"(\S+)\s+(\S+)\s+(\S+_Cmd)\s+(\S+)\s+(ftp)\s+(\S+)(?:\s+fd\s+\S+)?\s*$"
)


class FtpLogParser(_LogParser):
    """Sans-IO parser of the HPSS 7.3 FTP/PFTP log: ``(protocol, record)`` pairs.

    A record (FORMATS.md section 5.1)::

        {"end_timestamp": 1546243606.0, "opname": "HL", "duration_sec": 0.01,
         "duration_sec_resolution": 0.001, "remote_host": "dtn01-int.nersc.gov",
         "bytes": 33, "hpss_path": "/home/o/opera...", "hpss_uid": "operator",
         "start_timestamp": 1546243605.99, "bytes_sec": 3300.0}

    ``protocol`` is ``"pftp"`` for ``P*``/``LF*`` commands, else ``"ftp"``.
    See the module docstring for what is skipped and what is an error.
    """

    what = "FTP transfer"

    def classify(self, lines: list[str]) -> tuple[Groups, tuple[int, str] | None]:
        fields = list(map(str.split, lines))
        ok = [len(f) >= 15 and f[13] == "ftp" and f[11].endswith("_Cmd") for f in fields]
        if all(ok):
            return ({"ftp": (list(range(len(fields))), fields)} if fields else {}), None
        index = list(compress(range(len(fields)), ok))
        rows = [fields[i] for i in index]
        failure: tuple[int, str] | None = None
        recovered: list[tuple[int, list[str]]] = []
        for i in compress(range(len(fields)), map(not_, ok)):
            row = fields[i]
            n = len(row)
            if not n:
                continue
            if n == 14 and row[13] == "ftp" and row[11].endswith("_Cmd"):
                failure = (i, "FTP transfer without a user")
                break
            # a path holding spaces adds tokens: only such lines can be recovered
            match = _FTP_LINE.match(lines[i]) if n >= 16 else None
            if match:
                recovered.append((i, [*match.group(1, 2, 3, 4, 5), *match.group(*range(6, 16))]))
            else:
                self.skipped += 1
        if failure is not None and index and index[-1] > failure[0]:
            keep = bisect_left(index, failure[0])
            del index[keep:], rows[keep:]
        if recovered:
            merged = sorted([*zip(index, rows, strict=True), *recovered], key=itemgetter(0))
            index = [i for i, _ in merged]
            rows = [row for _, row in merged]
        return ({"ftp": (index, rows)} if rows else {}), failure

    def build(self, kind: Any, rows: list[Any]) -> list[Pair]:
        columns = list(zip(*rows, strict=False))
        end = self._clock.epochs(columns[4], columns[1], columns[2], columns[3])
        duration = np.fromiter(map(float, columns[5]), dtype=np.float64, count=len(rows))
        resolution = _resolutions(columns[5])
        nbytes = list(map(int, columns[7]))
        start = (end - duration).tolist()
        rate = (np.array(nbytes, dtype=np.float64) / np.maximum(duration, resolution)).tolist()
        commands = columns[11]
        opnames = list(map(FTP_OPNAMES.get, commands))
        protocol = {command: ftp_protocol(command) for command in set(commands)}
        records = [
            {
                "end_timestamp": e,
                "opname": o,
                "duration_sec": d,
                "duration_sec_resolution": r,
                "remote_host": h,
                "bytes": b,
                "hpss_path": p,
                "hpss_uid": u,
                "start_timestamp": s,
                "bytes_sec": bs,
            }
            for e, o, d, r, h, b, p, u, s, bs in zip(
                end.tolist(),
                opnames,
                duration.tolist(),
                resolution.tolist(),
                columns[6],
                nbytes,
                columns[8],
                columns[14],
                start,
                rate,
                strict=True,
            )
        ]
        if None in opnames:
            for record, opname in zip(records, opnames, strict=True):
                if opname is None:
                    del record["opname"]
        return list(zip(map(protocol.__getitem__, commands), records, strict=True))


# -- HSI / HTAR log -------------------------------------------------------------------

#: Least number of TAB fields (after the eight space-separated ones) per layout.
_HSI_NEED = {"hsi": 10, "hsi-FR": 9, "hsi-FU": 8, "htar18": 10, "htar19": 11}


class HsiLogParser(_LogParser):
    """Sans-IO parser of the HSI/HTAR log: ``(application, record)`` pairs.

    Records as in FORMATS.md section 5.2 (``hsi`` and ``htar`` layouts); see
    the module docstring for the per-operation layouts and the rate units.
    """

    what = "HSI/HTAR"

    def classify(self, lines: list[str]) -> tuple[Groups, tuple[int, str] | None]:
        groups: Groups = {}
        for i, line in enumerate(lines):
            head = line.split(None, 8)
            if len(head) != 9:
                if not head:
                    continue
                return groups, (i, "expected 8 space-separated fields and TAB-separated ones")
            app = head[6]
            if app == "hsi":
                tail = head[8].split("\t")
                op = tail[1] if len(tail) > 1 else ""
                kind = "hsi-FU" if op == "FU" else "hsi-FR" if op == "FR" else "hsi"
            elif app == "htar":
                tail = head[8].split("\t")
                kind = "htar19" if len(tail) == 11 else "htar18"
                if len(tail) not in (10, 11):
                    return groups, (i, f"htar record of {8 + len(tail)} fields, expected 18 or 19")
            else:
                self.skipped += 1
                continue
            if len(tail) < _HSI_NEED[kind]:
                return groups, (
                    i,
                    f"{app} {kind[4:] or 'transfer'} record of {8 + len(tail)} fields, "
                    f"expected at least {8 + _HSI_NEED[kind]}",
                )
            group = groups.get(kind)
            if group is None:
                group = groups[kind] = ([], [])
            group[0].append(i)
            group[1].append((head, tail))
        return groups, None

    def build(self, kind: Any, rows: list[Any]) -> list[Pair]:
        heads, tails = zip(*rows, strict=True)
        head = list(zip(*heads, strict=False))
        tail = list(zip(*tails, strict=False))
        n = len(rows)
        end = self._clock.epochs(head[4], head[1], head[2], head[3]).tolist()
        remote_host = head[5]
        uid = _mapped(head[7], int)
        pid = list(map(int, tail[0]))
        if kind.startswith("hsi"):
            return self._build_hsi(kind, n, tail, pid, uid, remote_host, end)
        return self._build_htar(kind, n, tail, pid, uid, remote_host, end)

    @staticmethod
    def _build_hsi(
        kind: str,
        n: int,
        tail: list[tuple[str, ...]],
        pid: list[int],
        uid: list[int],
        remote_host: Sequence[str],
        end: list[float],
    ) -> list[Pair]:
        op = tail[1]
        rc = _mapped(tail[2], int)
        lat = _mapped(tail[3], float)
        latr = _resolution_column(tail[3])
        nbytes = list(map(int, tail[4]))
        rate = (np.fromiter(map(float, tail[5]), dtype=np.float64, count=n) * 1000.0).tolist()
        rater = (_resolutions(tail[5]) * 1000.0).tolist()
        cos = _mapped(tail[6], int)
        src = tail[7]
        if kind == "hsi":
            account = _mapped(tail[9], int)
            records = [
                {
                    "client_pid": p,
                    "opname": o,
                    "return_code": c,
                    "access_latency_sec": la,
                    "access_latency_sec_resolution": lr,
                    "bytes": b,
                    "bytes_sec": r,
                    "bytes_sec_resolution": rr,
                    "cos_id": cs,
                    "source_path": sp,
                    "dest_path": dp,
                    "account_id": ac,
                    "hpss_uid": u,
                    "remote_host": h,
                    "end_timestamp": e,
                }
                for p, o, c, la, lr, b, r, rr, cs, sp, dp, ac, u, h, e in zip(
                    pid, op, rc, lat, latr, nbytes, rate, rater, cos, src, tail[8], account, uid,
                    remote_host, end, strict=True,
                )
            ]  # fmt: skip
        elif kind == "hsi-FR":
            records = [
                {
                    "client_pid": p,
                    "opname": o,
                    "return_code": c,
                    "access_latency_sec": la,
                    "access_latency_sec_resolution": lr,
                    "bytes": b,
                    "bytes_sec": r,
                    "bytes_sec_resolution": rr,
                    "cos_id": cs,
                    "source_path": sp,
                    "dest_path": dp,
                    "hpss_uid": u,
                    "remote_host": h,
                    "end_timestamp": e,
                }
                for p, o, c, la, lr, b, r, rr, cs, sp, dp, u, h, e in zip(
                    pid, op, rc, lat, latr, nbytes, rate, rater, cos, src, tail[8], uid,
                    remote_host, end, strict=True,
                )
            ]  # fmt: skip
        else:
            records = [
                {
                    "client_pid": p,
                    "opname": o,
                    "return_code": c,
                    "access_latency_sec": la,
                    "access_latency_sec_resolution": lr,
                    "bytes": b,
                    "bytes_sec": r,
                    "bytes_sec_resolution": rr,
                    "cos_id": cs,
                    "source_path": sp,
                    "hpss_uid": u,
                    "remote_host": h,
                    "end_timestamp": e,
                }
                for p, o, c, la, lr, b, r, rr, cs, sp, u, h, e in zip(
                    pid,
                    op,
                    rc,
                    lat,
                    latr,
                    nbytes,
                    rate,
                    rater,
                    cos,
                    src,
                    uid,
                    remote_host,
                    end,
                    strict=True,
                )
            ]
        return list(zip(repeat("hsi"), records))

    @staticmethod
    def _build_htar(
        kind: str,
        n: int,
        tail: list[tuple[str, ...]],
        pid: list[int],
        uid: list[int],
        remote_host: Sequence[str],
        end: list[float],
    ) -> list[Pair]:
        rc = list(map(int, tail[3]))
        nbytes = list(map(int, tail[4]))
        duration = list(map(float, tail[5]))
        duration_res = _resolutions(tail[5]).tolist()
        rate = list(map(float, tail[6]))
        rate_res = _resolutions(tail[6]).tolist()
        extra = 1 if kind == "htar19" else 0
        cos = list(map(int, tail[8 + extra]))
        account = list(map(int, tail[9 + extra]))
        records = [
            {
                "client_pid": p,
                "htar_op": op,
                "opname": o,
                "return_code": c,
                "bytes": b,
                "duration_sec": d,
                "duration_sec_resolution": dr,
                "bytes_sec": r,
                "bytes_sec_resolution": rr,
                "hpss_path": path,
                "cos_id": cs,
                "account_id": acct,
                "hpss_uid": u,
                "remote_host": h,
                "end_timestamp": e,
            }
            for p, op, o, c, b, d, dr, r, rr, path, cs, acct, u, h, e in zip(
                pid,
                tail[1],
                tail[2],
                rc,
                nbytes,
                duration,
                duration_res,
                rate,
                rate_res,
                tail[7],
                cos,
                account,
                uid,
                remote_host,
                end,
                strict=True,
            )
        ]
        if extra:
            for record, ftp_host in zip(records, tail[8], strict=True):
                record["remote_ftp_host"] = ftp_host
        return list(zip(repeat("htar"), records))


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
