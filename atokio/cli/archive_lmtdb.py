"""Retrieve the contents of an LMT database and archive them as TOKIO Time Series (``archive_lmtdb``, CLI.md 3.3).

Reads Lustre Monitoring Tool data — MySQL/MariaDB, or an SQLite cache made by
``cache_lmtdb`` (``-i``) — for ``[query_start, query_end)`` and writes it into
a TTS HDF5 file (schema ``"1"``, FORMATS.md 10.4 and 14): the 21 datasets
of :data:`CONFIG` in the groups ``datatargets``, ``fullness``,
``dataservers``, ``mdservers`` and ``mdtargets``, every group with
``source = "lmt"``.

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
* each dataset is a ``TimeSeries`` (:class:`DatasetDict`), committed with
  ``Hdf5.commit_timeseries`` (:func:`atokio.archive.tts.commit_timeseries`);
  a new file is first initialised over ``[--init-start, --init-end)`` with
  every dataset full size and missing (−0.0, never written: HDF5's fill
  value).

``--follow`` (an atokio addition) keeps running (:func:`follow_lmtdb`): every
timestep it archives the interval since the last poll (see
:func:`atokio.collectors.follow.follow`) and sends its cells to the archive's
single writer (:func:`atokio.archive.writer.open_writer`), which commits them
into the file of their local day, so it rolls over to a new day file at
midnight; a source outage is retried and the missed interval caught up
afterwards; SIGTERM or SIGINT stops it cleanly after the poll in flight,
with everything sent committed.  In that mode ``-o`` is a ``strftime``
template (``-%Y-%m-%d`` is inserted before the extension when it has no
``%`` code), each day file covers its whole day, and the positionals are
optional: ``query_start`` is where to start (default: right after the last
row archived in today's or yesterday's file, else now), ``query_end`` where
to stop (default: never).  Each poll also rewrites the row before its
interval, whose counter delta needed a sample that may not have been
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
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np

from atokio.archive import tts
from atokio.archive.timeseries import TimeSeries
from atokio.archive.tts import CHUNK_ROWS, decode
from atokio.archive.writer import Batch, DatasetSpec, open_writer
from atokio.cli._common import parse_datetime, run_main, setup_logging
from atokio.cli.cache_lmtdb import connect_lmtdb
from atokio.collectors.follow import FollowState, follow
from atokio.collectors.sync import backend, run_sync
from atokio.common import to_epoch
from atokio.connectors.lmtdb import LmtBatch, LmtDb, TimestampTable

__all__ = [
    "CONFIG",
    "DatasetConfig",
    "DatasetDict",
    "archive_lmtdb",
    "commit_datasets",
    "counter_deltas",
    "day_template",
    "follow_lmtdb",
    "init_hdf5_file",
    "main",
    "natural_sorted",
    "read_window",
    "resume_point",
    "write_file",
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
    """The TimeSeries of one archive window, filled from LMT (``name -> TimeSeries``).

    ``query_start``/``query_end`` bound the rows written; until
    :meth:`finalize` every TimeSeries holds one row more (the sample at
    ``query_end``), which the counter deltas need.  Columns are the
    component names of the ``*_INFO`` tables in natural order (hex digit
    runs with ``sort_hex``, as LMT names them).  Rows are scattered in as
    numpy batches: a value stamped *t* lands in row ``(t - start) // timestep``.
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
        self.config = CONFIG
        self.start_epoch = int(to_epoch(query_start))
        span = int(to_epoch(query_end)) - self.start_epoch
        self.num_rows = max(0, -(-span // self.timestep))  # rows written
        self.finalized = False
        self._lookup: dict[str, np.ndarray] = {}
        self._op_ids: dict[str, int] = {}

    @property
    def read_end(self) -> datetime.datetime:
        """End (exclusive) of the range read: one timestep past the last row written."""
        # through epoch seconds, so that a daylight-saving change inside the window counts
        return datetime.datetime.fromtimestamp(
            self.start_epoch + (self.num_rows + 1) * self.timestep
        )

    # -- setup ---------------------------------------------------------------------------

    def init_datasets(self, dataset_names: Sequence[str], columns: Sequence[str]) -> None:
        """Create empty (−0.0) TimeSeries for ``dataset_names`` with these columns."""
        ordered = natural_sorted(list(dict.fromkeys(columns)), sort_hex=self.sort_hex)
        for name in dataset_names:
            series = TimeSeries(
                dataset_name=name,
                start=self.query_start,
                end=self.read_end,
                timestep=self.timestep,
                num_columns=len(ordered),
                column_names=ordered,
                sort_hex=self.sort_hex,
            )
            self[name] = series
        self.set_timeseries_metadata(dataset_names)

    def set_timeseries_metadata(self, dataset_names: Sequence[str]) -> None:
        """Set ``version`` and ``units`` on the datasets and ``source`` on their groups."""
        for name in dataset_names:
            series = self[name]
            series.version = SCHEMA_VERSION
            series.global_version = SCHEMA_VERSION
            series.dataset_metadata.update(
                {"version": SCHEMA_VERSION, "units": self.config[name].units}
            )
            series.group_metadata.update({"source": SOURCE})

    def _id_lookup(self, table: str, id_map: dict[int, str], names: Sequence[str]) -> None:
        """Component id -> column index (−1 for unknown ids)."""
        position = {name: i for i, name in enumerate(names)}
        lookup = np.full(max(id_map, default=0) + 1, -1, dtype=np.int64)
        for key, name in id_map.items():
            if key >= 0 and name in position:
                lookup[key] = position[name]
        self._lookup[table] = lookup

    # -- filling ---------------------------------------------------------------------------

    def add_batch(self, table: str, batch: LmtBatch, value_columns: Sequence[str]) -> int:
        """Scatter one batch of ``table`` into its datasets; return the rows used."""
        rows = (batch.epochs - self.start_epoch) // self.timestep
        lookup = self._lookup[table]
        known = (batch.ids >= 0) & (batch.ids < lookup.size)
        cols = np.full(batch.ids.shape, -1, dtype=np.int64)
        cols[known] = lookup[batch.ids[known]]
        keep = (rows >= 0) & (rows <= self.num_rows) & (cols >= 0)
        if not keep.all():
            logger.debug(
                "%s: %d rows outside the window or of unknown components", table, (~keep).sum()
            )
            rows, cols = rows[keep], cols[keep]
            values = batch.values[keep]
            ops = batch.extra[keep] if batch.extra is not None else None
        else:
            values = batch.values
            ops = batch.extra
        if rows.size == 0:
            return 0
        index = {column: i for i, column in enumerate(value_columns)}
        for name, config in self.config.items():
            if config.table != table or name not in self:
                continue
            if config.operation is not None:
                wanted = self._op_ids.get(config.operation)
                if ops is None or wanted is None:
                    continue
                select = ops == wanted
                if not select.any():
                    continue
                r, c = rows[select], cols[select]
                v = values[select, index[config.columns[0]]]
            else:
                r, c = rows, cols
                v = values[:, index[config.columns[0]]]
                for extra in config.columns[1:]:
                    v = v + values[:, index[extra]]
            matrix = self[name].dataset
            good = ~np.isnan(v)
            if good.all():
                matrix[r, c] = v
            else:
                matrix[r[good], c[good]] = v[good]
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
        self.init_datasets(names, all_names)
        self._id_lookup(table, id_map, self[names[0]].columns)
        value_columns = sorted({c for n in names for c in self.config[n].columns})
        extra_column: str | None = None
        extra_values: list[int] | None = None
        if table == "MDS_OPS_DATA":
            self._op_ids = lmtdb.operation_ids([self.config[n].operation or "" for n in names])
            extra_column = "OPERATION_ID"
            extra_values = sorted(self._op_ids.values())
        used = 0
        async with lmtdb.stream_batches(
            table,
            TABLE_IDS[table],
            value_columns,
            self.query_start,
            self.read_end,
            timechunk=timechunk,
            extra_column=extra_column,
            extra_values=extra_values,
            timestamps=timestamps,
        ) as batches:
            async for batch in batches:
                used += self.add_batch(table, batch, value_columns)
        return used

    async def archive_all(
        self, lmtdb: LmtDb, *, timechunk: datetime.timedelta | None = None
    ) -> None:
        """Read every LMT data table into its datasets.

        From MySQL the four tables are read at once, each in time chunks
        that share the connection pool, so the server works while rows are
        converted; ``timechunk`` defaults to about one chunk per pooled
        connection, and at least an hour (each chunk is a query of its own).
        From SQLite the tables are read one after the other (threads would
        only contend for the GIL).
        """
        if timechunk is None:
            pool = lmtdb.remote_db
            share = (self.read_end - self.query_start) / (pool.size if pool else 1)
            timechunk = max(datetime.timedelta(hours=1), share)
        stamps = await lmtdb.timestamp_table(self.query_start, self.read_end)
        tables = ("OST_DATA", "OSS_DATA", "MDS_DATA", "MDS_OPS_DATA")
        if lmtdb.cache_db is not None:
            for table in tables:
                await self.archive_table(lmtdb, table, timestamps=stamps, timechunk=timechunk)
            return
        async with anyio.create_task_group() as group:
            for table in tables:
                group.start_soon(
                    partial(
                        self.archive_table, lmtdb, table, timestamps=stamps, timechunk=timechunk
                    )
                )

    def archive_mds_data(self, lmtdb: LmtDb) -> None:
        """Fill ``mdservers/cpuload`` from ``MDS_DATA``."""
        run_sync(self.archive_table, lmtdb, "MDS_DATA")

    def archive_mds_ops_data(self, lmtdb: LmtDb) -> None:
        """Fill ``mdtargets/<op>s`` from ``MDS_OPS_DATA``, split by ``OPERATION_ID`` (no JOIN)."""
        run_sync(self.archive_table, lmtdb, "MDS_OPS_DATA")

    def archive_oss_data(self, lmtdb: LmtDb) -> None:
        """Fill ``dataservers/cpuload`` and ``memused`` from ``OSS_DATA``."""
        run_sync(self.archive_table, lmtdb, "OSS_DATA")

    def archive_ost_data(self, lmtdb: LmtDb) -> None:
        """Fill ``datatargets/*bytes`` and ``fullness/*`` from ``OST_DATA``."""
        run_sync(self.archive_table, lmtdb, "OST_DATA")

    # -- finishing -------------------------------------------------------------------------

    def convert_deltas(self, dataset_names: Sequence[str]) -> None:
        """Counters become per-row deltas; the other datasets drop their extra row."""
        for name in dataset_names:
            if name not in self:
                continue
            series = self[name]
            if self.config[name].delta:
                series.dataset = counter_deltas(series.dataset)
                series.timestamps = series.timestamps[:-1]
            else:
                series.trim_rows(1)

    def finalize(self) -> None:
        """Deltas (or trimming) and metadata for every dataset, once."""
        if not self.finalized:
            self.convert_deltas(list(self))
            self.set_timeseries_metadata(list(self))
            self.finalized = True


async def read_window(
    lmtdb: LmtDb,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    timestep: int,
    *,
    timechunk: datetime.timedelta | None = None,
) -> DatasetDict:
    """Every LMT dataset over ``[query_start, query_end)``, finalized.

    ``timechunk``: see :meth:`DatasetDict.archive_all`.
    """
    datasets = DatasetDict(query_start, query_end, timestep)
    await datasets.archive_all(lmtdb, timechunk=timechunk)
    datasets.finalize()
    return datasets


# -- writing one file (the documented one-shot mode) -------------------------------------


def init_hdf5_file(
    datasets: DatasetDict,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    hdf5_file: h5py.File,
    attributes: bool = True,
) -> list[str]:
    """Create every dataset of ``datasets`` missing from the file, full size and missing.

    A new dataset covers ``[init_start, init_end)``: its rows are never
    written (HDF5 fills them with −0.0), only its group's time stamps and,
    on a new file, the root ``version``/``start``/``end``; with
    ``attributes`` also its ``columns``, ``units``, ``version``, ``updated``
    and its group's ``source`` (a commit that follows at once writes them
    anyway).  In a file whose ``start``/``end`` differ from the init range
    this raises ``IndexError("Mismatched start or end values")``.  Returns the
    names created and prints ``Initialized <dataset> in / with size (rows,
    columns)`` for each.
    """
    missing = [name for name in datasets if "/" + name.strip("/") not in hdf5_file]
    if not missing:
        return []
    start, end = int(to_epoch(init_start)), int(to_epoch(init_end))
    if "start" in hdf5_file.attrs or "end" in hdf5_file.attrs:
        found = (int(hdf5_file.attrs.get("start", -1)), int(hdf5_file.attrs.get("end", -1)))
        if found != (start, end):
            raise IndexError("Mismatched start or end values")
    else:
        hdf5_file.attrs["start"] = np.int64(start)
        hdf5_file.attrs["end"] = np.int64(end)
        hdf5_file.attrs["version"] = np.bytes_(SCHEMA_VERSION)
    stamps = np.arange(start, end, datasets.timestep, dtype=np.int64)
    for name in missing:
        series = datasets[name]
        group_name = name.strip("/").split("/")[0]
        group = hdf5_file.require_group(group_name)
        key = series.timestamp_key or f"/{group_name}/timestamps"
        if key not in hdf5_file:
            hdf5_file.create_dataset(key, data=stamps)
        rows = len(hdf5_file[key])
        width = max(1, len(series.columns))
        dataset = hdf5_file.create_dataset(
            name,
            shape=(rows, width),
            maxshape=(rows, None),
            dtype=np.float64,
            chunks=(min(rows, CHUNK_ROWS), width),
            compression="gzip",
            shuffle=True,
            fillvalue=-0.0,
        )
        if attributes:
            dataset.attrs["columns"] = np.array([c.encode() for c in series.columns])
            dataset.attrs["units"] = np.bytes_(datasets.config[name].units)
            dataset.attrs["version"] = np.bytes_(SCHEMA_VERSION)
            dataset.attrs["updated"] = np.int64(int(time.time()))
            group.attrs["source"] = np.bytes_(SOURCE)
        print(f"Initialized {name} in {hdf5_file.name} with size {dataset.shape}")
    return missing


def _align_to_file(series: TimeSeries, dataset: Any, first: int, last: int) -> None:
    """Reorder ``series`` to the file's columns; keep the file's values of columns it lacks."""
    existing = [str(c) for c in decode(dataset.attrs.get("columns", np.array([])))]
    if not existing or existing == series.columns:
        return
    mine = set(series.columns)
    order = [c for c in existing if c in mine] + [
        c for c in series.columns if c not in set(existing)
    ]
    foreign = [c for c in existing if c not in mine]
    series.rearrange_columns(order)
    if foreign:
        kept = dataset[first:last, :]
        extra = np.column_stack([kept[:, existing.index(c)] for c in foreign])
        series.dataset = np.hstack([series.dataset, extra])
        series.columns = order + foreign
        series.update_column_map()
        # the file's own order first, then the new columns
        series.rearrange_columns(existing + [c for c in order if c not in set(existing)])


def commit_datasets(
    datasets: DatasetDict, hdf5_file: h5py.File, created: Sequence[str] = ()
) -> None:
    """Commit every TimeSeries into the file, printing ``Writing out /<dataset>``.

    This is ``Hdf5.commit_timeseries`` per dataset, after putting the columns
    in the file's order when the dataset existed before (values are matched
    by column name, never by position); ``created`` names the datasets that
    :func:`init_hdf5_file` has just made with the TimeSeries' own columns.
    """
    fresh = set(created)
    for name, series in datasets.items():
        path = "/" + name.strip("/")
        print(f"Writing out {path}")
        if name not in fresh and path in hdf5_file and series.timestamps.size:
            key = tts.timestamps_key(hdf5_file, path)
            first, last = tts.get_insert_indices(series.timestamps, hdf5_file[key][...])
            _align_to_file(series, hdf5_file[path], first, last)
        tts.commit_timeseries(hdf5_file, series)


def archive_lmtdb(
    lmtdb: LmtDb,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    timestep: int,
    output_file: str,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
) -> DatasetDict:
    """Archive ``[query_start, query_end)`` of an LMT database into a TTS file.

    A new file (or missing datasets) gets the range ``[init_start, init_end)``.
    """
    if query_start >= query_end or init_start >= init_end:
        raise ValueError("query_start >= query_end")
    if timestep < 1:
        raise ValueError(f"timestep must be at least 1, not {timestep}")
    datasets = run_sync(read_window, lmtdb, query_start, query_end, timestep)
    write_file(datasets, init_start, init_end, output_file)
    return datasets


def write_file(
    datasets: DatasetDict, init_start: datetime.datetime, init_end: datetime.datetime, path: str
) -> None:
    """Initialise (if needed) and commit ``datasets`` into the TTS file at ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with h5py.File(path, "a") as hdf5_file:
        created = init_hdf5_file(datasets, init_start, init_end, hdf5_file, attributes=False)
        commit_datasets(datasets, hdf5_file, created)


# -- --follow: day files through the single writer ---------------------------------------


def day_template(output: str) -> str:
    """The strftime template of the day files (``%Y-%m-%d`` added when ``output`` has no code)."""
    if "%" in output:
        return output
    stem, suffix = os.path.splitext(output)
    return f"{stem}-%Y-%m-%d{suffix or '.hdf5'}"


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    midnight = datetime.datetime.combine(day, datetime.time())
    return midnight, midnight + datetime.timedelta(days=1)


def _init_day_file(path: str, datasets: DatasetDict, day: datetime.date) -> None:
    """Make sure a day file holds every dataset (columns in LMT order), atomically.

    An existing file must cover exactly that day (``ValueError`` otherwise:
    the writer places rows counting from midnight).
    """
    start, end = _day_bounds(day)
    if os.path.exists(path):
        with h5py.File(path, "r") as existing:
            bounds = (int(existing.attrs.get("start", -1)), int(existing.attrs.get("end", -1)))
            if "start" in existing.attrs and bounds != (to_epoch(start), to_epoch(end)):
                raise ValueError(f"{path} does not cover the day {day} (start/end {bounds})")
            if all("/" + name in existing for name in datasets):
                return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    scratch = path + ".init"
    if os.path.exists(path):
        shutil.copyfile(path, scratch)
    elif os.path.exists(scratch):
        os.unlink(scratch)
    with h5py.File(scratch, "a") as hdf5_file:
        init_hdf5_file(datasets, start, end, hdf5_file)
    with open(scratch, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(scratch, path)


def resume_point(template: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
    """Where following should resume: after the last row holding data.

    Looks at today's and yesterday's day files; ``None`` when neither has
    any data.
    """
    for day in (now.date(), now.date() - datetime.timedelta(days=1)):
        path = datetime.datetime.combine(day, datetime.time()).strftime(template)
        if not os.path.exists(path):
            continue
        last = -1
        last_stamp = None
        with h5py.File(path, "r") as h5:
            for name in CONFIG:
                if name not in h5:
                    continue
                data = h5[name][...]
                present = np.nonzero(~np.all((data == 0) & np.signbit(data), axis=1))[0]
                if present.size and int(present[-1]) > last:
                    last = int(present[-1])
                    stamps = h5[tts.timestamps_key(h5, name)]
                    last_stamp = int(stamps[last])
        if last_stamp is not None:
            return datetime.datetime.fromtimestamp(last_stamp + timestep)
    return None


def _cells(series: TimeSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs, column names, values) of the cells of ``series`` that hold data."""
    matrix = series.dataset
    present = ~((matrix == 0) & np.signbit(matrix))
    rows, cols = np.nonzero(present)
    names = np.array(series.columns, dtype=object)
    return series.timestamps[rows], names[cols], matrix[rows, cols]


async def follow_lmtdb(
    connect: Callable[[], LmtDb],
    template: str,
    timestep: int,
    *,
    start: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    lag: float | None = None,
    now: Callable[[], datetime.datetime] = datetime.datetime.now,
    retry_initial: float = 1.0,
    retry_max: float = 300.0,
    handle_signals: bool = True,
    stop: anyio.Event | None = None,
    state: FollowState | None = None,
    flush_seconds: float = 60.0,
    poll_timeout: float = 300.0,
) -> datetime.datetime:
    """Archive LMT continuously into day files until stopped; return where it stopped.

    ``connect()`` makes the LmtDb (again after a failure, so an outage at
    start-up is retried too).  Without ``start`` it resumes after the last
    row of data in today's or yesterday's file (:func:`resume_point`), else
    starts now.  Every ``timestep`` seconds the interval since
    the last poll (up to ``now - lag``, default two timesteps) is read — with
    the row before it, whose counter delta may have lacked its second sample
    — and its non-missing cells are sent to the single writer
    (:func:`atokio.archive.writer.open_writer`), which commits them into the
    file of their local day (``template`` formatted with the day).  A day
    file is first initialised over its whole day, columns in LMT order.
    Failures (and reads that take longer than ``poll_timeout`` seconds) are
    retried with backoff and the missed interval is caught up
    (:func:`atokio.collectors.follow.follow`); SIGTERM/SIGINT stop it after
    the poll in flight, and everything sent is committed before returning.
    The writer commits every ``flush_seconds``.
    """
    if start is None:
        start = await anyio.to_thread.run_sync(resume_point, template, now(), timestep)
        if start is not None:
            logger.info("resuming after the last row archived: %s", start)
    holder: dict[str, Any] = {}
    ready_days: set[datetime.date] = set()
    specs = {
        name: DatasetSpec(units=config.units, version=SCHEMA_VERSION, source=SOURCE)
        for name, config in CONFIG.items()
    }

    async with open_writer(template, timestep, specs, flush_seconds=flush_seconds) as send:

        async def poll(begin: datetime.datetime, end: datetime.datetime) -> None:
            lmtdb = holder.get("lmtdb")
            if lmtdb is None:
                lmtdb = holder["lmtdb"] = await anyio.to_thread.run_sync(connect)
            try:
                before = datetime.datetime.fromtimestamp(to_epoch(begin) - timestep)
                with anyio.fail_after(poll_timeout):  # a source that hangs is an outage too
                    datasets = await read_window(lmtdb, before, end, timestep)
            except Exception:
                holder.pop("lmtdb", None)
                await anyio.to_thread.run_sync(_close_quietly, lmtdb)
                raise
            first = datasets.query_start.date()
            last = (end - datetime.timedelta(microseconds=1)).date()
            day = first
            while day <= last:
                if day not in ready_days:
                    path = datetime.datetime.combine(day, datetime.time()).strftime(template)
                    await anyio.to_thread.run_sync(_init_day_file, path, datasets, day)
                    ready_days.add(day)
                day += datetime.timedelta(days=1)
            for name, series in datasets.items():
                epochs, names, values = _cells(series)
                if values.size:
                    await send.send(Batch(name, epochs, names, values))
            logger.info("archived %s - %s", begin, end)

        try:
            return await follow(
                poll,
                timestep=timestep,
                start=start,
                until=until,
                lag=2 * timestep if lag is None else lag,
                now=now,
                retry_initial=retry_initial,
                retry_max=retry_max,
                handle_signals=handle_signals,
                stop=stop,
                state=state,
            )
        finally:
            lmtdb = holder.pop("lmtdb", None)
            if lmtdb is not None:
                _close_quietly(lmtdb)


def _close_quietly(lmtdb: LmtDb) -> None:
    try:
        lmtdb.close()
        lmtdb.close_cache()
    except Exception as error:  # pragma: no cover - best effort at shutdown
        logger.debug("closing the LMT database: %s", error)


# -- command line ------------------------------------------------------------------------


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
        help="keep archiving every timestep into day files (-o is then a strftime template; "
        "query_start/query_end, optional, say where to start and stop)",
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.follow and (args.query_start is None or args.query_end is None):
        parser.error("the following arguments are required: query_start, query_end")
    setup_logging(2 if args.debug else 0)
    query_start = parse_datetime(args.query_start) if args.query_start else None
    query_end = parse_datetime(args.query_end) if args.query_end else None
    if args.timestep < 1:
        raise ValueError(f"timestep must be at least 1, not {args.timestep}")
    if query_start is not None and query_end is not None and query_start >= query_end:
        raise ValueError("query_start >= query_end")

    def connect() -> LmtDb:
        return connect_lmtdb(args.input, args.host, args.user, args.password, args.database)

    if args.follow:
        if args.input is not None and not os.path.isfile(args.input):
            raise FileNotFoundError(f"input file {args.input!r} does not exist")
        template = day_template(args.output)
        stopped = anyio.run(
            partial(
                follow_lmtdb, connect, template, args.timestep, start=query_start, until=query_end
            ),
            backend=backend(),
        )
        logger.debug("stopped at %s", stopped)
        return 0

    assert query_start is not None and query_end is not None
    init_start = parse_datetime(args.init_start) if args.init_start else query_start
    init_end = parse_datetime(args.init_end) if args.init_end else query_end
    if init_start >= init_end:
        raise ValueError("query_start >= query_end")
    lmtdb = connect()
    try:
        archive_lmtdb(
            lmtdb, init_start, init_end, args.timestep, args.output, query_start, query_end
        )
    finally:
        _close_quietly(lmtdb)
    if args.debug:
        print(f"Wrote output to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
