#!/usr/bin/env python3
"""Benchmark ``lfs_df``: ``NerscLfsOstFullness(cache_file=path)`` on the ~100 MB ``lfs df`` concatenation.

The documented dict ``{epoch: {file_system: {target: fields}}}``; its target
entries are counted against the manifest (OST/MDT lines).  Second line: the
same call with ``workers=0`` (blocks parsed by worker processes on every
core).  Target: 5x the reference's 22 MB/s, scaled by
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
    from atokio.collectors.workers import process_pool, warm_up
    from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness

    warm_up()
    process_pool().submit(int).result()
    path = entry["files"][0]
    return (lambda: NerscLfsOstFullness(cache_file=path, workers=0)), _targets


BENCH = Bench(
    "lfs_df",
    "NerscLfsOstFullness(cache_file=path)",
    "MB/s",
    22.0,
    5,
    documented,
    extra=[("NerscLfsOstFullness(cache_file=path, workers=0)", all_cores)],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
