"""The Lustre Monitoring Tool database (``tokio.connectors.lmtdb``).

:class:`LmtDb` reads an LMT database — MySQL/MariaDB, or an SQLite cache of
one made by ``cache_lmtdb`` — through :class:`~atokio.connectors.cachingdb.CachingDb`.

Documented API (rows come back as stored):

* at start-up the ``*_INFO`` tables give ``ost_names``, ``oss_names``,
  ``mds_names`` (MDS *host* names) and ``mds_op_names`` (tuples, table order)
  and the ``ost_id_map``, ``oss_id_map``, ``mds_id_map``, ``mds_op_id_map``
  dicts (id -> name);
* :meth:`LmtDb.get_ts_ids` — lowest and highest ``TS_ID`` whose
  ``TIMESTAMP`` is in ``[start, end]``;
* :meth:`LmtDb.get_timeseries_data` and the wrappers ``get_ost_data``,
  ``get_oss_data``, ``get_mds_data``, ``get_mds_ops_data`` — the rows of a
  data table joined with ``TIMESTAMP_INFO`` over ``[start, end)``, as
  ``(rows, ["TIMESTAMP", <table columns>])``.  The range is queried in
  ``timechunk``-wide pieces; from MySQL the pieces run concurrently over the
  connection pool, each read through a streaming cursor, and are put back in
  time order.  ``TIMESTAMP`` is a string from SQLite and a ``datetime`` from
  MySQL; rows within a piece are in the database's order.

Streaming API for archivers (async; any backend, see
:mod:`atokio.collectors.mysql` for how asyncio and trio are served):

* :meth:`LmtDb.timestamp_table` — the ``(TS_ID, epoch)`` pairs of a window;
* :meth:`LmtDb.astream_batches` — a data table over a window as a stream of
  :class:`LmtBatch` numpy batches (epoch seconds, component id, values),
  never holding the whole result.  Instead of a JOIN per row it reads the
  window's ``TIMESTAMP_INFO`` rows once and selects data rows by ``TS_ID``
  range (per time chunk, concurrently, from MySQL; in one streamed query
  from SQLite, which has no ``TS_ID`` index to make pieces cheap), keeping
  only the ``TS_ID`` s of the window: the same rows as the JOIN.

Times are naive local datetimes (:mod:`atokio.common`); LMT stores local
``YYYY-MM-DD HH:MM:SS`` stamps, compared as such.
"""

from __future__ import annotations

import datetime
import logging
import os
import sqlite3
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.request import pathname2url

import anyio
import numpy as np

from atokio.collectors.mysql import DEFAULT_BATCH_ROWS, MySQLPool, Row, time_chunks
from atokio.connectors.cachingdb import HIT_CACHE, HIT_REMOTE, CachingDb

__all__ = [
    "LMT_OPERATION_IDS",
    "LMT_PRIMARY_KEYS",
    "LMT_TABLES",
    "LmtBatch",
    "LmtDb",
    "TimestampTable",
    "local_epochs",
    "rows_to_array",
]

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DEFAULT_TIMECHUNK = datetime.timedelta(hours=1)

#: Columns of the LMT tables, in table order (docs/formats.md#lmt-database).
LMT_TABLES: dict[str, tuple[str, ...]] = {
    "FILESYSTEM_INFO": (
        "FILESYSTEM_ID",
        "FILESYSTEM_NAME",
        "FILESYSTEM_MOUNT_NAME",
        "SCHEMA_VERSION",
    ),
    "MDS_DATA": (
        "MDS_ID",
        "TS_ID",
        "PCT_CPU",
        "KBYTES_FREE",
        "KBYTES_USED",
        "INODES_FREE",
        "INODES_USED",
    ),
    "MDS_INFO": ("MDS_ID", "FILESYSTEM_ID", "MDS_NAME", "HOSTNAME", "DEVICE_NAME"),
    "MDS_OPS_DATA": ("MDS_ID", "TS_ID", "OPERATION_ID", "SAMPLES", "SUM", "SUMSQUARES"),
    "MDS_VARIABLE_INFO": (
        "VARIABLE_ID",
        "VARIABLE_NAME",
        "VARIABLE_LABEL",
        "THRESH_TYPE",
        "THRESH_VAL1",
        "THRESH_VAL2",
    ),
    "OPERATION_INFO": ("OPERATION_ID", "OPERATION_NAME", "UNITS"),
    "OSS_DATA": ("OSS_ID", "TS_ID", "PCT_CPU", "PCT_MEMORY"),
    "OSS_INFO": ("OSS_ID", "FILESYSTEM_ID", "HOSTNAME", "FAILOVERHOST"),
    "OST_DATA": (
        "OST_ID",
        "TS_ID",
        "READ_BYTES",
        "WRITE_BYTES",
        "PCT_CPU",
        "KBYTES_FREE",
        "KBYTES_USED",
        "INODES_FREE",
        "INODES_USED",
    ),
    "OST_INFO": ("OST_ID", "OSS_ID", "OST_NAME", "HOSTNAME", "OFFLINE", "DEVICE_NAME"),
    "OST_VARIABLE_INFO": (
        "VARIABLE_ID",
        "VARIABLE_NAME",
        "VARIABLE_LABEL",
        "THRESH_TYPE",
        "THRESH_VAL1",
        "THRESH_VAL2",
    ),
    "TIMESTAMP_INFO": ("TS_ID", "TIMESTAMP"),
}

