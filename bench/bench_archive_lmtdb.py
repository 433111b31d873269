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
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SOURCE = CORPUS / "inputs" / "snx11025_2018-01-28.sqlite3"
REFERENCE = CORPUS / "inputs" / "snx11025_2018-01-28.hdf5"
CALIBRATE = ROOT.parent / "shared" / "bench" / "calibrate.py"
REFERENCE_ROWS_S = 52_874.0
GOAL_RATIO = 10

HOURS = 6
TIMESTEP = 5
PERIOD = 60  # intervals in the sample
COUNTERS = {
    "OST_DATA": ("READ_BYTES", "WRITE_BYTES"),
    "MDS_OPS_DATA": ("SAMPLES", "SUM", "SUMSQUARES"),
}
DATA_TABLES = ("OST_DATA", "OSS_DATA", "MDS_DATA", "MDS_OPS_DATA")
QUERY = ["2018-01-28T00:00:00", "2018-01-28T06:00:00"]
INIT = ["--init-start", "2018-01-28T00:00:00", "--init-end", "2018-01-29T00:00:00"]


def scaled_target() -> tuple[float, float]:
    """(scale of this machine, target rows/s here) from calibrate.py, or (1, 528,740)."""
    if not CALIBRATE.exists():
        return 1.0, REFERENCE_ROWS_S * GOAL_RATIO
    out = subprocess.run(
        [sys.executable, str(CALIBRATE), "--json", "--repeats", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    scale = float(json.loads(out.stdout)["scale"])
    return scale, REFERENCE_ROWS_S * GOAL_RATIO * scale


def make_cycled(path: Path, hours: int = HOURS) -> int:
    """Write the cycled LMT database to ``path``; return its number of data rows."""
    stamps = hours * 3600 // TIMESTEP + 1
    with sqlite3.connect(SOURCE) as src, sqlite3.connect(path) as dst:
        for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type = 'table'"):
            dst.execute(sql)
        ts_rows = list(src.execute("SELECT TS_ID, TIMESTAMP FROM TIMESTAMP_INFO ORDER BY TS_ID"))
        first_ts = ts_rows[0][0]
        start = np.datetime64(ts_rows[0][1].replace(" ", "T"))
        ts_ids = first_ts + np.arange(stamps)
        times = start + np.arange(stamps) * np.timedelta64(TIMESTEP, "s")
        dst.executemany(
            "INSERT INTO TIMESTAMP_INFO VALUES (?, ?)",
            zip(ts_ids.tolist(), [str(t).replace("T", " ") for t in times], strict=True),
        )
        for (table,) in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if table in DATA_TABLES or table == "TIMESTAMP_INFO":
                continue
            rows = list(src.execute(f"SELECT * FROM {table}"))
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                dst.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        total = 0
        for table in DATA_TABLES:
            columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
            ts_col = columns.index("TS_ID")
            rows = list(src.execute(f"SELECT * FROM {table}"))
            by_step: dict[int, list[tuple]] = {}
            for row in rows:
                by_step.setdefault(row[ts_col] - first_ts, []).append(row)
            key_cols = [i for i, c in enumerate(columns) if c.endswith("_ID") and c != "TS_ID"]
            counter_cols = [columns.index(c) for c in COUNTERS.get(table, ())]
            first = {tuple(r[i] for i in key_cols): r for r in by_step[0]}
            last = {tuple(r[i] for i in key_cols): r for r in by_step[PERIOD]}
            out = []
            for k in range(stamps):
                cycle, step = divmod(k, PERIOD)
                for row in by_step.get(step, []):
                    new = list(row)
                    new[ts_col] = first_ts + k
                    key = tuple(row[i] for i in key_cols)
                    for i in counter_cols:
                        new[i] = row[i] + cycle * (last[key][i] - first[key][i])
                    out.append(tuple(new))
            marks = ", ".join("?" * len(columns))
            dst.executemany(f"INSERT INTO {table} VALUES ({marks})", out)
            total += len(out)
    return total


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

    scale, target = scaled_target()
    print(f"machine scale {scale:.2f}: target {target:,.0f} rows/s (10x the reference here)")
    work = Path(tempfile.mkdtemp(prefix="bench-lmtdb-"))
    try:
        db = work / "cycled.sqlite3"
        rows = make_cycled(db)
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
            sys.path.insert(0, str(ROOT / "tests" / "lmt"))
            from lmt_mariadb import MariaDbServer, find_binaries, load_sqlite

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
