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
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np
from anyio.streams.memory import MemoryObjectSendStream

from atokio.archive.schema import MD_OPS
from atokio.archive.timeseries import TimeSeries
from atokio.archive.writer import Batch
from atokio.cli import _archive
from atokio.cli._archive import commit_datasets, day_template
from atokio.cli._common import require_input, run_main, setup_logging
from atokio.cli.cache_lmtdb import connect_lmtdb
from atokio.collectors.follow import FollowState
from atokio.collectors.sync import run_sync
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

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"

SOURCE = "lmt"

#: The metadata operations archived, in the order of the TTS dataset list.
MDS_OPERATIONS = MD_OPS

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
        _archive.check_timestep(timestep)
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
            _archive.set_metadata(self[name], self.config[name].units, SOURCE)

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
    units = {name: config.units for name, config in datasets.config.items()}
    return _archive.init_timeseries_datasets(
        hdf5_file, datasets, units, init_start, init_end, datasets.timestep, SOURCE, attributes
    )


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
    _archive.check_window(query_start, query_end, init_start, init_end, timestep)
    datasets = run_sync(read_window, lmtdb, query_start, query_end, timestep)
    write_file(datasets, init_start, init_end, output_file)
    return datasets


def write_file(
    datasets: DatasetDict, init_start: datetime.datetime, init_end: datetime.datetime, path: str
) -> None:
    """Initialise (if needed) and commit ``datasets`` into the TTS file at ``path``."""
    with _archive.open_archive(path) as hdf5_file:
        created = init_hdf5_file(datasets, init_start, init_end, hdf5_file, attributes=False)
        commit_datasets(datasets, hdf5_file, created)


# -- --follow: day files through the single writer ---------------------------------------


def _init_day_file(path: str, datasets: DatasetDict, day: datetime.date) -> None:
    """Make sure a day file holds every dataset (columns in LMT order), atomically.

    An existing file must cover exactly that day (``ValueError`` otherwise:
    the writer places rows counting from midnight).
    """
    _archive.init_day_file(
        path,
        day,
        list(datasets),
        lambda hdf5_file, start, end: init_hdf5_file(datasets, start, end, hdf5_file),
    )


def resume_point(template: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
    """Where following should resume: after the last row holding data.

    Looks at today's and yesterday's day files; ``None`` when neither has
    any data.
    """
    return _archive.resume_point(template, now, timestep, CONFIG)


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
    options = _archive.follow_options(locals())
    holder: dict[str, Any] = {}
    ready_days: set[datetime.date] = set()

    async def poll(
        send: MemoryObjectSendStream[Batch], begin: datetime.datetime, end: datetime.datetime
    ) -> None:
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
        await _archive.prepare_days(
            template,
            datasets.query_start.date(),
            end,
            ready_days,
            lambda path, day: _init_day_file(path, datasets, day),
        )
        for name, series in datasets.items():
            epochs, names, values = _cells(series)
            if values.size:
                await send.send(Batch(name, epochs, names, values))
        logger.info("archived %s - %s", begin, end)

    try:
        return await _archive.follow_day_files(
            poll,
            template,
            timestep,
            _archive.writer_specs({name: c.units for name, c in CONFIG.items()}, SOURCE),
            resume_point,
            **options,
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
    _archive.add_file_options(parser)
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
    _archive.add_follow_option(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _archive.require_window(parser, args)
    setup_logging(2 if args.debug else 0)
    query_start, query_end = _archive.query_window(args)

    def connect() -> LmtDb:
        return connect_lmtdb(args.input, args.host, args.user, args.password, args.database)

    if args.follow:
        if args.input is not None:
            require_input(args.input)
        return _archive.run_follow(
            follow_lmtdb,
            connect,
            day_template(args.output),
            args.timestep,
            start=query_start,
            until=query_end,
        )

    assert query_start is not None and query_end is not None
    init_start, init_end = _archive.init_window(args, query_start, query_end)
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
