"""Index Darshan logs into an SQLite database of per-file-system summaries.

The engine of ``index_darshanlogs`` and ``summarize_darshanlogs``.  One
``headers`` row per log, one ``mounts`` row per mount point and one
``summaries`` row per (log, file system), in the schema of docs/formats.md#the-log-index
(the rules of the summaries: :mod:`atokio.tools.darshan_summary`).

The job comes in three parts, so that another executor (a Dask cluster) can
take the middle one:

* :func:`summarize_batch` — a top-level, picklable function that turns a list
  of log paths into ``(log, outcome)`` pairs: the log's rows as plain data, or
  the text of the error that made it unreadable.  It runs in worker processes
  (or on remote workers) and returns only the small summary rows;
* :class:`IndexWriter` — the one writer of the database: it creates the
  schema, knows which logs are indexed already, and commits results in
  batches of :data:`BATCH_LOGS` logs, one transaction each (a log's header and
  summaries always together, so a killed run resumes without duplicates);
* :func:`aindex_darshanlogs` (sync form :func:`index_darshanlogs`) — the
  driver: expands the log list, drops logs indexed before (by basename) and
  repeated basenames, runs :func:`summarize_batch` over the rest and streams
  every result into the writer, reporting unreadable and empty logs as
  warnings.  ``scheduler=None`` runs on local worker processes; a Dask
  scheduler runs it on a cluster (:mod:`atokio.pipelines.index_dask`), and
  ``format="parquet"`` writes a Parquet dataset (:mod:`atokio.pipelines.index_parquet`).

Logs are read by the reader chosen under the policy of
:mod:`atokio.connectors.darshan` (:data:`~atokio.connectors.darshan.READER_POLICY`).
They are read in worker processes even with one worker, so that a log that
crashes the C library is reported instead of ending the run.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from atokio import config
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import default_workers, map_in_workers, run_in_worker, warm_up
from atokio.pipelines import darshan_index_db as _db
from atokio.pipelines.darshan_index_db import (
    BATCH_LOGS,
    HEADER_COLUMNS,
    Echo,
    IndexWriter,
    _quiet_echo,
    create_headers_table,
    create_mount_table,
    create_summaries_table,
    get_existing_logs,
    update_headers_table,
    update_mount_table,
    update_summaries_table,
)
from atokio.tools.darshan_summary import (
    END_TIMESTAMPS,
    INT_COUNTERS,
    START_TIMESTAMPS,
    LogSummary,
    compile_mount_to_fsname,
    fsname_of,
    mount_of,
    summarize_arrays,
    summarize_records,
)

if TYPE_CHECKING:
    from atokio.pipelines.index_parquet import ParquetIndexWriter

__all__ = [
    "BATCH_LOGS",
    "FORMATS",
    "HEADER_COLUMNS",
    "LOGS_PER_CALL",
    "Echo",
    "IndexWriter",
    "Outcome",
    "aindex_darshanlogs",
    "asummarize_darshanlogs",
    "choose_reader",
    "create_headers_table",
    "create_mount_table",
    "create_summaries_table",
    "expand_log_list",
    "get_existing_logs",
    "get_file_mount",
    "index_darshanlogs",
    "init_mount_to_fsname",
    "process_log_list",
    "summarize_batch",
    "summarize_by_fs",
    "summarize_darshanlogs",
    "update_headers_table",
    "update_mount_table",
    "update_summaries_table",
]

logger = logging.getLogger(__name__)

#: Logs handed to a worker process per call (amortises the call overhead).
LOGS_PER_CALL = 16
#: darshan-parser runs at once in one worker process (their start-up and output
#: overlap the parsing of the others').
PARSERS_PER_WORKER = 3

#: The output formats of the index (``--format``).
FORMATS = ("sqlite", "parquet")

#: What a worker hands back per log: its rows as plain data, or an error text.
Outcome = dict[str, Any] | str

# -- which logs ----------------------------------------------------------------


def init_mount_to_fsname() -> list[Any]:
    """The ``mount_to_fsname`` config as compiled ``(regex, name)`` rules, in order."""
    return compile_mount_to_fsname(config.CONFIG.get("mount_to_fsname"))


def get_file_mount(filename: str, mount_list: Iterable[str]) -> tuple[str, str] | None:
    """``(mount point, file system name)`` of the longest mount prefixing ``filename``, or None."""
    mountpt = mount_of(filename, mount_list)
    if mountpt is None:
        return None
    return mountpt, fsname_of(mountpt, init_mount_to_fsname())


def expand_log_list(log_list: Sequence[str]) -> list[str]:
    """A single directory argument stands for the regular files directly inside it, sorted."""
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
    return [log for log in expand_log_list(log_list) if os.path.basename(log) not in existing]


# -- reading logs --------------------------------------------------------------


def choose_reader(reader: str) -> str:
    """``"direct"``, or the full path of the darshan-parser to run, for ``reader``.

    Applies the policy of :func:`atokio.connectors.darshan.resolve_reader`.
    The darshan-parser executable is resolved here, where the caller's
    ``PATH`` is, rather than in the worker processes; a missing one raises
    ``FileNotFoundError``.
    """
    from atokio.connectors.darshan import (
        darshan_parser_executable,
        darshan_parser_path,
        resolve_reader,
    )

    if resolve_reader(reader) == "direct":
        return "direct"
    found = darshan_parser_path()
    if found is None:
        raise FileNotFoundError(f"{darshan_parser_executable()}: command not found")
    return found


def _reader_works(reader: str) -> bool:
    """Worker-side check that the direct reader can load libdarshan-util."""
    if reader != "direct":
        return True
    from atokio.collectors.darshanlog import direct_reader_available

    return direct_reader_available()


def _direct_reader_fails() -> RuntimeError:
    from atokio.connectors.darshan import darshan_parser_executable

    return RuntimeError(
        "cannot read Darshan logs: the 'darshan' package cannot load libdarshan-util here, "
        f"and {darshan_parser_executable()} is not on PATH; install one of them "
        "(or set ATOKIO_DARSHAN_PARSER)"
    )


def _summarize(darshan_log: str, reader: str, rules: list[Any]) -> LogSummary:
    """Summary of one log; ``reader`` is ``"direct"`` or the darshan-parser to run."""
    if reader == "direct":
        from atokio.collectors.darshanlog import read_darshan_arrays

        header, mounts, modules = read_darshan_arrays(
            darshan_log, INT_COUNTERS + START_TIMESTAMPS + END_TIMESTAMPS
        )
        return summarize_arrays(header, mounts, modules, darshan_log, rules)
    return run_sync(_summarize_parsed, darshan_log, reader, rules)


async def _summarize_parsed(darshan_log: str, darshan_parser: str, rules: list[Any]) -> LogSummary:
    """Summary of one log from ``darshan-parser --base`` text, parsed as it streams."""
    from atokio.collectors.subprocess import run_command
    from atokio.parsers.darshan import DarshanParser

    argv = [darshan_parser, "--base", "--", darshan_log]
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
    chosen = choose_reader(reader)
    if not _reader_works(chosen):
        raise _direct_reader_fails()
    summary = _summarize(darshan_log, chosen, init_mount_to_fsname())
    return {"headers": summary.headers, "mounts": summary.mounts, "summaries": summary.summaries}


def summarize_batch(
    logs: Sequence[str], reader: str, mount_to_fsname: Any = None
) -> list[tuple[str, Outcome]]:
    """``(log, outcome)`` for each log, in order: what a worker computes.

    ``reader`` is ``"direct"`` or the path of a darshan-parser (as
    :func:`choose_reader` returns); ``mount_to_fsname`` is the config value of
    that name (plain data, so that the call can be pickled to another
    process or machine).  An outcome is ``{"headers", "mounts", "summaries",
    "reason"}`` (``summaries`` empty, and ``reason`` saying why, for a log
    without POSIX/STDIO activity) or, for an unreadable log, the error text.
    """
    rules = compile_mount_to_fsname(mount_to_fsname)
    if reader != "direct":
        return run_sync(_parse_batch, list(logs), reader, rules)
    out: list[tuple[str, Outcome]] = []
    for log in logs:
        try:
            out.append((log, _as_outcome(_summarize(log, reader, rules))))
        except Exception as error:
            out.append((log, _error_text(log, error)))
    return out


def _summarize_call(call: tuple[list[str], str, Any]) -> list[tuple[str, Outcome]]:
    """:func:`summarize_batch` of one ``(logs, reader, mount_to_fsname)`` tuple."""
    return summarize_batch(*call)


async def _parse_batch(
    logs: list[str], darshan_parser: str, rules: list[Any]
) -> list[tuple[str, Outcome]]:
    """:func:`summarize_batch` for darshan-parser: a few commands at once, one event loop."""
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
    text = str(error) or type(error).__name__  # the kind only when there is no message
    return text if log in text else f"{log}: {text}"


# -- running -------------------------------------------------------------------


def _start_workers(reader: str) -> threading.Thread:
    """Start the worker processes in the background (starting them takes a while),
    each loading the reader as it starts.

    Every process of the pool is started, whatever ``--threads`` says: even
    one call at a time goes to any idle process, and one that still had to
    import this module and load libdarshan-util would pay for it inside a
    call, one process after another.  Returns the thread doing it: join it
    before returning, so that the interpreter never exits while it is still
    starting processes.
    """

    def start() -> None:
        try:
            warm_up(default_workers(), functools.partial(_reader_works, reader))
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


def _check_scheduler(scheduler: Any) -> Any:
    """``scheduler`` checked: None (local processes), a resolved address, or a Dask client.

    A string is resolved as ``--scheduler`` is (:func:`atokio.pipelines.scaleout.resolve_scheduler`;
    an empty one means local processes), so that a wrong value fails before anything is opened.
    """
    if isinstance(scheduler, str):
        from atokio.pipelines.scaleout import resolve_scheduler

        return resolve_scheduler(scheduler)
    return scheduler


async def _run_local(
    todo: list[str],
    reader: str,
    mapping: Any,
    workers: int,
    take: Callable[[list[tuple[str, Outcome]]], None],
) -> None:
    """Summarise ``todo`` on local worker processes, handing each call's outcomes to ``take``."""
    from concurrent.futures.process import BrokenProcessPool

    if not todo:
        return
    if reader == "direct" and not await run_in_worker(_reader_works, reader):
        raise _direct_reader_fails()
    calls = (
        (todo[start : start + LOGS_PER_CALL], reader, mapping)
        for start in range(0, len(todo), LOGS_PER_CALL)
    )
    crashed: list[str] = []
    # worker processes even for one worker: a log that crashes the C reader
    # takes a worker down, not this run
    async with map_in_workers(_summarize_call, calls, workers=workers, isolate=True) as results:
        async for call, outcome in results:
            if isinstance(outcome, BrokenProcessPool):
                crashed += call[0]
            elif isinstance(outcome, BaseException):
                take([(log, f"{log}: {type(outcome).__name__}: {outcome}") for log in call[0]])
            else:
                take(outcome)
    for log in crashed:  # one by one, to find the culprit(s)
        try:
            take(await run_in_worker(_summarize_call, ([log], reader, mapping)))
        except BrokenProcessPool:
            take([(log, f"{log}: the Darshan reader crashed on this log")])


