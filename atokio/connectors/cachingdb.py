"""Relational databases of immutable data, with an optional SQLite cache (``tokio.connectors.cachingdb``).

:class:`CachingDb` answers SQL queries from one of two places:

* an **SQLite cache file** (``cache_file``): when one is open, *all* queries
  go to it (it wins over a remote connection, so an explicit cache is never
  overridden by credentials found elsewhere);
* otherwise the **remote MySQL/MariaDB** database, reached through the async
  collector :class:`atokio.collectors.mysql.MySQLPool` (asyncmy).  The sync
  methods here run its coroutines on the collector's helper event loop, so
  they work in plain scripts, in notebooks whose loop is already running,
  and from async code (where they block the calling task, like any sync DB
  call).

Results of queries that name a ``table`` are also kept in memory
(:attr:`CachingDb.saved_results`) and :meth:`CachingDb.save_cache` writes them
to a (different) SQLite file: ``CREATE TABLE`` from the saved schema, then
``INSERT OR REPLACE``, so an existing file is merged into.  Values SQLite
cannot store are converted the way the LMT caches hold them: datetimes as
``YYYY-MM-DD HH:MM:SS`` text, decimals as int or float.

Placeholders: a query string must use the placeholder of the database that
answers it (``?`` for SQLite, ``%s`` for MySQL); :meth:`CachingDb.placeholder`
gives the one to use now, :func:`get_paramstyle_symbol` maps a PEP 249
``paramstyle`` to it.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from atokio.collectors.mysql import PARAMSTYLE as MYSQL_PARAMSTYLE
from atokio.collectors.mysql import MySQLParams, MySQLPool
from atokio.common import atomic_path

__all__ = [
    "HIT_CACHE",
    "HIT_CACHE_DB",
    "HIT_NONE",
    "HIT_REMOTE",
    "HIT_REMOTE_DB",
    "CachingDb",
    "get_paramstyle_symbol",
    "to_sqlite_value",
]

logger = logging.getLogger(__name__)

#: Values of :attr:`CachingDb.last_hit`: no query yet, served by the SQLite cache,
#: served by the remote database.
HIT_NONE = 0
HIT_CACHE = 1
HIT_REMOTE = 2
#: pytokio's names of the same values.
HIT_CACHE_DB = HIT_CACHE
HIT_REMOTE_DB = HIT_REMOTE

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def get_paramstyle_symbol(paramstyle: str) -> str:
    """The placeholder to write in queries for a DB-API module's ``paramstyle``.

    ``qmark`` -> ``?``; ``format`` and ``pyformat`` -> ``%s``; ``numeric``
    -> ``:1`` (number the later ones yourself); ``named`` -> ``:name``.
    """
    symbols = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": ":1", "named": ":name"}
    try:
        return symbols[paramstyle]
    except KeyError:
        raise ValueError(f"unknown PEP 249 paramstyle {paramstyle!r}") from None


def to_sqlite_value(value: Any) -> Any:
    """A value as the LMT SQLite caches store it (datetime as text, Decimal as a number)."""
    if isinstance(value, datetime.datetime):
        return value.strftime(SQLITE_TIME_FORMAT)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


@contextlib.contextmanager
def _closing(path: str) -> Iterator[sqlite3.Connection]:
    """An SQLite connection to ``path``: committed when the block succeeds, closed either way."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


