"""Archive the contents of an LMT database as TOKIO Time Series: the engine of ``archive_lmtdb`` (docs/cli.md#archive_lmtdb).

The source of the one archiver driver (:mod:`atokio.archive.driver`) is
:class:`LmtdbSource`; :func:`aarchive_lmtdb` / :func:`archive_lmtdb` archive a
window into one file, :func:`afollow_lmtdb` / :func:`follow_lmtdb` follow.

Reads Lustre Monitoring Tool data — MySQL/MariaDB, or an SQLite cache made by
``cache_lmtdb`` (``-i``) — for ``[query_start, query_end)`` and writes it into
a TTS HDF5 file (schema ``"1"``, docs/formats.md#lmt-in-tts and docs/formats.md#tokio-time-series): the 21 datasets
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

``--follow`` (an atokio addition) keeps running (:func:`afollow_lmtdb`): every
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

Counter delta rule (docs/formats.md#lmt-in-tts): a zero or absent value means "no
data"; between two consecutive present values of a column, a non-negative
difference is stored in the row just before the later value (so the change
across a gap is credited to the gap's last row); a decrease (a counter
reset) stores nothing.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np

from atokio.archive import daily
from atokio.archive.daily import FollowOptions, commit_datasets, day_template
from atokio.archive.driver import ArchiveSource, Window, aarchive_window, afollow_source
from atokio.archive.files import check_output, safe_update
from atokio.archive.schema import MD_OPS
from atokio.archive.timeseries import TimeSeries
from atokio.archive.writer import Batch
from atokio.collectors.sync import run_sync
from atokio.common import to_epoch
from atokio.connectors.lmtdb import LmtBatch, LmtDb, TimestampTable

__all__ = [
    "CONFIG",
    "DatasetConfig",
    "DatasetDict",
    "LmtdbSource",
    "aarchive_lmtdb",
    "afollow_lmtdb",
    "archive_lmtdb",
    "commit_datasets",
    "counter_deltas",
    "day_template",
    "follow_lmtdb",
    "init_hdf5_file",
    "lmtdb_source",
    "natural_sorted",
    "read_window",
    "resume_point",
    "write_file",
]

logger = logging.getLogger(__name__)

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


#: The datasets archive_lmtdb writes (docs/formats.md#lmt-in-tts).
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
        daily.check_timestep(timestep)
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
            daily.set_metadata(self[name], self.config[name].units, SOURCE)

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
    names created and logs ``Initialized <dataset> ...`` for each.
    """
    units = {name: config.units for name, config in datasets.config.items()}
    return daily.init_timeseries_datasets(
        hdf5_file, datasets, units, init_start, init_end, datasets.timestep, SOURCE, attributes
    )


class LmtdbSource(ArchiveSource):
    """LMT as a source of the archiver driver: 21 datasets, columns from the ``*_INFO`` tables.

    ``connect()`` makes the :class:`LmtDb` (again after a failure, so an
    outage is retried too).  A window is read with one sample more for the
    counter deltas; a follow poll also rewrites the row before its interval,
    whose delta may have lacked its second sample.
    """

    source = SOURCE
    tool = "archive_lmtdb"
    timestep: int

    def __init__(self, connect: Callable[[], LmtDb], timestep: int) -> None:
        daily.check_timestep(timestep)
        self.connect = connect
        self.timestep = int(timestep)
        self._lmtdb: LmtDb | None = None
        self._last: DatasetDict | None = None

    def units(self) -> Mapping[str, str]:
        """Every dataset of :data:`CONFIG` with its units."""
        return {name: config.units for name, config in CONFIG.items()}

    async def read_window(self, begin: datetime.datetime, end: datetime.datetime) -> DatasetDict:
        """Every dataset over ``[begin, end)``, finalized (a failure drops the connection)."""
        lmtdb = self._lmtdb
        if lmtdb is None:
            lmtdb = self._lmtdb = await anyio.to_thread.run_sync(self.connect)
        try:
            datasets = await read_window(lmtdb, begin, end, self.timestep)
        except BaseException:
            self._lmtdb = None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_close_quietly, lmtdb)
            raise
        self._last = datasets
        return datasets

    def init_file(
        self,
        hdf5_file: h5py.File,
        start: datetime.datetime,
        end: datetime.datetime,
        datasets: Mapping[str, TimeSeries],
    ) -> list[str]:
        """:func:`init_hdf5_file` without the attributes the commit writes anyway."""
        assert isinstance(datasets, DatasetDict)
        return init_hdf5_file(datasets, start, end, hdf5_file, attributes=False)

    async def window_batches(self, begin: datetime.datetime, end: datetime.datetime) -> list[Batch]:
        """The cells of ``[begin - timestep, end)`` that hold data."""
        before = datetime.datetime.fromtimestamp(to_epoch(begin) - self.timestep)
        return await super().window_batches(before, end)

    def init_day(
        self, hdf5_file: h5py.File, start: datetime.datetime, end: datetime.datetime
    ) -> None:
        """Every dataset over the day, columns in LMT order (those of the last window read)."""
        if self._last is None:
            raise RuntimeError("archive_lmtdb: a day file is made after a window was read")
        init_hdf5_file(self._last, start, end, hdf5_file)

    async def aclose(self) -> None:
        """Close the database connections."""
        lmtdb, self._lmtdb = self._lmtdb, None
        if lmtdb is not None:
            await anyio.to_thread.run_sync(_close_quietly, lmtdb)


