"""Retrieve the contents of an LMT database and cache them locally (``cache_lmtdb``, docs/cli.md#cache_lmtdb).

Copies the part of an LMT database (MySQL, or an SQLite cache given with
``-i``) that covers ``[start, end]`` (both inclusive) into an SQLite file
that ``archive_lmtdb -i`` can read: the tables with a ``TS_ID`` column keep
the rows whose ``TS_ID`` lies between the first and last time stamp of the
window, the other tables are copied whole.  Tables are created when missing
(untyped columns, the table's primary key) and rows are inserted with
``INSERT OR REPLACE``, so an existing file is merged into; an empty table is
not created.  Rows are streamed from the source a batch at a time into a scratch copy that
replaces the file only when complete, so a failed run leaves it unchanged.
The work is done by :func:`atokio.pipelines.lmtdb_cache.cache_lmtdb`.

The MySQL connection comes from ``--host/--user/--password/--database``, each
falling back to ``PYTOKIO_LMT_HOST``/``_USER``/``_PASSWORD``/``_DB``; it is used
only when all four are known.  An explicit ``-i`` always wins.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    announce_output,
    datetime_arg,
    first_unused,
    nonnegative_int,
    output_path,
    reading,
    run_main,
    setup_logging,
)
from atokio.pipelines.lmtdb_cache import (
    ENV_VARIABLES,
    cache_lmtdb,
    connect_lmtdb,
    lmtdb_connection,
    retrieve_tables,
    table_schema,
)

__all__ = [
    "ENV_VARIABLES",
    "connect_lmtdb",
    "lmtdb_connection",
    "main",
    "retrieve_tables",
    "table_schema",
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_lmtdb)."""
    parser = argparse.ArgumentParser(
        prog="cache_lmtdb",
        description="Retrieve the contents of an LMT database and cache them locally.",
    )
    parser.add_argument(
        "start", type=datetime_arg, help="start time (YYYY-MM-DDTHH:MM:SS), inclusive"
    )
    parser.add_argument("end", type=datetime_arg, help="end time (YYYY-MM-DDTHH:MM:SS), inclusive")
    parser.add_argument(
        "-i", "--input", type=str, default=None, help="read from this SQLite cache instead of MySQL"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=output_path,
        default=None,
        help="SQLite file to write (default: the first unused lmtdb-<N>.sqlite)",
    )
    parser.add_argument(
        "-l",
        "--limit",
        type=nonnegative_int,
        default=None,
        help="append LIMIT n to every table's query",
    )
    parser.add_argument("--host", type=str, default=None, help="MySQL host ($PYTOKIO_LMT_HOST)")
    parser.add_argument("--user", type=str, default=None, help="MySQL user ($PYTOKIO_LMT_USER)")
    parser.add_argument(
        "--password", type=str, default=None, help="MySQL password ($PYTOKIO_LMT_PASSWORD)"
    )
    parser.add_argument(
        "--database", type=str, default=None, help="MySQL database name ($PYTOKIO_LMT_DB)"
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(0)
    output = args.output or first_unused("lmtdb-{}.sqlite")
    announce_output(output)
    with reading(args.input or "the LMT database", "LMT SQLite cache"):
        cache_lmtdb(
            args.start,
            args.end,
            output,
            input_file=args.input,
            host=args.host,
            user=args.user,
            password=args.password,
            database=args.database,
            limit=args.limit,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
