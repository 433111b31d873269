"""Streaming parsers for HPSS logs: the FTP/PFTP log, the HSI/HTAR log and the daily report.

Three sans-IO parsers (docs/formats.md#hpss) and the table helpers that
:mod:`atokio.connectors.hpss` documents under their pytokio names:

* :class:`FtpLogParser` reads the HPSS 7.3 FTP/PFTP transfer log and gives
  ``(protocol, record)`` pairs, ``protocol`` being ``"ftp"`` or ``"pftp"``;
* :class:`HsiLogParser` reads the HSI/HTAR log and gives ``(application,
  record)`` pairs, ``application`` being ``"hsi"`` or ``"htar"``;
* :class:`HpssReportParser` (in :mod:`atokio.parsers.hpss_report`, re-exported
  here) reads the HPSS daily report and gives one :class:`ReportDate`
  followed by one section dict per table; :func:`build_report` assembles them.

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

Speed: a block of plain ASCII lines is read from its bytes
(:mod:`atokio.parsers.hpss_bytes`): the fields of all its lines are located at
once and each field used is converted in one numpy pass, without a string per
field.  Any other block is parsed a batch of lines at a time: lines are split
once, grouped by layout, and each group is converted column by column.  Both
give :class:`~atokio.parsers.hpss_columns.Columns`, from which the record dicts
are built in one list comprehension per bucket; ``columns=True`` stops before
that, so that worker processes can do all the converting and the process that
keeps the records only the dict building (:class:`atokio.connectors.hpss.FtpLog`
does so).  A batch whose columns do not convert is parsed again line by line to
find and report the offending line, so the result never depends on how the
input was chunked or which path read it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import compress, repeat
from operator import itemgetter, not_
from typing import Any

import numpy as np

from atokio.parsers import hpss_bytes
from atokio.parsers.base import (
    CONVERSION_ERRORS,
    BatchLineParser,
    Groups,
    LocalClock,
    group_rows,
    in_line_order,
)
from atokio.parsers.hpss_bytes import RESOLUTION_ARRAY, RESOLUTIONS
from atokio.parsers.hpss_columns import FTP_OPNAMES, Columns, ftp_protocol, pairs_of, records_of

# the daily report has a module of its own; its names stay importable from here
from atokio.parsers.hpss_report import (
    FLOAT_COLUMNS,
    INT_COLUMNS,
    REKEY_COLUMNS,
    TIMEDELTA_COLUMNS,
    HpssReportParser,
    ReportDate,
    build_report,
    convert_cell,
    find_columns,
    hpss_timedelta_to_secs,
    parse_section,
    rekey_table,
)

__all__ = [
    "Columns",
    "FLOAT_COLUMNS",
    "FTP_OPNAMES",
    "INT_COLUMNS",
    "REKEY_COLUMNS",
    "TIMEDELTA_COLUMNS",
    "FtpLogParser",
    "HpssReportParser",
    "HsiLogParser",
    "ReportDate",
    "build_report",
    "convert_cell",
    "find_columns",
    "ftp_protocol",
    "get_ascii_resolution",
    "hpss_timedelta_to_secs",
    "parse_section",
    "records_of",
    "rekey_table",
]

#: ``10.0 ** -k`` for k decimals (the same values for the scalar and the vectorised form).
_RESOLUTION = RESOLUTIONS
_RESOLUTION_ARRAY = RESOLUTION_ARRAY

_ERRORS = CONVERSION_ERRORS


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
    found = _one_dot_resolutions(column)
    if found is not None:
        return found
    joined = "".join(column)
    if " " in joined or not joined.isprintable():
        column = [value.strip() for value in column]
    dots = np.fromiter(map(str.rfind, column, repeat(".")), dtype=np.int64, count=len(column))
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    decimals = np.where(dots < 0, 0, lengths - dots - 1)
    np.minimum(decimals, len(_RESOLUTION) - 1, out=decimals)
    return _RESOLUTION_ARRAY[decimals]


def _one_dot_resolutions(column: Sequence[str]) -> np.ndarray | None:
    """The resolutions of a column whose values each hold one ``.`` and no blank, else ``None``.

    One pass over the column joined with line breaks: the decimals of a value
    are the characters between its dot and the following line break.
    """
    n = len(column)
    joined = "\n".join(column) + "\n"
    if not n or not joined.isascii():
        return None
    codes = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    ends = np.flatnonzero(codes == 10)
    dots = np.flatnonzero(codes == 46)
    if (
        len(ends) != n
        or len(dots) != n
        or np.count_nonzero(codes <= 32) != n
        or (dots > ends).any()
        or (dots[1:] < ends[:-1]).any()
    ):
        return None
    decimals = ends - dots - 1
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


def _shared(column: list[str]) -> list[str]:
    """``column`` with equal strings made one object when few are distinct (less memory kept)."""
    distinct = {value: value for value in column}
    if len(distinct) * 8 > len(column):
        return column
    return list(map(distinct.__getitem__, column))


class _LogParser(BatchLineParser[Any]):
    """The two HPSS logs: ``(bucket, record)`` pairs and a local clock.

    With ``columns=True`` the parser gives :class:`Columns` instead of pairs
    (one or two per batch of lines, in line order within each bucket): the
    stage a worker process runs, the records being built from them by
    :func:`records_of` where they are kept.  Errors and skipped lines are the
    same in both forms.
    """

    def __init__(self, source: str = "<input>", *, columns: bool = False) -> None:
        super().__init__(source)
        self.columns = columns
        self._clock = LocalClock()

    def _parse_block(self, block: bytes) -> list[Any]:
        """A block read from its bytes (:meth:`_parse_text`), else line by line."""
        text = hpss_bytes.text_array(block)
        try:
            fast = None if text is None else self._parse_text(text)
        except CONVERSION_ERRORS:  # a date out of range: reported line by line
            fast = None
        return super()._parse_block(block) if fast is None else fast

    def _parse_text(self, text: np.ndarray) -> list[Any] | None:
        """The output of a block of ASCII lines, or ``None`` to parse it line by line."""
        return None

    def _emit_found(self, found: hpss_bytes.Block | None) -> list[Any] | None:
        """The output of what :mod:`atokio.parsers.hpss_bytes` read from a block (``None``: nothing)."""
        if found is None:
            return None
        out = self._emit(found.parts)
        self.skipped += found.skipped
        self.line_number += found.lines
        return out

    @property
    def clock(self) -> LocalClock:
        """The clock that makes the end times local (:func:`records_of` takes it)."""
        return self._clock

    def _emit(self, parts: list[tuple[list[int], Columns]]) -> list[Any]:
        """The output of a batch from ``[(line indexes, columns), ...]``: the columns of each
        bucket merged in line order, or the ``(bucket, record)`` pairs of the whole batch."""
        buckets: dict[str, list[tuple[list[int], Columns]]] = {}
        for index, part in parts:
            if len(part):
                buckets.setdefault(part.layout, []).append((index, part))
        merged = [Columns.merged(group) for group in buckets.values()]
        if self.columns:
            return [part for _, part in merged]
        return in_line_order([(index, pairs_of(part, self._clock)) for index, part in merged])


# -- FTP log ----------------------------------------------------------------------

#: A transfer line whose path may hold spaces: the fields read from both ends.
_FTP_LINE = re.compile(
    r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+([0-9.]+)\s+(\S+)\s+(\d+)\s+(.+?)\s+"
    r"(\S+)\s+(\S+)\s+(\S+_Cmd)\s+(\S+)\s+(ftp)\s+(\S+)(?:\s+fd\s+\S+)?\s*$"
)


class FtpLogParser(_LogParser):
    """Sans-IO parser of the HPSS 7.3 FTP/PFTP log: ``(protocol, record)`` pairs.

    A record (docs/formats.md#ftp-and-pftp-log)::

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

    def _parse_text(self, text: np.ndarray) -> list[Any] | None:
        return self._emit_found(hpss_bytes.ftp_block(text))

    def parse_batch(self, lines: list[str]) -> list[Any] | None:
        """The batch as :meth:`classify` and :meth:`build` give it, the times read from the lines.

        The end times are read from the 24-character ``ctime()`` prefixes of the
        transfer lines in one numpy pass (:meth:`LocalClock.ctime_naive`), which
        costs half of converting the split date fields.  Declines (``None``) for
        a batch holding a bad line; ``skipped`` is left as it was when it
        declines or a value does not convert.
        """
        skipped = self.skipped
        try:
            groups, failure = self.classify(lines)
            if failure is not None:
                self.skipped = skipped
                return None
            if not groups:
                return []
            index, rows = groups["ftp"]
            texts = lines if len(index) == len(lines) else list(map(lines.__getitem__, index))
            return self._build(rows, texts)
        except BaseException:
            self.skipped = skipped
            raise

    def build(self, kind: Any, rows: list[Any]) -> list[Any]:
        return self._build(rows, None)

    def _build(self, rows: list[list[str]], texts: list[str] | None) -> list[Any]:
        """The output of transfer rows; ``texts``, when given, are their lines."""
        c = list(zip(*rows, strict=False))
        naive = None if texts is None else self._clock.ctime_naive(texts)
        if naive is None:
            naive = self._clock.naive_epochs(c[4], c[1], c[2], c[3])
        columns = self._columns(naive, c[5], c[6], c[7], c[8], c[14], c[11])
        return self._emit([(list(range(len(rows))), columns)])

    @staticmethod
    def _columns(
        naive: np.ndarray,
        durations: Sequence[str],
        hosts: Sequence[str],
        sizes: Sequence[str],
        paths: Sequence[str],
        users: Sequence[str],
        commands: Sequence[str],
    ) -> Columns:
        """The columns of transfer fields (end times already read)."""
        duration = np.fromiter(map(float, durations), dtype=np.float64, count=len(durations))
        resolution = _resolutions(durations)
        nbytes = list(map(int, sizes))
        rate = np.array(nbytes, dtype=np.float64) / np.maximum(duration, resolution)
        return Columns(
            "ftp",
            naive,
            {"duration": duration, "resolution": resolution, "rate": rate},
            {"bytes": nbytes},
            {"host": list(hosts), "path": list(paths), "user": list(users),
             "command": list(commands)},
        )  # fmt: skip


# -- HSI / HTAR log -------------------------------------------------------------------

#: Least number of TAB fields (after the eight space-separated ones) per layout.
_HSI_NEED = {"hsi": 10, "hsi-FR": 9, "hsi-FU": 8, "htar18": 10, "htar19": 11}


#: The kind of the lines that are counted as skipped.
_SKIP = "skip"


def _hsi_kind(app: str, op: str, fields: int) -> str | None:
    """The layout of a line of ``fields`` TAB fields, :data:`_SKIP`, or ``None`` for a bad line."""
    if app == "hsi":
        kind = "hsi-FU" if op == "FU" else "hsi-FR" if op == "FR" else "hsi"
    elif app == "htar":
        if fields not in (10, 11):
            return None
        kind = "htar19" if fields == 11 else "htar18"
    else:
        return _SKIP
    return kind if fields >= _HSI_NEED[kind] else None


class HsiLogParser(_LogParser):
    """Sans-IO parser of the HSI/HTAR log: ``(application, record)`` pairs.

    Records as in docs/formats.md#hsi-and-htar-log (``hsi`` and ``htar`` layouts); see
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

    def _parse_text(self, text: np.ndarray) -> list[Any] | None:
        return self._emit_found(hpss_bytes.hsi_block(text))

    def parse_batch(self, lines: list[str]) -> list[Any] | None:
        """A batch of well-formed lines in one pass, without a Python loop per line.

        Lines are grouped by their number of TABs (a C-level count); the lines
        of a group are joined and split on TAB in one call, so that each field
        is a slice of one flat list.  The space-separated head (date, host,
        application, uid, pid) is cut with one ``rsplit`` per line, the end
        times are read from the line prefixes (:meth:`LocalClock.ctime_epochs`).
        Declines (``None``) for a blank line, a line without TABs, a head of
        another shape or a line that :meth:`classify` would report.
        """
        tabs = list(map(str.count, lines, repeat("\t")))
        if not tabs or min(tabs) == 0:
            return None
        parts: list[tuple[list[int], Columns]] = []
        skipped = 0
        for count, (index, group) in group_rows(tabs, lines).items():
            width = count + 1
            flat = "\t".join(group).split("\t")
            tail = [flat[k::width] for k in range(width)]
            heads = list(map(str.rsplit, tail[0], repeat(None), repeat(4)))
            if min(map(len, heads)) != 5:
                return None
            dates, hosts, apps, uids, pids = map(list, zip(*heads, strict=True))
            # the prefix holds a date, and the head nothing else but the last four fields
            end = self._clock.ctime_naive(tail[0])
            if end is None or not set(map(len, dates)) <= {23, 24}:
                return None
            ops = tail[1]
            # rows of each layout, None for all the rows of the group
            layouts: dict[str, list[int] | None]
            if apps.count("hsi") == len(apps) and "FU" not in ops and "FR" not in ops:
                layouts = {"hsi": None}
            else:
                table = {key: _hsi_kind(*key, width) for key in set(zip(apps, ops, strict=True))}
                if None in table.values():
                    return None  # a line that classify() reports
                labels = list(map(table.__getitem__, zip(apps, ops, strict=True)))
                skipped += labels.count(_SKIP)
                layouts = {
                    kind: (None if len(rows) == len(labels) else rows)
                    for kind, (rows, _) in group_rows(labels, labels, skip=_SKIP).items()
                }
            for kind, rows in layouts.items():
                if rows is None:
                    parts.append((index, self._columns(kind, tail, pids, uids, hosts, end)))
                    continue
                columns = self._columns(
                    kind,
                    [list(map(column.__getitem__, rows)) for column in tail],
                    list(map(pids.__getitem__, rows)),
                    list(map(uids.__getitem__, rows)),
                    list(map(hosts.__getitem__, rows)),
                    end[rows],
                )
                parts.append((list(map(index.__getitem__, rows)), columns))
        out = self._emit(parts)
        self.skipped += skipped
        return out

    def build(self, kind: Any, rows: list[Any]) -> list[Any]:
        return self._emit([(list(range(len(rows))), self._group_columns(kind, rows))])

    def _convert(self, groups: Groups) -> list[Any]:
        return self._emit(
            [(index, self._group_columns(kind, rows)) for kind, (index, rows) in groups.items()]
        )

    def _group_columns(self, kind: str, rows: list[Any]) -> Columns:
        """The columns of the ``(head, tail)`` rows that :meth:`classify` grouped as ``kind``."""
        heads, tails = zip(*rows, strict=True)
        head = list(zip(*heads, strict=False))
        tail = list(zip(*tails, strict=False))
        naive = self._clock.naive_epochs(head[4], head[1], head[2], head[3])
        return self._columns(kind, tail, tail[0], head[7], head[5], naive)

    @staticmethod
    def _columns(
        kind: str,
        tail: Sequence[Sequence[str]],
        pids: Sequence[str],
        uids: Sequence[str],
        hosts: Sequence[str],
        naive: np.ndarray,
    ) -> Columns:
        """The columns of one layout: ``tail[k]`` is TAB field ``k`` (k >= 1).

        The three ``hsi`` layouts share one set of columns (an ``FU`` row has an
        empty ``dest`` and both an ``FU`` and an ``FR`` row a zero ``account``,
        flagged by ``no_dest`` and ``no_account``), as do the two ``htar`` ones
        (``wide`` flags the rows that have a ``ftp_host``).
        """
        n = len(pids)
        pid = list(map(int, pids))
        uid = _mapped(uids, int)
        if kind.startswith("hsi"):
            rate = np.fromiter(map(float, tail[5]), dtype=np.float64, count=n) * 1000.0
            zeros = [0] * n
            return Columns(
                "hsi",
                naive,
                {
                    "latency": np.array(_mapped(tail[3], float), dtype=np.float64),
                    "latency_res": np.array(_resolution_column(tail[3]), dtype=np.float64),
                    "rate": rate,
                    "rate_res": _resolutions(tail[5]) * 1000.0,
                },
                {
                    "pid": pid,
                    "rc": _mapped(tail[2], int),
                    "bytes": list(map(int, tail[4])),
                    "cos": _mapped(tail[6], int),
                    "account": _mapped(tail[9], int) if kind == "hsi" else zeros,
                    "uid": uid,
                    "no_account": zeros if kind == "hsi" else [1] * n,
                    "no_dest": [1] * n if kind == "hsi-FU" else zeros,
                },
                {
                    "op": list(tail[1]),
                    "source": list(tail[7]),
                    "dest": [""] * n if kind == "hsi-FU" else list(tail[8]),
                    "host": list(hosts),
                },
            )
        extra = 1 if kind == "htar19" else 0
        return Columns(
            "htar",
            naive,
            {
                "duration": np.fromiter(map(float, tail[5]), dtype=np.float64, count=n),
                "duration_res": _resolutions(tail[5]),
                "rate": np.fromiter(map(float, tail[6]), dtype=np.float64, count=n),
                "rate_res": _resolutions(tail[6]),
            },
            {
                "pid": pid,
                "rc": list(map(int, tail[3])),
                "bytes": list(map(int, tail[4])),
                "cos": list(map(int, tail[8 + extra])),
                "account": list(map(int, tail[9 + extra])),
                "uid": uid,
                "wide": [extra] * n,
            },
            {
                "htar_op": list(tail[1]),
                "op": list(tail[2]),
                "path": list(tail[7]),
                "ftp_host": list(tail[8]) if extra else [""] * n,
                "host": list(hosts),
            },
        )
