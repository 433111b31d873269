"""Compare two NERSC ISDCT dumps and report (``compare_isdct``, docs/cli.md#compare_isdct).

What it reports:

* the devices that appeared or were removed;
* the numeric counters whose values changed;
* the string counters whose contents changed.

Inputs are two dumps of the same SSD fleet, older first; each may be anything
``cache_isdct`` reads (directory, tar, tgz or JSON cache).  Output on stdout:

* default: the per-device changes reduced over all devices present in both
  dumps (:func:`reduce_diff`), as JSON (indent 4, sorted keys);
* ``-a``: the raw :meth:`NerscIsdct.diff` output as JSON;
* ``-s``: a human-readable report (:func:`print_summary`);
* ``-g``: counters ending in ``_bytes`` are renamed ``_gibs`` and scaled by
  2**-30 first; ``-z``: unchanged counters are kept in the diff.

The work is done by :mod:`atokio.pipelines.isdct` (which also says which two
behaviours of the reference are corrected); this module parses the options
and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from atokio.cli._common import add_common_arguments, reading, run_main, setup_logging, write_json
from atokio.pipelines.isdct import (
    ERROR_COUNTERS,
    _convert_counters,
    compare_isdct,
    convert_byte_keys,
    discover_errors,
    errors_lines,
    reduce_diff,
    reduced_lines,
    summary_text,
)

__all__ = [
    "ERROR_COUNTERS",
    "_convert_counters",
    "convert_byte_keys",
    "discover_errors",
    "main",
    "print_summary",
    "reduce_diff",
    "summarize_errors",
    "summarize_reduced_diffs",
]


def summarize_errors(diff_dict: Mapping[str, Any], isdct_data: Mapping[str, Any]) -> None:
    """Print the SSDs whose error counters changed (:func:`~atokio.pipelines.isdct.errors_lines`)."""
    lines = errors_lines(diff_dict, isdct_data)
    if lines:
        print("\n".join(lines))


def summarize_reduced_diffs(reduced_diffs: Mapping[str, Any]) -> None:
    """Print the workload figures of a reduced diff (:func:`~atokio.pipelines.isdct.reduced_lines`)."""
    lines = reduced_lines(reduced_diffs)
    if lines:
        print("\n".join(lines))


def print_summary(
    old_isdctfile: Mapping[str, Any], new_isdctfile: Mapping[str, Any], diff_dict: Mapping[str, Any]
) -> None:
    """Print a human-readable summary of ``diff_dict`` (:func:`~atokio.pipelines.isdct.summary_text`)."""
    print(summary_text(old_isdctfile, new_isdctfile, diff_dict))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compare_isdct",
        description="Compare two ISDCT dumps of the same SSD fleet (older first) and report "
        "devices added or removed, counter changes, and counters suggesting failing hardware.",
    )
    parser.add_argument(
        "old_isdctfile", type=str, help="older dump: directory, .tar, .tgz or JSON cache"
    )
    parser.add_argument(
        "new_isdctfile", type=str, help="newer dump: directory, .tar, .tgz or JSON cache"
    )
    parser.add_argument(
        "-a",
        "--all",
        action="store_true",
        help="print the full per-device diff instead of the fleet-wide reduction",
    )
    parser.add_argument(
        "-g",
        "--gibs",
        action="store_true",
        help="rename counters ending in _bytes to _gibs and convert them to GiB",
    )
    parser.add_argument(
        "-s",
        "--summary",
        action="store_true",
        help="print a human-readable report (wins over --all)",
    )
    parser.add_argument(
        "-z",
        "--report-zeros",
        action="store_true",
        help="also list counters that did not change",
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    with reading(f"{args.old_isdctfile} or {args.new_isdctfile}", "ISDCT dump"):
        compared = compare_isdct(
            args.old_isdctfile, args.new_isdctfile, report_zeros=args.report_zeros, gibs=args.gibs
        )
    if args.summary:
        print_summary(compared.old, compared.new, compared.diff)
    elif args.all:
        write_json(compared.diff)
    else:
        write_json(reduce_diff(compared.diff))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
