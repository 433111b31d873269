"""Copy a window of an LMT database into an SQLite file (the job of ``cache_lmtdb``).

:func:`cache_lmtdb` (async form :func:`acache_lmtdb`) copies the part of an
LMT database (MySQL, or an SQLite cache) that covers ``[start, end]`` (both
inclusive) into an SQLite file that ``archive_lmtdb -i`` can read: the tables
with a ``TS_ID`` column keep the rows whose ``TS_ID`` lies between the first
and last time stamp of the window, the other tables are copied whole.
Tables are created when missing (untyped columns, the table's primary key)
and rows are inserted with ``INSERT OR REPLACE``, so an existing file is
merged into; an empty table is not created.  Rows are streamed from the
source a batch at a time into a scratch copy of the output, which replaces
the output only when every table was copied: a failed run leaves the output
as it was (or absent).
"""

from __future__ import annotations

import datetime
import errno
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from atokio.collectors.mysql import DEFAULT_BATCH_ROWS, Row
from atokio.collectors.sync import run_sync
from atokio.common import atomic_path
from atokio.connectors.cachingdb import to_sqlite_value
from atokio.connectors.lmtdb import LMT_PRIMARY_KEYS, LMT_TABLES, LmtDb

__all__ = [
    "ENV_VARIABLES",
    "acache_lmtdb",
    "cache_lmtdb",
    "connect_lmtdb",
    "lmtdb_connection",
    "retrieve_tables",
    "table_schema",
]

logger = logging.getLogger(__name__)

#: The environment variables that give missing MySQL connection values.
ENV_VARIABLES = ("PYTOKIO_LMT_HOST", "PYTOKIO_LMT_USER", "PYTOKIO_LMT_PASSWORD", "PYTOKIO_LMT_DB")


def table_schema(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for an LMT table: untyped columns, its primary key."""
    columns = ", ".join(LMT_TABLES[table])
    key = ", ".join(LMT_PRIMARY_KEYS[table])
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns}, PRIMARY KEY({key}))"


def _table_query(lmtdb: LmtDb, table: str, limit: int | None) -> tuple[str, bool]:
    """The SELECT for one table, and whether it takes the TS_ID bounds."""
    columns = ", ".join(LMT_TABLES[table])
    timed = "TS_ID" in LMT_TABLES[table]
    query = f"SELECT {columns} FROM {table}"
    if timed:
        mark = lmtdb.placeholder()
        query += f" WHERE TS_ID >= {mark} AND TS_ID <= {mark}"
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    return query, timed


def retrieve_tables(
    lmtdb: LmtDb,
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
    limit: int | None = None,
    output_file: str | None = None,
) -> dict[str, int]:
    """Fetch every LMT table's rows for ``[start, end]`` and cache them.

    Without ``output_file`` the rows go to ``lmtdb.saved_results`` (write them
    with ``lmtdb.save_cache(path)``); with it they are streamed into that
    SQLite file, which changes only when every table was copied.  ``limit``
    appends ``LIMIT n`` to every table's query.  Returns the number of rows
    per table.  Raises :class:`ValueError` when no time stamp falls in the
    window (before anything is written).
    """
    ts_min, ts_max = lmtdb.get_ts_ids(datetime_start, datetime_end)
    counts: dict[str, int] = {}
    if output_file is None:
        for table in sorted(LMT_TABLES):
            query, timed = _table_query(lmtdb, table, limit)
            rows = lmtdb.query(
                query,
                (ts_min, ts_max) if timed else (),
                table=table,
                table_schema=table_schema(table),
            )
            counts[table] = len(rows)
        return counts

    with atomic_path(output_file, copy_existing=True) as scratch:
        output = sqlite3.connect(scratch)
        try:
            with output:
                for table in sorted(LMT_TABLES):
                    query, timed = _table_query(lmtdb, table, limit)
                    args = (ts_min, ts_max) if timed else ()
                    counts[table] = _copy_table(lmtdb, table, query, args, output)
                    if counts[table] == 0:
                        logger.warning("table %s has no rows", table)
        finally:
            output.close()
    return counts


def _copy_table(
    lmtdb: LmtDb, table: str, query: str, args: Sequence[Any], output: sqlite3.Connection
) -> int:
    """Stream one table's rows into ``output``; create the table on the first row."""
    created = False
    count = 0
    marks = ", ".join(["?"] * len(LMT_TABLES[table]))
    insert = f"INSERT OR REPLACE INTO {table} VALUES ({marks})"

    def write(rows: Sequence[Row]) -> None:
        nonlocal created, count
        if not rows:
            return
        if not created:
            output.execute(table_schema(table))
            created = True
        output.executemany(insert, (tuple(to_sqlite_value(v) for v in row) for row in rows))
        count += len(rows)

    if lmtdb.cache_db is not None:
        cursor = lmtdb.cache_db.execute(query, tuple(args))
        for rows in _batches(cursor):
            write(rows)
        return count
    pool = lmtdb.remote_db
    if pool is None:
        raise RuntimeError("No databases available to query")
    for rows in pool.stream_sync(query, args):
        write(rows)
    return count


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[Row]]:
    while True:
        rows = cursor.fetchmany(DEFAULT_BATCH_ROWS)
        if not rows:
            return
        yield rows


