"""The SQLite side of the Darshan log index: schema, resume point and the one writer.

The tables of docs/formats.md#the-log-index (``headers``, ``mounts``, ``summaries``);
:class:`IndexWriter`, which commits the rows of many logs per transaction
(a log's header and summaries always together, so that a killed run resumes
without duplicates), driven by :mod:`atokio.pipelines.darshan_index`; and
:func:`query_index_db`, the per-user, per-file-system and per-executable
totals ``darshan_scoreboard`` reports.  Its ``--limit-*``/``--exclude-*``
filters are SQL ``LIKE`` patterns bound as parameters (never pasted into the
SQL text): limit patterns are ORed, exclude patterns ANDed, and the kinds are
combined with AND.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from atokio.tools.darshan_summary import SUMMARY_COLUMNS

__all__ = [
    "BATCH_LOGS",
    "HEADERS_TABLE",
    "HEADER_COLUMNS",
    "MOUNTS_TABLE",
    "SUMMARIES_TABLE",
    "Echo",
    "CATEGORIES",
    "IndexWriter",
    "create_headers_table",
    "create_mount_table",
    "create_summaries_table",
    "get_existing_logs",
    "query_index_db",
    "update_headers_table",
    "update_mount_table",
    "update_summaries_table",
]

logger = logging.getLogger(__name__)

#: Logs whose rows are committed in one transaction.
BATCH_LOGS = 256

#: The index's table names, as pytokio names them.
MOUNTS_TABLE = "mounts"
HEADERS_TABLE = "headers"
SUMMARIES_TABLE = "summaries"

HEADER_COLUMNS = (
    "filename",
    "end_time",
    "exe",
    "exename",
    "jobid",
    "nprocs",
    "start_time",
    "uid",
    "username",
    "version",
    "walltime",
)

#: A caller's listener for the ``-v`` messages: ``echo(message, level)`` with
#: level 1 = counts, 2 = timings, 3 = table definitions, 4 = every insert.
Echo = Callable[[str, int], None]


def _quiet_echo(message: str, level: int) -> None:
    logger.debug("%s", message)


# -- schema -------------------------------------------------------------------


def create_mount_table(conn: sqlite3.Connection, echo: Echo | None = None) -> None:
    """Create the ``mounts`` table if it does not exist."""
    query = """CREATE TABLE IF NOT EXISTS mounts (
        fs_id INTEGER PRIMARY KEY,
        mountpt CHAR UNIQUE,
        fsname CHAR
    )"""
    (echo or _quiet_echo)(query, 3)
    conn.execute(query)


def create_headers_table(conn: sqlite3.Connection, echo: Echo | None = None) -> None:
    """Create the ``headers`` table if it does not exist."""
    query = """CREATE TABLE IF NOT EXISTS headers (
        log_id INTEGER PRIMARY KEY,
        filename CHAR UNIQUE,
        end_time INTEGER,
        exe CHAR,
        exename CHAR,
        jobid CHAR,
        nprocs INTEGER,
        start_time INTEGER,
        uid INTEGER,
        username CHAR,
        version CHAR,
        walltime INTEGER
    )"""
    (echo or _quiet_echo)(query, 3)
    conn.execute(query)


def create_summaries_table(conn: sqlite3.Connection, echo: Echo | None = None) -> None:
    """Create the ``summaries`` table if it does not exist."""
    columns = ",\n".join(
        f"        {c} {'REAL' if c.endswith('_timestamp') else 'INTEGER'}" for c in SUMMARY_COLUMNS
    )
    query = f"""CREATE TABLE IF NOT EXISTS summaries (
        log_id INTEGER,
        fs_id INTEGER,
{columns},
        FOREIGN KEY (fs_id) REFERENCES mounts (fs_id),
        FOREIGN KEY (log_id) REFERENCES headers (log_id),
        UNIQUE(log_id, fs_id)
    )"""
    (echo or _quiet_echo)(query, 3)
    conn.execute(query)


def get_existing_logs(conn: sqlite3.Connection) -> list[str]:
    """Basenames of the logs that are indexed already (that have summary rows)."""
    rows = conn.execute(
        "SELECT DISTINCT headers.filename FROM summaries "
        "INNER JOIN headers ON summaries.log_id = headers.log_id"
    )
    return [row[0] for row in rows]


def update_mount_table(
    conn: sqlite3.Connection, mount_points: dict[str, str], echo: Echo | None = None
) -> dict[str, int]:
    """Insert new mount points (``{mountpt: fsname}``); return ``{mountpt: fs_id}``."""
    query = "INSERT OR IGNORE INTO mounts (mountpt, fsname) VALUES (?, ?)"
    rows = list(mount_points.items())
    if echo is not None:
        for row in rows:
            echo(f"{query} {row}", 4)
    conn.executemany(query, rows)
    ids = {}
    for mountpt in mount_points:
        found = conn.execute("SELECT fs_id FROM mounts WHERE mountpt = ?", (mountpt,)).fetchone()
        ids[mountpt] = found[0]
    return ids


def update_headers_table(
    conn: sqlite3.Connection, header_data: list[dict[str, Any]], echo: Echo | None = None
) -> dict[str, int]:
    """Insert header rows (a log already present keeps its row); return ``{filename: log_id}``."""
    placeholders = ", ".join("?" * len(HEADER_COLUMNS))
    query = f"INSERT OR IGNORE INTO headers ({', '.join(HEADER_COLUMNS)}) VALUES ({placeholders})"
    rows = [tuple(header[c] for c in HEADER_COLUMNS) for header in header_data]
    if echo is not None:
        for row in rows:
            echo(f"{query} {row}", 4)
    conn.executemany(query, rows)
    ids = {}
    for header in header_data:
        found = conn.execute(
            "SELECT log_id FROM headers WHERE filename = ?", (header["filename"],)
        ).fetchone()
        ids[header["filename"]] = found[0]
    return ids


def update_summaries_table(
    conn: sqlite3.Connection, summary_data: list[tuple[Any, ...]], echo: Echo | None = None
) -> None:
    """Insert summary rows: tuples of ``(log_id, fs_id, *SUMMARY_COLUMNS)``."""
    columns = ("log_id", "fs_id", *SUMMARY_COLUMNS)
    query = (
        f"INSERT OR REPLACE INTO summaries ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    if echo is not None:
        for row in summary_data:
            echo(f"{query} {row}", 4)
    conn.executemany(query, summary_data)


def _commit_batch(
    conn: sqlite3.Connection,
    results: list[dict[str, Any]],
    mount_ids: dict[str, int],
    echo: Echo | None = None,
) -> None:
    """Write the rows of several logs in one transaction."""
    with conn:
        new_mounts = {}
        for result in results:
            for mountpt, fsname in result["mounts"].items():
                if mountpt not in mount_ids:
                    new_mounts[mountpt] = fsname
        if new_mounts:
            mount_ids.update(update_mount_table(conn, new_mounts, echo))
        log_ids = update_headers_table(conn, [r["headers"] for r in results], echo)
        rows = []
        for result in results:
            log_id = log_ids[result["headers"]["filename"]]
            for mountpt, summary in result["summaries"].items():
                rows.append((log_id, mount_ids[mountpt], *(summary[c] for c in SUMMARY_COLUMNS)))
        update_summaries_table(conn, rows, echo)


class IndexWriter:
    """The one writer of an index database: schema, resume point and batched commits.

    ``IndexWriter(path)`` opens (or creates) the database and its tables.
    :meth:`add` takes one log's rows (an :data:`Outcome` dict with summaries)
    and commits every ``batch_logs`` logs in one transaction; :meth:`flush`
    commits what is left; :meth:`close` leaves one self-contained file
    (rows not flushed are dropped, as a killed run would drop them).
    ``indexed`` counts the logs committed.  Use it as a context manager.
    """

    def __init__(
        self, output_file: str, *, batch_logs: int | None = None, echo: Echo | None = None
    ) -> None:
        self.output_file = output_file
        self.batch_logs = max(1, batch_logs if batch_logs is not None else BATCH_LOGS)
        self.echo = echo
        self.indexed = 0
        self._pending: list[dict[str, Any]] = []
        # rows may be written from a thread other than the one that opened the
        # database (the event loop runs in a helper thread inside Jupyter)
        self.conn = sqlite3.connect(output_file, check_same_thread=False)
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            with self.conn:
                create_mount_table(self.conn, echo)
                create_headers_table(self.conn, echo)
                create_summaries_table(self.conn, echo)
            self.mount_ids: dict[str, int] = dict(
                self.conn.execute("SELECT mountpt, fs_id FROM mounts").fetchall()
            )
        except BaseException:
            self.conn.close()
            raise

    def existing_logs(self) -> set[str]:
        """Basenames of the logs indexed already."""
        return set(get_existing_logs(self.conn))

    def add(self, outcome: dict[str, Any]) -> None:
        """Queue one log's rows; commit when a batch is full."""
        self._pending.append(outcome)
        if len(self._pending) >= self.batch_logs:
            self.flush()

    def flush(self) -> None:
        """Commit the queued rows (one transaction)."""
        if self._pending:
            _commit_batch(self.conn, self._pending, self.mount_ids, self.echo)
            self.indexed += len(self._pending)
            self._pending.clear()

    def close(self) -> None:
        """Close the database, leaving one file (no write-ahead log beside it)."""
        try:
            self.conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            self.conn.close()

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- reading ----------------------------------------------------------------------

