"""Command-line interface into the nersc_globuslogs connector (``cache_nersc_globuslogs``, docs/cli.md#cache_nersc_globuslogs).

Dumps the NERSC Globus transfer records that overlap
``[query_start, query_end)`` (a transfer that starts before the end and ends
at or after the start) out of Elasticsearch, as a JSON list of pages (each
page the list of its hits, ``_source`` limited to the 22 Globus fields) or,
with ``-c``, as CSV (the unnamed index, then the 22 fields).  ``--user`` and
``--type`` keep only one user's transfers or one transfer type (upper-cased,
so ``--type stor`` selects ``STOR``).  ``--input`` replays a dump made
earlier instead of querying: every cached page, whatever the time window,
user or type.

Output: JSON on stdout is indented by 4, keys in document order, with a
newline at the end; with ``-o FILE`` the tool first prints ``Caching to
FILE`` and writes compact JSON (or CSV).  Pages are written one at a time as
they arrive.

Choices (docs/cli.md#conventions): ``-h`` is the host and ``-i`` the index, as in
pytokio; a long-only ``--help`` prints the help, and ``--h`` still
abbreviates ``--host``.  ``--user`` and ``--type`` may be given together
(both conditions apply); with ``--input`` they are ignored, with a warning.
``--debug`` logs progress on stderr.  A ``-o`` name ending in ``.gz`` is
written gzip-compressed.  The output file is written under a temporary name
and renamed when complete, so a failed run leaves no truncated file.
``query_start`` must be before ``query_end``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from atokio.cli._common import (
    add_common_arguments,
    add_dump_arguments,
    add_es_options,
    announce_output,
    es_connector,
    es_parser,
    parse_datetime,
    parse_es_args,
    reading,
    require_input,
    run_main,
    setup_logging,
    text_output,
)
from atokio.connectors.es import PageWriter
from atokio.connectors.nersc_globuslogs import (
    DEFAULT_INDEX,
    NerscGlobusLogs,
    globus_query,
)
from atokio.pipelines.es_dumps import cached_pages, dump_globus

__all__ = ["build_parser", "main"]

logger = logging.getLogger("atokio.cli.cache_nersc_globuslogs")

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_nersc_globuslogs); ``-h`` is ``--host``."""
    parser = es_parser(
        "cache_nersc_globuslogs",
        "Dump the NERSC Globus transfer records that overlap "
        "[query_start, query_end) out of Elasticsearch as a JSON list of pages "
        "(or CSV with -c), or replay an earlier dump (--input).",
        epilog="-h is --host (as in pytokio); use --help for this text.",
    )
    add_dump_arguments(
        parser, "replay this dump (JSON list of pages, .gz allowed) instead of querying"
    )
    add_es_options(parser, DEFAULT_INDEX)
    parser.add_argument("-c", "--csv", action="store_true", help="write CSV instead of JSON")
    parser.add_argument(
        "--user", type=str, default=None, help="only the transfers of this user (exact match)"
    )
    parser.add_argument(
        "--type",
        type=str,
        default=None,
        help="only this transfer type (STOR, RETR, NLST, ...; upper-cased)",
    )
    add_common_arguments(parser)
    return parser


def _must(args: argparse.Namespace) -> list[dict[str, Any]]:
    must: list[dict[str, Any]] = []
    if args.user is not None:
        must.append({"term": {"USER": args.user}})
    if args.type is not None:
        must.append({"term": {"TYPE": args.type.upper()}})
    return must


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parse_es_args(parser, argv)
    setup_logging(2 if args.debug else 0)
    start = parse_datetime(args.query_start)
    end = parse_datetime(args.query_end)
    if start >= end:
        parser.error("query_start must be earlier than query_end")
    must = _must(args)
    if args.input is not None and must:
        logger.warning("--user and --type are ignored with --input: every cached page is replayed")

    if args.input is not None:
        require_input(args.input)
    if args.output is not None:
        announce_output(args.output)

    if args.csv:
        if args.input is not None:
            require_input(args.input)
            with reading(args.input, "dump (JSON list of pages)"):
                es = NerscGlobusLogs.from_cache(args.input)
        else:
            es = es_connector(NerscGlobusLogs, args)
        es.query(start, end, must=must or None)
        frame = es.to_dataframe()
        if args.output is None:
            print(frame.to_csv())
        else:
            with text_output(args.output) as output:
                frame.to_csv(output)
        return 0

    with text_output(args.output) as output:
        writer = PageWriter(output, 4 if args.output is None else None)
        if args.input is not None:
            with reading(args.input, "dump (JSON list of pages)"):
                for page in cached_pages(args.input):
                    writer.write(page)
        else:
            es = es_connector(NerscGlobusLogs, args)
            dump_globus(es, globus_query(start, end, must or None), writer.write)
        writer.close()
        if args.output is None:
            output.write("\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
