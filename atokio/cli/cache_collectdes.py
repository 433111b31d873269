"""Dump collectd documents out of Elasticsearch (``cache_collectdes``, docs/cli.md#cache_collectdes).

Uses :class:`atokio.connectors.collectd_es.CollectdEs` and native scrolling
to dump the collectd documents of the burst-buffer nodes in
``[query_start, query_end)`` as a JSON list of pages (each page the list of
its hits, ``_source`` limited to the 20 collectd fields) or, with ``-c``,
as CSV (one row per hit, the 20 fields as columns).  ``--input`` re-emits a
dump made earlier instead of querying (every cached page, whatever the time
window).

Choices (docs/cli.md#conventions): the pages of all three queries are written, in the
order cpu, disk, memory (pytokio kept only the memory pages); JSON is
streamed page by page as it arrives; ``--debug`` logs progress on stderr; a
``-o`` name ending in ``.gz`` is written gzip-compressed.  ``-h`` is the
host, as in pytokio; ``--help`` (long form only) prints the help.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Sequence

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
from atokio.connectors.collectd_es import DEFAULT_INDEX, CollectdEs
from atokio.connectors.es import PageWriter
from atokio.pipelines.es_dumps import cached_pages, dump_collectd

__all__ = ["build_parser", "main"]

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_collectdes); ``-h`` is ``--host``."""
    parser = es_parser(
        "cache_collectdes",
        "Dump collectd documents of the burst-buffer nodes out of Elasticsearch "
        "as a JSON list of pages (or CSV), or re-emit an earlier dump (--input).",
    )
    add_dump_arguments(parser, "re-emit this dump (JSON, .gz allowed) instead")
    add_es_options(parser, DEFAULT_INDEX)
    parser.add_argument("-c", "--csv", action="store_true", help="write CSV instead of JSON")
    add_common_arguments(parser)
    return parser


@contextlib.contextmanager
def _page_writer(path: str | None) -> Iterator[PageWriter]:
    """A writer of a JSON list of pages into ``path`` (compact) or stdout (indented)."""
    with text_output(path) as output:
        writer = PageWriter(output, 4 if path is None else None)
        yield writer
        writer.close()
        if path is None:
            output.write("\n")


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parse_es_args(parser, argv)
    setup_logging(2 if args.debug else 0)
    start = parse_datetime(args.query_start)
    end = parse_datetime(args.query_end)
    if start >= end:
        parser.error("query_start must be earlier than query_end")

    if args.input is not None:
        require_input(args.input)
    if args.output is not None:
        announce_output(args.output)

    if args.input is not None:
        es = CollectdEs(host=None, port=None, index=args.index)
        with reading(args.input, "dump (JSON list of pages)"):
            pages = list(cached_pages(args.input))
        if not args.csv:
            with _page_writer(args.output) as writer:
                for page in pages:
                    writer.write(page)
            return 0
        es.scroll_pages = pages
    else:
        es = es_connector(CollectdEs, args)
        if not args.csv:
            with _page_writer(args.output) as writer:
                dump_collectd(es, start, end, writer.write)
            return 0
        dump_collectd(es, start, end, es.scroll_pages.append)

    frame = es.to_dataframe()
    if args.output is None:
        print(frame.to_csv())
    else:
        with text_output(args.output) as output:
            frame.to_csv(output)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
