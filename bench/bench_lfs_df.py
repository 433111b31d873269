#!/usr/bin/env python3
"""Benchmark ``lfs_df``: ``NerscLfsOstFullness(cache_file=path)`` on the ~100 MB ``lfs df`` concatenation.

The documented dict ``{epoch: {file_system: {target: fields}}}``; its target
entries are counted against the manifest (OST/MDT lines); a file of this size
is parsed on every core by default unless the cores are busy
(``nersc_lfsstate.PARALLEL_BYTES``).
Further lines: ``workers=0`` (every core), and the same when the worker
processes already run (a service).  Target: 5x the reference's 22 MB/s, scaled by
``shared/bench/calibrate.py``.

    python bench/bench_lfs_df.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def _targets(result: dict[int, dict[str, dict[str, Any]]]) -> int:
    return sum(len(targets) for block in result.values() for targets in block.values())


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness

    path = entry["files"][0]
    return (lambda: NerscLfsOstFullness(cache_file=path)), _targets


def all_cores(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness

    path = entry["files"][0]
    return (lambda: NerscLfsOstFullness(cache_file=path, workers=0)), _targets


def one_process(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness

    path = entry["files"][0]
    return (lambda: NerscLfsOstFullness(cache_file=path, workers=1)), _targets


def warm_pool(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.workers import default_workers, process_pool
    from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness

    pool = process_pool()
    for future in [pool.submit(int) for _ in range(default_workers())]:
        future.result()
    path = entry["files"][0]
    return (lambda: NerscLfsOstFullness(cache_file=path, workers=0)), _targets


BENCH = Bench(
    "lfs_df",
    "NerscLfsOstFullness(cache_file=path)",
    "MB/s",
    22.0,
    5,
    documented,
    extra=[
        ("NerscLfsOstFullness(cache_file=path, workers=1), one process", one_process),
        ("NerscLfsOstFullness(cache_file=path, workers=0), every core", all_cores),
        ("the same, worker processes already running", warm_pool),
    ],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
