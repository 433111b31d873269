"""Bytes read and written per Darshan log and file system, as JSON (``summarize_darshanlogs``).

The command of the published Quick Start: for each Darshan log given, the
bytes read and written on each mount point, printed as JSON (4-space indent,
keys sorted)::

    {
        "/path/to/log.darshan": {
            "/global/project": {
                "read_bytes": 0,
                "write_bytes": 206144000000
            }
        }
    }

The figures are those of ``index_darshanlogs`` (the rules of
:mod:`atokio.tools.darshan_summary`): ``read_bytes`` / ``write_bytes`` are
``BYTES_READ`` / ``BYTES_WRITTEN`` summed over the log's POSIX **and** STDIO
records on that mount point (a record belongs to the longest mount point that
prefixes its file name; standard streams and names without ``/`` go to
``UNKNOWN``), and mount points without any activity are left out.  MPI-IO is
not added: its bytes are also counted by POSIX underneath.

Logs that cannot be read are reported on stderr and left out.  ``-t`` reads
logs on that many worker processes (0 = one per core), ``--reader`` chooses
libdarshan-util (``direct``) or ``darshan-parser`` as in ``index_darshanlogs``;
``-o`` writes the JSON to a file (compact, as the other tools do) instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from atokio.cli._common import run_main, setup_logging, write_json

__all__ = ["main", "summarize_darshanlogs"]

logger = logging.getLogger("atokio.cli.summarize_darshanlogs")


def summarize_darshanlogs(
    log_list: Sequence[str], threads: int = 1, reader: str = "auto"
) -> dict[str, dict[str, dict[str, int]]]:
    """``{log: {mount point: {"read_bytes": n, "write_bytes": n}}}`` for the readable logs."""
    from atokio import config
    from atokio.cli.index_darshanlogs import (
        _choose_reader,
        _only_error,
        _run_workers,
        _start_workers,
    )
    from atokio.collectors.sync import run_sync
    from atokio.collectors.workers import default_workers

    if threads < 0:
        raise ValueError(f"threads must be 0 (all cores) or more, not {threads}")
    workers = default_workers() if threads == 0 else threads
    chosen = _choose_reader(reader)
    starting = _start_workers(workers)
    outcomes: dict[str, Any] = {}

    def take(results: list[tuple[str, Any]]) -> None:
        outcomes.update(results)

    logs = list(dict.fromkeys(log_list))
    mapping = config.CONFIG.get("mount_to_fsname")
    try:
        run_sync(_run_workers, logs, chosen, reader, mapping, workers, take)
    except BaseExceptionGroup as group:
        raise _only_error(group) from None
    finally:
        starting.join()
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


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``summarize_darshanlogs``."""
    parser = argparse.ArgumentParser(
        prog="summarize_darshanlogs",
        description="Print the bytes read and written per Darshan log and file system, as JSON.",
    )
    parser.add_argument("darshanlogs", nargs="+", type=str, help="Darshan logs")
    parser.add_argument(
        "-t",
        "--threads",
        type=int,
        default=1,
        help="number of logs read at once, on worker processes (0 = one per core; default 1)",
    )
    parser.add_argument(
        "--reader",
        choices=("auto", "direct", "darshan-parser"),
        default="auto",
        help="read logs with libdarshan-util (direct) or darshan-parser; "
        "auto (default): direct when the darshan package works",
    )
    parser.add_argument(
        "-o", "--output", type=str, default=None, help="write the JSON to this file"
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    report = summarize_darshanlogs(args.darshanlogs, threads=args.threads, reader=args.reader)
    write_json(report, args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