class CachingDb:
    """A remote MySQL database with an optional SQLite caching layer.

    With ``cache_file``, all queries go to that SQLite file.  Without it, all
    queries go to the remote database.  With no ``db*`` argument no remote
    connection is made: the object relies on the cache, or on a later
    :meth:`connect`.  ``dbhost`` may be ``host``, ``host:port`` or a Unix
    socket path.

    Attributes: ``saved_results`` (table name -> ``{'rows': [...], 'schema':
    'CREATE TABLE ...'}``), ``last_hit`` (:data:`HIT_CACHE`,
    :data:`HIT_REMOTE` or :data:`HIT_NONE`), ``cache_file``, ``cache_db``
    (``sqlite3.Connection``), ``cache_db_ps`` (its PEP 249 paramstyle),
    ``remote_db`` (a :class:`~atokio.collectors.mysql.MySQLPool`),
    ``remote_db_ps``.
    """

    def __init__(
        self,
        dbhost: str | None = None,
        dbuser: str | None = None,
        dbpassword: str | None = None,
        dbname: str | None = None,
        cache_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.saved_results: dict[str, dict[str, Any]] = {}
        self.last_hit: int = HIT_NONE
        self.cache_file: str | None = None
        self.cache_db: sqlite3.Connection | None = None
        self.cache_db_ps: str | None = None
        self.remote_db: MySQLPool | None = None
        self.remote_db_ps: str | None = None
        if cache_file is not None:
            self.connect_cache(cache_file)
        if any(value is not None for value in (dbhost, dbuser, dbpassword, dbname)):
            self.connect(dbhost, dbuser, dbpassword, dbname)

    # -- connections -------------------------------------------------------------------

    def connect(
        self,
        dbhost: str | None,
        dbuser: str | None,
        dbpassword: str | None,
        dbname: str | None,
    ) -> None:
        """Connect to a remote MySQL database; sets ``remote_db`` and ``remote_db_ps``.

        One connection is opened at once, so bad credentials or an unreachable
        server raise here.
        """
        self.close()
        pool = MySQLPool(
            MySQLParams(host=dbhost, user=dbuser, password=dbpassword, database=dbname)
        )
        try:
            pool.connect_check_sync()
        except BaseException:
            pool.close_sync()
            raise
        self.remote_db = pool
        self.remote_db_ps = MYSQL_PARAMSTYLE

    def connect_cache(self, cache_file: str | os.PathLike[str]) -> None:
        """Open an existing SQLite cache file (:class:`FileNotFoundError` if there is none)."""
        path = os.fspath(cache_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"SQLite cache file {path!r} does not exist")
        self.close_cache()
        self.cache_db = sqlite3.connect(path, check_same_thread=False)
        self.cache_file = path
        self.cache_db_ps = sqlite3.paramstyle

    def close(self) -> None:
        """Close the remote connection and reset the remote attributes."""
        pool, self.remote_db, self.remote_db_ps = self.remote_db, None, None
        if pool is not None:
            pool.close_sync()

    def close_cache(self) -> None:
        """Close the cache database and reset the cache attributes."""
        db, self.cache_db = self.cache_db, None
        self.cache_db_ps = None
        self.cache_file = None
        if db is not None:
            db.close()

    def __enter__(self) -> CachingDb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.close_cache()

    # -- queries -----------------------------------------------------------------------

    def placeholder(self) -> str:
        """The placeholder symbol of the database that answers queries now."""
        if self.cache_db is not None:
            return get_paramstyle_symbol(self.cache_db_ps or sqlite3.paramstyle)
        if self.remote_db is not None:
            return get_paramstyle_symbol(self.remote_db_ps or MYSQL_PARAMSTYLE)
        raise RuntimeError("No databases available to query")

    def _query_mysql(self, query_str: str, query_variables: Sequence[Any] = ()) -> tuple:
        """Run a query against the remote MySQL database and return all rows."""
        if self.remote_db is None:
            raise RuntimeError("not connected to a remote database")
        return tuple(self.remote_db.query_sync(query_str, tuple(query_variables)))

    def _query_sqlite3(self, query_str: str, query_variables: Sequence[Any] = ()) -> tuple:
        """Run a query against the SQLite cache and return all rows."""
        if self.cache_db is None:
            raise RuntimeError("no cache database is open")
        return tuple(self.cache_db.execute(query_str, tuple(query_variables)).fetchall())

    def query(
        self,
        query_str: str,
        query_variables: Sequence[Any] = (),
        table: str | None = None,
        table_schema: str | None = None,
    ) -> tuple:
        """Run a query on the cache if one is open, else on the remote database.

        Returns a tuple of row tuples.  With ``table``, the rows are also kept
        in :attr:`saved_results` under that name (with ``table_schema``, the
        ``CREATE TABLE`` statement for it) for :meth:`save_cache`.
        """
        if self.cache_db is not None:
            results = self._query_sqlite3(query_str, query_variables)
            self.last_hit = HIT_CACHE
        elif self.remote_db is not None:
            results = self._query_mysql(query_str, query_variables)
            self.last_hit = HIT_REMOTE
        else:
            raise RuntimeError("No databases available to query")
        if table is not None:
            self.save_results(table, results, table_schema)
        return results

    def save_results(
        self, table: str, rows: Iterable[Sequence[Any]], table_schema: str | None = None
    ) -> None:
        """Add ``rows`` to the in-memory results of ``table`` (for :meth:`save_cache`)."""
        saved = self.saved_results.setdefault(table, {"rows": [], "schema": table_schema})
        if table_schema is not None:
            saved["schema"] = table_schema
        saved["rows"].extend(tuple(row) for row in rows)

    def drop_cache(self, tables: Iterable[str] | None = None) -> None:
        """Forget in-memory results: of the given tables, or of all of them."""
        if tables is None:
            self.saved_results.clear()
            return
        for table in tables:
            self.saved_results.pop(table, None)

    def save_cache(self, cache_file: str | os.PathLike[str]) -> None:
        """Write the in-memory results into an SQLite file (created if needed, merged into).

        Each table is created from its saved schema when it does not exist,
        and its rows are inserted with ``INSERT OR REPLACE``.  A table with no
        rows is skipped with a warning.  ``cache_file`` should not be the
        cache currently open for reading.

        The saved schema is normally a ``CREATE TABLE`` statement; a dict of
        table name -> statement, a dict of column name -> SQL type (``None``
        or ``""`` for untyped) or a list of column names is accepted too.  Without one, the table's statement in
        the open SQLite cache is used, else an untyped table with as many
        columns as the rows.
        """
        path = os.fspath(cache_file)
        if self.cache_file is not None and os.path.abspath(path) == os.path.abspath(
            self.cache_file
        ):
            logger.warning("saving the cache into the file it is read from (%s)", path)
        with atomic_path(path, copy_existing=True) as scratch, _closing(scratch) as output:
            for table, saved in self.saved_results.items():
                rows = saved["rows"]
                if not rows:
                    logger.warning("table %s has no rows", table)
                    continue
                output.execute(self._create_statement(table, saved.get("schema"), len(rows[0])))
                marks = ", ".join(["?"] * len(rows[0]))
                output.executemany(
                    f"INSERT OR REPLACE INTO {table} VALUES ({marks})",
                    (tuple(to_sqlite_value(value) for value in row) for row in rows),
                )

    def _create_statement(self, table: str, schema: Any, width: int) -> str:
        """A ``CREATE TABLE IF NOT EXISTS`` statement for a saved table (see :meth:`save_cache`)."""
        if isinstance(schema, str) and schema.strip():
            return schema
        statement = schema.get(table) if isinstance(schema, dict) else None
        if isinstance(statement, str) and statement.lstrip().upper().startswith("CREATE"):
            return statement  # {table: statement}
        if isinstance(schema, dict) and schema:
            columns = ", ".join(f"{name} {kind or ''}".strip() for name, kind in schema.items())
            return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"
        if isinstance(schema, list | tuple) and schema:
            return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(map(str, schema))})"
        if schema is not None and not isinstance(schema, str | dict | list | tuple):
            raise TypeError(
                f"table {table}: a schema is a CREATE TABLE statement, a dict of column "
                f"types or a list of columns, not {type(schema).__name__}"
            )
        if self.cache_db is not None:
            found = self.cache_db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if found and found[0]:
                return str(found[0]).replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
        columns = ", ".join(f"c{index}" for index in range(width))
        return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"
