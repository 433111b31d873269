#!/usr/bin/env python3
"""Benchmark ``mmperfmon``: ``Mmperfmon.from_file(tar)`` on the ~50 MB tar of ``mmperfmon query`` outputs.

The documented dict ``{epoch: {host: {metric: value | {instance: value}}}}``;
its (time stamp, host) rows are counted against the manifest.  Second line:
the sans-IO parser alone over the tar members (no merge), to show what the
(time, host) merge costs.  Target: 5x the reference's 13,640 rows/s,
scaled by ``shared/bench/calibrate.py``.

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
    import tarfile

    from atokio.parsers.mmperfmon import MmperfmonParser

    path = entry["files"][0]

    def call() -> int:
        samples = 0
        with tarfile.open(path) as bundle:
            for member in bundle:
                handle = bundle.extractfile(member)
                if handle is None:
                    continue
                parser = MmperfmonParser(member.name)
                samples += len(parser.feed(handle.read())) + len(parser.close())
        return samples

    return call, int


BENCH = Bench(
    "mmperfmon",
    "Mmperfmon.from_file(tar)",
    "rows/s",
    13_640.0,
    5,
    documented,
    extra=[("MmperfmonParser alone over the members (no merge)", parser_only)],
    uncounted=frozenset({"MmperfmonParser alone over the members (no merge)"}),
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
