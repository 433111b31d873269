"""Retrieve the contents of an LMT database and archive them as TOKIO Time Series (``archive_lmtdb``, CLI.md 3.3).

Reads Lustre Monitoring Tool data — MySQL/MariaDB, or an SQLite cache made by
``cache_lmtdb`` (``-i``) — for ``[query_start, query_end)`` and writes it into
a TTS HDF5 file (schema ``"1"``, FORMATS.md 10.4 and 14): 19 datasets in the
groups ``datatargets``, ``fullness``, ``dataservers``, ``mdservers`` and
``mdtargets``, every group with ``source = "lmt"``.

How it works:

* the database is read over ``[query_start, query_end + timestep)`` — one
  sample more than the rows written, so that the last row's counter delta
  can be computed — through :meth:`LmtDb.stream_batches`: one-hour chunks
  (concurrently over a small pool from MySQL, streaming cursors), delivered
  as numpy batches and scattered straight into one dense matrix per dataset
  (a value stamped *t* lands in row ``(t - start) // timestep``); no row
  list is ever built;
* counters (bytes and metadata operations) become per-row deltas
  (:func:`counter_deltas`, vectorised), the other datasets drop the extra
  row;
* the matrices go to the archive's single writer as ``TimeSeries`` and are
  committed into the file; a new file is first initialised over
  ``[--init-start, --init-end)`` with every dataset full size and missing
  (−0.0).

``--follow`` (an atokio addition) keeps running: every timestep it archives
the interval since the last poll (see :func:`atokio.collectors.follow.follow`)
into the file of that interval's day, rolling over to a new day file at
midnight; a source outage is retried and the missed interval caught up
afterwards; SIGTERM or SIGINT stops it cleanly after flushing.  In that mode
``-o`` is a ``strftime`` template (``%Y-%m-%d`` is inserted before the
extension when it has no ``%`` code), each day file covers its whole day,
and the positionals are optional: ``query_start`` (default now) is where to
start, ``query_end`` where to stop.  Each poll also rewrites the row before
its interval, whose counter delta needed a sample that may not have been
visible yet.

Counter delta rule (FORMATS.md 10.4): a zero or absent value means "no
data"; between two consecutive present values of a column, a non-negative
difference is stored in the row just before the later value (so the change
across a gap is credited to the gap's last row); a decrease (a counter
reset) stores nothing.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import numpy as np

from atokio.cli._common import run_main, setup_logging
from atokio.common import to_epoch
from atokio.connectors.lmtdb import LmtBatch, LmtDb, TimestampTable

__all__ = [
    "CONFIG",
    "DatasetConfig",
    "DatasetDict",
    "counter_deltas",
    "main",
    "natural_sorted",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
SOURCE = "lmt"

#: The metadata operations archived, in the order of the TTS dataset list.
MDS_OPERATIONS = (
    "open",
    "close",
    "mknod",
    "link",
    "unlink",
    "mkdir",
    "rmdir",
    "rename",
    "getxattr",
    "statfs",
    "setattr",
    "getattr",
)

#: The component id column of each LMT data table.
TABLE_IDS = {
    "OST_DATA": "OST_ID",
    "OSS_DATA": "OSS_ID",
    "MDS_DATA": "MDS_ID",
    "MDS_OPS_DATA": "MDS_ID",
}


@dataclass(frozen=True)
class DatasetConfig:
    """Where a TTS dataset comes from: the sum of ``columns`` of ``table``."""

    table: str
    columns: tuple[str, ...]
    units: str
    delta: bool  #: a monotonic counter, stored as per-row deltas
    operation: str | None = None  #: MDS_OPS_DATA: the OPERATION_NAME


#: The datasets archive_lmtdb writes (FORMATS.md 10.4).
CONFIG: dict[str, DatasetConfig] = {
    "datatargets/readbytes": DatasetConfig("OST_DATA", ("READ_BYTES",), "bytes", True),
    "datatargets/writebytes": DatasetConfig("OST_DATA", ("WRITE_BYTES",), "bytes", True),
    "fullness/bytes": DatasetConfig("OST_DATA", ("KBYTES_USED",), "KiB", False),
    "fullness/bytestotal": DatasetConfig("OST_DATA", ("KBYTES_USED", "KBYTES_FREE"), "KiB", False),
    "fullness/inodes": DatasetConfig("OST_DATA", ("INODES_USED",), "inodes", False),
    "fullness/inodestotal": DatasetConfig(
        "OST_DATA", ("INODES_USED", "INODES_FREE"), "inodes", False
    ),
    "dataservers/cpuload": DatasetConfig("OSS_DATA", ("PCT_CPU",), "%", False),
    "dataservers/memused": DatasetConfig("OSS_DATA", ("PCT_MEMORY",), "%", False),
    "mdservers/cpuload": DatasetConfig("MDS_DATA", ("PCT_CPU",), "%", False),
    **{
        f"mdtargets/{op}s": DatasetConfig("MDS_OPS_DATA", ("SAMPLES",), "ops", True, op)
        for op in MDS_OPERATIONS
    },
}

_DIGITS = re.compile(r"(\d+)")
_HEX_DIGITS = re.compile(r"([0-9a-fA-F]+)")


def natural_sorted(names: Sequence[str], sort_hex: bool = False) -> list[str]:
    """Names in natural order (``bb2`` < ``bb10``); with ``sort_hex`` digit runs are hex."""
    pattern = _HEX_DIGITS if sort_hex else _DIGITS
    base = 16 if sort_hex else 10

    def key(name: str) -> list[tuple[int, Any]]:
        parts: list[tuple[int, Any]] = []
        for index, piece in enumerate(pattern.split(name)):
            if index % 2:
                parts.append((0, int(piece, base)))
            elif piece:
                parts.append((1, piece))
        return parts

    return sorted(names, key=key)


def counter_deltas(matrix: np.ndarray) -> np.ndarray:
    """Per-row deltas of monotonic counters (one row fewer; see the module docstring).

    Cells that get no delta are −0.0 (missing).  Zero, −0.0 and NaN inputs
    mean "no data".
    """
    rows, cols = matrix.shape
    out = np.full((max(rows - 1, 0), cols), -0.0)
    if rows < 2:
        return out
    present = (matrix != 0) & ~np.isnan(matrix)
    index = np.where(present, np.arange(rows)[:, None], -1)
    last = np.maximum.accumulate(index, axis=0)
    previous = np.empty_like(last)
    previous[0] = -1
    previous[1:] = last[:-1]
    hit_rows, hit_cols = np.nonzero(present & (previous >= 0))
    earlier = previous[hit_rows, hit_cols]
    delta = matrix[hit_rows, hit_cols] - matrix[earlier, hit_cols]
    keep = delta >= 0
    out[hit_rows[keep] - 1, hit_cols[keep]] = delta[keep]
    return out


class DatasetDict(dict):
    """The datasets of one archive window, filled from LMT (``name -> matrix``).

    ``query_start``/``query_end`` bound the rows written; the matrices hold
    one row more (the sample at ``query_end``) until :meth:`finalize`.
    Columns are the component names of the ``*_INFO`` tables in natural
    order (hex digit runs with ``sort_hex``).
    """

    def __init__(
        self,
        query_start: datetime.datetime,
        query_end: datetime.datetime,
        timestep: int,
        sort_hex: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if timestep < 1:
            raise ValueError(f"timestep must be at least 1, not {timestep}")
        self.query_start = query_start
        self.query_end = query_end
        self.timestep = int(timestep)
        self.sort_hex = sort_hex
        self.start_epoch = int(to_epoch(query_start))
        span = int(to_epoch(query_end)) - self.start_epoch
        self.num_rows = -(-span // self.timestep)  # rows written
        self.columns: dict[str, list[str]] = {}
        self.config = CONFIG
        self.finalized = False
        self._lookup: dict[str, np.ndarray] = {}
        self._op_ids: dict[str, int] = {}

    # -- setup ---------------------------------------------------------------------------

    def init_datasets(self, dataset_names: Sequence[str], columns: Sequence[str]) -> None:
        """Create empty (−0.0) matrices for ``dataset_names`` with these columns."""
        ordered = natural_sorted(list(columns), sort_hex=self.sort_hex)
        for name in dataset_names:
            self[name] = np.full((self.num_rows + 1, len(ordered)), -0.0)
            self.columns[name] = list(ordered)

    def _id_lookup(self, table: str, id_map: dict[int, str], names: Sequence[str]) -> np.ndarray:
        """Component id -> column index (−1 for unknown ids)."""
        position = {name: i for i, name in enumerate(names)}
        size = max(id_map, default=0) + 1
        lookup = np.full(size, -1, dtype=np.int64)
        for key, name in id_map.items():
            if key >= 0 and name in position:
                lookup[key] = position[name]
        self._lookup[table] = lookup
        return lookup

    # -- filling ---------------------------------------------------------------------------

    def _rows_cols(self, table: str, batch: LmtBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keep mask, row, column) of a batch's rows inside the window and known."""
        rows = (batch.epochs - self.start_epoch) // self.timestep
        lookup = self._lookup[table]
        ids = batch.ids
        known = (ids >= 0) & (ids < lookup.size)
        cols = np.full(ids.shape, -1, dtype=np.int64)
        cols[known] = lookup[ids[known]]
        keep = (rows >= 0) & (rows <= self.num_rows) & (cols >= 0)
        if not keep.all():
            dropped = int((~keep).sum())
            logger.debug("%s: %d rows outside the window or of unknown components", table, dropped)
        return keep, rows[keep], cols[keep]

    def add_batch(self, table: str, batch: LmtBatch, value_columns: Sequence[str]) -> int:
        """Scatter one batch of ``table`` into its datasets; return the rows used."""
        keep, rows, cols = self._rows_cols(table, batch)
        if rows.size == 0:
            return 0
        values = batch.values[keep]
        index = {column: i for i, column in enumerate(value_columns)}
        ops = batch.extra[keep] if batch.extra is not None else None
        for name, config in self.config.items():
            if config.table != table or name not in self:
                continue
            if config.operation is not None:
                if ops is None:
                    continue
                wanted = self._op_ids.get(config.operation)
                if wanted is None:
                    continue
                select = ops == wanted
                if not select.any():
                    continue
                r, c = rows[select], cols[select]
                v = values[select][:, index[config.columns[0]]]
            else:
                r, c = rows, cols
                v = values[:, index[config.columns[0]]]
                for extra in config.columns[1:]:
                    v = v + values[:, index[extra]]
            good = ~np.isnan(v)
            if good.all():
                self[name][r, c] = v
            else:
                self[name][r[good], c[good]] = v[good]
        return int(rows.size)

    async def archive_table(
        self,
        lmtdb: LmtDb,
        table: str,
        *,
        timestamps: TimestampTable | None = None,
        timechunk: datetime.timedelta = datetime.timedelta(hours=1),
    ) -> int:
        """Read one LMT data table over the window (+ one step) into its datasets."""
        names = [name for name, config in self.config.items() if config.table == table]
        if not names:
            return 0
        if table == "OST_DATA":
            id_map, all_names = lmtdb.ost_id_map, lmtdb.ost_names
        elif table == "OSS_DATA":
            id_map, all_names = lmtdb.oss_id_map, lmtdb.oss_names
        else:
            id_map, all_names = lmtdb.mds_id_map, lmtdb.mds_names
        unique = list(dict.fromkeys(all_names))
        self.init_datasets(names, unique)
        self._id_lookup(table, id_map, self.columns[names[0]])
        value_columns = sorted({c for n in names for c in self.config[n].columns})
        extra_column = extra_values = None
        if table == "MDS_OPS_DATA":
            wanted_ops = [self.config[n].operation or "" for n in names]
            self._op_ids = lmtdb.operation_ids(wanted_ops)
            extra_column = "OPERATION_ID"
            extra_values = sorted(self._op_ids.values())
        end = self.query_start + datetime.timedelta(seconds=(self.num_rows + 1) * self.timestep)
        used = 0
        async with lmtdb.stream_batches(
            table,
            TABLE_IDS[table],
            value_columns,
            self.query_start,
            end,
            timechunk=timechunk,
            extra_column=extra_column,
            extra_values=extra_values,
            timestamps=timestamps,
        ) as batches:
            async for batch in batches:
                used += self.add_batch(table, batch, value_columns)
        return used

    # -- finishing -------------------------------------------------------------------------

    def convert_deltas(self, dataset_names: Sequence[str]) -> None:
        """Counters become per-row deltas; the other datasets drop their extra row."""
        for name in dataset_names:
            if name not in self:
                continue
            if self.config[name].delta:
                self[name] = counter_deltas(self[name])
            else:
                self[name] = self[name][:-1]

    def finalize(self) -> None:
        """Deltas (or trimming) for every dataset; afterwards each has ``num_rows`` rows."""
        if not self.finalized:
            self.convert_deltas(list(self))
            self.finalized = True

    def timestamps(self) -> np.ndarray:
        """Epoch seconds of the rows written (left edges)."""
        return self.start_epoch + self.timestep * np.arange(self.num_rows, dtype=np.int64)

    def metadata(self, name: str) -> dict[str, Any]:
        """The dataset attributes: ``units`` and ``version``."""
        return {"units": self.config[name].units, "version": SCHEMA_VERSION}


