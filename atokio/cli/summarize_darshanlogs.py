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

Logs that cannot be read are reported on stderr and left out; the others'
figures are still written (never over an existing ``-o`` file) and the exit
status is then 1 (0 with ``--silent-errors``).  ``-t`` reads
logs on that many worker processes (0 = one per core), ``--reader`` chooses
libdarshan-util (``direct``) or ``darshan-parser`` under the policy of
:mod:`atokio.connectors.darshan`; the work is done by
:func:`atokio.pipelines.darshan_index.summarize_darshanlogs`;
``-o`` writes the JSON to a file (compact, as the other tools do) instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    keep_existing,
    nonnegative_int,
    output_path,
    partial_failure,
    run_main,
    setup_logging,
    write_json,
)
from atokio.connectors.darshan import READER_POLICY, READERS
from atokio.pipelines.darshan_index import summarize_darshanlogs
from atokio.progress import progress

__all__ = ["main", "summarize_darshanlogs"]


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
        type=nonnegative_int,
        default=1,
        help="number of logs read at once, on worker processes (0 = one per core; default 1)",
    )
    parser.add_argument(
        "--reader",
        choices=READERS,
        default="auto",
        help=f"how to read logs: {READER_POLICY}",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="write the JSON to this file"
    )
    add_common_arguments(parser, silent_errors=True)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    with progress(unit="log", desc="summarize") as bar:
        report = summarize_darshanlogs(
            args.darshanlogs, threads=args.threads, reader=args.reader, progress=bar
        )
    failed = 0 if args.silent_errors else len(set(args.darshanlogs) - set(report))
    keep = keep_existing(failed, args.output)
    if not keep:
        write_json(report, args.output)
    partial_failure(failed, len(set(args.darshanlogs)), "logs", args.output if keep else None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
