"""Connect to various outputs made available by HPSS (``tokio.connectors.hpss``).

* :class:`FtpLog` — the HPSS 7.3 FTP/PFTP transfer log, as
  ``{"ftp": [record, ...], "pftp": [record, ...]}``;
* :class:`HsiLog` — the HSI/HTAR transfer log, as
  ``{"hsi": [record, ...], "htar": [record, ...]}``;
* :class:`HpssDailyReport` — the HPSS daily report, as
  ``{system: {table title: {key: record} | [record, ...]}}`` with the report's
  date in the attribute ``date``.

Each is filled from a log file (``cache_file``, plain or gzip: a ``.gz`` name
or the gzip magic), from a string (``from_string``), through
``from_file()``/``from_str()``, or later with ``load_str()``.  The text is
streamed through the sans-IO parsers of :mod:`atokio.parsers.hpss` (record
keys, value types and the decisions on open points are documented there).
A file holding the JSON that ``save_cache()`` writes loads back as well.

A plain log file of ``FtpLog`` and ``HsiLog`` is parsed on every core: worker
processes read line-aligned ranges of it into columns
(:func:`atokio.collectors.files.aparse_file_ranges`,
:class:`atokio.parsers.hpss_columns.Columns`) while this process builds the
records of the ranges already read; ``aload_cache()`` is the same for an event
loop.  The result is the one a single process gives.

Time stamps are local time (the process's ``TZ``), as in the reference.

Bad input (a line with the shape of a record whose values do not convert, an
HSI/HTAR line with too few fields, a report without its date line) raises
:class:`~atokio.parsers.base.ParseError` naming the source and line, after the
records read before it were stored; with ``silent_errors=True`` it is logged
at debug level instead.  Lines that are simply not transfer records are
skipped, as in the reference, and their number is logged at debug level.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from functools import partial
from itertools import compress, repeat
from operator import eq, itemgetter
from typing import Any

import anyio

from atokio.collectors.files import aparse_file_ranges, open_binary
from atokio.collectors.sync import run_sync
from atokio.connectors.common import SubprocessOutputDict, _TextLog, gc_paused
from atokio.parsers.base import LocalClock, ParseError
from atokio.parsers.hpss import (
    Columns,
    FtpLogParser,
    HpssReportParser,
    HsiLogParser,
    build_report,
    find_columns,
    get_ascii_resolution,
    hpss_timedelta_to_secs,
    parse_section,
    records_of,
    rekey_table,
)

__all__ = ["FtpLog", "HpssDailyReport", "HsiLog"]

logger = logging.getLogger(__name__)

#: Bytes a worker hands its parser at once: blocks this large keep the numpy passes long.
_BLOCK = 1 << 20
#: Bytes of a log per range: small enough for this process to take its share of them while
#: the worker pool starts.
_RANGE = 4 << 20

_BUCKET = itemgetter(0)
_RECORD = itemgetter(1)


def _find_columns(
    line: str, sep: str = "=", gap: str = " ", strict: bool = False
) -> list[tuple[int, int]]:
    """Column extents drawn by a separator line such as ``=====  ====``, as ``(start, length)``.

    ``line[start:start + length]`` is one column: with ``strict=True`` exactly
    its run of ``sep`` characters; with ``strict=False`` the run plus the
    ``gap`` before it (a column starts where the previous one ended, the
    first at 0).  The reference text calls the pairs "(start index, end
    index)"; pytokio returns lengths as the second member, and scripts were
    written against that, so this does too.  The parser's own
    :func:`atokio.parsers.hpss.find_columns` gives ``(start, end)``.
    """
    return [
        (start, end - start) for start, end in find_columns(line, sep=sep, gap=gap, strict=strict)
    ]


def _get_ascii_resolution(numeric_str: str) -> float:
    """The smallest number the printed precision of ``numeric_str`` can express (``"0.000"`` -> 0.001)."""
    return get_ascii_resolution(numeric_str)


def _hpss_timedelta_to_secs(timedelta_str: str) -> int:
    """Seconds of an HPSS ``d-HH:MM:SS`` time span (-1 when it is not one)."""
    return hpss_timedelta_to_secs(timedelta_str)


def _parse_section(lines: Sequence[str], start_line: int = 0) -> tuple[dict[str, Any], int]:
    """Parse one table of the daily report: ``(table, index after its last line)``.

    ``lines[start_line]`` is the title, ``+1`` the heading, ``+2`` the ``====``
    separator, then the rows.  The table is ``{"system", "title", "records":
    [record, ...]}``; see :func:`atokio.parsers.hpss.parse_section`.
    """
    return parse_section(lines, start_line)


def _rekey_table(table: dict[str, Any], key: str) -> dict[str, Any]:
    """``{"records": [{key: k, ...}, ...]}`` -> ``{"records": {k: {...}, ...}}`` (``key`` removed)."""
    return rekey_table(table, key)


def _holds_json(path: str) -> bool:
    """Whether a file (plain or gzip) holds the JSON that ``save_cache`` writes, not a log."""
    with open_binary(path) as handle:
        return handle.read(1 << 18).lstrip()[:1] in (b"{", b"[")


class _LogDict(_TextLog, SubprocessOutputDict):
    """A log connector shaped as ``{bucket: [record, ...]}`` with fixed buckets."""

    _buckets: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.load()

    def __repr__(self) -> str:
        counts = ", ".join(f"{bucket}: {len(self.get(bucket, []))}" for bucket in self._buckets)
        return f"<{type(self).__name__} {counts}>"

    def _apply_records(self, records: list[Any]) -> None:
        buckets = {bucket: self.setdefault(bucket, []) for bucket in self._buckets}
        labels = list(map(_BUCKET, records))
        items = list(map(_RECORD, records))
        for bucket in set(labels):
            if labels.count(bucket) == len(labels):
                buckets[bucket].extend(items)
            else:
                buckets[bucket].extend(compress(items, map(eq, labels, repeat(bucket))))

    def _apply_json(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError(f"{type(self).__name__} cache must hold a JSON object")
        for bucket in self._buckets:
            self.setdefault(bucket, [])
        for bucket, records in data.items():
            self.setdefault(bucket, []).extend(records)

    #: The parser of the log (a class, so that a worker process can be sent how to make one).
    _parser: type[FtpLogParser] | type[HsiLogParser]

    def _make_parser(self, source: str = "<string>") -> FtpLogParser | HsiLogParser:
        return self._parser(source=source)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Parse a log file (plain or gzip), or the JSON that ``save_cache`` wrote.

        A log is parsed on every core (see :meth:`aload_cache`).
        """
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        if _holds_json(path):
            super().load_cache(path)
            return
        run_sync(self._aload_log, str(path))

    @classmethod
    async def afrom_file(cls, cache_file: str) -> Any:
        """:meth:`from_file` for an event loop (trio or asyncio), which it never blocks:
        ``log = await FtpLog.afrom_file(path)``."""
        log = cls()
        log.cache_file = cache_file
        await log.aload_cache(cache_file)
        return log

    async def aload_cache(self, cache_file: str | None = None) -> None:
        """:meth:`load_cache` for an event loop, which it never blocks.

        A plain log is cut into line-aligned ranges that worker processes
        parse into columns (:func:`~atokio.collectors.files.aparse_file_ranges`),
        while this process builds the records of the ranges already parsed
        (:func:`~atokio.parsers.hpss.records_of`).
        """
        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        if await anyio.to_thread.run_sync(_holds_json, path):
            await anyio.to_thread.run_sync(super().load_cache, path)
            return
        await self._aload_log(str(path))

    async def _aload_log(self, path: str) -> None:
        clock = LocalClock()  # this process's time zone makes the times local
        skipped = 0

        def consume(parts: list[Columns], _lines_before: int) -> None:
            for columns in parts:
                self._add(*records_of(columns, clock))

        def closed(parser: Any) -> None:
            nonlocal skipped
            skipped += parser.skipped

        for bucket in self._buckets:
            self.setdefault(bucket, [])
        try:
            with gc_paused():
                await aparse_file_ranges(
                    path,
                    partial(self._parser, path, columns=True),
                    consume,
                    piece=_RANGE,
                    chunk=_BLOCK,
                    closed=closed,
                )
        except ParseError as error:
            if not self.silent_errors:
                raise
            logger.debug("%s", error)
            return
        if skipped:
            logger.debug("%s: skipped %d lines that are not transfer records", path, skipped)

    def _add(self, bucket: str | list[str], records: list[dict[str, Any]]) -> None:
        """Records into their buckets: ``bucket`` names one for all, or one per record."""
        if isinstance(bucket, str):
            self[bucket].extend(records)
            return
        for name in set(bucket):
            self[name].extend(compress(records, map(eq, bucket, repeat(name))))


