"""Summarise Lustre OST fullness or failover state at one moment (``cache_lfsstatus``, docs/cli.md#cache_lfsstatus).

``cache_lfsstatus (--fullness [FILE] | --failure [FILE]) [-o OUT] filesystem datetime``

``--fullness``/``--failure`` take an *optional* value: a following token that
does not start with ``-`` is taken as the file, so write the flag after the
positionals (or end it with ``--``) to use the files located through
``lfsstatus_fullness_files``/``lfsstatus_map_files``.  ``filesystem`` is the
logical name (mapped through ``fsname_to_backend_name``); ``datetime`` is
``YYYY-MM-DDTHH:MM:SS`` local time.  The summary is JSON: indented and sorted
on stdout, compact with ``-o`` (after the line ``Caching to OUT``).  Time
keys are epoch integers for every provider, and an explicit file bypasses the
``hdf5`` fullness provider (see :mod:`atokio.tools.lfsstatus`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    DATETIME_FMT,
    add_common_arguments,
    datetime_arg,
    output_path,
    parse_datetime,
    run_main,
    setup_logging,
    write_json,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cache_lfsstatus",
        description="Report a summary of Lustre OST fullness (lfs df) or of OSS/OST failover "
        "state (lctl dl -t) for one file system at one moment, as JSON.",
        epilog="The optional FILE of --fullness/--failure swallows the next argument unless it "
        "starts with '-': put the flag last, e.g. 'cache_lfsstatus scratch2 "
        "2017-03-20T12:00:00 --failure', to use the configured files.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--fullness",
        nargs="?",
        const="",
        default=None,
        type=str,
        metavar="FILE",
        help="summarise OST fullness; FILE is an lfs df collection file (default: found "
        "through lfsstatus_fullness_files)",
    )
    group.add_argument(
        "--failure",
        nargs="?",
        const="",
        default=None,
        type=str,
        metavar="FILE",
        help="summarise OSS failovers; FILE is an lctl dl -t collection file (default: found "
        "through lfsstatus_map_files)",
    )
    parser.add_argument("filesystem", type=str, help="logical file system name, e.g. scratch2")
    parser.add_argument(
        "datetime", type=datetime_arg, help=f"time of interest as {DATETIME_FMT.replace('%', '%%')}"
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    from atokio.tools import lfsstatus

    target = parse_datetime(args.datetime)
    if args.fullness is not None:
        result = lfsstatus.get_fullness(args.filesystem, target, cache_file=args.fullness or None)
    else:
        result = lfsstatus.get_failures(args.filesystem, target, cache_file=args.failure or None)
    write_json(result, args.output, announce=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
