#!/usr/bin/env python3
"""Benchmark: darshan-parser ``--base`` text into the documented dict.

Input, as for the reference figure: the ``sample-badost`` records repeated 8
times with distinct file names (about 214 MB, 1.5 M counter lines), made from
the corpus text of darshan-parser 3.1.8 and of 3.5.0.  Reported, best of 3:

* one core: :class:`atokio.parsers.darshan.DarshanParser` fed 64 KiB chunks
  of the file, then :func:`build_darshan_dict`;
* all cores: :func:`atokio.connectors.darshan.parse_darshan_text_file`, which
  cuts the file at record boundaries and parses the pieces in worker processes.

With ``--stream-gb N`` it also streams an N GB output into per-record
summaries (module, file, rank, bytes read, bytes written) in a child process
and reports its peak RSS (target: under 150 MB for 1 GB).

The targets are ratios against the reference implementation (48 MB/s on the
reference machine, goal 5x); ``shared/bench/calibrate.py`` scales them to this
machine and the scaled target is printed beside each figure.

    python bench/bench_darshan_parse.py [--copies 8] [--stream-gb 1]
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _targets import scaled_target

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
REFERENCE_MB_S = 48.0
GOAL_RATIO = 5
CHUNK = 1 << 16


def make_input(version_tag: str, copies: int, path: Path) -> int:
    """Write the badost records ``copies`` times with distinct names; return counter lines."""
    text = gzip.decompress(
        (CORPUS / "darshan" / f"sample-badost{version_tag}.base.txt.gz").read_bytes()
    )
    lines = text.split(b"\n")
    counter_lines = 0
    with open(path, "wb") as out:
        section: list[bytes] = []
        data: list[bytes] = []

        def flush() -> None:
            nonlocal counter_lines
            for line in section:
                out.write(line + b"\n")
            for k in range(copies):
                for line in data:
                    fields = line.split(b"\t")
                    fields[2] = b"%d%s" % (k, fields[2])
                    fields[5] = b"%s.copy%d" % (fields[5], k)
                    out.write(b"\t".join(fields) + b"\n")
                counter_lines += len(data)
            section.clear()
            data.clear()

        for line in lines:
            if line and not line.startswith(b"#"):
                data.append(line)
                continue
            if data:
                flush()
            section.append(line)
        flush()
    return counter_lines


def one_core(path: Path) -> tuple[float, dict]:
    from atokio.parsers.darshan import DarshanParser, build_darshan_dict

    start = time.perf_counter()
    parser = DarshanParser(str(path))
    records = []
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            records += parser.feed(chunk)
    records += parser.close()
    result = build_darshan_dict(records)
    return time.perf_counter() - start, result


def all_cores(path: Path, workers: int) -> tuple[float, dict]:
    from atokio.connectors.darshan import parse_darshan_text_file

    start = time.perf_counter()
    result = parse_darshan_text_file(str(path), workers=workers)
    return time.perf_counter() - start, result


STREAM_CHILD = r"""
import sys
from atokio.parsers.darshan import DarshanParser
from atokio.parsers.darshan_records import BaseRecord
parser = DarshanParser(sys.argv[1])
summaries = 0
read = written = 0
def consume(records):
    global summaries, read, written
    for rec in records:
        if type(rec) is BaseRecord:
            c = rec.counters
            read += c.get("BYTES_READ", 0) if isinstance(c.get("BYTES_READ", 0), int) else 0
            written += c.get("BYTES_WRITTEN", 0) if isinstance(c.get("BYTES_WRITTEN", 0), int) else 0
            summaries += 1
with open(sys.argv[1], "rb") as handle:
    while chunk := handle.read(1 << 16):
        consume(parser.feed(chunk))
consume(parser.close())
# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and would report the parent's peak
hwm_kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(summaries, read, written, hwm_kb // 1024)
"""


def stream_rss(tmp: Path, gigabytes: float) -> None:
    unit = tmp / "unit.txt"
    make_input("", 1, unit)
    big = tmp / "big.txt"
    target = int(gigabytes * 1e9)
    with open(big, "wb") as out:
        body = unit.read_bytes()
        header, _, rest = body.partition(b"# *****")
        out.write(header)
        written = len(header)
        k = 0
        while written < target:
            piece = b"# *****" + rest.replace(b".copy0", b".big%d" % k)
            out.write(piece)
            written += len(piece)
            k += 1
    size = big.stat().st_size
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", STREAM_CHILD, str(big)], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - start
    summaries, _read, _written, rss_mb = out.stdout.split()
    print(
        f"stream {size / 1e9:.2f} GB into {int(summaries):,} per-record summaries: "
        f"{size / 1e6 / elapsed:.0f} MB/s, peak RSS {rss_mb} MB (target < 150 MB)"
    )
    big.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--stream-gb", type=float, default=0.0)
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    scale, target = scaled_target(REFERENCE_MB_S, GOAL_RATIO)
    print(
        f"machine scale {scale:.2f} (calibrate.py); target here: {target:.0f} MB/s "
        f"(= {GOAL_RATIO} x reference {REFERENCE_MB_S:.0f} MB/s x {scale:.2f})"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for tag, label in ((".v3.1.8", "3.1.8"), ("", "3.5.0")):
            path = tmp / f"badost{tag}.x{args.copies}.txt"
            lines = make_input(tag, args.copies, path)
            size = path.stat().st_size
            best_one = min(one_core(path)[0] for _ in range(args.repeats))
            best_all = min(all_cores(path, args.workers)[0] for _ in range(args.repeats))
            same = one_core(path)[1] == all_cores(path, args.workers)[1]
            print(
                f"darshan-parser {label} --base, {size / 1e6:.0f} MB, {lines:,} counter lines: "
                f"1 core {size / 1e6 / best_one:.0f} MB/s, {args.workers} cores "
                f"{size / 1e6 / best_all:.0f} MB/s (target {target:.0f} MB/s; "
                f"ratio vs reference-here {size / 1e6 / best_all / (REFERENCE_MB_S * scale):.1f}x)"
                + ("" if same else "  RESULTS DIFFER")
            )
            path.unlink()
        if args.stream_gb:
            stream_rss(tmp, args.stream_gb)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak RSS of this process (whole dicts held): {peak} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
