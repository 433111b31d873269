"""Parse mmperfmon outputs and print them as JSON or CSV (``cache_mmperfmon``, docs/cli.md#cache_mmperfmon).

Interface for :meth:`atokio.connectors.mmperfmon.Mmperfmon.save_cache` and
:meth:`~atokio.connectors.mmperfmon.Mmperfmon.to_dataframe`.  The inputs (text
outputs, plain or ``.gz``; directories; ``.tar``/``.tgz`` bundles; JSON caches)
are merged in the order given.

* JSON (the default): ``{epoch: {host: {metric: value | {instance: value}}}}``
  with epoch keys as strings, compact, with no newline at the end, on stdout
  or in ``-o FILE``.
* ``-c/--csv`` with exactly one of ``--host`` (one column per metric,
  ``metric:instance`` for instance metrics) or ``--metric`` (one column per
  host or ``host:instance``): first column ``timestamp`` (local
  ``YYYY-MM-DD HH:MM:SS``), rows in load order; on stdout an empty line
  follows the table.

``-o FILE`` prints ``Caching to FILE`` first.  A missing input exits with
status 1; ``--csv`` without exactly one of ``--host``/``--metric`` is a usage
error (status 2).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    InputFailed,
    add_common_arguments,
    output_path,
    reading,
    run_main,
    setup_logging,
    write_csv,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_mmperfmon)."""
    parser = argparse.ArgumentParser(
        prog="cache_mmperfmon",
        description="Parse GPFS mmperfmon query outputs (text, .gz, directories, .tar/.tgz "
        "bundles or JSON caches) and print them as JSON, or as CSV for one host or one metric.",
    )
    parser.add_argument(
        "input", type=str, nargs="+", help="mmperfmon output(s), bundle(s) or JSON cache(s)"
    )
    parser.add_argument(
        "-j", "--json", action="store_true", default=True, help="JSON output (the default)"
    )
    parser.add_argument(
        "-c",
        "--csv",
        action="store_true",
        help="CSV output; needs exactly one of --host or --metric",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    parser.add_argument(
        "--host", type=str, default=None, help="with --csv: a table of every metric of this host"
    )
    parser.add_argument(
        "--metric",
        type=str,
        default=None,
        help="with --csv: a table of this metric on every host (and instance)",
    )
    add_common_arguments(parser)
    return parser


def require_dump(path: str) -> None:
    """A clear error for an input that does not exist or is an empty file."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such file or folder", path)
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise InputFailed(f"empty file: {path}: give an mmperfmon output, bundle or JSON cache")


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.csv and (args.host is None) == (args.metric is None):
        parser.error("--csv needs exactly one of --host or --metric")
    setup_logging()
    from atokio.connectors.mmperfmon import Mmperfmon

    mmpm = Mmperfmon()
    for path in args.input:
        require_dump(path)
        with reading(path, "mmperfmon output, bundle or JSON cache"):
            mmpm.load(path)

    if args.csv:
        frame = mmpm.to_dataframe(by_host=args.host, by_metric=args.metric)
        write_csv(frame, args.output, announce=True)
        return 0
    if args.output is not None:
        print(f"Caching to {args.output}")
    mmpm.save_cache(args.output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
