#!/usr/bin/env python3
"""Benchmarks of the TTS archive: writing through the single writer, and reading back.

* write: one day of 5-second data for 1,000 columns (17.28 M cells) sent as
  batches of (timestamp, column, value) records through ``open_writer`` into a
  day file; target >= 500,000 cells/s;
* read: that day's dataset into a DataFrame (``Hdf5.to_dataframe``), target
  < 1 s; into a TimeSeries (``Hdf5.to_timeseries``), compared with the
  reference's 41 M cells/s scaled to this machine by ``shared/bench/calibrate.py``;
* range: 3 days through ``tools.hdf5.get_dataframe_from_time_range`` for a
  2-hour window spanning a midnight: the rows read are counted (only the
  window's rows are read).
* writer memory: the peak RSS growth while writing (bounded by the batch,
  channel and slab sizes, not by the day).

    python bench/bench_archive.py
"""

from __future__ import annotations

import datetime
import resource
import sys
import tempfile
import time
from pathlib import Path

import anyio
import numpy
from _targets import machine_scale

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 1000
STEP = 5


async def write_day(template: str, day: datetime.date) -> int:
    from atokio.archive.writer import Batch, DatasetSpec, open_writer

    start = int(time.mktime(datetime.datetime.combine(day, datetime.time()).timetuple()))
    names = numpy.array([f"snx11025-OST{i:04x}" for i in range(COLUMNS)], dtype=object)
    rows_per_batch = 60
    cells = 0
    specs = {"datatargets/readbytes": DatasetSpec("bytes", source="lmt")}
    async with open_writer(template, STEP, specs, flush_cells=2_000_000) as send:
        for first in range(0, 86400 // STEP, rows_per_batch):
            rows = numpy.arange(first, first + rows_per_batch)
            epochs = numpy.repeat(start + STEP * rows, COLUMNS)
            values = numpy.repeat(rows, COLUMNS) * 1e3 + numpy.tile(
                numpy.arange(COLUMNS), rows_per_batch
            )
            await send.send(
                Batch("datatargets/readbytes", epochs, numpy.tile(names, rows_per_batch), values)
            )
            cells += len(values)
    return cells


def main() -> int:
    from atokio import config
    from atokio.connectors.hdf5 import Hdf5
    from atokio.tools import hdf5 as tools_hdf5

    here = machine_scale()
    with tempfile.TemporaryDirectory() as tmp:
        template = str(Path(tmp) / "%Y-%m-%d" / "snx11025.hdf5")
        rss = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024]
        elapsed = []
        for day in (
            datetime.date(2019, 1, 5),
            datetime.date(2019, 1, 6),
            datetime.date(2019, 1, 7),
        ):
            begin = time.perf_counter()
            cells = anyio.run(write_day, template, day)
            elapsed.append(time.perf_counter() - begin)
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        best = min(elapsed)
        print(
            f"write: {cells:,} cells (1 day x {COLUMNS} columns at {STEP} s) in {best:.2f} s = "
            f"{cells / best:,.0f} cells/s (target >= 500,000 cells/s)"
        )
        print(
            f"writer peak RSS before / after day 1, 2, 3: {rss} MB: flat after the first slab, i.e. bounded "
            f"by batch, channel and slab sizes, not by the run (one day of this dataset is "
            f"{cells * 8 / 2**20:.0f} MB uncompressed)"
        )
        path = datetime.datetime(2019, 1, 6).strftime(template)
        reads = []
        for _ in range(3):
            begin = time.perf_counter()
            with Hdf5(path) as h5:
                frame = h5.to_dataframe("datatargets/readbytes")
            reads.append(time.perf_counter() - begin)
        print(f"read one day into a DataFrame {frame.shape}: {min(reads):.2f} s (target < 1 s)")
        reads = []
        for _ in range(3):
            begin = time.perf_counter()
            with Hdf5(path) as h5:
                series = h5.to_timeseries("datatargets/readbytes")
            reads.append(time.perf_counter() - begin)
        assert series is not None
        rate = series.dataset.size / min(reads) / 1e6
        print(
            f"read one day into a TimeSeries: {rate:.1f} M cells/s (reference here ~{41 * here:.1f} M cells/s; "
            f"target: match or beat it)"
        )
        config.CONFIG["hdf5_files"] = {"snx11025": template}
        window = (datetime.datetime(2019, 1, 5, 23), datetime.datetime(2019, 1, 6, 1))
        begin = time.perf_counter()
        pieces = tools_hdf5.get_files_and_indices("snx11025", "datatargets/readbytes", *window)
        frame = tools_hdf5.get_dataframe_from_time_range(
            "snx11025", "datatargets/readbytes", *window
        )
        took = time.perf_counter() - begin
        rows_read = sum(last - first for _path, first, last in pieces)
        print(
            f"3-day archive, 2-hour window across midnight: {rows_read} rows read of {3 * 86400 // STEP} "
            f"({frame.shape if frame is not None else None}) in {took:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