def lmtdb_source(timestep: int = 5, **connection: Any) -> LmtdbSource:
    """An :class:`LmtdbSource` from plain arguments (a top-level factory for :class:`atokio.archive.driver.SourceSpec`).

    ``connection`` goes to :class:`LmtDb` (``cache_file=`` for an SQLite
    cache, or ``dbhost``/``dbuser``/``dbpassword``/``dbname``).
    """
    return LmtdbSource(partial(LmtDb, **connection), timestep)


async def aarchive_lmtdb(
    lmtdb: LmtDb,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    timestep: int,
    output_file: str,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
) -> DatasetDict:
    """Archive ``[query_start, query_end)`` of an LMT database into a TTS file (async form).

    A new file (or missing datasets) gets the range ``[init_start, init_end)``.
    The file is checked and updated crash-safely (:func:`atokio.archive.driver.aarchive_window`).
    The database is not closed.
    """
    daily.check_window(query_start, query_end, init_start, init_end, timestep)
    source = LmtdbSource(lambda: lmtdb, timestep)
    window = Window(query_start, query_end, init_start, init_end)
    result: DatasetDict = await aarchive_window(source, output_file, window)
    return result


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
    return run_sync(
        aarchive_lmtdb, lmtdb, init_start, init_end, timestep, output_file, query_start, query_end
    )


def write_file(
    datasets: DatasetDict, init_start: datetime.datetime, init_end: datetime.datetime, path: str
) -> None:
    """Initialise (if needed) and commit ``datasets`` into the TTS file at ``path``, crash-safely."""
    usable = check_output(path, datasets.timestep, list(CONFIG), tool="archive_lmtdb")
    with safe_update(path, fresh=not usable) as hdf5_file:
        created = init_hdf5_file(datasets, init_start, init_end, hdf5_file, attributes=False)
        commit_datasets(datasets, hdf5_file, created)


# -- --follow: day files through the single writer ---------------------------------------


def resume_point(template: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
    """Where following should resume: after the last row holding data.

    Looks at today's and yesterday's day files; ``None`` when neither has
    any data.
    """
    return daily.resume_point(template, now, timestep, CONFIG)


async def afollow_lmtdb(
    connect: Callable[[], LmtDb],
    template: str,
    timestep: int,
    options: FollowOptions | None = None,
) -> datetime.datetime:
    """Archive LMT continuously into day files until stopped; return where it stopped.

    ``connect()`` makes the LmtDb (again after a failure, so an outage at
    start-up is retried too).  Every ``timestep`` seconds the interval since
    the last poll is read — with the row before it, whose counter delta may
    have lacked its second sample — and its cells go to the single writer,
    which commits them into the file of their local day (``template``
    formatted with the day, first initialised over its whole day, columns
    in LMT order).  Resume, retries, day roll-over and stopping are the
    driver's (:func:`atokio.archive.driver.afollow_source`, ``options``).
    """
    return await afollow_source(LmtdbSource(connect, timestep), template, options)


def follow_lmtdb(
    connect: Callable[[], LmtDb],
    template: str,
    timestep: int,
    options: FollowOptions | None = None,
) -> datetime.datetime:
    """The sync form of :func:`afollow_lmtdb`."""
    return run_sync(afollow_lmtdb, connect, template, timestep, options)


def _close_quietly(lmtdb: LmtDb) -> None:
    try:
        lmtdb.close()
        lmtdb.close_cache()
    except Exception as error:  # pragma: no cover - best effort at shutdown
        logger.debug("closing the LMT database: %s", error)
