"""Retrieve the contents of an LMT database and cache them locally (``cache_lmtdb``, docs/cli.md#cache_lmtdb).

Copies the part of an LMT database (MySQL, or an SQLite cache given with
``-i``) that covers ``[start, end]`` (both inclusive) into an SQLite file
that ``archive_lmtdb -i`` can read: the tables with a ``TS_ID`` column keep
the rows whose ``TS_ID`` lies between the first and last time stamp of the
window, the other tables are copied whole.  Tables are created when missing
(untyped columns, the table's primary key) and rows are inserted with
``INSERT OR REPLACE``, so an existing file is merged into; an empty table is
not created.  Rows are streamed from the source into the file a batch at a
time.

The MySQL connection comes from ``--host/--user/--password/--database``, each
falling back to ``PYTOKIO_LMT_HOST``/``_USER``/``_PASSWORD``/``_DB``; it is used
only when all four are known.  An explicit ``-i`` always wins.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from atokio.cli._common import (
    announce_output,
    first_unused,
    parse_datetime,
    require_input,
    run_main,
    setup_logging,
)
from atokio.collectors.mysql import DEFAULT_BATCH_ROWS, Row
from atokio.connectors.cachingdb import to_sqlite_value
from atokio.connectors.lmtdb import LMT_PRIMARY_KEYS, LMT_TABLES, LmtDb

__all__ = ["connect_lmtdb", "lmtdb_connection", "main", "retrieve_tables", "table_schema"]

logger = logging.getLogger(__name__)

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
    with ``lmtdb.save_cache(path)``); with it they are streamed straight into
    that SQLite file.  ``limit`` appends ``LIMIT n`` to every table's query.
    Returns the number of rows per table.  Raises :class:`ValueError` when no
    time stamp falls in the window (before anything is written).
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

    with sqlite3.connect(output_file) as output:
        for table in sorted(LMT_TABLES):
            query, timed = _table_query(lmtdb, table, limit)
            args = (ts_min, ts_max) if timed else ()
            counts[table] = _copy_table(lmtdb, table, query, args, output)
            if counts[table] == 0:
                logger.warning("table %s has no rows", table)
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
    """The LmtDb the tools read: ``-i`` if given, else MySQL when all four values are known.

    Missing connection values come from ``PYTOKIO_LMT_HOST``, ``_USER``,
    ``_PASSWORD`` and ``_DB``.  Raises :class:`FileNotFoundError` for a
    missing ``-i`` file and :class:`RuntimeError` "No databases available to
    query" when there is nothing to read.
    """
    return LmtDb(**lmtdb_connection(input_file, host, user, password, database))


def lmtdb_connection(
    input_file: str | None,
    host: str | None,
    user: str | None,
    password: str | None,
    database: str | None,
) -> dict[str, str]:
    """The :class:`LmtDb` arguments of :func:`connect_lmtdb`, as plain data (an absolute ``-i``)."""
    if input_file is not None:
        require_input(input_file)
        return {"cache_file": os.path.abspath(input_file)}
    values = [
        given if given is not None else os.environ.get(variable)
        for given, variable in zip((host, user, password, database), ENV_VARIABLES, strict=True)
    ]
    if all(value is not None for value in values):
        return dict(zip(("dbhost", "dbuser", "dbpassword", "dbname"), values, strict=True))  # type: ignore[arg-type]
    raise RuntimeError("No databases available to query")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_lmtdb)."""
    parser = argparse.ArgumentParser(
        prog="cache_lmtdb",
        description="Retrieve the contents of an LMT database and cache them locally.",
    )
    parser.add_argument("start", type=str, help="start time (YYYY-MM-DDTHH:MM:SS), inclusive")
    parser.add_argument("end", type=str, help="end time (YYYY-MM-DDTHH:MM:SS), inclusive")
    parser.add_argument(
        "-i", "--input", type=str, default=None, help="read from this SQLite cache instead of MySQL"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=str,
        default=None,
        help="SQLite file to write (default: the first unused lmtdb-<N>.sqlite)",
    )
    parser.add_argument(
        "-l", "--limit", type=int, default=None, help="append LIMIT n to every table's query"
    )
    parser.add_argument("--host", type=str, default=None, help="MySQL host ($PYTOKIO_LMT_HOST)")
    parser.add_argument("--user", type=str, default=None, help="MySQL user ($PYTOKIO_LMT_USER)")
    parser.add_argument(
        "--password", type=str, default=None, help="MySQL password ($PYTOKIO_LMT_PASSWORD)"
    )
    parser.add_argument(
        "--database", type=str, default=None, help="MySQL database name ($PYTOKIO_LMT_DB)"
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(0)
    start = parse_datetime(args.start)
    end = parse_datetime(args.end)
    lmtdb = connect_lmtdb(args.input, args.host, args.user, args.password, args.database)
    try:
        lmtdb.get_ts_ids(start, end)  # fail (ValueError) before any file is written
        output = args.output or first_unused("lmtdb-{}.sqlite")
        announce_output(output)
        retrieve_tables(lmtdb, start, end, limit=args.limit, output_file=output)
    finally:
        lmtdb.close()
        lmtdb.close_cache()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