async def _summarize_logs(
    todo: list[str],
    reader: str,
    threads: int,
    take: Callable[[list[tuple[str, Outcome]]], None],
    scheduler: Any,
) -> None:
    """Run :func:`summarize_batch` over ``todo`` and hand the outcomes to ``take``."""
    scheduler = _check_scheduler(scheduler)
    if scheduler is not None:  # on Dask workers, in tasks of logs
        from atokio.pipelines.index_dask import asummarize_on_dask

        await asummarize_on_dask(
            summarize_batch,
            todo,
            reader,
            config.CONFIG.get("mount_to_fsname"),
            scheduler,
            take,
            reader_works=_reader_works if reader == "direct" else None,
            reader_fails=_direct_reader_fails,
        )
        return
    workers = _workers(threads)
    starting = _start_workers(reader) if todo else None
    try:
        try:
            await _run_local(todo, reader, config.CONFIG.get("mount_to_fsname"), workers, take)
        except BaseExceptionGroup as group:
            raise _only_error(group) from None
    finally:
        if starting is not None:
            starting.join()  # never return while processes are being started


def _workers(threads: int) -> int:
    return default_workers() if threads == 0 else threads


def _check_threads(threads: int) -> None:
    if threads < 0:
        raise ValueError(f"threads must be 0 (all cores) or more, not {threads}")


