#!/usr/bin/env python3
"""Benchmark: ``mmperfmon query`` outputs into the documented Mmperfmon dict.

Input (generated from the corpus, realistic): the 42 hourly outputs of
``corpus/inputs/mmperfmon.2019-05-15-mini.tgz`` (CPU/memory/network of six
NSD servers; per-LUN bytes read and written, wrapped in five blocks of up to
nine columns) repeated ``--copies`` times, each copy under other host names
(``ngfsv448`` -> ``ngfsv1448``, ...) and ``--hours`` hours later, so that
every copy adds new time stamps and hosts.  The default (8 copies x 24 h
shift) is 336 outputs, 14.5 MB, about 196,000 table lines.  Without the corpus a synthetic output of
the same shape is used.

Reported, best of 3: **rows/s**, where a row is one table line (a row of one
block, as printed), parsed by :class:`atokio.parsers.mmperfmon.MmperfmonParser`
(fed 1 MiB chunks, one parser per output, as a bundle is loaded) and merged
into ``{epoch: {host: {metric: value | {instance: value}}}}`` (what
``Mmperfmon.from_file`` builds); also the figure per merged (time stamp,
host) row and per value.

The target is a ratio against the reference implementation (13,640 rows/s on
the reference machine, goal 5x); ``shared/bench/calibrate.py`` scales it to
this machine and the scaled target is printed beside the figure.

    python bench/bench_mmperfmon.py [--copies 8] [--profile]
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
import tarfile
import time
from pathlib import Path

from _targets import scaled_target

from atokio.parsers.mmperfmon import MmperfmonParser, merge_samples

REFERENCE_ROWS_S = 13_640.0
GOAL_RATIO = 5
CHUNK = 1 << 20
CORPUS_BUNDLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "corpus"
    / "inputs"
    / "mmperfmon.2019-05-15-mini.tgz"
)
_STAMP = re.compile(rb"(\d{4})-(\d\d)-(\d\d)-(\d\d):(\d\d):(\d\d)")
_HOST = re.compile(rb"ngfsv(\d+)")


def corpus_outputs() -> list[bytes]:
    """The outputs of the corpus bundle (or one synthetic output without the corpus)."""
    if not CORPUS_BUNDLE.exists():
        return [synthetic_output()]
    outputs: list[bytes] = []
    with tarfile.open(CORPUS_BUNDLE) as bundle:
        for member in bundle:
            handle = bundle.extractfile(member) if member.isfile() else None
            if handle is not None:
                outputs.append(handle.read())
    return outputs


def synthetic_output(luns: int = 42, rows: int = 60) -> bytes:
    """A wrapped per-LUN output of one host (8 columns per block)."""
    lines = ["", "Legend:"]
    lines += [
        f"{n + 1:2d}:\thost1.example.org|GPFSNSDDisk|ddn1dt{n:02d}|gpfs_nsdds_bytes_read"
        for n in range(luns)
    ]
    start = datetime.datetime(2019, 5, 15, 12, 1)
    for first in range(0, luns, 8):
        count = min(8, luns - first)
        lines.append(" ")
        lines.append("Row           Timestamp" + " gpfs_nsdds_bytes_read" * count + " ")
        for r in range(rows):
            stamp = (start + datetime.timedelta(minutes=r)).strftime("%Y-%m-%d-%H:%M:%S")
            values = "".join(f" {(r * 7919 + c * 104729) % 300000000:21d}" for c in range(count))
            lines.append(f"{r + 1:3d} {stamp}{values} ")
    return ("\n".join(lines) + "\n").encode()


def shifted(output: bytes, copy: int, hours: int) -> bytes:
    """``output`` with time stamps ``copy * hours`` later and host numbers offset by ``copy * 1000``."""
    if copy == 0:
        return output
    delta = datetime.timedelta(hours=copy * hours)

    def stamp(match: re.Match[bytes]) -> bytes:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        when = datetime.datetime(year, month, day, hour, minute, second) + delta
        return when.strftime("%Y-%m-%d-%H:%M:%S").encode()

    def host(match: re.Match[bytes]) -> bytes:
        return b"ngfsv%d" % (int(match.group(1)) + copy * 1000)

    return _HOST.sub(host, _STAMP.sub(stamp, output))


def run(outputs: list[bytes]) -> tuple[float, int, int, int]:
    """Seconds, table lines, merged (stamp, host) rows and values of one pass."""
    began = time.perf_counter()
    result: dict = {}
    lines = 0
    for index, data in enumerate(outputs):
        parser = MmperfmonParser(f"output-{index}")
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            records = parser.feed(bytes(view[start : start + CHUNK]))
            lines += len(records)
            merge_samples(records, result)
        records = parser.close()
        lines += len(records)
        merge_samples(records, result)
    elapsed = time.perf_counter() - began
    host_rows = sum(len(hosts) for hosts in result.values())
    values = sum(
        len(v) if isinstance(v, dict) else 1
        for hosts in result.values()
        for metrics in hosts.values()
        for v in metrics.values()
    )
    return elapsed, lines, host_rows, values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8, help="copies of the corpus outputs")
    parser.add_argument("--hours", type=int, default=24, help="time shift between copies")
    parser.add_argument("--repeats", type=int, default=3, help="passes (the best is kept)")
    parser.add_argument("--profile", action="store_true", help="profile one pass with pyinstrument")
    args = parser.parse_args(argv)

    base = corpus_outputs()
    outputs = [shifted(out, copy, args.hours) for copy in range(args.copies) for out in base]
    size = sum(len(out) for out in outputs)
    print(f"input: {len(outputs)} outputs, {size / 1e6:.1f} MB")

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        run(outputs)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False))

    best = None
    for _ in range(args.repeats):
        figures = run(outputs)
        if best is None or figures[0] < best[0]:
            best = figures
    assert best is not None
    elapsed, lines, host_rows, values = best
    scale, target = scaled_target(REFERENCE_ROWS_S, GOAL_RATIO)
    rows_s = lines / elapsed
    print(f"machine scale (calibrate.py): {scale:.2f}")
    print(
        f"mmperfmon outputs -> documented dict: {rows_s:,.0f} rows/s "
        f"(target {target:,.0f} rows/s = {GOAL_RATIO}x {REFERENCE_ROWS_S:,.0f} x {scale:.2f}) "
        f"{'OK' if rows_s >= target else 'BELOW TARGET'}"
    )
    print(
        f"  {lines:,} table lines, {host_rows:,} (time stamp, host) rows "
        f"({host_rows / elapsed:,.0f}/s), {values:,} values ({values / elapsed / 1e6:.2f} M/s), "
        f"{size / 1e6 / elapsed:.1f} MB/s, {elapsed:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
