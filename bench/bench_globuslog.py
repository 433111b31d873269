#!/usr/bin/env python3
"""Benchmark ``globuslog``: ``GlobusLog.from_file(path)`` on the ~50 MB Globus/GridFTP log.

The documented list of transfer dicts; its length is checked against the
manifest (a file of this size is parsed in this process).  Further lines: the
sans-IO parser alone (``GlobusLogParser`` through ``collectors.files.parse_file``),
and the call on every core, as for files of ``globuslogs.PARALLEL_BYTES`` and
more.  Target: 5x the reference's 10.0 MB/s,
scaled by ``shared/bench/calibrate.py``.

    python bench/bench_globuslog.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.globuslogs import GlobusLog

    path = entry["files"][0]
    return (lambda: GlobusLog.from_file(path)), len


def parser_only(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.files import parse_file
    from atokio.parsers.globus import GlobusLogParser

    path = entry["files"][0]
    return (lambda: parse_file(path, GlobusLogParser(path))), len


def all_cores(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors import globuslogs

    globuslogs.PARALLEL_BYTES = 0  # the size from which the call uses every core
    path = entry["files"][0]
    return (lambda: globuslogs.GlobusLog.from_file(path)), len


BENCH = Bench(
    "globuslog",
    "GlobusLog.from_file(path)",
    "MB/s",
    10.0,
    5,
    documented,
    extra=[
        ("GlobusLogParser alone (parse_file)", parser_only),
        ("GlobusLog.from_file(path) on every core (as from PARALLEL_BYTES)", all_cores),
    ],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
