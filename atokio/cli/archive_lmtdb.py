"""Retrieve the contents of an LMT database and archive them as TOKIO Time Series (``archive_lmtdb``, docs/cli.md#archive_lmtdb).

Argument parsing and one call: the work is done by
:mod:`atokio.pipelines.archive_lmtdb` (whose documented names are
re-exported here).  ``--follow`` keeps archiving into day files
(:func:`atokio.pipelines.archive_lmtdb.follow_lmtdb`); ``--scheduler`` archives
the window one day file per Dask task (docs/scaleout.md).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from atokio.cli import _archive
from atokio.cli._common import require_input, run_main, setup_logging
from atokio.cli.cache_lmtdb import connect_lmtdb, lmtdb_connection
from atokio.connectors.lmtdb import LmtDb
from atokio.pipelines.archive import SourceSpec
from atokio.pipelines.archive_lmtdb import (
    CONFIG,
    DatasetConfig,
    DatasetDict,
    LmtdbSource,
    _close_quietly,
    aarchive_lmtdb,
    afollow_lmtdb,
    archive_lmtdb,
    commit_datasets,
    counter_deltas,
    day_template,
    follow_lmtdb,
    init_hdf5_file,
    lmtdb_source,
    natural_sorted,
    read_window,
    resume_point,
    write_file,
)

__all__ = [
    "CONFIG",
    "DatasetConfig",
    "DatasetDict",
    "LmtdbSource",
    "aarchive_lmtdb",
    "afollow_lmtdb",
    "archive_lmtdb",
    "build_parser",
    "commit_datasets",
    "counter_deltas",
    "day_template",
    "follow_lmtdb",
    "init_hdf5_file",
    "main",
    "natural_sorted",
    "read_window",
    "resume_point",
    "write_file",
]


#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#archive_lmtdb, plus ``--follow``)."""
    parser = argparse.ArgumentParser(
        prog="archive_lmtdb",
        description="Retrieve the contents of an LMT database and store them in a TOKIO Time Series file.",
    )
    parser.add_argument(
        "query_start", nargs="?", type=str, help="start time of the query (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument(
        "query_end",
        nargs="?",
        type=str,
        help="end time of the query, exclusive (YYYY-MM-DDTHH:MM:SS)",
    )
    parser.add_argument(
        "-i", "--input", type=str, default=None, help="SQLite cache to read instead of MySQL"
    )
    _archive.add_file_options(parser)
    parser.add_argument(
        "--timestep", type=int, default=5, help="seconds per row; must equal LMT's interval"
    )
    parser.add_argument("--host", type=str, default=None, help="MySQL host ($PYTOKIO_LMT_HOST)")
    parser.add_argument("--user", type=str, default=None, help="MySQL user ($PYTOKIO_LMT_USER)")
    parser.add_argument(
        "--password", type=str, default=None, help="MySQL password ($PYTOKIO_LMT_PASSWORD)"
    )
    parser.add_argument(
        "--database", type=str, default=None, help="MySQL database name ($PYTOKIO_LMT_DB)"
    )
    _archive.add_follow_option(parser)
    _archive.add_scheduler_option(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _archive.require_window(parser, args)
    scheduler = _archive.scheduler_of(parser, args)
    setup_logging(2 if args.debug else 0)
    query_start, query_end = _archive.query_window(args)

    def connect() -> LmtDb:
        return connect_lmtdb(args.input, args.host, args.user, args.password, args.database)

    if args.follow:
        if args.input is not None:
            require_input(args.input)
        return _archive.run_follow(
            follow_lmtdb,
            connect,
            day_template(args.output),
            args.timestep,
            _archive.follow_options_of(query_start, query_end),
        )

    assert query_start is not None and query_end is not None
    if scheduler is not None:
        connection = lmtdb_connection(
            args.input, args.host, args.user, args.password, args.database
        )
        spec = SourceSpec(lmtdb_source, {"timestep": args.timestep, **connection})
        return _archive.run_backfill(spec, args.output, query_start, query_end, scheduler)
    init_start, init_end = _archive.init_window(args, query_start, query_end)
    lmtdb = connect()
    try:
        with _archive.progress_lines_on_stdout():
            archive_lmtdb(
                lmtdb, init_start, init_end, args.timestep, args.output, query_start, query_end
            )
    finally:
        _close_quietly(lmtdb)
    if args.debug:
        print(f"Wrote output to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
