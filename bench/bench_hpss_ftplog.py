#!/usr/bin/env python3
"""Benchmark ``hpss_ftplog``: ``FtpLog.from_file(path)`` on the ~50 MB HPSS FTP log.

The documented dict ``{"ftp": [record, ...], "pftp": [record, ...]}``; its
records, plus the lines that are not transfers (counted apart, untimed), are
checked against the manifest's log lines.  Further lines: the async form
(``FtpLog.afrom_file`` in an event loop), the sans-IO parser alone
(``FtpLogParser`` through ``collectors.files.parse_file``), to show what the
documented return shape adds, and the stage the worker processes run (the
file into ``Columns``, ``collectors.files.parse_range``), in one
process.  Target: 5x the reference's 11.6 MB/s,
scaled by ``shared/bench/calibrate.py``.  Time stamps are local time: run
with the ``TZ`` the workload was made in (the default is fine).

    python bench/bench_hpss_ftplog.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def not_transfers(path: str) -> int:
    """Lines of the log that are not transfer records (``POPN_Cmd`` and the like: no ``ftp``
    service in the 14th field), which the documented dict leaves out by design."""
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.split()[13:14] != [b"ftp"])


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.hpss import FtpLog

    path = entry["files"][0]
    others = not_transfers(path)
    return (lambda: FtpLog.from_file(path)), (lambda log: others + sum(map(len, log.values())))


def asynchronous(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    import anyio

    from atokio.connectors.hpss import FtpLog

    path = entry["files"][0]
    others = not_transfers(path)
    return (lambda: anyio.run(FtpLog.afrom_file, path)), (
        lambda log: others + sum(map(len, log.values()))
    )


def parser_only(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.files import parse_file
    from atokio.parsers.hpss import FtpLogParser

    path = entry["files"][0]
    others = not_transfers(path)
    return (lambda: parse_file(path, FtpLogParser(path))), (lambda records: others + len(records))


def columns_stage(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from functools import partial

    from atokio.collectors.files import parse_range
    from atokio.parsers.hpss import FtpLogParser

    path = entry["files"][0]
    others = not_transfers(path)
    make = partial(FtpLogParser, path, columns=True)
    return (lambda: parse_range(path, 0, -1, make, 1 << 20)[0]), (
        lambda parts: others + sum(map(len, parts))
    )


BENCH = Bench(
    "hpss_ftplog",
    "FtpLog.from_file(path)",
    "MB/s",
    11.6,
    5,
    documented,
    extra=[
        ("async: await FtpLog.afrom_file(path)", asynchronous),
        ("FtpLogParser alone (parse_file)", parser_only),
        ("workers' column stage in one process (parse_range)", columns_stage),
    ],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