#: The scoreboard's categories: name -> (title, key expression, GROUP BY columns).
CATEGORIES = {
    "per_user": ("Users", "headers.username", "headers.username"),
    "per_fs": ("File Systems", "mounts.fsname, mounts.mountpt", "mounts.fsname, mounts.mountpt"),
    "per_exe": ("Applications", "headers.exename", "headers.exename"),
    "per_user_exe_fs": (
        "User/App/FS",
        "headers.username || '|' || headers.exename || '|' || mounts.fsname",
        "headers.username, headers.exename, mounts.fsname",
    ),
}


def _patterns(value: str | Sequence[str] | None) -> list[str]:
    return [p for p in (value.split(",") if isinstance(value, str) else value or ()) if p]


def _filters(
    limit_fs: str | None,
    limit_user: str | None,
    limit_exe: str | None,
    exclude_fs: str | None,
    exclude_user: str | None,
    exclude_exe: str | None,
) -> tuple[str, list[str]]:
    """The WHERE clause (with ``?`` placeholders) and its parameters.

    A limit keeps rows matching any of its patterns; an exclusion drops rows
    matching any of its patterns (a NULL value matches no pattern, so it is
    never dropped by an exclusion); the kinds are combined with AND.
    """
    clauses: list[str] = []
    params: list[str] = []
    fs_columns = ("mounts.mountpt", "mounts.fsname")
    for columns, limit, exclude in (
        (fs_columns, limit_fs, exclude_fs),
        (("headers.username",), limit_user, exclude_user),
        (("headers.exename",), limit_exe, exclude_exe),
    ):
        patterns = _patterns(limit)
        if patterns:
            ors = []
            for pattern in patterns:
                ors += [f"{column} LIKE ?" for column in columns]
                params += [pattern] * len(columns)
            clauses.append("(" + " OR ".join(ors) + ")")
        for pattern in _patterns(exclude):
            clauses += [f"COALESCE({column}, '') NOT LIKE ?" for column in columns]
            params += [pattern] * len(columns)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return where, params


