"""Rank the heaviest users, file systems and applications in Darshan index databases.

``darshan_scoreboard`` (docs/cli.md#darshan_scoreboard) reads one or more SQLite files made
by ``index_darshanlogs`` (through
:func:`atokio.pipelines.darshan_index_db.query_index_db`) and reports, per user, per file system, per
executable and per (user, executable, file system), the bytes read and written
and the number of logs, heaviest first.  The ``--limit-*``/``--exclude-*``
filters take comma-separated SQL ``LIKE`` patterns, bound as parameters (never
pasted into the SQL text): limit patterns are ORed, exclude patterns ANDed,
and the three kinds are combined with AND.  With several databases the rows of
each are concatenated (text mode then sorts the combined list).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from atokio.cli._common import (
    add_common_arguments,
    nonnegative_int,
    reading,
    require_input,
    run_main,
)
from atokio.pipelines import darshan_index_db
from atokio.pipelines.darshan_index_db import CATEGORIES

__all__ = ["main", "print_top", "query_index_db", "vprint"]

VERBOSITY = 0


def vprint(string: str, level: int) -> None:
    """Print ``string`` when the verbosity is at least ``level``."""
    if VERBOSITY >= level:
        print(string)


BYTES_PER_GIB = 2.0**30


def query_index_db(
    db_filenames: Sequence[str] | str,
    limit_fs: str | None = None,
    limit_user: str | None = None,
    limit_exe: str | None = None,
    exclude_fs: str | None = None,
    exclude_user: str | None = None,
    exclude_exe: str | None = None,
    max_results: int | None = None,
) -> dict[str, list[list[Any]]]:
    """Bytes read, written and log counts per user, file system, executable and combination.

    :func:`atokio.pipelines.darshan_index_db.query_index_db`, printing each
    query when the verbosity (``-v``) is at least 1.
    """
    return darshan_index_db.query_index_db(
        db_filenames,
        limit_fs,
        limit_user,
        limit_exe,
        exclude_fs,
        exclude_user,
        exclude_exe,
        max_results,
        echo=vprint,
    )


def _display_key(key: str | None) -> str:
    if not key:
        return "UNKNOWN, UNKNOWN, UNKNOWN"
    key = key.replace("|", ", ")
    if len(key) > 40:
        key = key[:19] + "..." + key[-18:]
    return key


def print_top(categorized_data: dict[str, list[list[Any]]], max_show: int = 10) -> None:
    """Print the heaviest ``max_show`` rows of each category as text tables."""
    first = True
    for name, (title, _key, _group) in CATEGORIES.items():
        rows = sorted(
            categorized_data.get(name, []), key=lambda r: (r[0] or 0) + (r[1] or 0), reverse=True
        )
        if not rows:
            continue
        if not first:
            print()
        first = False
        print("%2s  %40s %10s %10s %8s" % ("#", title, "Read(GiB)", "Write(GiB)", "# Jobs"))
        print("=" * 75)
        for rank, row in enumerate(rows[:max_show], start=1):
            readbytes, writebytes, jobcount, key = row[0] or 0, row[1] or 0, row[2], row[3]
            print(
                "%2d. %40s %10.1f %10.1f %8d"
                % (
                    rank,
                    _display_key(key),
                    readbytes / BYTES_PER_GIB,
                    writebytes / BYTES_PER_GIB,
                    jobcount,
                )
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darshan_scoreboard",
        description="Rank the heaviest users, file systems and applications in Darshan index databases.",
    )
    parser.add_argument(
        "indexfile", nargs="+", type=str, help="SQLite file(s) made by index_darshanlogs"
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON (every row) instead of text tables"
    )
    parser.add_argument(
        "--max-show",
        type=nonnegative_int,
        default=10,
        help="rows shown per category in text mode (default 10)",
    )
    fs = parser.add_mutually_exclusive_group()
    fs.add_argument(
        "--limit-fs",
        type=str,
        default=None,
        help="only these file systems (mount point or name; comma list of LIKE patterns)",
    )
    fs.add_argument(
        "--exclude-fs",
        type=str,
        default=None,
        help="drop these file systems (comma list of LIKE patterns)",
    )
    user = parser.add_mutually_exclusive_group()
    user.add_argument(
        "--limit-user",
        type=str,
        default=None,
        help="only these users (comma list of LIKE patterns)",
    )
    user.add_argument("--exclude-user", type=str, default=None, help="drop these users")
    exe = parser.add_mutually_exclusive_group()
    exe.add_argument(
        "--limit-exe",
        type=str,
        default=None,
        help="only these executables (comma list of LIKE patterns)",
    )
    exe.add_argument("--exclude-exe", type=str, default=None, help="drop these executables")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="print the SQL queries")
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    global VERBOSITY
    args = build_parser().parse_args(argv)
    for path in args.indexfile:
        require_input(path)
    VERBOSITY = args.verbose
    with reading(" or ".join(args.indexfile), "index made by index_darshanlogs"):
        data = query_index_db(
            args.indexfile,
            limit_fs=args.limit_fs,
            limit_user=args.limit_user,
            limit_exe=args.limit_exe,
            exclude_fs=args.exclude_fs,
            exclude_user=args.exclude_user,
            exclude_exe=args.exclude_exe,
        )
    if args.json:
        print(json.dumps(data, indent=4, sort_keys=True))
    else:
        print_top(data, max_show=args.max_show)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
