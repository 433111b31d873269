#!/usr/bin/env python3
"""Benchmark: HPSS FTP, HSI/HTAR and Globus/GridFTP logs into the documented structures.

Input (generated from the corpus samples, realistic): each sample log
(``hpssftplog.txt.gz``, ``hsilog.txt.gz``, ``globuslogs.txt.gz``) repeated
until about ``--mb`` MB (default 100), every copy of a line with its own end
time (one to a few seconds apart, so the logs span days and DST-free weeks of
hours), its own duration, byte count, pid and file names.  Without the corpus,
built-in copies of a few sample lines are used.

Reported, best of ``--repeats`` (default 3), in MB/s of log text:

* **FtpLog** / **HsiLog** / **GlobusLog**: ``Connector(cache_file=path)`` on a
  plain text file, i.e. streamed in 256 KiB chunks through the sans-IO parser
  and shaped into ``{"ftp": [...], "pftp": [...]}``, ``{"hsi": [...],
  "htar": [...]}`` and the list of transfer dicts.

Targets are ratios against the reference implementation (FTP log 11.6 MB/s,
HSI log 14.0 MB/s, Globus log 10.0 MB/s on the reference machine, goal 5x);
``shared/bench/calibrate.py`` scales them to this machine and the scaled
target is printed beside each figure.

    TZ=America/Los_Angeles python bench/bench_hpss_globus.py [--mb 100] [--repeats 3] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _targets import scaled_target

from atokio.connectors.globuslogs import GlobusLog
from atokio.connectors.hpss import FtpLog, HsiLog

INPUTS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "inputs"

#: (name, reference MB/s, goal ratio)
TARGETS = {
    "ftp": ("HPSS FTP log", 11.6, 5),
    "hsi": ("HPSS HSI log", 14.0, 5),
    "globus": ("Globus/GridFTP log", 10.0, 5),
}

_FALLBACK = {
    "ftp": [
        "Mon Dec 31 00:06:46 2018 dtn01-int.nersc.gov /home/o/operator/.check_ftp.25651 b "
        "POPN_Cmd r r ftp operator fd 0",
        "Mon Dec 31 00:06:46 2018 0.010 dtn01-int.nersc.gov 33 /home/o/opera... b o PRTR_Cmd r "
        "ftp operator fd 0",
        "Mon Dec 31 00:06:48 2018 0.430 sgn-pub-01.nersc.gov 0 /home/r/regan... b o RETR_Cmd r "
        "ftp wwwhpss",
        "Fri Jul 12 15:32:43 2019 2.080 gert01-224.nersc.gov 2147483647 /home/n/nickb... b i "
        "PSTO_Cmd r ftp nickb fd 0",
    ],
    "hsi": [
        "Sat Aug 10 00:05:26 2019 dtn01.nersc.gov hsi 57074 31117\tLH\t0\t0.02\t543608\t12356.7\t4"
        "\t/global/project/projectdirs/als/raw/heartbeat_test.h5\t/home/projects/als/raw/"
        "heartbeat_test.h5\t57074",
        "Sat Aug 10 00:05:28 2019 cori02-224.nersc.gov htar 58888 14301\tcreate\tLH\t0\t"
        "58178668032\t397.20\t146472.0\t/nersc/projects/ptf/ztf/ce7fb38bcb0847f4.tar\t\t5\t58888",
        "Sun Aug 11 00:05:14 2019 dtn03.nersc.gov hsi 72820 2204\tFU\t0\t0.00\t215328\t0.0\t0\t"
        "/home/n/ngeetrop/ngeet_archive/backups/v1.3.0-archives.tar.idx\t",
        "Mon Aug 12 11:31:21 2019 cori04-224.nersc.gov hsi 72185 19323\tFR\t0\t0.00\t0\t0.0\t0\t"
        "/home/d/du/QC_pub.tgz\t/home/d/du/before 08082919/./QC_pub.tgz",
    ],
    "globus": [
        "DATE=20190731073044.992375 HOST=dtn11.nersc.gov PROG=globus-gridftp-server "
        "NL.EVNT=FTP_INFO START=20190731073030.432241 USER=glock FILE=/home/c/glock/pic/"
        "constance/forecast/Global/complete/wrf2019051000/wrfout_d01_2019-05-10_00:00:00 "
        "BUFFER=87040 BLOCK=262144 NBYTES=2753284040 VOLUME=/ STREAMS=1 STRIPES=1 "
        "DEST=[192.101.102.150] TYPE=STOR CODE=226",
        "DATE=20190731073326.591277 HOST=dtn11.nersc.gov PROG=globus-gridftp-server "
        "NL.EVNT=FTP_INFO START=20190731073323.935428 USER=glock FILE=/home/c/glock/NCAR/"
        "cheyenne/WRFCHEM/output/2015/wrfdetail/wrf1hr=d03_2015 04-25_00:00:00 BUFFER=235104 "
        "BLOCK=262144 NBYTES=3064334152 VOLUME=/ STREAMS=4 STRIPES=1 DEST=[128.117.181.64] "
        "TYPE=RETR CODE=226",
    ],
}
_SAMPLES = {"ftp": "hpssftplog.txt.gz", "hsi": "hsilog.txt.gz", "globus": "globuslogs.txt.gz"}


def sample_lines(kind: str) -> list[str]:
    """The corpus sample's lines, or the built-in copies without the corpus."""
    path = INPUTS / _SAMPLES[kind]
    if path.exists():
        return [line for line in gzip.decompress(path.read_bytes()).decode().splitlines() if line]
    return list(_FALLBACK[kind])