async def read_window(
    lmtdb: LmtDb,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    timestep: int,
    *,
    timechunk: datetime.timedelta = datetime.timedelta(hours=1),
) -> DatasetDict:
    """All LMT datasets over ``[query_start, query_end)``, finalized."""
    datasets = DatasetDict(query_start, query_end, timestep)
    end = query_start + datetime.timedelta(seconds=(datasets.num_rows + 1) * timestep)
    stamps = await lmtdb.timestamp_table(query_start, end)
    tables = ("OST_DATA", "OSS_DATA", "MDS_DATA", "MDS_OPS_DATA")
    if lmtdb.cache_db is not None:
        # SQLite: one table at a time (threads would only contend for the GIL)
        for table in tables:
            await datasets.archive_table(lmtdb, table, timestamps=stamps, timechunk=timechunk)
    else:
        # MySQL: all tables at once over the pool, so the server works while we convert
        async with anyio.create_task_group() as group:
            for table in tables:
                group.start_soon(
                    partial(
                        datasets.archive_table, lmtdb, table, timestamps=stamps, timechunk=timechunk
                    )
                )
    datasets.finalize()
    return datasets


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (CLI.md 3.3, plus ``--follow``)."""
    parser = argparse.ArgumentParser(
        prog="archive_lmtdb",
        description="Retrieve the contents of an LMT database and store them in a TOKIO Time Series file.",
    )
    parser.add_argument(
        "query_start", nargs="?", type=str, help="start time of the query (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument(
        "query_end",
        nargs="?",
        type=str,
        help="end time of the query, exclusive (YYYY-MM-DDTHH:MM:SS)",
    )
    parser.add_argument(
        "-i", "--input", type=str, default=None, help="SQLite cache to read instead of MySQL"
    )
    parser.add_argument(
        "-o", "--output", type=str, default="output.hdf5", help="HDF5 file to create or update"
    )
    parser.add_argument(
        "--init-start",
        type=str,
        default=None,
        help="start of a new file's range (default: query_start)",
    )
    parser.add_argument(
        "--init-end",
        type=str,
        default=None,
        help="end (exclusive) of a new file's range (default: query_end)",
    )
    parser.add_argument("--debug", action="store_true", help="debug messages on stderr")
    parser.add_argument(
        "--timestep", type=int, default=5, help="seconds per row; must equal LMT's interval"
    )
    parser.add_argument("--host", type=str, default=None, help="MySQL host ($PYTOKIO_LMT_HOST)")
    parser.add_argument("--user", type=str, default=None, help="MySQL user ($PYTOKIO_LMT_USER)")
    parser.add_argument(
        "--password", type=str, default=None, help="MySQL password ($PYTOKIO_LMT_PASSWORD)"
    )
    parser.add_argument(
        "--database", type=str, default=None, help="MySQL database name ($PYTOKIO_LMT_DB)"
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        help="keep archiving every timestep into day files (-o is a strftime template)",
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.follow and (args.query_start is None or args.query_end is None):
        parser.error("the following arguments are required: query_start, query_end")
    setup_logging(2 if args.debug else 0)
    raise NotImplementedError


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
