#!/usr/bin/env python3
"""Benchmark: archive_lmtdb, 6 hours of LMT rows into one day's TTS file.

Input: the corpus sample ``snx11025_2018-01-28.sqlite3`` (61 time stamps of
5 s, 24 OSTs/OSSes, 1 MDS, 21 metadata operations) cycled to 6 hours plus
the one extra time stamp the deltas need: 4,321 time stamps, about 302,000
data rows (OST_DATA, OSS_DATA, MDS_DATA, MDS_OPS_DATA).  Counters stay
monotonic: cycle *c* adds *c* times the sample's whole-span increase, so
every 60-row period has exactly the sample's deltas.

Measured, best of ``--repeats``: ``archive_lmtdb`` (the CLI entry point, in
this process) writing ``2018-01-28T00:00:00``–``06:00:00`` into a fresh day
file (``--init-start``/``--init-end`` = the whole day).  Once from the
SQLite file (``-i``), once from a private MariaDB holding the same rows
(started like the test fixture; skipped with ``--no-mariadb`` or when
``mariadbd`` is absent).  Every run's datasets are compared value by value
(sign of zero included) with the corpus reference output
``snx11025_2018-01-28.hdf5``: row *r* of the 6 hours must equal reference
row *r* mod 60, the rest of the day must be missing (-0.0).

The target is a ratio against the reference implementation (52,874 rows/s
on the reference machine, goal 10x); ``shared/bench/calibrate.py`` scales it
to this machine and the scaled target is printed beside each figure.

    python bench/bench_archive_lmtdb.py [--repeats 3] [--no-mariadb] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _targets import scaled_target

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "lmt"))

from lmt_data import make_cycled  # noqa: E402  (test helpers: the cycled database)
from lmt_mariadb import MariaDbServer, find_binaries, load_sqlite  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
REFERENCE = CORPUS / "inputs" / "snx11025_2018-01-28.hdf5"
REFERENCE_ROWS_S = 52_874.0
GOAL_RATIO = 10

HOURS = 6
TIMESTEP = 5
PERIOD = 60  # intervals in the sample
QUERY = ["2018-01-28T00:00:00", "2018-01-28T06:00:00"]
INIT = ["--init-start", "2018-01-28T00:00:00", "--init-end", "2018-01-29T00:00:00"]


def check_output(path: Path) -> int:
    """Compare every dataset with the reference (row r of 6 h = reference row r mod 60)."""
    import h5py

    rows = HOURS * 3600 // TIMESTEP
    checked = 0
    with h5py.File(REFERENCE, "r") as ref, h5py.File(path, "r") as out:
        names: list[str] = []
        ref.visititems(
            lambda name, obj: (
                names.append(name)
                if isinstance(obj, h5py.Dataset) and not name.endswith("timestamps")
                else None
            )
        )
        for name in names:
            want = ref[name][...]
            got = out[name][...]
            assert got.shape == (86400 // TIMESTEP, want.shape[1]), (name, got.shape)
            cols_ref = [
                c.decode() if isinstance(c, bytes) else c for c in ref[name].attrs["columns"]
            ]
            cols_out = [
                c.decode() if isinstance(c, bytes) else c for c in out[name].attrs["columns"]
            ]
            assert cols_ref == cols_out, name
            expect = np.full(got.shape, -0.0)
            expect[:rows] = np.tile(want, (rows // PERIOD, 1))
            same = (expect == got) & (np.signbit(expect) == np.signbit(got))
            if not same.all():
                bad = np.argwhere(~same)[0]
                raise AssertionError(
                    f"{name} differs at {tuple(bad)}: {got[tuple(bad)]!r} != {expect[tuple(bad)]!r}"
                )
            stamps = out[name.rsplit("/", 1)[0] + "/timestamps"][...]
            assert stamps[0] == 1517126400 and np.all(np.diff(stamps) == TIMESTEP), name
            checked += 1
    return checked


def run_archive(argv: list[str]) -> None:
    from atokio.cli import archive_lmtdb

    with contextlib.redirect_stdout(io.StringIO()):
        status = archive_lmtdb.main(argv)
    if status != 0:
        raise SystemExit(f"archive_lmtdb failed with status {status}")


def bench(label: str, argv: list[str], out: Path, rows: int, repeats: int, target: float) -> float:
    best = float("inf")
    for _ in range(repeats):
        if out.exists():
            out.unlink()
        start = time.perf_counter()
        run_archive([*argv, "-o", str(out), *INIT, *QUERY])
        best = min(best, time.perf_counter() - start)
        datasets = check_output(out)
    rate = rows / best
    verdict = "meets" if rate >= target else "BELOW"
    print(
        f"{label:<9} {rows:,} rows in {best:.3f} s = {rate:,.0f} rows/s "
        f"(target here {target:,.0f}: {verdict}); {datasets} datasets identical to the reference"
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-mariadb", action="store_true", help="only the SQLite figure")
    parser.add_argument("--profile", action="store_true", help="profile one SQLite run")
    args = parser.parse_args()
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()

    scale, target = scaled_target(REFERENCE_ROWS_S, GOAL_RATIO)
    print(f"machine scale {scale:.2f}: target {target:,.0f} rows/s (10x the reference here)")
    work = Path(tempfile.mkdtemp(prefix="bench-lmtdb-"))
    try:
        db = work / "cycled.sqlite3"
        rows = make_cycled(db, HOURS * 3600 // TIMESTEP + 1)
        print(f"input: {rows:,} LMT data rows, {HOURS} h at {TIMESTEP} s, counters monotonic")
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
            run_archive(["-i", str(db), "-o", str(work / "profile.hdf5"), *INIT, *QUERY])
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        bench("SQLite", ["-i", str(db)], work / "sqlite.hdf5", rows, args.repeats, target)
        if not args.no_mariadb:
            if find_binaries() is None:
                print("MariaDB   skipped: mariadbd not found (scripts/ensure-mariadb installs it)")
            else:
                server = MariaDbServer(work / "mariadb")
                server.start()
                try:
                    load_sqlite(server, db, "snx11025")
                    remote = [
                        "--host",
                        f"{server.host}:{server.port}",
                        "--user",
                        server.user,
                        "--password",
                        server.password,
                        "--database",
                        "snx11025",
                    ]
                    bench("MariaDB", remote, work / "mariadb.hdf5", rows, args.repeats, target)
                finally:
                    server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
