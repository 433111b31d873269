#!/usr/bin/env python3
"""Benchmark: ``index_darshanlogs`` throughput (logs/s).

Inputs, as for the reference figure (500 copies of the corpus logs, darshan-parser
3.1.8 on the reference side): copies of the five small corpus logs (``sample``,
``sample-2``, ``sample-goodost``, ``noposix``, ``noposixopens``) under distinct
names, 500 and 5,000 of them.  ``--with-badost`` adds copies of the 27 MB-text
``sample-badost`` log to the mix, reported separately.

Measured: the direct reader with 1 and 2 worker processes, and the
``darshan-parser`` path.  Real darshan-parser cannot be installed here, so that
path runs a stand-in executable that replays the recorded 3.1.8 outputs of
the corpus (it costs a process start and a file copy per log, like the real
one): its figure is labelled as a stand-in.

Target: 10 x the reference (67 logs/s on the reference machine), scaled to
this machine by ``shared/bench/calibrate.py``.

    python bench/bench_index_darshanlogs.py [--counts 500 5000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _targets import scaled_target

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SMALL_LOGS = ("sample", "sample-2", "sample-goodost", "noposix", "noposixopens")
REFERENCE_LOGS_S = 67.0
GOAL_RATIO = 10


def make_logs(directory: Path, count: int, logs: tuple[str, ...]) -> None:
    directory.mkdir(parents=True)
    for i in range(count):
        log = logs[i % len(logs)]
        name = f"user{i % 97}_{log.replace('-', '')}_id{100000 + i}_1-2-{i}-{i * 7919}_1.darshan"
        os.link(CORPUS / "darshan" / f"{log}.darshan", directory / name)


def write_standin(bin_dir: Path) -> None:
    """A darshan-parser (a shell script) that replays the recorded 3.1.8 output of the log."""
    bin_dir.mkdir()
    cases = []
    for log in SMALL_LOGS + ("sample-badost",):
        size = (CORPUS / "darshan" / f"{log}.darshan").stat().st_size
        text = CORPUS / "darshan" / f"{log}.v3.1.8.base.txt"
        command = f'cat "{text}"' if text.exists() else f'gzip -dc "{text}.gz"'
        cases.append(f"  {size}) exec {command} ;;")
    script = bin_dir / "darshan-parser"
    script.write_text(
        "#!/bin/sh\n"
        "for log; do :; done\n"
        'case $(stat -c %s "$log") in\n' + "\n".join(cases) + "\n  *) exit 255 ;;\nesac\n"
    )
    script.chmod(0o755)


def run_index(
    directory: Path, output: Path, threads: int, reader: str, env: dict[str, str]
) -> float:
    if output.exists():
        output.unlink()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "atokio.cli.index_darshanlogs", "-q", "-t", str(threads), "--reader", reader,
         "-o", str(output), str(directory)],
        check=True,
        env=env,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--with-badost", action="store_true")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    scale, target = scaled_target(REFERENCE_LOGS_S, GOAL_RATIO)
    print(
        f"machine scale {scale:.2f}; target here: {target:.0f} logs/s "
        f"(= {GOAL_RATIO} x reference {REFERENCE_LOGS_S:.0f} logs/s x {scale:.2f})"
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bin_dir = tmp / "bin"
        write_standin(bin_dir)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        mixes = [("small corpus logs", SMALL_LOGS)]
        if args.with_badost:
            mixes.append(("corpus logs incl. sample-badost", SMALL_LOGS + ("sample-badost",)))
        for label, logs in mixes:
            for count in args.counts:
                directory = tmp / f"logs-{count}-{len(logs)}"
                make_logs(directory, count, logs)
                for reader, threads in (
                    ("direct", 1),
                    ("direct", 2),
                    ("darshan-parser", 1),
                    ("darshan-parser", 2),
                ):
                    if reader == "darshan-parser" and count > 1000:
                        continue
                    elapsed = run_index(directory, tmp / "index.db", threads, reader, env)
                    note = (
                        " (stand-in darshan-parser replaying recorded 3.1.8 output)"
                        if reader != "direct"
                        else ""
                    )
                    print(
                        f"{count} {label}, {reader}{note}, {threads} worker(s): {count / elapsed:.0f} logs/s "
                        f"(target {target:.0f} logs/s, whole command incl. start-up)"
                    )
                shutil.rmtree(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
