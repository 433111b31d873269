"""Index Darshan logs into an SQLite database of per-file-system summaries (``index_darshanlogs``).

One ``headers`` row per log, one ``mounts`` row per mount point and one
``summaries`` row per (log, file system), in the schema of FORMATS.md section
1.6 (rules of the summaries: :mod:`atokio.tools.darshan_summary`).
``darshan_scoreboard`` reads the result.

How it runs (CLI.md section 3.20, plus what a long indexing run needs):

* incremental and resumable: logs whose basename already has summary rows are
  skipped, and every log's rows (header and summaries) are committed together,
  so a killed run resumes where it stopped, without duplicates;
* streaming: results are written in batches of :data:`BATCH_LOGS` logs, one
  transaction each (``--no-bulk-insert``: one log per transaction), and never
  all held in memory; the worker processes are held back when the writer
  falls behind;
* unreadable logs (empty, truncated, corrupt, not Darshan logs), logs without
  a mount table and logs without POSIX or STDIO activity are reported as
  warnings on stderr (unless ``-q``) and skipped; the others are indexed.  A second log with the basename of one
  indexed in the same run is reported and skipped (pytokio fails there);
* ``-t/--threads N`` parses on N worker processes (default 1, as in pytokio;
  ``0`` = one per usable core); each worker call handles
  :data:`LOGS_PER_CALL` logs and returns only their small summary rows.
  Logs are read in worker processes even with one worker, so that a log that
  crashes the C library is reported instead of ending the run;
* ``--reader direct`` reads logs through libdarshan-util (the ``darshan``
  package), ``--reader darshan-parser`` runs ``darshan-parser --base`` (found
  on ``PATH``, or ``$ATOKIO_DARSHAN_PARSER``); ``auto`` (default) uses the
  direct reader when the ``darshan`` package works, else darshan-parser.  Both
  give the same rows;
* a progress line on stderr when stderr is a terminal;
* ``-m/--max-mb`` is accepted for compatibility and changes nothing: every
  log, whatever its size, is read by the same code, which streams its records
  and fills ``posix_files``/``stdio_files`` for all of them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from atokio.cli._common import run_main, setup_logging
from atokio.tools.darshan_summary import (
    END_TIMESTAMPS,
    INT_COUNTERS,
    START_TIMESTAMPS,
    SUMMARY_COLUMNS,
    LogSummary,
    compile_mount_to_fsname,
    fsname_of,
    mount_of,
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

logger = logging.getLogger("atokio.cli.index_darshanlogs")

#: The index's table names, as pytokio names them.
MOUNTS_TABLE = "mounts"
HEADERS_TABLE = "headers"
SUMMARIES_TABLE = "summaries"

#: Logs whose rows are committed in one transaction.
BATCH_LOGS = 256
#: Logs handed to a worker process per call (amortises the call overhead).
LOGS_PER_CALL = 16
#: The readers ``--reader`` accepts.
READERS = ("auto", "direct", "darshan-parser")

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


def vprint(string: str, level: int) -> None:
    """Print ``string`` on stdout when the verbosity (``-v`` count) is at least ``level``."""
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
    """The ``mount_to_fsname`` config as compiled ``(regex, name)`` rules, in order."""
    from atokio import config

    return compile_mount_to_fsname(config.CONFIG.get("mount_to_fsname"))


def get_file_mount(filename: str, mount_list: Iterable[str]) -> tuple[str, str] | None:
    """``(mount point, file system name)`` of the longest mount prefixing ``filename``, or None."""
    mountpt = mount_of(filename, mount_list)
    if mountpt is None:
        return None
    return mountpt, fsname_of(mountpt, init_mount_to_fsname())


def _expand(log_list: Sequence[str]) -> list[str]:
    """A single directory argument stands for the regular files directly inside it."""
    if len(log_list) == 1 and os.path.isdir(log_list[0]):
        directory = log_list[0]
        with os.scandir(directory) as entries:
            return sorted(
                os.path.join(directory, entry.name) for entry in entries if entry.is_file()
            )
    return list(log_list)


def process_log_list(conn: sqlite3.Connection, log_list: Sequence[str]) -> list[str]:
    """The logs to index: a single directory expands to the files in it; indexed ones are dropped."""
    existing = set(get_existing_logs(conn))
    return [log for log in _expand(log_list) if os.path.basename(log) not in existing]


# -- reading logs --------------------------------------------------------------


def _choose_reader(reader: str) -> str:
    """``"direct"``, or the full path of the darshan-parser to run.

    ``auto`` picks ``direct`` when the ``darshan`` package is installed (the
    caller then checks that it works, see :func:`_verified_reader`).  The
    darshan-parser executable is resolved here, where the caller's ``PATH``
    is, rather than in the worker processes.
    """
    import importlib.util

    if reader not in READERS:
        raise ValueError(f"unknown reader {reader!r}: use one of {', '.join(READERS)}")
    if reader == "auto" and importlib.util.find_spec("darshan") is not None:
        return "direct"
    if reader == "direct":
        return reader
    found = _darshan_parser()
    if found is None:
        from atokio.connectors.darshan import darshan_parser_executable

        raise FileNotFoundError(f"{darshan_parser_executable()}: command not found")
    return found


def _darshan_parser() -> str | None:
    import shutil

    from atokio.connectors.darshan import darshan_parser_executable

    return shutil.which(darshan_parser_executable())


def _reader_works(reader: str) -> bool:
    """Worker-side check that the direct reader can load libdarshan-util."""
    if reader != "direct":
        return True
    from atokio.collectors.darshanlog import direct_reader_available

    return direct_reader_available()


def _fallback_reader(asked: str) -> str:
    """The reader to use when the direct reader does not work (auto only)."""
    found = _darshan_parser() if asked == "auto" else None
    if found is None:
        raise RuntimeError(
            "cannot read Darshan logs: the 'darshan' package cannot load libdarshan-util"
            + (" and darshan-parser is not on PATH" if asked == "auto" else "")
        )
    logger.info("the darshan package does not work here; using %s", found)
    return found


def _summarize(darshan_log: str, reader: str, rules: list[Any]) -> LogSummary:
    """Summary of one log; ``reader`` is ``"direct"`` or the darshan-parser to run."""
    if reader == "direct":
        from atokio.collectors.darshanlog import read_darshan_arrays

        header, mounts, modules = read_darshan_arrays(
            darshan_log, INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
        )
        return summarize_arrays(header, mounts, modules, darshan_log, rules)
    from atokio.collectors.sync import run_sync

    return run_sync(_summarize_parsed, darshan_log, reader, rules)


async def _summarize_parsed(darshan_log: str, darshan_parser: str, rules: list[Any]) -> LogSummary:
    """Summary of one log from ``darshan-parser --base`` text, parsed as it streams."""
    from atokio.collectors.subprocess import run_command
    from atokio.parsers.darshan import DarshanParser

    argv = [darshan_parser, "--base", darshan_log]
    parser = DarshanParser(source=darshan_log, modules=("posix", "stdio"))
    result = await run_command(argv, parser)
    if result.returncode != 0 or result.error is not None or not result.records:
        detail = result.error or (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(
            f"{darshan_log}: darshan-parser exited with status {result.returncode}: {detail}"
        )
    return summarize_records(result.records, darshan_log, rules)


def summarize_by_fs(darshan_log: str, max_mb: float = 0.0, reader: str = "auto") -> dict[str, Any]:
    """A log reduced per file system.

    Returns ``{"headers": row, "mounts": {mountpt: fsname}, "summaries":
    {mountpt: row}}`` (the rows of the three tables, keyed by mount point).
    Raises for a log that cannot be read.  ``max_mb`` is accepted for
    compatibility (every log is read the same way).
    """
    chosen = _choose_reader(reader)
    if not _reader_works(chosen):
        chosen = _fallback_reader(reader)
    summary = _summarize(darshan_log, chosen, init_mount_to_fsname())
    return {"headers": summary.headers, "mounts": summary.mounts, "summaries": summary.summaries}


#: What a worker hands back per log: its summary as plain data, or an error text.
Outcome = dict[str, Any] | str


#: darshan-parser runs at once in one worker process (their start-up and output
#: overlap the parsing of the others').
PARSERS_PER_WORKER = 3


def _summarize_batch(batch: tuple[list[str], str, Any]) -> list[tuple[str, Outcome]]:
    """Worker entry point: ``(logs, reader, mount_to_fsname config)`` -> outcome per log."""
    logs, reader, mount_to_fsname = batch
    rules = compile_mount_to_fsname(mount_to_fsname)
    if reader != "direct":
        from atokio.collectors.sync import run_sync

        return run_sync(_parse_batch, logs, reader, rules)
    out: list[tuple[str, Outcome]] = []
    for log in logs:
        try:
            out.append((log, _as_outcome(_summarize(log, reader, rules))))
        except Exception as error:
            out.append((log, _error_text(log, error)))
    return out


async def _parse_batch(
    logs: list[str], darshan_parser: str, rules: list[Any]
) -> list[tuple[str, Outcome]]:
    """:func:`_summarize_batch` for darshan-parser: a few commands at once, one event loop."""
    import anyio

    outcomes: dict[str, Outcome] = {}
    limiter = anyio.CapacityLimiter(PARSERS_PER_WORKER)

    async def one(log: str) -> None:
        async with limiter:
            try:
                outcomes[log] = _as_outcome(await _summarize_parsed(log, darshan_parser, rules))
            except Exception as error:
                outcomes[log] = _error_text(log, error)

    async with anyio.create_task_group() as group:
        for log in logs:
            group.start_soon(one, log)
    return [(log, outcomes[log]) for log in logs]


def _as_outcome(summary: LogSummary) -> Outcome:
    return {
        "headers": summary.headers,
        "mounts": summary.mounts,
        "summaries": summary.summaries,
        "reason": summary.reason,
    }


def _error_text(log: str, error: Exception) -> str:
    text = str(error)
    if log not in text:
        text = f"{log}: {text}"
    return f"{text} ({type(error).__name__})"


# -- writing --------------------------------------------------------------------


def update_mount_table(conn: sqlite3.Connection, mount_points: dict[str, str]) -> dict[str, int]:
    """Insert new mount points (``{mountpt: fsname}``); return ``{mountpt: fs_id}``."""
    query = "INSERT OR IGNORE INTO mounts (mountpt, fsname) VALUES (?, ?)"
    rows = list(mount_points.items())
    for row in rows:
        vprint(f"{query} {row}", 4)
    conn.executemany(query, rows)
    ids = {}
    for mountpt in mount_points:
        found = conn.execute("SELECT fs_id FROM mounts WHERE mountpt = ?", (mountpt,)).fetchone()
        ids[mountpt] = found[0]
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
            width = 30
            filled = width * self.done // max(self.total, 1)
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} logs, "
                f"{rate:.0f} logs/s, {self.failed} skipped "
            )
            sys.stderr.flush()

    def clear(self) -> None:
        """Clear the progress line (before a warning is printed)."""
        if self.enabled and self.done:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\n")
            sys.stderr.flush()


def index_darshanlogs(
    log_list: Sequence[str],
    output_file: str,
    threads: int = 1,
    max_mb: float = 0.0,
    bulk_insert: bool = True,
    *,
    reader: str = "auto",
    quiet: bool = False,
) -> dict[str, int]:
    """Index logs into ``output_file``; return ``{"indexed": n, "skipped": n, "failed": n}``.

    ``skipped`` counts logs indexed before (by basename); ``failed`` the logs
    that could not be read or had no POSIX/STDIO activity (each reported as a
    warning unless ``quiet``).  ``threads`` worker processes parse the logs
    (0 = all cores).  With ``bulk_insert`` rows are committed every
    :data:`BATCH_LOGS` logs, else after every log.  ``max_mb`` is accepted for
    compatibility.  See the module docstring.
    """
    from atokio.collectors.workers import default_workers

    if threads < 0:
        raise ValueError(f"threads must be 0 (all cores) or more, not {threads}")
    asked = reader
    chosen = _choose_reader(reader)
    workers = default_workers() if threads == 0 else threads
    starting = None
    # rows are written from the thread running the event loop, which is another
    # thread when the caller's own loop is running (Jupyter): one at a time
    conn = sqlite3.connect(output_file, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            create_mount_table(conn)
            create_headers_table(conn)
            create_summaries_table(conn)
        expanded = _expand(log_list)
        existing = set(get_existing_logs(conn))
        todo: list[str] = []
        names: set[str] = set()
        skipped = duplicates = 0
        for log in expanded:
            name = os.path.basename(log)
            if name in existing:
                skipped += 1
            elif name in names:
                duplicates += 1
                if not quiet:
                    logger.warning(
                        "skipping %s: another log named %s is indexed in this run", log, name
                    )
            else:
                names.add(name)
                todo.append(log)
        del existing, names
        if todo:  # the workers start while the rest is set up
            starting = _start_workers(workers)

        from atokio import config
        from atokio.collectors.sync import run_sync

        vprint(f"Indexing {len(todo)} logs ({skipped} already indexed) with {workers} worker(s)", 1)
        mount_ids = dict(conn.execute("SELECT mountpt, fs_id FROM mounts").fetchall())
        mapping = config.CONFIG.get("mount_to_fsname")
        batch_size = BATCH_LOGS if bulk_insert else 1
        progress = _Progress(len(todo))
        counts = {"indexed": 0, "skipped": skipped, "failed": duplicates}
        pending: list[dict[str, Any]] = []

        def take(results: list[tuple[str, Outcome]]) -> None:
            failed = 0
            for log, outcome in results:
                if isinstance(outcome, str) or not outcome["summaries"]:
                    failed += 1
                    if not quiet:
                        progress.clear()
                        if isinstance(outcome, str):
                            logger.warning("skipping unreadable log: %s", outcome)
                        else:
                            logger.warning("skipping %s: %s", log, outcome["reason"])
                    continue
                pending.append(outcome)
                if len(pending) >= batch_size:
                    _commit_batch(conn, pending, mount_ids)
                    counts["indexed"] += len(pending)
                    pending.clear()
            counts["failed"] += failed
            progress.update(len(results), failed)

        started = time.monotonic()
        try:
            try:
                run_sync(_run_workers, todo, chosen, asked, mapping, workers, take)
            except BaseExceptionGroup as group:
                raise _only_error(group) from None
            if pending:
                _commit_batch(conn, pending, mount_ids)
                counts["indexed"] += len(pending)
                pending.clear()
        finally:
            progress.close()
        elapsed = time.monotonic() - started
        vprint(
            f"Indexed {counts['indexed']} logs, {counts['failed']} skipped as unreadable or "
            f"empty, {skipped} already indexed",
            1,
        )
        vprint(
            f"Reading and writing took {elapsed:.2f} s "
            f"({len(todo) / max(elapsed, 1e-9):.0f} logs/s)",
            2,
        )
        vprint(f"Updated {output_file}", 1)
        return counts
    finally:
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # leave one self-contained file
        finally:
            conn.close()
            if starting is not None:
                starting.join()  # never exit while processes are being started


def _start_workers(workers: int) -> Any:
    """Start the worker processes in the background (starting them takes a while).

    Returns the thread doing it: join it before returning, so that the
    interpreter never exits while it is still starting processes.
    """
    import threading

    from atokio.collectors.workers import warm_up

    def start() -> None:
        try:
            warm_up(workers)
        except Exception as error:  # the first real call reports it
            logger.debug("starting the worker processes failed: %s", error)

    thread = threading.Thread(target=start, name="atokio-start-workers", daemon=True)
    thread.start()
    return thread


def _only_error(group: BaseExceptionGroup) -> BaseException:
    """The one error inside (nested) task-group wrappers, or the group when there are several."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


