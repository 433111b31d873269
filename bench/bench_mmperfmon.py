#!/usr/bin/env python3
"""Benchmark ``mmperfmon``: ``Mmperfmon.from_file(tar)`` on the ~50 MB tar of ``mmperfmon query`` outputs.

The documented dict ``{epoch: {host: {metric: value | {instance: value}}}}``;
its (time stamp, host) rows are counted against the manifest.  The members of
the tar are parsed by the worker processes and merged here, so the CPU seconds
printed are this process's share (the merge, and the first members parsed
while the pool starts).  Second line: all members parsed into column chunks in
this process alone, without the merge: the work the worker processes share.
Target: 5x the reference's 13,640 rows/s, scaled by ``shared/bench/calibrate.py``.

    python bench/bench_mmperfmon.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.mmperfmon import Mmperfmon

    path = entry["files"][0]
    return (lambda: Mmperfmon.from_file(path)), (lambda data: sum(map(len, data.values())))


def parser_only(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.mmperfmon import parse_tar_members, plain_tar_members

    path = entry["files"][0]

    def call() -> int:
        members = plain_tar_members(path) or []
        results = parse_tar_members(path, members, f"{path}:")
        return sum(len(chunk.stamps) for _, chunks, _ in results for chunk in chunks)

    return call, int


BENCH = Bench(
    "mmperfmon",
    "Mmperfmon.from_file(tar)",
    "rows/s",
    13_640.0,
    5,
    documented,
    extra=[("members parsed in one process (no merge)", parser_only)],
    uncounted=frozenset({"members parsed in one process (no merge)"}),
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