async def aindex_darshanlogs(
    log_list: Sequence[str],
    output_file: str,
    threads: int = 1,
    max_mb: float = 0.0,
    bulk_insert: bool = True,
    *,
    reader: str = "auto",
    quiet: bool = False,
    progress: Any = None,
    echo: Echo | None = None,
    scheduler: Any = None,
    format: str = "sqlite",
    unreadable: list[str] | None = None,
) -> dict[str, int]:
    """Index logs into ``output_file``; return ``{"indexed": n, "skipped": n, "failed": n}``.

    ``log_list`` is log paths, or one directory of them.  ``skipped`` counts
    logs indexed before (by basename); ``failed`` the logs that could not be
    read, had no POSIX/STDIO activity, or repeat the basename of another log
    of this run (each reported as a warning unless ``quiet``).  ``threads``
    worker processes read the logs (0 = all cores); ``reader`` follows the
    policy of :mod:`atokio.connectors.darshan`.  With ``bulk_insert`` rows are
    committed every :data:`BATCH_LOGS` logs, else after every log.
    ``progress`` is a callable taking the number of logs just done, or a bar
    with ``update(n)`` (:func:`atokio.progress.progress`; its ``total`` is set to
    the number of logs to read); ``echo`` receives
    the ``-v`` messages (:data:`Echo`).  ``scheduler`` runs the reading on a
    Dask cluster instead of local worker processes: ``"tcp://host:port"``,
    ``"local:N"`` or a ``distributed.Client`` (:mod:`atokio.pipelines.index_dask`;
    the database is the same).  ``format="parquet"`` writes the same rows as a
    Parquet dataset directory, partitioned by day
    (:mod:`atokio.pipelines.index_parquet`).  ``max_mb`` is accepted for
    compatibility.
    ``unreadable``, when given, receives the paths of the logs that could not
    be read.
    """
    del max_mb
    _check_threads(threads)
    if format not in FORMATS:
        raise ValueError(f"unknown index format {format!r}: use {' or '.join(FORMATS)}")
    scheduler = _check_scheduler(scheduler)
    chosen = choose_reader(reader)
    say = echo or _quiet_echo
    batch_logs = _db.BATCH_LOGS if bulk_insert else 1
    with _open_writer(output_file, format, batch_logs, echo) as writer:
        existing = writer.existing_logs()
        todo: list[str] = []
        names: set[str] = set()
        skipped = duplicates = 0
        for log in expand_log_list(log_list):
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
        tick = _progress_callable(progress, len(todo))
        where = (
            f"on Dask ({scheduler})"
            if scheduler is not None
            else f"with {_workers(threads)} worker(s)"
        )
        say(f"Indexing {len(todo)} logs ({skipped} already indexed) {where}", 1)
        counts = {"indexed": 0, "skipped": skipped, "failed": duplicates}

        def take(results: list[tuple[str, Outcome]]) -> None:
            for log, outcome in results:
                if isinstance(outcome, str) or not outcome["summaries"]:
                    if isinstance(outcome, str) and unreadable is not None:
                        unreadable.append(log)
                    counts["failed"] += 1
                    if not quiet:
                        if isinstance(outcome, str):
                            logger.warning("skipping unreadable log: %s", outcome)
                        else:
                            logger.warning("skipping %s: %s", log, outcome["reason"])
                    continue
                writer.add(outcome)
            tick(len(results))

        started = time.monotonic()
        await _summarize_logs(todo, chosen, threads, take, scheduler)
        writer.flush()
        counts["indexed"] = writer.indexed
        elapsed = time.monotonic() - started
    say(
        f"Indexed {counts['indexed']} logs, {counts['failed']} skipped as unreadable or "
        f"empty, {skipped} already indexed",
        1,
    )
    say(
        f"Reading and writing took {elapsed:.2f} s ({len(todo) / max(elapsed, 1e-9):.0f} logs/s)",
        2,
    )
    return counts