#: Primary keys of the LMT tables.
LMT_PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "FILESYSTEM_INFO": ("FILESYSTEM_ID",),
    "MDS_DATA": ("MDS_ID", "TS_ID"),
    "MDS_INFO": ("MDS_ID",),
    "MDS_OPS_DATA": ("MDS_ID", "TS_ID", "OPERATION_ID"),
    "MDS_VARIABLE_INFO": ("VARIABLE_ID",),
    "OPERATION_INFO": ("OPERATION_ID",),
    "OSS_DATA": ("OSS_ID", "TS_ID"),
    "OSS_INFO": ("OSS_ID", "HOSTNAME"),
    "OST_DATA": ("OST_ID", "TS_ID"),
    "OST_INFO": ("OST_ID",),
    "OST_VARIABLE_INFO": ("VARIABLE_ID",),
    "TIMESTAMP_INFO": ("TS_ID",),
}

#: LMT's operation ids of the metadata operations archived to TTS; used when a
#: database lacks ``OPERATION_INFO``.
LMT_OPERATION_IDS: dict[str, int] = {
    "open": 1,
    "close": 2,
    "mknod": 3,
    "link": 4,
    "unlink": 5,
    "mkdir": 6,
    "rmdir": 7,
    "rename": 8,
    "getxattr": 9,
    "statfs": 26,
    "setattr": 35,
    "getattr": 37,
}


def _format_time(when: datetime.datetime) -> str:
    return when.strftime(TIME_FORMAT)


def _epoch_of(stamp: Any) -> int:
    """Epoch seconds of an LMT ``TIMESTAMP`` (local time; text or datetime)."""
    if isinstance(stamp, datetime.datetime):
        when = stamp
    elif isinstance(stamp, bytes | bytearray):
        when = datetime.datetime.fromisoformat(bytes(stamp).decode())
    else:
        when = datetime.datetime.fromisoformat(str(stamp))
    if when.tzinfo is not None:
        return int(when.timestamp())
    return int(time.mktime(when.timetuple()))


def local_epochs(stamps: Sequence[Any]) -> np.ndarray:
    """Epoch seconds of naive local time stamps (text or datetime), vectorised.

    The wall-clock values are parsed by numpy; the zone offset is taken once
    per distinct minute with ``mktime`` (as :func:`atokio.common.to_epoch`
    does per value), so daylight-saving changes are honoured.
    """
    if not len(stamps):
        return np.empty(0, dtype=np.int64)
    try:
        wall = np.array(
            [s.decode() if isinstance(s, bytes | bytearray) else s for s in stamps],
            dtype="datetime64[s]",
        ).astype(np.int64)
    except (TypeError, ValueError):
        return np.fromiter((_epoch_of(s) for s in stamps), dtype=np.int64, count=len(stamps))
    minutes, inverse = np.unique(wall // 60, return_inverse=True)
    offsets = np.empty(minutes.size, dtype=np.int64)
    for index, minute in enumerate(minutes.tolist()):
        when = datetime.datetime(1970, 1, 1) + datetime.timedelta(minutes=minute)
        offsets[index] = minute * 60 - int(time.mktime(when.timetuple()))
    return wall - offsets[inverse.reshape(-1)]


def rows_to_array(rows: Sequence[Row], width: int) -> np.ndarray:
    """Row tuples of numbers as a ``(len(rows), width)`` float64 array (NULL -> NaN)."""
    if not rows:
        return np.empty((0, width), dtype=np.float64)
    try:
        flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=len(rows) * width)
        return flat.reshape(len(rows), width)
    except (TypeError, ValueError):
        cleaned = [
            tuple(np.nan if value is None else float(value) for value in row) for row in rows
        ]
        return np.array(cleaned, dtype=np.float64).reshape(len(rows), width)


