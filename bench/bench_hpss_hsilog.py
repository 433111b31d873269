#!/usr/bin/env python3
"""Benchmark ``hpss_hsilog``: ``HsiLog.from_file(path)`` on the ~50 MB HSI/HTAR log.

The documented dict ``{"hsi": [record, ...], "htar": [record, ...]}``; its
records are counted against the manifest.  Further lines: the async form
(``HsiLog.afrom_file`` in an event loop), the sans-IO parser alone
(``HsiLogParser`` through ``collectors.files.parse_file``), to show what the
documented return shape adds, and the stage the worker processes run (the
file into ``Columns``, ``collectors.files.parse_range``), in one
process.  Target: 5x the reference's 14.0 MB/s,
scaled by ``shared/bench/calibrate.py``.  Time stamps are local time: run
with the ``TZ`` the workload was made in (the default is fine).

    python bench/bench_hpss_hsilog.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.hpss import HsiLog

    path = entry["files"][0]
    return (lambda: HsiLog.from_file(path)), (lambda log: sum(map(len, log.values())))


def asynchronous(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    import anyio

    from atokio.connectors.hpss import HsiLog

    path = entry["files"][0]
    return (lambda: anyio.run(HsiLog.afrom_file, path)), (lambda log: sum(map(len, log.values())))


def parser_only(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.files import parse_file
    from atokio.parsers.hpss import HsiLogParser

    path = entry["files"][0]
    return (lambda: parse_file(path, HsiLogParser(path))), len


def columns_stage(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from functools import partial

    from atokio.collectors.files import parse_range
    from atokio.parsers.hpss import HsiLogParser

    path = entry["files"][0]
    make = partial(HsiLogParser, path, columns=True)
    return (lambda: parse_range(path, 0, -1, make, 1 << 20)[0]), (
        lambda parts: sum(map(len, parts))
    )


BENCH = Bench(
    "hpss_hsilog",
    "HsiLog.from_file(path)",
    "MB/s",
    14.0,
    5,
    documented,
    extra=[
        ("async: await HsiLog.afrom_file(path)", asynchronous),
        ("HsiLogParser alone (parse_file)", parser_only),
        ("workers' column stage in one process (parse_range)", columns_stage),
    ],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
