#!/usr/bin/env python3
"""Benchmark: NERSC ``BEGIN <epoch>`` concatenations of ``lfs df`` / ``lctl dl -t`` into the documented dicts.

Input (generated from the corpus samples): ``sample_ost-fullness.txt.gz`` and
``sample_ost-map.txt.gz`` (70 blocks each, 4 file systems) are repeated with
increasing ``BEGIN`` epochs (each repetition shifted by the span of the
sample) until the plain-text file reaches ``--mb`` megabytes (default 100).

Measured, best of ``--repeats``: :class:`atokio.connectors.nersc_lfsstate.NerscLfsOstFullness`
and :class:`~atokio.connectors.nersc_lfsstate.NerscLfsOstMap` loading the
file (streamed in 1 MiB chunks through the sans-IO parsers) into
``{epoch: {fs: {target: {...}}}}``, in MB of text per second: on one core
(``workers=1``, the default) and with the blocks spread over worker
processes on every core (``workers=0``; the pool is started before timing).

Targets are ratios against the reference implementation (22 MB/s for
``lfs df`` and 27 MB/s for ``lctl dl -t`` concatenations on the reference
machine, goal 5x), scaled to this machine by ``shared/bench/calibrate.py``.

    python bench/bench_lfs.py [--mb 100] [--repeats 3] [--profile] [--one-core]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import re
import sys
import tempfile
import time
from pathlib import Path

from _targets import scaled_target

from atokio.collectors.workers import default_workers, process_pool, warm_up
from atokio.connectors.nersc_lfsstate import NerscLfsOstFullness, NerscLfsOstMap

INPUTS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "inputs"
CASES = (
    ("lfs df concatenations", "sample_ost-fullness.txt.gz", NerscLfsOstFullness, 22.0),
    ("lctl dl -t concatenations", "sample_ost-map.txt.gz", NerscLfsOstMap, 27.0),
)
GOAL_RATIO = 5
_BEGIN = re.compile(rb"^BEGIN (\d+)$", re.M)


def make_input(sample: bytes, path: Path, megabytes: float) -> int:
    """Write ``sample`` repeatedly with shifted BEGIN epochs; return the size in bytes."""
    stamps = [int(s) for s in _BEGIN.findall(sample)]
    span = max(stamps) - min(stamps) + 600
    size, shift = 0, 0
    with open(path, "wb") as out:
        while size < megabytes * 1e6:

            def shifted(match: re.Match[bytes], offset: int = shift) -> bytes:
                return b"BEGIN %d" % (int(match.group(1)) + offset)

            chunk = _BEGIN.sub(shifted, sample)
            out.write(chunk)
            size += len(chunk)
            shift += span
    return size


def measure(loader: type, path: Path, repeats: int, workers: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = loader(str(path), workers=workers)
        best = min(best, time.perf_counter() - start)
        count = len(result)
        del result
    return best, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="input size in MB (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (best is kept)")
    parser.add_argument("--profile", action="store_true", help="profile one run with cProfile")
    parser.add_argument("--one-core", action="store_true", help="skip the all-core figures")
    args = parser.parse_args(argv)
    modes = [("1 core", 1)]
    if not args.one_core and default_workers() > 1:
        modes.append((f"{default_workers()} cores", 0))
        warm_up()
        process_pool().submit(gc.collect).result()
    if not INPUTS.is_dir():
        print(f"corpus not found at {INPUTS}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for name, sample_name, loader, reference in CASES:
            sample = gzip.decompress((INPUTS / sample_name).read_bytes())
            path = Path(tmp) / (sample_name[: -len(".gz")])
            size = make_input(sample, path, args.mb)
            if args.profile:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.runcall(loader, str(path))
                pstats.Stats(profile).sort_stats("tottime").print_stats(12)
            scale, target = scaled_target(reference, GOAL_RATIO)
            for mode, workers in modes:
                seconds, blocks = measure(loader, path, args.repeats, workers)
                print(
                    f"{name:28s} {mode:8s} {size / 1e6:7.1f} MB, {blocks} blocks: "
                    f"{size / 1e6 / seconds:7.1f} MB/s   target {target:6.1f} MB/s "
                    f"({GOAL_RATIO}x reference {reference} MB/s x machine scale {scale:.2f})"
                )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
