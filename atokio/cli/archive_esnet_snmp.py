"""Retrieve ESnet SNMP counters and store them in TOKIO Time Series format (``archive_esnet_snmp``, docs/cli.md#archive_esnet_snmp).

Argument parsing and one call: the work is done by
:mod:`atokio.pipelines.archive_esnet_snmp` (whose documented names are
re-exported here).  ``--scheduler`` archives the window one day file per Dask
task (docs/scaleout.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from atokio import config
from atokio.cli import _archive
from atokio.cli._common import run_main, setup_logging
from atokio.cli.cache_esnet_snmp import (
    add_endpoints_argument,
    add_request_options,
    parse_interfaces,
    request_retry,
)
from atokio.pipelines.archive import SourceSpec
from atokio.pipelines.archive_esnet_snmp import (
    CONFIG,
    Archiver,
    DatasetConfig,
    EsnetSnmpSource,
    IncompleteArchiveError,
    aarchive_esnet_snmp,
    afollow_esnet_snmp,
    archive_esnet_snmp,
    commit_datasets,
    day_template,
    endpoint_name,
    follow_esnet_snmp,
    init_hdf5_file,
    resume_point,
    write_file,
)

__all__ = [
    "CONFIG",
    "Archiver",
    "DatasetConfig",
    "EsnetSnmpSource",
    "IncompleteArchiveError",
    "aarchive_esnet_snmp",
    "afollow_esnet_snmp",
    "archive_esnet_snmp",
    "build_parser",
    "commit_datasets",
    "endpoint_name",
    "follow_esnet_snmp",
    "init_hdf5_file",
    "main",
    "resume_point",
    "write_file",
]


#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#archive_esnet_snmp, plus ``--retries`` and ``--follow``)."""
    parser = argparse.ArgumentParser(
        prog="archive_esnet_snmp",
        description="Retrieve ESnet SNMP interface data rates and store them in a TOKIO Time "
        "Series file: 'in' (into ESnet) as datatargets/readrates, 'out' as "
        "datatargets/writerates, bytes/sec, a column per <endpoint>:<interface>.",
        epilog="Exit status: 0 on success, 2 for a usage error, 1 for any other failure. "
        "When some requests fail after their retries, the data of the others is still "
        "written and the failures are reported on stderr (exit status 1).",
    )
    parser.add_argument(
        "query_start",
        nargs="?",
        type=str,
        help="start time of the query, inclusive (YYYY-MM-DDTHH:MM:SS)",
    )
    parser.add_argument(
        "query_end",
        nargs="?",
        type=str,
        help="end time of the query (YYYY-MM-DDTHH:MM:SS); rows stop before it",
    )
    add_endpoints_argument(parser)
    parser.add_argument(
        "-i",
        "--input",
        type=str,
        default=None,
        help="read this JSON cache (written by cache_esnet_snmp) instead of the REST API",
    )
    _archive.add_file_options(parser)
    parser.add_argument("--timestep", type=int, default=30, help="seconds per row (default: 30)")
    add_request_options(parser)
    _archive.add_follow_option(
        parser,
        "keep archiving every timestep into day files until SIGTERM (-o is then a "
        "strftime template; query_start/query_end, optional, say where to start and stop; "
        "reads the REST API, so not with --input)",
    )
    _archive.add_scheduler_option(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _archive.require_window(parser, args)
    scheduler = _archive.scheduler_of(parser, args)
    retry = request_retry(parser, args)
    setup_logging(2 if args.debug else 0)
    query_start, query_end = _archive.query_window(args)
    interfaces = parse_interfaces(args.endpoints)
    if interfaces is None:
        return 1

    if args.follow:
        if args.input is not None:
            parser.error("--follow reads the REST API; it cannot be used with --input")
        return _archive.run_follow(
            follow_esnet_snmp,
            interfaces,
            day_template(args.output),
            args.timestep,
            _archive.follow_options_of(query_start, query_end),
            timeout=args.timeout,
            retry=retry,
        )

    assert query_start is not None and query_end is not None
    if scheduler is not None:
        spec = SourceSpec(
            EsnetSnmpSource,
            {
                "interfaces": interfaces,
                "timestep": args.timestep,
                "input_file": os.path.abspath(args.input) if args.input else None,
                "timeout": args.timeout,
                "retry": retry,
                "url": config.CONFIG.get("esnet_snmp_url"),  # this process's configuration
            },
        )
        return _archive.run_backfill(spec, args.output, query_start, query_end, scheduler)
    init_start, init_end = _archive.init_window(args, query_start, query_end)
    with _archive.progress_lines_on_stdout():
        archive_esnet_snmp(
            init_start,
            init_end,
            interfaces,
            args.timestep,
            args.output,
            query_start,
            query_end,
            input_file=args.input,
            timeout=args.timeout,
            retry=retry,
        )
    if args.debug:
        print(f"Wrote output to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