class FtpLog(_LogDict):
    """The HPSS 7.3 FTP log: ``{"ftp": [record, ...], "pftp": [record, ...]}``.

    Older HPSS versions are not supported.  A record (docs/formats.md#ftp-and-pftp-log)::

        {"end_timestamp": 1546243606.0, "opname": "HL", "duration_sec": 0.01,
         "duration_sec_resolution": 0.001, "remote_host": "dtn01-int.nersc.gov",
         "bytes": 33, "hpss_path": "/home/o/opera...", "hpss_uid": "operator",
         "start_timestamp": 1546243605.99, "bytes_sec": 3300.0}

    ``pftp`` holds the parallel-FTP commands (``PRTR_Cmd``, ``PSTO_Cmd``,
    ``LF*``), ``ftp`` the others.  The logged time is the end of the
    transfer; ``start_timestamp`` and ``bytes_sec`` are derived from it and
    the duration (rates of ``0.000`` s transfers use the duration's
    resolution).  ``hpss_uid`` is the user *name* in this log.  Both keys are
    present once anything was loaded.  Arguments as for
    :class:`~atokio.connectors.common.SubprocessOutputDict`.
    """

    _buckets = ("ftp", "pftp")
    _parser = FtpLogParser

    @classmethod
    def from_file(cls, cache_file: str) -> FtpLog:
        """Instantiate from a log file (plain or gzip)."""
        return cls(cache_file=cache_file)

    @classmethod
    def from_str(cls, input_str: str) -> FtpLog:
        """Instantiate from a string."""
        return cls(from_string=input_str)

    def load_str(self, input_str: str | bytes) -> None:
        """Parse text from an HPSS FTP log."""
        super().load_str(input_str)


