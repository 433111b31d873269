"""Parse one Darshan log and print it as JSON (``cache_darshan``, docs/cli.md#cache_darshan).

The passes run in the order total, perf, base (those asked for; base alone when
none is), and merge into one object with the keys ``header``, ``mounts`` and
``counters`` (:func:`atokio.pipelines.darshan_logs.cache_darshan`).  A log
that cannot be read is an error (status 1, an existing ``-o`` file is left
as it was); with ``--silent-errors`` it gives ``{}`` and status 0, as
pytokio did.  ``--reader`` (atokio) chooses
``darshan-parser`` or the direct reader, under the policy of
:mod:`atokio.connectors.darshan`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    output_path,
    run_main,
    setup_logging,
    write_json,
)
from atokio.connectors.darshan import READER_POLICY, READERS
from atokio.pipelines.darshan_logs import cache_darshan

__all__ = ["main"]


def build_parser(prog: str = "cache_darshan") -> argparse.ArgumentParser:
    """The command line of ``cache_darshan`` (``prog`` names it in usage and errors)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Parse a Darshan log (darshan-parser --base/--total/--perf) and print it as JSON.",
    )
    parser.add_argument("logfile", metavar="DARSHAN_LOG", type=str, help="Darshan log to process")
    parser.add_argument(
        "--base", action="store_true", help="include per-record counters (the default)"
    )
    parser.add_argument("--total", action="store_true", help="include per-module totals")
    parser.add_argument(
        "--perf", action="store_true", help="include per-module performance estimates"
    )
    parser.add_argument(
        "--modules",
        type=str,
        default=None,
        help="only these modules (comma list, e.g. posix,lustre); base pass only",
    )
    parser.add_argument(
        "--counters",
        type=str,
        default=None,
        help="only these counters (comma list, e.g. BYTES_READ); base pass only",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    parser.add_argument(
        "--reader",
        choices=READERS,
        default="auto",
        help=f"how to read the log: {READER_POLICY}",
    )
    add_common_arguments(parser, silent_errors=True)
    return parser


def _body(argv: Sequence[str] | None, prog: str = "cache_darshan") -> int:
    args = build_parser(prog).parse_args(argv)
    setup_logging()

    modes = [mode for mode in ("total", "perf") if getattr(args, mode)]
    if args.base or not modes:
        modes.append("base")
    log = cache_darshan(
        args.logfile,
        modes,
        modules=args.modules.split(",") if args.modules else None,
        counters=args.counters.split(",") if args.counters else None,
        reader=args.reader,
        silent_errors=args.silent_errors,
    )
    write_json(dict(log), args.output, announce=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
