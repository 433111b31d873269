"""Longer LMT databases made from the corpus sample, for the follow tests and the benchmark.

:func:`make_cycled` repeats the 60 intervals of ``snx11025_2018-01-28.sqlite3``
from any start time, at any timestep: time stamp *k* takes the sample's row
``k mod 60``, and the counters of cycle ``c = k // 60`` are raised by ``c``
times the sample's whole-span increase, so they stay monotonic and every
60-row period has exactly the sample's deltas (those of the corpus reference
output ``snx11025_2018-01-28.hdf5``).
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "inputs"
SAMPLE = SOURCE / "snx11025_2018-01-28.sqlite3"
PERIOD = 60  #: intervals in the sample
COUNTERS = {
    "OST_DATA": ("READ_BYTES", "WRITE_BYTES"),
    "MDS_OPS_DATA": ("SAMPLES", "SUM", "SUMSQUARES"),
}
DATA_TABLES = ("OST_DATA", "OSS_DATA", "MDS_DATA", "MDS_OPS_DATA")


def make_cycled(
    path: str | os.PathLike[str],
    stamps: int,
    start: datetime.datetime = datetime.datetime(2018, 1, 28),
    timestep: int = 5,
    first_ts_id: int | None = None,
) -> int:
    """Write an LMT SQLite database of ``stamps`` time stamps to ``path``; return its data rows.

    Time stamps are ``timestep`` seconds apart in real time, written as local
    wall-clock text (so a daylight-saving change shows as a jump).
    """
    with sqlite3.connect(SAMPLE) as src, sqlite3.connect(path) as dst:
        for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE type = 'table'"):
            dst.execute(sql)
        (sample_first,) = src.execute("SELECT MIN(TS_ID) FROM TIMESTAMP_INFO").fetchone()
        base_id = sample_first if first_ts_id is None else first_ts_id
        first = int(time.mktime(start.timetuple()))  # wall-clock stamps, as LMT writes them
        dst.executemany(
            "INSERT INTO TIMESTAMP_INFO VALUES (?, ?)",
            (
                (
                    base_id + k,
                    datetime.datetime.fromtimestamp(first + k * timestep).strftime(
                        "%Y-%m-%d %H:%M:%S"
                    ),
                )
                for k in range(stamps)
            ),
        )
        tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
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
            by_step: dict[int, list[tuple]] = {}
            for row in src.execute(f"SELECT * FROM {table}"):
                by_step.setdefault(row[ts_col] - sample_first, []).append(row)
            keys = [i for i, c in enumerate(columns) if c.endswith("_ID") and c != "TS_ID"]
            counters = [columns.index(c) for c in COUNTERS.get(table, ())]
            opening = {tuple(r[i] for i in keys): r for r in by_step[0]}
            closing = {tuple(r[i] for i in keys): r for r in by_step[PERIOD]}
            out = []
            for k in range(stamps):
                cycle, step = divmod(k, PERIOD)
                for row in by_step.get(step, []):
                    new = list(row)
                    new[ts_col] = base_id + k
                    key = tuple(row[i] for i in keys)
                    for i in counters:
                        new[i] = row[i] + cycle * (closing[key][i] - opening[key][i])
                    out.append(tuple(new))
            marks = ", ".join("?" * len(columns))
            dst.executemany(f"INSERT INTO {table} VALUES ({marks})", out)
            total += len(out)
    return total
