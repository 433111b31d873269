#!/usr/bin/env python3
"""Benchmark ``index_darshanlogs``: ``index_darshanlogs.main([dir, "-o", db, "-q"])`` on 500 logs.

The documented command, called in this process, indexes the workload's 500
``.darshan`` logs into a fresh SQLite database with its default reader
(``darshan-parser`` when one is on ``PATH``, else libdarshan-util directly:
the latter here, as no real darshan-parser can be installed).  The rows of
the ``headers`` table (one per log) are counted against the manifest.
Second line: the async form (``aindex_darshanlogs`` in an event loop).
Target: 10x the reference's 67 logs/s, scaled by ``shared/bench/calibrate.py``.

    python bench/bench_index_darshanlogs.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import sys
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from _targets import Bench


def fresh_database() -> tuple[str, Any]:
    """A new database path (removed at exit) and a count of the logs indexed into it."""
    folder = tempfile.mkdtemp(prefix="bench-index-")
    atexit.register(shutil.rmtree, folder, True)
    database = str(Path(folder) / "index.db")

    def count(_result: Any) -> int:
        with sqlite3.connect(database) as db:
            return int(db.execute("SELECT COUNT(*) FROM headers").fetchone()[0])

    return database, count


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.cli import index_darshanlogs

    database, count = fresh_database()
    logs = entry["files"][0]
    return (lambda: index_darshanlogs.main([logs, "-o", database, "-q"])), count


def asynchronous(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    import anyio

    from atokio.pipelines.darshan_index import aindex_darshanlogs

    database, count = fresh_database()
    logs = entry["files"][0]
    return (lambda: anyio.run(partial(aindex_darshanlogs, [logs], database, quiet=True))), count


BENCH = Bench(
    "index_darshanlogs",
    'index_darshanlogs.main([dir, "-o", db, "-q"])',
    "logs/s",
    67.0,
    10,
    documented,
    extra=[("async: await aindex_darshanlogs([dir], db, quiet=True)", asynchronous)],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
