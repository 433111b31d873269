#!/usr/bin/env python3
"""Benchmark ``sacct``: ``Slurm(cache_file=path)`` on 100k rows of ``sacct --parsable`` text.

The documented dict (one key per job step, ``start``/``end`` as datetimes);
its keys are counted against the manifest's rows.  Second line: the sans-IO
parser alone (``SacctParser`` through ``collectors.files.parse_file``).
Target: 5x the reference's 80,000 rows/s, scaled by ``shared/bench/calibrate.py``.

    python bench/bench_sacct.py [--inputs DIR] [--repeats 3] [--profile]
"""

from __future__ import annotations

import sys
from typing import Any

from _targets import Bench


def documented(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.connectors.slurm import Slurm

    path = entry["files"][0]
    return (lambda: Slurm(cache_file=path)), len


def parser_only(entry: dict[str, Any], _args: Any) -> tuple[Any, Any]:
    from atokio.collectors.files import parse_file
    from atokio.parsers.sacct import SacctParser

    path = entry["files"][0]
    return (lambda: parse_file(path, SacctParser(source=path))), len


BENCH = Bench(
    "sacct",
    "Slurm(cache_file=path)",
    "rows/s",
    80_000.0,
    5,
    documented,
    extra=[("SacctParser alone (parse_file)", parser_only)],
)

if __name__ == "__main__":
    sys.exit(BENCH.main())