@dataclass
class LmtBatch:
    """Rows of one LMT data table as arrays: ``values[i]`` was sampled at ``epochs[i]``
    for the component ``ids[i]`` (OST_ID, OSS_ID, MDS_ID); NULL values are NaN."""

    epochs: np.ndarray  #: int64 epoch seconds
    ids: np.ndarray  #: int64 component ids
    values: np.ndarray  #: float64, one column per requested value column
    extra: np.ndarray | None = None  #: int64 extra key column (e.g. OPERATION_ID), if asked for

    def __len__(self) -> int:
        return int(self.epochs.shape[0])


@dataclass
class TimestampTable:
    """The ``TIMESTAMP_INFO`` rows of a window, sorted by ``TS_ID``."""

    ts_ids: np.ndarray  #: int64, ascending
    epochs: np.ndarray  #: int64 epoch seconds

    def lookup(self, ts_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(keep mask, epochs of the kept)`` for the given TS_IDs."""
        if self.ts_ids.size == 0:
            keep = np.zeros(ts_ids.shape, dtype=bool)
            return keep, np.empty(0, dtype=np.int64)
        where = np.searchsorted(self.ts_ids, ts_ids)
        np.clip(where, 0, self.ts_ids.size - 1, out=where)
        keep = self.ts_ids[where] == ts_ids
        return keep, self.epochs[where[keep]]


class LmtDb(CachingDb):
    """An LMT database (MySQL) or its SQLite cache.  See the module docstring."""

    def __init__(
        self,
        dbhost: str | None = None,
        dbuser: str | None = None,
        dbpassword: str | None = None,
        dbname: str | None = None,
        cache_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.ost_names: tuple[str, ...] = ()
        self.oss_names: tuple[str, ...] = ()
        self.mds_names: tuple[str, ...] = ()
        self.mds_op_names: tuple[str, ...] = ()
        self.ost_id_map: dict[int, str] = {}
        self.oss_id_map: dict[int, str] = {}
        self.mds_id_map: dict[int, str] = {}
        self.mds_op_id_map: dict[int, str] = {}
        self._info_ready = False
        super().__init__(
            dbhost=dbhost,
            dbuser=dbuser,
            dbpassword=dbpassword,
            dbname=dbname,
            cache_file=cache_file,
        )
        if self.cache_db is not None or self.remote_db is not None:
            self.load_info()
        self._info_ready = True

    # -- the *_INFO tables -------------------------------------------------------------

    def load_info(self) -> None:
        """(Re)read OST, OSS, MDS and operation names from the ``*_INFO`` tables."""

        def pairs(query: str) -> tuple[tuple[int, str], ...]:
            return tuple((int(key), str(name)) for key, name in self.query(query))

        ost = pairs("SELECT OST_ID, OST_NAME FROM OST_INFO")
        oss = pairs("SELECT OSS_ID, HOSTNAME FROM OSS_INFO")
        mds = pairs("SELECT MDS_ID, HOSTNAME FROM MDS_INFO")
        ops = pairs("SELECT OPERATION_ID, OPERATION_NAME FROM OPERATION_INFO")
        self.ost_names = tuple(name for _key, name in ost)
        self.oss_names = tuple(name for _key, name in oss)
        self.mds_names = tuple(name for _key, name in mds)
        self.mds_op_names = tuple(name for _key, name in ops)
        self.ost_id_map = _first_names(ost)
        self.oss_id_map = _first_names(oss)
        self.mds_id_map = _first_names(mds)
        self.mds_op_id_map = _first_names(ops)

    def connect(
        self,
        dbhost: str | None,
        dbuser: str | None,
        dbpassword: str | None,
        dbname: str | None,
    ) -> None:
        """Connect to a remote LMT database (see :meth:`CachingDb.connect`)."""
        super().connect(dbhost, dbuser, dbpassword, dbname)
        if self._info_ready and self.cache_db is None:
            self.load_info()

    def connect_cache(self, cache_file: str | os.PathLike[str]) -> None:
        """Open an SQLite cache of an LMT database (see :meth:`CachingDb.connect_cache`)."""
        super().connect_cache(cache_file)
        if self._info_ready:
            self.load_info()

    def operation_ids(self, names: Sequence[str]) -> dict[str, int]:
        """The ``OPERATION_ID`` of each operation name (``OPERATION_INFO``, else LMT's ids)."""
        by_name = {name: key for key, name in self.mds_op_id_map.items()}
        found = {}
        for name in names:
            if name in by_name:
                found[name] = by_name[name]
            elif name in LMT_OPERATION_IDS:
                found[name] = LMT_OPERATION_IDS[name]
        return found

    # -- documented queries -------------------------------------------------------------

    def get_ts_ids(
        self, datetime_start: datetime.datetime, datetime_end: datetime.datetime
    ) -> tuple[int, int]:
        """Lowest and highest ``TS_ID`` whose time is in ``[start, end]`` (both inclusive).

        Raises :class:`ValueError` when no time stamp falls in the window.
        """
        mark = self.placeholder()
        rows = self.query(
            f"SELECT MIN(TS_ID), MAX(TS_ID) FROM TIMESTAMP_INFO "
            f"WHERE TIMESTAMP >= {mark} AND TIMESTAMP <= {mark}",
            (_format_time(datetime_start), _format_time(datetime_end)),
        )
        if not rows or rows[0][0] is None:
            raise ValueError(f"no LMT time stamps between {datetime_start} and {datetime_end}")
        return int(rows[0][0]), int(rows[0][1])

    def _data_query(self, table: str, mark: str) -> tuple[str, list[str]]:
        try:
            columns = LMT_TABLES[table]
        except KeyError:
            raise ValueError(f"unknown LMT table {table!r}") from None
        if "TS_ID" not in columns:
            raise ValueError(f"LMT table {table} is not indexed by time")
        selected = ", ".join(
            "TIMESTAMP_INFO.TS_ID" if column == "TS_ID" else f"{table}.{column}"
            for column in columns
        )
        query = (
            f"SELECT TIMESTAMP_INFO.TIMESTAMP, {selected} FROM {table} "
            f"INNER JOIN TIMESTAMP_INFO ON TIMESTAMP_INFO.TS_ID = {table}.TS_ID "
            f"WHERE TIMESTAMP_INFO.TIMESTAMP >= {mark} AND TIMESTAMP_INFO.TIMESTAMP < {mark}"
        )
        return query, ["TIMESTAMP", *columns]

    def get_timeseries_data(
        self,
        table: str,
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
    ) -> tuple[tuple, list[str]]:
        """Rows of ``table`` over ``[start, end)``, queried ``timechunk`` at a time.

        Returns ``(rows, column_names)``: ``rows`` a tuple of row tuples (the
        ``TIMESTAMP`` first, then the table's columns), ``column_names``
        ``["TIMESTAMP", ...]``.  Splitting the range avoids the N*M cost of
        the JOIN; from MySQL the pieces run concurrently.
        """
        query, names = self._data_query(table, self.placeholder())
        chunks = time_chunks(datetime_start, datetime_end, timechunk)
        args = [(_format_time(lo), _format_time(hi)) for lo, hi in chunks]
        if self.cache_db is not None:
            rows: list[Row] = []
            for arg in args:
                rows.extend(self._query_sqlite3(query, arg))
            self.last_hit = HIT_CACHE
            return tuple(rows), names
        if self.remote_db is None:
            raise RuntimeError("No databases available to query")

        async def collect(pool: MySQLPool) -> list[Row]:
            pieces: list[list[Row]] = [[] for _ in args]
            async with pool.stream_many([(query, arg) for arg in args]) as batches:
                async for index, batch in batches:
                    pieces[index].extend(batch)
            return [row for piece in pieces for row in piece]

        result = self.remote_db.run_sync(collect)
        self.last_hit = HIT_REMOTE
        return tuple(result), names

    def get_mds_data(
        self,
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
    ) -> tuple[tuple, list[str]]:
        """MDS load (``MDS_DATA``) over ``[start, end)``: ``(rows, column names)``."""
        return self.get_timeseries_data("MDS_DATA", datetime_start, datetime_end, timechunk)

    def get_mds_ops_data(
        self,
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
    ) -> tuple[tuple, list[str]]:
        """Metadata operations (``MDS_OPS_DATA``) over ``[start, end)``: ``(rows, column names)``."""
        return self.get_timeseries_data("MDS_OPS_DATA", datetime_start, datetime_end, timechunk)

    def get_oss_data(
        self,
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
    ) -> tuple[tuple, list[str]]:
        """OSS load (``OSS_DATA``) over ``[start, end)``: ``(rows, column names)``."""
        return self.get_timeseries_data("OSS_DATA", datetime_start, datetime_end, timechunk)

    def get_ost_data(
        self,
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
    ) -> tuple[tuple, list[str]]:
        """OST traffic and fullness (``OST_DATA``) over ``[start, end)``: ``(rows, column names)``."""
        return self.get_timeseries_data("OST_DATA", datetime_start, datetime_end, timechunk)

    # -- streaming (async) ----------------------------------------------------------------

    async def _small_query(self, query: str, args: Sequence[Any]) -> list[Row]:
        if self.cache_db is not None:
            cache = self.cache_db
            return await anyio.to_thread.run_sync(
                lambda: cache.execute(query, tuple(args)).fetchall()
            )
        if self.remote_db is None:
            raise RuntimeError("No databases available to query")
        return await self.remote_db.query(query, args)

    async def timestamp_table(
        self, datetime_start: datetime.datetime, datetime_end: datetime.datetime
    ) -> TimestampTable:
        """The ``TIMESTAMP_INFO`` rows with ``start <= TIMESTAMP < end``, as arrays."""
        mark = self.placeholder()
        rows = await self._small_query(
            f"SELECT TS_ID, TIMESTAMP FROM TIMESTAMP_INFO "
            f"WHERE TIMESTAMP >= {mark} AND TIMESTAMP < {mark}",
            (_format_time(datetime_start), _format_time(datetime_end)),
        )
        ts_ids = np.fromiter((int(row[0]) for row in rows), dtype=np.int64, count=len(rows))
        epochs = local_epochs([row[1] for row in rows])
        order = np.argsort(ts_ids, kind="stable")
        return TimestampTable(ts_ids[order], epochs[order])

    @asynccontextmanager
    async def astream_batches(
        self,
        table: str,
        id_column: str,
        value_columns: Sequence[str],
        datetime_start: datetime.datetime,
        datetime_end: datetime.datetime,
        *,
        timechunk: datetime.timedelta = DEFAULT_TIMECHUNK,
        extra_column: str | None = None,
        extra_values: Sequence[int] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        timestamps: TimestampTable | None = None,
    ) -> AsyncIterator[AsyncIterator[LmtBatch]]:
        """Stream ``table`` over ``[start, end)``; the body iterates :class:`LmtBatch` arrays.

        ``id_column`` names the component (``OST_ID``...), ``value_columns``
        the numeric columns wanted.  With ``extra_column`` (e.g.
        ``OPERATION_ID``), its value is returned in :attr:`LmtBatch.extra`,
        and ``extra_values`` keeps only the rows whose value is listed.  The
        window is read in ``timechunk`` pieces concurrently over the pool
        from MySQL (batches of different pieces may interleave), and as one
        streamed query from SQLite, in a worker thread.  ``timestamps`` reuses a
        :meth:`timestamp_table` of a window that covers this one.  Use as::

            async with lmtdb.astream_batches("OST_DATA", "OST_ID", ["READ_BYTES"], t0, t1) as it:
                async for batch in it:
                    ...
        """
        if table not in LMT_TABLES:
            raise ValueError(f"unknown LMT table {table!r}")
        known = LMT_TABLES[table]
        wanted = [id_column, *value_columns] + ([extra_column] if extra_column else [])
        for column in wanted:
            if column not in known:
                raise ValueError(f"LMT table {table} has no column {column!r}")
        if timestamps is None:
            timestamps = await self.timestamp_table(datetime_start, datetime_end)
        lo_epoch = _epoch_of(datetime_start)
        hi_epoch = _epoch_of(datetime_end)
        inside = (timestamps.epochs >= lo_epoch) & (timestamps.epochs < hi_epoch)
        window = TimestampTable(timestamps.ts_ids[inside], timestamps.epochs[inside])

        mark = self.placeholder()
        selected = ", ".join(["TS_ID", *wanted])
        where = f"TS_ID >= {mark} AND TS_ID <= {mark}"
        if extra_column and extra_values is not None:
            listed = ", ".join(str(int(value)) for value in extra_values) or "NULL"
            where += f" AND {extra_column} IN ({listed})"
        query = f"SELECT {selected} FROM {table} WHERE {where}"

        queries: list[tuple[str, tuple[int, int]]] = []
        for lo, hi in time_chunks(datetime_start, datetime_end, timechunk):
            piece = (window.epochs >= _epoch_of(lo)) & (window.epochs < _epoch_of(hi))
            if piece.any():
                ids = window.ts_ids[piece]
                queries.append((query, (int(ids.min()), int(ids.max()))))
        width = len(wanted) + 1
        nvalues = len(value_columns)
        has_extra = extra_column is not None

        def shape(data: np.ndarray) -> LmtBatch | None:
            keep, epochs = window.lookup(data[:, 0].astype(np.int64))
            if not keep.all():
                data = data[keep]
            if data.shape[0] == 0:
                return None
            return LmtBatch(
                epochs=epochs,
                ids=data[:, 1].astype(np.int64),
                values=data[:, 2 : 2 + nvalues],
                extra=data[:, 2 + nvalues].astype(np.int64) if has_extra else None,
            )

        if not queries:
            yield _no_batches()
            return
        if self.cache_db is not None:
            plan = _SqlitePlan(table, ["TS_ID", *wanted], where, batch_rows)
            bounds = (min(a[0] for _q, a in queries), max(a[1] for _q, a in queries))
            reader = self._sqlite_batches(plan, bounds, shape)
            try:
                yield reader
            finally:
                await reader.aclose()  # closes its connection even if the body stopped early
            self.last_hit = HIT_CACHE
            return
        if self.remote_db is None:
            raise RuntimeError("No databases available to query")
        async with self.remote_db.stream_many(queries, batch_rows=batch_rows) as batches:
            shaped = _shaped(batches, width, shape)
            try:
                yield shaped
            finally:
                await shaped.aclose()  # finalised here, not by the garbage collector
        self.last_hit = HIT_REMOTE

    #: The name of :meth:`astream_batches` before the naming rule of
    #: :mod:`atokio.pipelines` (still an async context manager).
    stream_batches = astream_batches

    async def _sqlite_batches(
        self,
        plan: _SqlitePlan,
        bounds: tuple[int, int],
        shape: Callable[[np.ndarray], LmtBatch | None],
    ) -> AsyncGenerator[LmtBatch, None]:
        """Read the window in batches in worker threads (SQLite blocks).

        The stream has its own read-only connection to the cache file.
        """
        if self.cache_file is None:
            raise RuntimeError("no cache database is open")
        path = self.cache_file

        def open_reader() -> sqlite3.Connection:
            return sqlite3.connect(
                f"file:{pathname2url(os.path.abspath(path))}?mode=ro",
                uri=True,
                check_same_thread=False,
            )

        cache = await anyio.to_thread.run_sync(open_reader)
        arrays = plan.arrays(cache, bounds)
        done = object()

        def step() -> LmtBatch | None | object:
            data = next(arrays, None)
            return done if data is None else shape(data)

        try:
            while True:
                batch = await anyio.to_thread.run_sync(step)
                if batch is done:
                    break
                if isinstance(batch, LmtBatch):
                    yield batch
        finally:
            arrays.close()
            cache.close()


@dataclass
class _SqlitePlan:
    """How one table is read from SQLite: ``SELECT columns FROM table WHERE where``.

    The whole window is one query (an SQLite cache has no index on
    ``TS_ID``, so every piece would scan the table again), streamed
    ``batch_rows`` rows at a time.
    """

    table: str
    columns: list[str]
    where: str
    batch_rows: int

    def arrays(
        self, cache: sqlite3.Connection, bounds: tuple[int, int]
    ) -> Generator[np.ndarray, None, None]:
        """float64 arrays (one column per selected column), a batch at a time."""
        query = f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE {self.where}"
        cursor = cache.execute(query, bounds)
        try:
            while rows := cursor.fetchmany(self.batch_rows):
                yield rows_to_array(rows, len(self.columns))
        finally:
            cursor.close()


async def _no_batches() -> AsyncIterator[LmtBatch]:
    return
    yield  # pragma: no cover


async def _shaped(
    batches: AsyncIterator[tuple[int, list[Row]]],
    width: int,
    shape: Callable[[np.ndarray], LmtBatch | None],
) -> AsyncGenerator[LmtBatch, None]:
    async for _index, rows in batches:
        batch = shape(rows_to_array(rows, width))
        if batch is not None:
            yield batch


def _first_names(pairs: Sequence[tuple[int, str]]) -> dict[int, str]:
    names: dict[int, str] = {}
    for key, name in pairs:
        names.setdefault(key, name)
    return names
