"""Cache the NERSC jobs database rows of a time window in SQLite (``cache_nersc_jobsdb``, docs/cli.md#cache_nersc_jobsdb).

Provides the command-line interface to
:meth:`atokio.connectors.nersc_jobsdb.NerscJobsDb.get_concurrent_jobs`: every
job of ``host`` that overlaps the window (completed after ``start`` and
started before ``end``) is read from the jobs database — MySQL, or an SQLite
cache given with ``-i`` — and written into an SQLite file with one table,
``summary (STEPID, HOSTNAME, START, COMPLETION, NUMNODES, PRIMARY
KEY(STEPID))``, untyped columns, rows inserted with ``INSERT OR REPLACE``
(so an existing file is merged into).  With no matching row the table is not
created and the file stays empty.  stdout: only ``Caching to <file>``.

The MySQL connection comes from ``NERSC_JOBSDB_HOST``, ``_USER``,
``_PASSWORD`` and ``_DB``, used only when all four are set.  An explicit
``-i`` always wins; a ``-i`` file that does not exist is an error (exit 1)
and is not created.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    announce_output,
    datetime_arg,
    first_unused,
    output_path,
    parse_datetime,
    require_input,
    run_main,
    setup_logging,
)
from atokio.common import to_epoch

__all__ = ["build_parser", "main"]

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_nersc_jobsdb)."""
    parser = argparse.ArgumentParser(
        prog="cache_nersc_jobsdb",
        description="Save the NERSC jobs database rows of the jobs that ran on one system "
        "during a time window into a local SQLite cache. MySQL credentials come from "
        "NERSC_JOBSDB_HOST, NERSC_JOBSDB_USER, NERSC_JOBSDB_PASSWORD and NERSC_JOBSDB_DB.",
    )
    parser.add_argument(
        "start", type=datetime_arg, help="start of the window (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument("end", type=datetime_arg, help="end of the window (YYYY-MM-DDTHH:MM:SS)")
    parser.add_argument(
        "host", type=str, help="NERSC system name as stored in the database (e.g. edison)"
    )
    parser.add_argument(
        "-i", "--input", type=str, default=None, help="query this SQLite cache instead of MySQL"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=output_path,
        default=None,
        help="SQLite file to write (default: the first unused nersc_jobsdb-<N>.sqlite)",
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(0)
    from atokio.connectors.nersc_jobsdb import NerscJobsDb

    start = to_epoch(parse_datetime(args.start))
    end = to_epoch(parse_datetime(args.end))
    if args.input is not None:
        require_input(args.input)
        jobsdb = NerscJobsDb(cache_file=args.input)
    else:
        jobsdb = NerscJobsDb()
        if jobsdb.remote_db is None:
            raise RuntimeError(
                "No databases available to query (give -i, or set NERSC_JOBSDB_HOST, "
                "NERSC_JOBSDB_USER, NERSC_JOBSDB_PASSWORD and NERSC_JOBSDB_DB)"
            )
    with jobsdb:
        totals = jobsdb.get_concurrent_jobs(start, end, args.host)
        logger.debug("concurrent jobs: %s", totals)
        output = args.output or first_unused("nersc_jobsdb-{}.sqlite")
        announce_output(output)
        jobsdb.save_cache(output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