def query_index_db(
    db_filenames: Sequence[str] | str,
    limit_fs: str | None = None,
    limit_user: str | None = None,
    limit_exe: str | None = None,
    exclude_fs: str | None = None,
    exclude_user: str | None = None,
    exclude_exe: str | None = None,
    max_results: int | None = None,
    *,
    echo: Echo | None = None,
) -> dict[str, list[list[Any]]]:
    """Bytes read, written and log counts per user, file system, executable and combination.

    Returns ``{"per_user": [[readbytes, writebytes, jobcount, key...], ...], "per_fs": ...,
    "per_exe": ..., "per_user_exe_fs": ...}``; rows of each database are
    concatenated, each database's rows ordered heaviest first (at most
    ``max_results`` per category and database).  ``echo`` receives each
    query with its parameters (level 1).  The databases are opened read-only.
    """
    if isinstance(db_filenames, str):
        db_filenames = [db_filenames]
    where, params = _filters(limit_fs, limit_user, limit_exe, exclude_fs, exclude_user, exclude_exe)
    results: dict[str, list[list[Any]]] = {name: [] for name in CATEGORIES}
    for db_filename in db_filenames:
        if not os.path.isfile(db_filename):
            raise FileNotFoundError(f"{db_filename}: no such index database")
        conn = sqlite3.connect(Path(db_filename).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            for name, (_title, key, group) in CATEGORIES.items():
                query = (
                    "SELECT SUM(summaries.bytes_read), SUM(summaries.bytes_written), "
                    f"COUNT(DISTINCT headers.filename), {key} "
                    "FROM summaries "
                    "INNER JOIN headers ON summaries.log_id = headers.log_id "
                    "INNER JOIN mounts ON summaries.fs_id = mounts.fs_id"
                    f"{where} GROUP BY {group} "
                    "ORDER BY SUM(summaries.bytes_read) + SUM(summaries.bytes_written) DESC, "
                    f"{group}"
                )
                if max_results is not None:
                    query += f" LIMIT {int(max_results)}"
                (echo or _quiet_echo)(query + (f" {params}" if params else ""), 1)
                results[name] += [list(row) for row in conn.execute(query, params)]
        finally:
            conn.close()
    return results
