"""Index Darshan logs into an SQLite database of per-file-system summaries (``index_darshanlogs``).

One ``headers`` row per log, one ``mounts`` row per mount point and one
``summaries`` row per (log, file system), in the schema of docs/formats.md#the-log-index;
``darshan_scoreboard`` reads the result.  The work is done by
:mod:`atokio.pipelines.darshan_index` (whose names this module re-exports, as
``tokio.cli.index_darshanlogs`` had them):

* incremental and resumable: logs whose basename already has summary rows are
  skipped, and every log's rows are committed together, so a killed run
  resumes where it stopped, without duplicates;
* streaming: rows are committed in batches of logs, one transaction each
  (``--no-bulk-insert``: one log per transaction);
* unreadable logs, logs without a mount table and logs without POSIX or STDIO
  activity are reported as warnings on stderr (unless ``-q``) and skipped; a
  second log with the basename of one indexed in the same run too (pytokio
  fails there); the others are indexed, and when a log could not be read the
  exit status is then 1 (0 with ``--silent-errors`` or ``-q``);
* ``-t/--threads N`` reads logs on N worker processes (default 1, as in
  pytokio; ``0`` = one per usable core), in worker processes even with one, so
  that a log that crashes the C library is reported instead of ending the run;
* ``--reader``: the policy of :mod:`atokio.connectors.darshan`;
* ``--scheduler`` (or ``$ATOKIO_DASK_SCHEDULER``) reads the logs on a Dask
  cluster instead: ``tcp://host:port`` of a running scheduler, or
  ``local[:N]``; the database is the same (docs/scaleout.md);
* ``--format parquet`` writes the same rows as a Parquet dataset directory,
  partitioned by day, instead of an SQLite database;
* a progress bar on stderr when stderr is a terminal;
* ``-m/--max-mb`` is accepted for compatibility and changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    nonnegative_int,
    output_path,
    partial_failure,
    run_main,
    setup_logging,
)
from atokio.connectors.darshan import READER_POLICY, READERS
from atokio.pipelines.darshan_index import (
    FORMATS,
    create_headers_table,
    create_mount_table,
    create_summaries_table,
    get_existing_logs,
    get_file_mount,
    index_darshanlogs,
    init_mount_to_fsname,
    process_log_list,
    summarize_by_fs,
    update_headers_table,
    update_mount_table,
    update_summaries_table,
)
from atokio.pipelines.darshan_index_db import HEADERS_TABLE, MOUNTS_TABLE, SUMMARIES_TABLE
from atokio.pipelines.scaleout import SCHEDULER_ENV, resolve_scheduler
from atokio.progress import progress

__all__ = [
    "HEADERS_TABLE",
    "MOUNTS_TABLE",
    "SUMMARIES_TABLE",
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

VERBOSITY = 0


def vprint(string: str, level: int) -> None:
    """Print ``string`` on stdout when the verbosity (``-v`` count) is at least ``level``."""
    if VERBOSITY >= level:
        print(string)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``index_darshanlogs`` (docs/cli.md#index_darshanlogs)."""
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
        type=nonnegative_int,
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
        "-q",
        "--quiet",
        action="store_true",
        help="do not warn about unreadable or empty logs (nor end with status 1 for them)",
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
        help=f"how to read logs: {READER_POLICY}",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        help="read the logs on a Dask cluster: tcp://HOST:PORT of a running scheduler, or "
        f"local[:N] for N local worker processes (default ${SCHEDULER_ENV}; unset: -t)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="sqlite",
        help="sqlite (default): one database file; parquet: -o is a directory of Parquet "
        "files partitioned by day, with the same rows",
    )
    add_common_arguments(parser, silent_errors=True)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    global VERBOSITY
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.format == "sqlite":  # parquet: -o is a folder
        try:
            output_path(args.output)
        except argparse.ArgumentTypeError as error:
            parser.error(f"argument -o/--output: {error}")
    try:
        scheduler = resolve_scheduler(args.scheduler)
    except ValueError as error:
        parser.error(str(error))
    VERBOSITY = args.verbose
    setup_logging()
    unreadable: list[str] = []
    with progress(unit="log", desc="index") as bar:
        counts = index_darshanlogs(
            args.darshanlogs,
            args.output,
            threads=args.threads,
            max_mb=args.max_mb,
            bulk_insert=not args.no_bulk_insert,
            reader=args.reader,
            quiet=args.quiet,
            progress=bar,
            unreadable=unreadable,
            echo=vprint if VERBOSITY else None,  # no message is formatted without -v
            scheduler=scheduler,
            format=args.format,
        )
    vprint(f"Updated {args.output}", 1)
    if not (args.silent_errors or args.quiet):
        total = counts["indexed"] + counts["failed"]
        partial_failure(len(unreadable), total, "logs")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