def _ctime(epoch: float) -> str:
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(epoch))


def _ftp_line(template: str, i: int, when: float, rng: random.Random) -> str:
    f = template.split()
    date = _ctime(when)
    if f[8] == "POPN_Cmd":
        return f"{date} {f[5]} {f[6]}.{i} {' '.join(f[7:])}"
    duration = f"{rng.uniform(0, 900):.3f}" if rng.random() < 0.9 else "0.000"
    nbytes = str(rng.randint(0, 1 << 36))
    path = f[8].replace("...", f"{i % 9973}...")
    return " ".join([date, duration, f[6], nbytes, path, *f[9:]])


def _hsi_line(template: str, i: int, when: float, rng: random.Random) -> str:
    head, _, rest = template.partition("\t")
    h = head.split()
    tail = rest.split("\t")
    date = _ctime(when)
    pid = str(rng.randint(100, 65000))
    if h[6] == "htar":
        tail[3] = str(rng.randint(0, 1 << 36))
        tail[4] = f"{rng.uniform(1, 4000):.2f}"
        tail[5] = f"{rng.uniform(0, 900000):.1f}"
        tail[6] = tail[6].replace(".tar", f"_{i}.tar")
    else:
        tail[3] = str(rng.randint(0, 1 << 34))
        tail[4] = f"{rng.uniform(0, 90000):.1f}"
        tail[6] = f"{tail[6]}.{i}"
        if len(tail) > 7 and tail[7]:
            tail[7] = f"{tail[7]}.{i}"
    return f"{date} {h[5]} {h[6]} {h[7]} {pid}\t" + "\t".join(tail)


def _globus_line(template: str, i: int, when: float, rng: random.Random) -> str:
    end = time.strftime("%Y%m%d%H%M%S", time.gmtime(when)) + f".{rng.randint(0, 999999):06d}"
    start_epoch = when - rng.uniform(0, 120)
    start = time.strftime("%Y%m%d%H%M%S", time.gmtime(start_epoch)) + f".{i % 1000000:06d}"
    head, _, rest = template.partition(" HOST=")
    line = f"DATE={end} HOST={rest}"
    s0 = line.index("START=") + 6
    line = line[:s0] + start + line[s0 + 21 :]
    f0 = line.index(" BUFFER=")
    return f"{line[:f0]}_{i}{line[f0:]}".replace("NBYTES=", f"NBYTES={rng.randint(1, 9)}", 1)


_MAKERS: dict[str, Callable[[str, int, float, random.Random], str]] = {
    "ftp": _ftp_line,
    "hsi": _hsi_line,
    "globus": _globus_line,
}


def make_input(kind: str, path: Path, megabytes: float, seed: int = 11) -> int:
    """Write about ``megabytes`` MB of log ``kind`` to ``path``; return its size in bytes."""
    rng = random.Random(seed)
    templates = sample_lines(kind)
    make = _MAKERS[kind]
    goal = int(megabytes * 1e6)
    when = time.mktime((2019, 1, 7, 0, 0, 0, 0, 0, -1))
    size = 0
    i = 0
    with open(path, "w") as out:
        batch: list[str] = []
        while size < goal:
            for template in templates:
                when += rng.choice((0, 1, 1, 2, 3))
                line = make(template, i, when, rng) + "\n"
                batch.append(line)
                size += len(line)
                i += 1
            if len(batch) > 10_000:
                out.write("".join(batch))
                batch = []
        out.write("".join(batch))
    return os.path.getsize(path)


_CONNECTORS: dict[str, Callable[..., Any]] = {"ftp": FtpLog, "hsi": HsiLog, "globus": GlobusLog}


def measure(kind: str, path: Path, size: int, repeats: int) -> tuple[float, int]:
    """Best MB/s of loading ``path`` with the connector, and the number of records."""
    best = 0.0
    count = 0
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = _CONNECTORS[kind](cache_file=str(path))
        elapsed = time.perf_counter() - start
        count = len(result) if isinstance(result, list) else sum(map(len, result.values()))
        del result
        best = max(best, size / 1e6 / elapsed)
    return best, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="size of each generated log (MB)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per log (best kept)")
    parser.add_argument(
        "--only", choices=sorted(TARGETS), action="append", help="benchmark only these logs"
    )
    parser.add_argument("--profile", action="store_true", help="profile one run with pyinstrument")
    args = parser.parse_args(argv)
    scale, _ = scaled_target(1.0, 1.0)
    print(f"machine scale (calibrate.py): {scale:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.only or ("ftp", "hsi", "globus"):
            name, reference, ratio = TARGETS[kind]
            path = Path(tmp) / f"{kind}.log"
            size = make_input(kind, path, args.mb)
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler()
                profiler.start()
                _CONNECTORS[kind](cache_file=str(path))
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False))
            figure, count = measure(kind, path, size, args.repeats)
            target = reference * ratio * scale
            verdict = "ok" if figure >= target else "BELOW TARGET"
            print(
                f"{name:20s} {size / 1e6:7.1f} MB, {count:9d} records: {figure:7.1f} MB/s"
                f"   target {target:6.1f} MB/s ({ratio}x {reference} MB/s x {scale:.2f})  {verdict}"
            )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