class HsiLog(_LogDict):
    """The HSI/HTAR log: ``{"hsi": [record, ...], "htar": [record, ...]}``.

    Records (docs/formats.md#hsi-and-htar-log)::

        {"client_pid": 1035, "opname": "LH", "return_code": -1, "access_latency_sec": 0.03,
         "access_latency_sec_resolution": 0.01, "bytes": 0, "bytes_sec": 0.0,
         "bytes_sec_resolution": 100.0, "cos_id": 0, "source_path": "s6c0.out...",
         "dest_path": "/home/c/glock/...", "account_id": 35136, "hpss_uid": 35136,
         "remote_host": "oogabooga.edu", "end_timestamp": 1565334301.0}
        {"client_pid": 14301, "htar_op": "create", "opname": "LH", "return_code": 0,
         "bytes": 58178668032, "duration_sec": 397.2, "duration_sec_resolution": 0.01,
         "bytes_sec": 146472.0, "bytes_sec_resolution": 0.1, "hpss_path": "/nersc/...tar",
         "cos_id": 5, "account_id": 58888, "hpss_uid": 58888,
         "remote_host": "cori02-224.nersc.gov", "end_timestamp": 1565420728.0,
         "remote_ftp_host": ""}

    Opnames: ``LH`` into HPSS, ``HL`` out of HPSS, ``HH`` a copy inside HPSS,
    ``FU`` unlink (no ``dest_path``, no ``account_id``), ``FR`` rename (no
    ``account_id``).  ``access_latency_sec`` is the time to open the file
    (tape mounts included); ``return_code`` is 0 on success.  Units:
    ``hsi`` ``bytes_sec`` is bytes/s (the logged KB/s x 1000); ``htar``
    ``bytes_sec`` is the logged KB/s figure, exactly as the reference gives
    it.  ``remote_ftp_host`` exists only in 19-field ``htar`` lines.
    """

    _buckets = ("hsi", "htar")
    _parser = HsiLogParser

    @classmethod
    def from_file(cls, cache_file: str) -> HsiLog:
        """Instantiate from a log file (plain or gzip)."""
        return cls(cache_file=cache_file)

    @classmethod
    def from_str(cls, input_str: str) -> HsiLog:
        """Instantiate from a string."""
        return cls(from_string=input_str)

    def load_str(self, input_str: str | bytes) -> None:
        """Parse an HSI log file containing HSI and HTAR transactions."""
        super().load_str(input_str)


class HpssDailyReport(_TextLog, SubprocessOutputDict):
    """The daily report that HPSS can generate: ``{system: {title: table}}``.

    ``system`` and ``title`` come from the table titles, lower-cased
    (``"archive"``, ``"hpss"``; ``"io totals by client host"``, ...).  The
    ``io totals by ...`` tables are keyed by their first column (``host`` or
    ``client``) and ``migration purge report`` by ``sc`` (its ``TOTAL`` row
    gets the key ``""``); ``largest users`` and ``tape drive report`` stay
    lists.  Records are typed as described in
    :func:`atokio.parsers.hpss.convert_cell`::

        {"archive": {"io totals by hpss client gateway (ui) host": {
             "heart": {"users": 53, "io_gb": 148740.6, "ops": 27991, ...}, ...},
          "tape drive report": [{"drivetyp": "t10kb", "count": 4, ...,
             "availtime": "4-00:00:00", "availtimesecs": 345600, ...}, ...], ...},
         "hpss": {...}}

    The attribute ``date`` is the report's date (a naive ``datetime`` at
    midnight; ``None`` until loaded, and after loading a JSON cache).  Text
    without the ``HPSS Report for Date`` first line raises
    :class:`~atokio.parsers.base.ParseError`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.date: datetime.datetime | None = None
        self.load()

    @classmethod
    def from_file(cls, cache_file: str) -> HpssDailyReport:
        """Instantiate from a report file (plain or gzip)."""
        return cls(cache_file=cache_file)

    @classmethod
    def from_str(cls, input_str: str) -> HpssDailyReport:
        """Instantiate from a string."""
        return cls(from_string=input_str)

    def load_str(self, input_str: str | bytes) -> None:
        """Parse the HPSS daily report text."""
        super().load_str(input_str)

    def _make_parser(self, source: str = "<string>") -> HpssReportParser:
        return HpssReportParser(source=source)

    def _apply_records(self, records: list[Any]) -> None:
        date, _ = build_report(records, into=self)
        if date is not None:
            self.date = date

    def _apply_json(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError("HpssDailyReport cache must hold a JSON object")
        self.update(data)
