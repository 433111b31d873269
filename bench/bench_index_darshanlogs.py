#!/usr/bin/env python3
"""Benchmark: ``index_darshanlogs`` throughput (logs/s), the whole command.

Inputs: copies of the five small corpus logs (``sample``, ``sample-2``,
``sample-goodost``, ``noposix``, ``noposixopens``) under distinct, realistic
names in a temporary directory, 500 and 5,000 of them.  ``--with-badost`` adds
copies of ``sample-badost`` (2,048 ranks, 27 MB of ``--base`` text) to the mix,
reported separately.

Measured: ``python -m atokio.cli.index_darshanlogs -q -t N --reader R -o DB DIR``
from start to exit (interpreter start-up, worker start-up, reading, writing
the database), best of ``--repeat`` runs:

* the direct reader (libdarshan-util) with 1 and 2 worker processes;
* the ``darshan-parser`` path with 1 and 2 worker processes.  Real
  darshan-parser cannot be installed here, so this runs a **stand-in**: a
  shell script that ``cat``s the recorded darshan-parser 3.5.0 ``--base``
  output of the log (found by its size).  It costs a process start and the
  text of the log per log, as the real program does, but not the real
  program's own decoding; its figure is labelled as a stand-in.

Target: 10 x the reference (67 logs/s for 500 small logs on the reference
machine), scaled to this machine by ``shared/bench/calibrate.py``.

The worker processes start from a fork server that preloads atokio's parsers
and numpy but not pandas (see ``atokio.collectors.workers.PRELOAD``): that
import alone cost about a quarter of a 500-log run.  ``--profile`` profiles
the worker side (reading and summarising the logs in this process, where a
worker would) with pyinstrument instead.

    python bench/bench_index_darshanlogs.py [--counts 500 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
STANDIN_LABEL = "STAND-IN darshan-parser (cat of the recorded 3.5.0 text)"


def make_logs(directory: Path, count: int, logs: tuple[str, ...]) -> None:
    """``count`` hard links (or copies) of the logs, under distinct Darshan-style names."""
    directory.mkdir(parents=True)
    for i in range(count):
        log = logs[i % len(logs)]
        name = f"user{i % 97}_{log.replace('-', '')}_id{100000 + i}_1-2-{i}-{i * 7919}_1.darshan"
        source = CORPUS / "darshan" / f"{log}.darshan"
        try:
            os.link(source, directory / name)
        except OSError:
            shutil.copyfile(source, directory / name)


def write_standin(bin_dir: Path) -> None:
    """A ``darshan-parser`` shell script replaying the recorded 3.5.0 ``--base`` output."""
    bin_dir.mkdir()
    cases = []
    for log in (*SMALL_LOGS, "sample-badost"):
        size = (CORPUS / "darshan" / f"{log}.darshan").stat().st_size
        text = CORPUS / "darshan" / f"{log}.base.txt"
        if not text.exists():  # stored gzipped: unpack it once, here
            plain = bin_dir / f"{log}.base.txt"
            subprocess.run(["gzip", "-dc", f"{text}.gz"], stdout=plain.open("wb"), check=True)
            text = plain
        cases.append(f'  {size}) exec cat "{text}" ;;')
    script = bin_dir / "darshan-parser"
    script.write_text(
        "#!/bin/sh\n"
        "for log; do :; done\n"
        'case $(stat -c %s "$log") in\n'
        + "\n".join(cases)
        + '\n  *) echo "Error: invalid log file (failed to read version)." >&2; exit 255 ;;\nesac\n'
    )
    script.chmod(0o755)


def run_index(
    directory: Path,
    output: Path,
    threads: int,
    reader: str,
    env: dict[str, str],
) -> float:
    """Seconds for one indexing run from an empty database."""
    if output.exists():
        output.unlink()
    command = [sys.executable, "-m", "atokio.cli.index_darshanlogs"]
    argv = [*command, "-q", "-t", str(threads), "--reader", reader, "-o", str(output),
            str(directory)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env)
    return time.perf_counter() - start


def profile(directory: Path) -> None:
    """pyinstrument profile of the worker-side work on every log of ``directory``."""
    from pyinstrument import Profiler

    from atokio.pipelines.darshan_index import LOGS_PER_CALL, summarize_batch

    logs = sorted(str(p) for p in directory.iterdir())
    summarize_batch(logs[:LOGS_PER_CALL], "direct", None)  # load the library first
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for start in range(0, len(logs), LOGS_PER_CALL):
        summarize_batch(logs[start : start + LOGS_PER_CALL], "direct", None)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is shown)")
    parser.add_argument("--with-badost", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile the worker side instead")
    parser.add_argument(
        "--max-standin", type=int, default=1000, help="skip the stand-in above this many logs"
    )
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.profile:
            make_logs(tmp / "logs", args.counts[0], SMALL_LOGS)
            profile(tmp / "logs")
            return 0
        scale, target = scaled_target(REFERENCE_LOGS_S, GOAL_RATIO)
        print(
            f"machine scale {scale:.2f}; target here: {target:.0f} logs/s "
            f"(= {GOAL_RATIO} x reference {REFERENCE_LOGS_S:.0f} logs/s x {scale:.2f}); "
            f"{os.cpu_count()} cores; best of {args.repeat} runs (median in brackets)"
        )
        bin_dir = tmp / "bin"
        write_standin(bin_dir)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        env.pop("ATOKIO_DARSHAN_PARSER", None)
        mixes: list[tuple[str, tuple[str, ...]]] = [("small corpus logs", SMALL_LOGS)]
        if args.with_badost:
            mixes.append(("corpus logs incl. sample-badost", (*SMALL_LOGS, "sample-badost")))
        for label, logs in mixes:
            for count in args.counts:
                directory = tmp / f"logs-{count}-{len(logs)}"
                make_logs(directory, count, logs)
                runs = [("direct", 1), ("direct", 2), ("darshan-parser", 1), ("darshan-parser", 2)]
                for reader, threads in runs:
                    if reader == "darshan-parser" and count > args.max_standin:
                        continue
                    times = [
                        run_index(directory, tmp / "index.db", threads, reader, env)
                        for _ in range(args.repeat)
                    ]
                    best, median = count / min(times), count / statistics.median(times)
                    name = "direct reader" if reader == "direct" else STANDIN_LABEL
                    verdict = "meets" if best >= target else "BELOW"
                    print(
                        f"{count:5d} {label}, {name}, {threads} worker(s): {best:6.0f} logs/s "
                        f"[{median:.0f}]  target {target:.0f} logs/s: {verdict}"
                    )
                shutil.rmtree(directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
