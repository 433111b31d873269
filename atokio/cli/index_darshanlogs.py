"""Index Darshan logs into an SQLite database of per-file-system summaries (``index_darshanlogs``).

One ``headers`` row per log, one ``mounts`` row per mount point and one
``summaries`` row per (log, file system), in the schema of FORMATS.md section
1.6 (rules of the summaries: :mod:`atokio.tools.darshan_summary`).
``darshan_scoreboard`` reads the result.

How it runs (CLI.md section 3.20, plus what a long indexing run needs):

* incremental and resumable: logs whose basename already has summary rows are
  skipped, and every log's rows are committed together, so a killed run
  resumes where it stopped;
* streaming: summaries are written in batches of :data:`BATCH_LOGS` logs (one
  transaction each), never all held in memory;
* unreadable logs (empty, truncated, not Darshan logs) are reported on stderr
  (unless ``-q``) and skipped; the others are indexed;
* ``-t/--threads N`` parses on N worker processes (``0`` = all cores;
  default 1); a log that crashes the reader is reported, not fatal;
* ``--reader`` reads logs directly through libdarshan-util (``direct``) or
  with ``darshan-parser --base`` (``darshan-parser``); ``auto`` (default)
  prefers the direct reader when the ``darshan`` package is installed;
* a progress line on stderr when stderr is a terminal;
* ``-m/--max-mb`` is accepted for compatibility: every log is read by the
  same streaming code, whatever its size.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from atokio.cli._common import run_main, setup_logging
from atokio.tools.darshan_summary import (
    END_TIMESTAMPS,
    INT_COUNTERS,
    START_TIMESTAMPS,
    LogSummary,
    compile_mount_to_fsname,
    summarize_arrays,
    summarize_records,
)

__all__ = [
    "create_headers_table",
    "create_mount_table",
    "create_summaries_table",
    "get_existing_logs",
    "get_file_mount",
    "index_darshanlogs",
    "init_mount_to_fsname",
    "main",
    "process_log_list",
    "summarize_by_fs",
    "update_headers_table",
    "update_mount_table",
    "update_summaries_table",
    "vprint",
]

logger = logging.getLogger(__name__)

#: Logs whose rows are committed in one transaction.
BATCH_LOGS = 256
#: Logs handed to a worker process per call (amortises the call overhead).
LOGS_PER_CALL = 16

VERBOSITY = 0

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
SUMMARY_COLUMNS = (*INT_COUNTERS, "posix_files", "stdio_files", *START_TIMESTAMPS, *END_TIMESTAMPS)


def vprint(string: str, level: int) -> None:
    """Print ``string`` when the verbosity is at least ``level``."""
    if VERBOSITY >= level:
        print(string)


# -- schema -------------------------------------------------------------------


def create_mount_table(conn: sqlite3.Connection) -> None:
    """Create the ``mounts`` table if it does not exist."""
    query = """CREATE TABLE IF NOT EXISTS mounts (
        fs_id INTEGER PRIMARY KEY,
        mountpt CHAR UNIQUE,
        fsname CHAR
    )"""
    vprint(query, 3)
    conn.execute(query)


def create_headers_table(conn: sqlite3.Connection) -> None:
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
    vprint(query, 3)
    conn.execute(query)


def create_summaries_table(conn: sqlite3.Connection) -> None:
    """Create the ``summaries`` table if it does not exist."""
    columns = (
        ",\n".join(f"        {c} INTEGER" for c in (*INT_COUNTERS, "posix_files", "stdio_files"))
        + ",\n"
        + ",\n".join(f"        {c} REAL" for c in (*START_TIMESTAMPS, *END_TIMESTAMPS))
    )
    query = f"""CREATE TABLE IF NOT EXISTS summaries (
        log_id INTEGER,
        fs_id INTEGER,
{columns},
        FOREIGN KEY (fs_id) REFERENCES mounts (fs_id),
        FOREIGN KEY (log_id) REFERENCES headers (log_id),
        UNIQUE(log_id, fs_id)
    )"""
    vprint(query, 3)
    conn.execute(query)


def get_existing_logs(conn: sqlite3.Connection) -> list[str]:
    """Basenames of the logs that are indexed already (that have summary rows)."""
    rows = conn.execute(
        "SELECT DISTINCT headers.filename FROM summaries "
        "INNER JOIN headers ON summaries.log_id = headers.log_id"
    )
    return [row[0] for row in rows]


def init_mount_to_fsname() -> list[Any]:
    """The ``mount_to_fsname`` config as compiled (regex, name) rules."""
    from atokio import config

    return compile_mount_to_fsname(config.CONFIG.get("mount_to_fsname"))


def get_file_mount(filename: str, mount_list: Iterable[str]) -> tuple[str, str] | None:
    """``(mount point, file system name)`` of the longest mount prefixing ``filename``, or None."""
    from atokio.tools.darshan_summary import fsname_of

    best = None
    for mount in mount_list:
        if filename.startswith(mount) and (best is None or len(mount) > len(best)):
            best = mount
    if best is None:
        return None
    return best, fsname_of(best, init_mount_to_fsname())


def process_log_list(conn: sqlite3.Connection, log_list: Sequence[str]) -> list[str]:
    """The logs to index: a single directory expands to the files in it; indexed ones are dropped."""
    if len(log_list) == 1 and os.path.isdir(log_list[0]):
        directory = log_list[0]
        log_list = sorted(
            os.path.join(directory, name)
            for name in os.listdir(directory)
            if os.path.isfile(os.path.join(directory, name))
        )
    existing = set(get_existing_logs(conn))
    return [log for log in log_list if os.path.basename(log) not in existing]


# -- reading logs --------------------------------------------------------------


def _choose_reader(reader: str) -> str:
    """``"direct"``, or the full path of the darshan-parser to run (resolved here, where
    the caller's ``PATH`` is, rather than in the worker processes)."""
    import importlib.util
    import shutil

    from atokio.connectors.darshan import darshan_parser_executable

    if reader == "auto":
        # find, not import: the workers import it (this process never needs it)
        reader = "direct" if importlib.util.find_spec("darshan") is not None else "darshan-parser"
    if reader == "direct":
        return reader
    executable = darshan_parser_executable()
    found = shutil.which(executable)
    if found is None:
        raise FileNotFoundError(f"{executable}: command not found")
    return found


def _summarize(darshan_log: str, reader: str, rules: list[Any]) -> LogSummary:
    """``reader`` is ``"direct"`` or the darshan-parser executable to run."""
    if reader == "direct":
        from atokio.collectors.darshanlog import read_darshan_arrays

        header, mounts, modules = read_darshan_arrays(
            darshan_log, INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
        )
        if not header:
            raise ValueError(f"{darshan_log}: no job header")
        return summarize_arrays(header, mounts, modules, darshan_log, rules)
    from atokio.collectors.subprocess import run_command
    from atokio.collectors.sync import run_sync
    from atokio.parsers.darshan import DarshanParser

    argv = [reader, "--base", darshan_log]
    result = run_sync(run_command, argv, DarshanParser(source=darshan_log))
    if result.returncode != 0 or result.error is not None or not result.records:
        detail = result.error or (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(
            f"{darshan_log}: darshan-parser exited with status {result.returncode}: {detail}"
        )
    return summarize_records(result.records, darshan_log, rules)


def summarize_by_fs(darshan_log: str, max_mb: float = 0.0, reader: str = "auto") -> dict[str, Any]:
    """A log reduced per file system: ``{"headers": row, "mounts": {mountpt: fsname}, "summaries": {mountpt: row}}``.

    Raises for a log that cannot be read.  ``max_mb`` is accepted for
    compatibility (every log is read by streaming code).
    """
    summary = _summarize(darshan_log, _choose_reader(reader), init_mount_to_fsname())
    return {"headers": summary.headers, "mounts": summary.mounts, "summaries": summary.summaries}


def _summarize_batch(batch: tuple[list[str], str, Any]) -> list[tuple[str, dict[str, Any] | str]]:
    """Worker entry point: summaries (or error texts) of several logs."""
    logs, reader, mount_to_fsname = batch
    rules = compile_mount_to_fsname(mount_to_fsname)
    out: list[tuple[str, dict[str, Any] | str]] = []
    for log in logs:
        try:
            summary = _summarize(log, reader, rules)
        except Exception as error:
            out.append((log, f"{type(error).__name__}: {error}"))
            continue
        out.append(
            (
                log,
                {
                    "headers": summary.headers,
                    "mounts": summary.mounts,
                    "summaries": summary.summaries,
                },
            )
        )
    return out


# -- writing --------------------------------------------------------------------


def update_mount_table(conn: sqlite3.Connection, mount_points: dict[str, str]) -> dict[str, int]:
    """Insert new mount points (``{mountpt: fsname}``); return ``{mountpt: fs_id}``."""
    conn.executemany(
        "INSERT OR IGNORE INTO mounts (mountpt, fsname) VALUES (?, ?)", list(mount_points.items())
    )
    ids = {}
    for mountpt in mount_points:
        row = conn.execute("SELECT fs_id FROM mounts WHERE mountpt = ?", (mountpt,)).fetchone()
        ids[mountpt] = row[0]
    return ids


def update_headers_table(
    conn: sqlite3.Connection, header_data: list[dict[str, Any]]
) -> dict[str, int]:
    """Insert header rows (a log already present keeps its row); return ``{filename: log_id}``."""
    placeholders = ", ".join("?" * len(HEADER_COLUMNS))
    query = f"INSERT OR IGNORE INTO headers ({', '.join(HEADER_COLUMNS)}) VALUES ({placeholders})"
    rows = [tuple(header[c] for c in HEADER_COLUMNS) for header in header_data]
    for row in rows:
        vprint(f"{query} {row}", 4)
    conn.executemany(query, rows)
    ids = {}
    for header in header_data:
        found = conn.execute(
            "SELECT log_id FROM headers WHERE filename = ?", (header["filename"],)
        ).fetchone()
        ids[header["filename"]] = found[0]
    return ids


def update_summaries_table(conn: sqlite3.Connection, summary_data: list[tuple[Any, ...]]) -> None:
    """Insert summary rows: tuples of ``(log_id, fs_id, *SUMMARY_COLUMNS)``."""
    columns = ("log_id", "fs_id", *SUMMARY_COLUMNS)
    query = (
        f"INSERT OR REPLACE INTO summaries ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    for row in summary_data:
        vprint(f"{query} {row}", 4)
    conn.executemany(query, summary_data)


def _commit_batch(
    conn: sqlite3.Connection, results: list[dict[str, Any]], mount_ids: dict[str, int]
) -> None:
    """Write the rows of several logs in one transaction."""
    with conn:
        new_mounts = {}
        for result in results:
            for mountpt, fsname in result["mounts"].items():
                if mountpt not in mount_ids:
                    new_mounts[mountpt] = fsname
        if new_mounts:
            mount_ids.update(update_mount_table(conn, new_mounts))
        log_ids = update_headers_table(conn, [r["headers"] for r in results])
        rows = []
        for result in results:
            log_id = log_ids[result["headers"]["filename"]]
            for mountpt, summary in result["summaries"].items():
                rows.append((log_id, mount_ids[mountpt], *(summary[c] for c in SUMMARY_COLUMNS)))
        update_summaries_table(conn, rows)


class _Progress:
    """A one-line progress report on stderr, only when stderr is a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.enabled = sys.stderr.isatty() and total > 0
        self.last = 0.0

    def update(self, done: int, failed: int) -> None:
        self.done += done
        self.failed += failed
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.2 or self.done == self.total):
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            sys.stderr.write(
                f"\rindexed {self.done}/{self.total} logs ({rate:.0f} logs/s), {self.failed} unreadable"
            )
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def index_darshanlogs(
    log_list: Sequence[str],
    output_file: str,
    threads: int = 1,
    max_mb: float = 0.0,
    bulk_insert: bool = True,
    reader: str = "auto",
    quiet: bool = False,
) -> dict[str, int]:
    """Index logs into ``output_file``; return counts ``{"indexed", "skipped", "failed"}``.

    ``threads`` worker processes parse the logs (0 = all cores).  With
    ``bulk_insert`` rows are committed every :data:`BATCH_LOGS` logs, else after
    every log.  See the module docstring.
    """
    from atokio import config
    from atokio.collectors.sync import run_sync
    from atokio.collectors.workers import default_workers, map_in_workers, run_in_worker, warm_up

    reader = _choose_reader(reader)
    workers = default_workers() if threads == 0 else max(1, threads)
    warm_up(workers)  # start the workers now, while this process prepares the database
    conn = sqlite3.connect(output_file)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            create_mount_table(conn)
            create_headers_table(conn)
            create_summaries_table(conn)
        todo = process_log_list(conn, log_list)
        skipped = (
            len(log_list) - len(todo)
            if not (len(log_list) == 1 and os.path.isdir(log_list[0]))
            else 0
        )
        vprint(f"Indexing {len(todo)} logs ({skipped} already indexed) with {workers} worker(s)", 1)
        mount_ids = dict(conn.execute("SELECT mountpt, fs_id FROM mounts").fetchall())
        mapping = config.CONFIG.get("mount_to_fsname")
        batch_size = BATCH_LOGS if bulk_insert else 1
        progress = _Progress(len(todo))
        counts = {"indexed": 0, "skipped": skipped, "failed": 0}
        pending: list[dict[str, Any]] = []

        def take(results: list[tuple[str, dict[str, Any] | str]]) -> None:
            failed = 0
            for log, outcome in results:
                if isinstance(outcome, str):
                    failed += 1
                    if not quiet:
                        logger.warning("skipped: %s", outcome)
                    continue
                if not outcome["summaries"]:
                    failed += 1
                    if not quiet:
                        logger.warning("skipping %s: no POSIX or STDIO activity", log)
                    continue
                pending.append(outcome)
                if len(pending) >= batch_size:
                    _commit_batch(conn, pending, mount_ids)
                    counts["indexed"] += len(pending)
                    pending.clear()
            counts["failed"] += failed
            progress.update(len(results), failed)

        started = time.monotonic()
        calls = [
            (todo[start : start + LOGS_PER_CALL], reader, mapping)
            for start in range(0, len(todo), LOGS_PER_CALL)
        ]

        async def run() -> None:
            crashed: list[str] = []
            # worker processes even for one worker: a log that crashes the C
            # reader takes a worker down, not this run
            async with map_in_workers(
                _summarize_batch, calls, workers=workers, isolate=True
            ) as results:
                async for call, outcome in results:
                    if isinstance(outcome, BrokenProcessPool):
                        crashed += call[0]
                    elif isinstance(outcome, BaseException):
                        take([(log, f"{type(outcome).__name__}: {outcome}") for log in call[0]])
                    else:
                        take(outcome)
            for log in crashed:  # one by one, to find the culprit(s)
                try:
                    take(await run_in_worker(_summarize_batch, ([log], reader, mapping)))
                except BrokenProcessPool:
                    take([(log, f"{log}: the Darshan reader crashed on this log")])

        run_sync(run)
        if pending:
            _commit_batch(conn, pending, mount_ids)
            counts["indexed"] += len(pending)
        progress.close()
        elapsed = time.monotonic() - started
        vprint(
            f"Indexed {counts['indexed']} logs, {counts['failed']} unreadable, {skipped} already indexed",
            1,
        )
        vprint(f"Parsing and writing took {elapsed:.2f} s", 2)
        vprint(f"Updated {output_file}", 1)
        return counts
    finally:
        conn.execute("PRAGMA journal_mode=DELETE")  # leave one self-contained file
        conn.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="index_darshanlogs",
        description="Index Darshan logs into an SQLite database of per-file-system summaries.",
    )
    parser.add_argument(
        "darshanlogs", nargs="+", type=str, help="Darshan logs, or one directory of them"
    )
    parser.add_argument(
        "-t", "--threads", default=1, type=int, help="worker processes (0 = all cores; default 1)"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=str,
        default="darshanlogs.db",
        help="SQLite database to create or extend (default darshanlogs.db)",
    )
    parser.add_argument(
        "-m",
        "--max-mb",
        type=float,
        default=0.0,
        help="accepted for compatibility; every log is read by streaming code",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="1: counts; 2: timings; 3: table definitions; 4: every insert",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="do not warn about unreadable or empty logs"
    )
    parser.add_argument(
        "--no-bulk-insert", action="store_true", help="commit every log as soon as it is parsed"
    )
    parser.add_argument(
        "--reader",
        choices=("auto", "direct", "darshan-parser"),
        default="auto",
        help="read logs with libdarshan-util directly, or with darshan-parser (auto: direct when available)",
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    global VERBOSITY
    args = build_parser().parse_args(argv)
    VERBOSITY = args.verbose
    setup_logging()
    index_darshanlogs(
        args.darshanlogs,
        args.output,
        threads=args.threads,
        max_mb=args.max_mb,
        bulk_insert=not args.no_bulk_insert,
        reader=args.reader,
        quiet=args.quiet,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
