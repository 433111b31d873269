"""Retrieve ESnet SNMP interface rates, or reload a saved copy, as JSON or CSV (``cache_esnet_snmp``, docs/cli.md#cache_esnet_snmp).

A CLI interface for :meth:`atokio.connectors.esnet_snmp.EsnetSnmp.to_dataframe`
and :meth:`~atokio.connectors.common.CacheableDict.save_cache`.

``endpoints`` is a site name of ``esnet_snmp_interfaces`` (e.g. ``nersc``) or
``endpoint:interface[,endpoint:interface...]``.  Live mode asks the REST
service (``esnet_snmp_url``) for every interface, ``in`` and ``out``, over
``[--start, --end]`` (both inclusive, as the service counts them) with the
``average`` aggregation, all requests at once; a request that fails after
its retries is reported on stderr, the data of the others is still written
(never over an existing ``-o`` file), and the exit status is then 1.  The
work is done by :func:`atokio.pipelines.esnet_snmp_cache.cache_esnet_snmp`.  With ``-i`` the cache file is re-emitted
whole (the endpoint argument is checked but does not filter it).

Output: JSON (the default) — to stdout indented by 4 with sorted keys, to
``-o`` compact in insertion order — or CSV with ``-c`` (columns
``endpoint, interface, direction, timestamp, data_rate``, local time stamps).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from collections.abc import Sequence
from typing import Any

from atokio import config
from atokio.cli._common import (
    add_common_arguments,
    datetime_arg,
    keep_existing,
    nonnegative_int,
    output_path,
    parse_datetime,
    partial_failure,
    positive_float,
    reading,
    require_input,
    run_main,
    setup_logging,
    write_csv,
    write_json,
)
from atokio.connectors.esnet_snmp import parse_endpoints
from atokio.pipelines.esnet_snmp_cache import cache_esnet_snmp, retry_policy

__all__ = [
    "add_endpoints_argument",
    "add_request_options",
    "build_parser",
    "main",
    "parse_interfaces",
    "request_retry",
]

logger = logging.getLogger(__name__)

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_esnet_snmp, plus ``--retries``)."""
    parser = argparse.ArgumentParser(
        prog="cache_esnet_snmp",
        description="Retrieve ESnet SNMP interface data rates (bytes/sec) for a time window, "
        "or reload a saved copy, and print them as JSON or CSV.",
        epilog="Exit status: 0 on success, 2 for a usage error, 1 for any other failure "
        "(including a request that failed after its retries: the data of the other "
        "requests is still written).",
    )
    add_endpoints_argument(parser)
    parser.add_argument(
        "-s",
        "--start",
        type=datetime_arg,
        default=None,
        help="start of the window, inclusive (YYYY-MM-DDTHH:MM:SS; default: an hour ago)",
    )
    parser.add_argument(
        "-e",
        "--end",
        type=datetime_arg,
        default=None,
        help="end of the window, inclusive (YYYY-MM-DDTHH:MM:SS; default: start + 1 hour; "
        "needs --start)",
    )
    parser.add_argument(
        "-j",
        "--json",
        action="store_true",
        default=True,
        help="JSON output (the default; kept so that old command lines still parse)",
    )
    parser.add_argument(
        "-c", "--csv", action="store_true", default=False, help="CSV output (wins over --json)"
    )
    add_request_options(parser)
    parser.add_argument(
        "-i",
        "--input",
        type=str,
        default=None,
        help="reload this JSON cache (as written by this tool) instead of calling the REST API",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    add_common_arguments(parser)
    return parser


def add_endpoints_argument(parser: argparse.ArgumentParser) -> None:
    """The ``endpoints`` positional (see :func:`parse_interfaces`)."""
    parser.add_argument(
        "endpoints",
        type=str,
        help="a site name from esnet_snmp_interfaces (e.g. nersc), or "
        "endpoint:interface[,endpoint:interface...]",
    )


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """``--timeout`` and ``--retries`` of the requests to the ESnet REST service."""
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        help="HTTP timeout in seconds for each connect, read or write (default: 30.0)",
    )
    parser.add_argument(
        "--retries",
        type=nonnegative_int,
        default=3,
        help="tries after the first for a request that gets a 5xx answer, a dropped "
        "connection or a timeout (default: 3)",
    )


def request_retry(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The retry policy of ``--retries`` (a usage error when it is negative)."""
    if args.retries < 0:
        parser.error("--retries must be 0 or more")
    return retry_policy(args.retries)


def parse_interfaces(endpoints: str) -> list[tuple[str, str]] | None:
    """The interfaces of the ``endpoints`` argument; ``None`` (the error on stderr) when invalid."""
    try:
        return parse_endpoints(endpoints)
    except ValueError as error:
        print(error, file=sys.stderr)
        return None


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.end is not None and args.start is None:
        parser.error("--start must be specified with --end")
    retry = request_retry(parser, args)
    setup_logging()

    start = (
        parse_datetime(args.start)
        if args.start is not None
        else datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(hours=1)
    )
    end = parse_datetime(args.end) if args.end is not None else start + datetime.timedelta(hours=1)
    if start >= end:
        parser.error(f"--start ({start}) must be earlier than --end ({end})")

    try:
        interfaces = parse_endpoints(args.endpoints)
    except ValueError:
        sites = ", ".join(config.CONFIG.get("esnet_snmp_interfaces") or {}) or "none configured"
        parser.error(
            f"invalid endpoints {args.endpoints!r}: give a site name of esnet_snmp_interfaces "
            f"({sites}) or endpoint:interface[,endpoint:interface...]"
        )
    if args.input is not None:
        require_input(args.input)
    with reading(args.input or "the ESnet answers", "ESnet SNMP JSON cache"):
        esnetsnmp = cache_esnet_snmp(
            interfaces,
            start,
            end,
            timeout=args.timeout,
            retries=retry.retries,
            input_file=args.input,
        )
    failed = len(esnetsnmp.failures) if args.input is None else 0
    keep = keep_existing(failed, args.output)
    if not keep:
        if args.csv:
            write_csv(esnetsnmp.to_dataframe(), args.output, announce=True)
        else:
            write_json(esnetsnmp, args.output, announce=True)
    partial_failure(
        failed,
        2 * len(interfaces),
        "requests",
        args.output if keep else None,
        "see the warnings above; try again later or raise --timeout/--retries",
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
