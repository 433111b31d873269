"""Store GPFS mmperfmon counters as TOKIO Time Series (``archive_mmperfmon``, docs/cli.md#archive_mmperfmon).

Argument parsing and one call: the work is done by
:mod:`atokio.pipelines.archive_mmperfmon` (whose documented names are
re-exported here; its docstring describes the synopses, the mapping and the
decisions).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from collections.abc import Sequence

from atokio.cli import _archive
from atokio.cli._common import DATETIME_FMT, run_main, setup_logging
from atokio.pipelines.archive_mmperfmon import (
    METRIC_TO_DATASET,
    UNITS,
    Archiver,
    MmperfmonSource,
    aarchive_mmperfmon,
    archive_mmperfmon,
    commit_datasets,
    find_input_files,
    init_hdf5_file,
    load_inputs,
)

__all__ = [
    "METRIC_TO_DATASET",
    "UNITS",
    "Archiver",
    "MmperfmonSource",
    "aarchive_mmperfmon",
    "archive_mmperfmon",
    "build_parser",
    "commit_datasets",
    "find_input_files",
    "init_hdf5_file",
    "load_inputs",
    "main",
]


#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"


# -- command line ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#archive_mmperfmon, master and 0.13.0 forms)."""
    parser = argparse.ArgumentParser(
        prog="archive_mmperfmon",
        description="Store GPFS mmperfmon counters in a TOKIO Time Series HDF5 file. "
        "Give --filesystem FS and query_start query_end (inputs found through the "
        "mmperfmon_output_files configuration), or the input files themselves "
        "(positionally, or after --files).",
        epilog="Times are YYYY-MM-DDTHH:MM:SS in local time. mmperfmon time stamps mark the "
        "end of their interval, so a value stamped t is stored in the row starting at "
        "t - timestep.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="query_start query_end | FILE",
        help="query_start and query_end (with --filesystem or --files), or mmperfmon "
        "outputs, directories or .tar/.tgz bundles (0.13.0 form)",
    )
    parser.add_argument(
        "-o", "--output", type=str, default="output.hdf5", help="HDF5 file to create or update"
    )
    parser.add_argument(
        "--init-start",
        type=str,
        default=None,
        help="start of a new file's range (default: query_start, else from the data)",
    )
    parser.add_argument(
        "--init-end",
        type=str,
        default=None,
        help="end (exclusive) of a new file's range (default: query_end, else from the data)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="debug messages; also lists the input files"
    )
    parser.add_argument("--timestep", type=int, default=60, help="seconds per row (default 60)")
    parser.add_argument(
        "--num-luns", type=int, default=None, help="accepted; widths come from the LUNs seen"
    )
    parser.add_argument(
        "--num-servers", type=int, default=None, help="accepted; widths come from the servers seen"
    )
    parser.add_argument(
        "--files",
        nargs="*",
        default=None,
        metavar="FILE",
        help="input files instead of finding them through the configuration",
    )
    parser.add_argument(
        "--filesystem",
        type=str,
        default=None,
        help="key of mmperfmon_output_files whose templates locate the inputs",
    )
    return parser


def _time(parser: argparse.ArgumentParser, text: str, what: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        parser.error(f"{what} must be in YYYY-MM-DDTHH:MM:SS format, not {text!r}")


def _looks_like_time(text: str) -> bool:
    try:
        datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        return False
    return True


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(2 if args.debug else 0)
    if args.timestep < 1:
        parser.error(f"--timestep must be at least 1, not {args.timestep}")
    init_start = _time(parser, args.init_start, "--init-start") if args.init_start else None
    init_end = _time(parser, args.init_end, "--init-end") if args.init_end else None
    if init_start is not None and init_end is not None and init_start >= init_end:
        parser.error("--init-start must be before --init-end")

    query: tuple[datetime.datetime, datetime.datetime] | None = None
    if args.files and not args.inputs and len(args.files) >= 2:
        # --files swallowed the positionals: two trailing times are the query window
        if all(_looks_like_time(text) for text in args.files[-2:]):
            args.inputs, args.files = args.files[-2:], args.files[:-2]
    if args.files is not None or args.filesystem is not None:
        if args.inputs:
            if len(args.inputs) != 2:
                parser.error(
                    "give query_start and query_end (two times), or no positionals with --files"
                )
            query = (
                _time(parser, args.inputs[0], "query_start"),
                _time(parser, args.inputs[1], "query_end"),
            )
            if query[0] >= query[1]:
                parser.error("query_start must be before query_end")
        elif args.files is None:
            parser.error("the following arguments are required: query_start, query_end")
        if args.files is not None:
            input_files = list(args.files)
        else:
            assert query is not None
            input_files = find_input_files(args.filesystem, *query)
    else:
        if not args.inputs:
            parser.error("give --filesystem FS query_start query_end, or input files")
        if len(args.inputs) == 2 and all(_looks_like_time(text) for text in args.inputs):
            parser.error("--filesystem is required with query_start and query_end")
        if (init_start is None) != (init_end is None):
            parser.error("--init-start and --init-end must be given together with input files")
        input_files = list(args.inputs)

    if query is not None:
        init_start = init_start or query[0]
        init_end = init_end or query[1]
        if init_start >= init_end:
            parser.error("--init-start must be before --init-end")
    if args.debug:
        print("Input files:")
        for path in input_files:
            print(f"  {path}")
    if not input_files:
        raise RuntimeError("No input files match query range")
    for path in input_files:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")

    with _archive.progress_lines_on_stdout():
        archive_mmperfmon(
            init_start,
            init_end,
            args.timestep,
            args.num_luns,
            args.num_servers,
            args.output,
            input_files,
        )
    if args.debug:
        print(f"Wrote output to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
