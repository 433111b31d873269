"""Provide a CLI interface for ``NerscIsdct.to_dataframe()`` and ``NerscIsdct.save_cache()`` (``cache_isdct``).

Loads a NERSC dump of Intel SSD Data Center Tool outputs (a directory, ``.tar``,
``.tgz`` or a JSON cache of one) and prints it (docs/cli.md#cache_isdct):

* JSON (the default): ``{serial_number: {counter: value, ...}}``, compact both
  on stdout and in a file, with no newline at the end;
* CSV (``-c``): the first column ``serial_number``, then one column per
  counter (the union over devices, in first-seen order), as pandas writes it.

``-o FILE`` writes to FILE after printing ``Caching to FILE``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    output_path,
    reading,
    run_main,
    setup_logging,
    write_csv,
)

__all__ = ["main", "require_dumps"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cache_isdct",
        description="Load a NERSC Intel SSD Data Center Tool dump (directory, .tar, .tgz "
        "or JSON cache) and print it as JSON or CSV.",
    )
    parser.add_argument(
        "isdctfile", type=str, help="ISDCT dump: a directory, .tar, .tgz or JSON cache (.gz ok)"
    )
    parser.add_argument(
        "-j",
        "--json",
        action="store_true",
        default=True,
        help="output JSON (the default; kept for old command lines)",
    )
    parser.add_argument(
        "-c", "--csv", action="store_true", default=False, help="output CSV (wins over --json)"
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    add_common_arguments(parser)
    return parser


def require_dumps(*paths: str) -> None:
    """``FileNotFoundError`` unless every ISDCT dump of ``paths`` exists."""
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"Input file {path} does not exist")


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    require_dumps(args.isdctfile)
    from atokio.connectors.nersc_isdct import NerscIsdct

    with reading(args.isdctfile, "ISDCT dump"):
        isdct = NerscIsdct(args.isdctfile)
    if args.csv:
        write_csv(isdct.to_dataframe(), args.output, announce=True)
    else:
        if args.output is not None:
            print(f"Caching to {args.output}")
        isdct.save_cache(args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
