#!/usr/bin/env python3
"""Benchmark: ``sacct --parsable`` text into the documented Slurm dict.

Input (generated, realistic): ``--jobs`` jobs of a Cray system, each printed
as sacct does — the job line, ``.batch`` on the first node, ``.extern`` and
``--steps`` numbered steps on the job's nodes — with the fields
``JobIDRaw|Start|End|NodeList|`` (``--parsable``, trailing ``|``).  Node lists
are in the ``nid0[5301-5428]`` spelling, from 1 to 512 nodes, sometimes in
several ranges.  The default, 100k jobs x 5 lines, is 500k rows.

Reported, best of 3, in rows per second:

* **raw**: :class:`atokio.parsers.sacct.SacctParser` with ``recast=False``
  fed 64 KiB chunks, records keyed into the dict (what the reference's
  ``parse_sacct`` produces: every field a string);
* **documented dict**: ``Slurm(cache_file=...)`` on the same file:
  ``start``/``end`` as datetimes and ``nodelist`` expanded to a set of node
  names per record.

The target is a ratio against the reference implementation (80,000 rows/s on
the reference machine, goal 5x); ``shared/bench/calibrate.py`` scales it to
this machine and the scaled target is printed beside each figure.

    python bench/bench_sacct.py [--jobs 100000] [--steps 2] [--profile]
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import tempfile
import time
from pathlib import Path

from _targets import scaled_target

from atokio.connectors.slurm import Slurm
from atokio.parsers.sacct import SacctParser, build_sacct_dict

REFERENCE_ROWS_S = 80_000.0
GOAL_RATIO = 5
CHUNK = 1 << 16


def _nodelist(rng: random.Random, first: int, count: int) -> str:
    """A Cray-style compact list of ``count`` nodes from ``first``, sometimes split in two."""
    if count == 1:
        return f"nid{first:05d}"
    if count > 4 and rng.random() < 0.3:
        cut = count // 2
        gap = rng.randint(2, 40)
        a, b = first, first + cut - 1
        c, d = b + gap, b + gap + (count - cut) - 1
        return f"nid0[{a:04d}-{b:04d},{c:04d}-{d:04d}]"
    return f"nid0[{first:04d}-{first + count - 1:04d}]"


def make_input(path: Path, jobs: int, steps: int, seed: int = 7) -> int:
    """Write the sacct text; return the number of data rows."""
    rng = random.Random(seed)
    t = datetime.datetime(2017, 3, 20)
    rows = 0
    fmt = "%Y-%m-%dT%H:%M:%S"
    with open(path, "w") as out:
        out.write("JobIDRaw|Start|End|NodeList|\n")
        for index in range(jobs):
            jobid = 4_000_000 + index
            count = rng.choice((1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
            first = rng.randint(1, 9000 - count)
            nodes = _nodelist(rng, first, count)
            start = t + datetime.timedelta(seconds=index * 7)
            end = start + datetime.timedelta(seconds=rng.randint(60, 40000))
            s, e = start.strftime(fmt), end.strftime(fmt)
            out.write(f"{jobid}|{s}|{e}|{nodes}|\n")
            out.write(f"{jobid}.batch|{s}|{e}|nid{first:05d}|\n")
            out.write(f"{jobid}.extern|{s}|{e}|{nodes}|\n")
            rows += 3
            for step in range(steps):
                out.write(f"{jobid}.{step}|{s}|{e}|{nodes}|\n")
                rows += 1
    return rows


def parse(path: Path, recast: bool) -> dict:
    if recast:
        return Slurm(cache_file=str(path))
    parser = SacctParser(source=str(path), recast=recast)
    result: dict = {}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            build_sacct_dict(parser.feed(chunk), into=result)
    build_sacct_dict(parser.close(), into=result)
    return result


def best_of(path: Path, recast: bool, repeats: int) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(repeats):
        begin = time.perf_counter()
        count = len(parse(path, recast))
        best = min(best, time.perf_counter() - begin)
    return best, count


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument(
        "--jobs", type=int, default=100_000, help="jobs to generate (default 100000)"
    )
    options.add_argument("--steps", type=int, default=2, help="numbered steps per job (default 2)")
    options.add_argument("--repeats", type=int, default=3, help="runs per figure (best kept)")
    options.add_argument(
        "--profile", action="store_true", help="profile one recast run (pyinstrument)"
    )
    args = options.parse_args(argv)

    scale, target = scaled_target(REFERENCE_ROWS_S, GOAL_RATIO)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sacct.txt"
        rows = make_input(path, args.jobs, args.steps)
        size_mb = path.stat().st_size / 1e6
        print(f"input: {rows} rows ({args.jobs} jobs), {size_mb:.1f} MB; machine scale {scale:.2f}")
        print(f"target here: {target:,.0f} rows/s ({GOAL_RATIO}x the reference's "
              f"{REFERENCE_ROWS_S:,.0f} rows/s, scaled)")  # fmt: skip
        for label, recast in (("raw (parse_sacct)", False), ("documented dict", True)):
            seconds, count = best_of(path, recast, args.repeats)
            assert count == rows, (count, rows)
            rate = rows / seconds
            verdict = "meets" if rate >= target else "BELOW"
            print(f"{label:<20} {rate:>12,.0f} rows/s  ({seconds:.2f} s)  {verdict} target "
                  f"{target:,.0f} rows/s")  # fmt: skip
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
            parse(path, True)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