def connect_lmtdb(
    input_file: str | None,
    host: str | None,
    user: str | None,
    password: str | None,
    database: str | None,
) -> LmtDb:
    """The LmtDb to read: ``input_file`` if given, else MySQL when all four values are known.

    Missing connection values come from ``PYTOKIO_LMT_HOST``, ``_USER``,
    ``_PASSWORD`` and ``_DB``.  Raises :class:`FileNotFoundError` for a
    missing ``input_file`` and :class:`RuntimeError` "No databases available
    to query" when there is nothing to read.
    """
    return LmtDb(**lmtdb_connection(input_file, host, user, password, database))


def lmtdb_connection(
    input_file: str | None,
    host: str | None,
    user: str | None,
    password: str | None,
    database: str | None,
) -> dict[str, str]:
    """The :class:`LmtDb` arguments of :func:`connect_lmtdb`, as plain data (an absolute ``input_file``)."""
    if input_file is not None:
        if not os.path.isfile(input_file):
            raise FileNotFoundError(errno.ENOENT, "input file does not exist", input_file)
        return {"cache_file": os.path.abspath(input_file)}
    values = [
        given if given is not None else os.environ.get(variable)
        for given, variable in zip((host, user, password, database), ENV_VARIABLES, strict=True)
    ]
    if all(value is not None for value in values):
        return dict(zip(("dbhost", "dbuser", "dbpassword", "dbname"), values, strict=True))  # type: ignore[arg-type]
    raise RuntimeError(
        "No databases available to query (give -i FILE, or the MySQL host, user, password "
        "and database through the options or PYTOKIO_LMT_HOST, _USER, _PASSWORD and _DB)"
    )


def _cache_lmtdb_blocking(
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
    output_file: str,
    input_file: str | None,
    host: str | None,
    user: str | None,
    password: str | None,
    database: str | None,
    limit: int | None,
) -> dict[str, int]:
    lmtdb = connect_lmtdb(input_file, host, user, password, database)
    try:
        return retrieve_tables(
            lmtdb, datetime_start, datetime_end, limit=limit, output_file=output_file
        )
    finally:
        lmtdb.close()
        lmtdb.close_cache()


async def acache_lmtdb(
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
    output_file: str,
    *,
    input_file: str | None = None,
    host: str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Copy ``[start, end]`` of an LMT database into ``output_file``; rows per table.

    The source is ``input_file`` (an SQLite cache) or MySQL
    (:func:`connect_lmtdb`).  The database calls block, so they run on a
    worker thread.
    """
    import anyio

    return await anyio.to_thread.run_sync(
        _cache_lmtdb_blocking,
        datetime_start,
        datetime_end,
        output_file,
        input_file,
        host,
        user,
        password,
        database,
        limit,
    )


def cache_lmtdb(
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
    output_file: str,
    **options: Any,
) -> dict[str, int]:
    """:func:`acache_lmtdb` from sync code."""
    return run_sync(acache_lmtdb, datetime_start, datetime_end, output_file, **options)