def index_darshanlogs(
    log_list: Sequence[str],
    output_file: str,
    threads: int = 1,
    max_mb: float = 0.0,
    bulk_insert: bool = True,
    *,
    reader: str = "auto",
    quiet: bool = False,
    progress: Any = None,
    echo: Echo | None = None,
    scheduler: Any = None,
    format: str = "sqlite",
    unreadable: list[str] | None = None,
) -> dict[str, int]:
    """:func:`aindex_darshanlogs` from sync code (scripts, notebooks)."""
    try:
        return run_sync(
            aindex_darshanlogs,
            log_list,
            output_file,
            threads,
            max_mb,
            bulk_insert,
            reader=reader,
            quiet=quiet,
            progress=progress,
            echo=echo,
            scheduler=scheduler,
            format=format,
            unreadable=unreadable,
        )
    except BaseExceptionGroup as group:
        raise _only_error(group) from None


def _open_writer(
    output: str, format: str, batch_logs: int, echo: Echo | None
) -> IndexWriter | ParquetIndexWriter:
    """The index writer of ``format``: the SQLite database, or the Parquet dataset directory."""
    if format == "parquet":
        from atokio.pipelines.index_parquet import ParquetIndexWriter

        return ParquetIndexWriter(output)
    return IndexWriter(output, batch_logs=batch_logs, echo=echo)