async def _run_workers(
    todo: list[str], reader: str, asked: str, mapping: Any, workers: int, take: Any
) -> None:
    """Summarise ``todo`` on the worker processes, handing each call's outcomes to ``take``."""
    from concurrent.futures.process import BrokenProcessPool

    from atokio.collectors.workers import map_in_workers, run_in_worker

    if not todo:
        return
    if reader == "direct" and not await run_in_worker(_reader_works, reader):
        reader = _fallback_reader(asked)
    calls = (
        (todo[start : start + LOGS_PER_CALL], reader, mapping)
        for start in range(0, len(todo), LOGS_PER_CALL)
    )
    crashed: list[str] = []
    # worker processes even for one worker: a log that crashes the C reader
    # takes a worker down, not this run
    async with map_in_workers(_summarize_batch, calls, workers=workers, isolate=True) as results:
        async for call, outcome in results:
            if isinstance(outcome, BrokenProcessPool):
                crashed += call[0]
            elif isinstance(outcome, BaseException):
                take([(log, f"{log}: {type(outcome).__name__}: {outcome}") for log in call[0]])
            else:
                take(outcome)
    for log in crashed:  # one by one, to find the culprit(s)
        try:
            take(await run_in_worker(_summarize_batch, ([log], reader, mapping)))
        except BrokenProcessPool:
            take([(log, f"{log}: the Darshan reader crashed on this log")])


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``index_darshanlogs`` (CLI.md section 3.20)."""
    parser = argparse.ArgumentParser(
        prog="index_darshanlogs",
        description="Index Darshan logs into an SQLite database of per-file-system summaries.",
    )
    parser.add_argument(
        "darshanlogs", nargs="+", type=str, help="Darshan logs, or one directory of them"
    )
    parser.add_argument(
        "-t",
        "--threads",
        default=1,
        type=int,
        help="number of logs read at once, on worker processes (0 = one per core; default 1)",
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
        help="accepted for compatibility; every log is read the same way, whatever its size",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="1: counts; 2: timings; 3: table definitions; 4: every insert (on stdout)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="do not warn about unreadable or empty logs"
    )
    parser.add_argument(
        "--no-bulk-insert",
        action="store_true",
        help="commit every log on its own instead of in batches",
    )
    parser.add_argument(
        "--reader",
        choices=READERS,
        default="auto",
        help="read logs with libdarshan-util (direct) or darshan-parser; "
        "auto (default): direct when the darshan package works",
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