def _progress_callable(progress: Any, total: int) -> Callable[[int], Any]:
    """``progress`` as a callable taking a count; a bar's ``total`` becomes ``total``."""
    if progress is None:
        return lambda n: None
    update = getattr(progress, "update", None)
    if not callable(update):
        return progress
    if hasattr(progress, "total"):
        progress.total = total
        refresh = getattr(progress, "refresh", None)
        if callable(refresh):
            refresh()
    return update


async def asummarize_darshanlogs(
    log_list: Sequence[str],
    threads: int = 1,
    reader: str = "auto",
    *,
    progress: Any = None,
    scheduler: Any = None,
) -> dict[str, dict[str, dict[str, int]]]:
    """``{log: {mount point: {"read_bytes": n, "write_bytes": n}}}`` for the readable logs.

    The figures of the index (POSIX and STDIO bytes per mount point; mount
    points without activity are left out).  Unreadable logs are reported as
    warnings and left out.  ``threads``, ``reader``, ``progress`` and
    ``scheduler`` as for :func:`aindex_darshanlogs`.
    """
    _check_threads(threads)
    chosen = choose_reader(reader)
    logs = list(dict.fromkeys(log_list))
    tick = _progress_callable(progress, len(logs))
    outcomes: dict[str, Outcome] = {}

    def take(results: list[tuple[str, Outcome]]) -> None:
        outcomes.update(results)
        tick(len(results))

    await _summarize_logs(logs, chosen, threads, take, scheduler)
    report: dict[str, dict[str, dict[str, int]]] = {}
    for log in logs:
        outcome = outcomes.get(log)
        if not isinstance(outcome, dict):
            logger.warning("skipping unreadable log: %s", outcome)
            continue
        report[log] = {
            mount: {"read_bytes": row["bytes_read"], "write_bytes": row["bytes_written"]}
            for mount, row in outcome["summaries"].items()
        }
    return report


def summarize_darshanlogs(
    log_list: Sequence[str],
    threads: int = 1,
    reader: str = "auto",
    *,
    progress: Any = None,
    scheduler: Any = None,
) -> dict[str, dict[str, dict[str, int]]]:
    """:func:`asummarize_darshanlogs` from sync code (scripts, notebooks)."""
    try:
        return run_sync(
            asummarize_darshanlogs,
            log_list,
            threads,
            reader,
            progress=progress,
            scheduler=scheduler,
        )
    except BaseExceptionGroup as group:
        raise _only_error(group) from None
