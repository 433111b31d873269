"""Archive collectd data from Elasticsearch as TOKIO Time Series (``archive_collectdes``, docs/cli.md#archive_collectdes).

Argument parsing and one call: the work is done by
:mod:`atokio.pipelines.archive_collectdes` (whose documented names are
re-exported here).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from atokio.cli import _archive
from atokio.cli._common import (
    add_es_options,
    es_connector,
    es_parser,
    parse_es_args,
    run_main,
    setup_logging,
)
from atokio.connectors.collectd_es import DEFAULT_INDEX, CollectdEs
from atokio.connectors.es import load_pages
from atokio.pipelines.archive_collectdes import (
    SOURCE,
    CollectdArchive,
    CollectdSource,
    aarchive_collectdes,
    afollow_collectdes,
    archive_collectdes,
    collect_records,
    dataset2metadataset_key,
    day_template,
    follow_collectdes,
    init_hdf5_file,
    iter_records,
    metadataset2dataset_key,
    normalize_cpu_datasets,
    pages_to_hdf5,
    process_page,
    reset_timeseries,
    resume_point,
    update_datasets,
    window_batches,
)

__all__ = [
    "SOURCE",
    "CollectdArchive",
    "CollectdSource",
    "aarchive_collectdes",
    "afollow_collectdes",
    "archive_collectdes",
    "build_parser",
    "collect_records",
    "connection",
    "dataset2metadataset_key",
    "day_template",
    "follow_collectdes",
    "init_hdf5_file",
    "iter_records",
    "main",
    "metadataset2dataset_key",
    "normalize_cpu_datasets",
    "pages_to_hdf5",
    "process_page",
    "reset_timeseries",
    "resume_point",
    "update_datasets",
    "window_batches",
]


#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"

# -- command line --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#archive_collectdes, plus ``--follow``); ``-h`` is ``--host``."""
    parser = es_parser(
        "archive_collectdes",
        "Dump collectd data of the burst-buffer nodes out of Elasticsearch "
        "(or a cached dump) into a TOKIO Time Series HDF5 file.  PYTOKIO_ES_USER and "
        "PYTOKIO_ES_PASSWORD give HTTP basic authentication.",
    )
    parser.add_argument(
        "query_start", nargs="?", type=str, help="start time of query (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument(
        "query_end", nargs="?", type=str, help="end time of query, exclusive (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument(
        "--init-start",
        type=str,
        default=None,
        help="first time stamp of a new file (default: query_start)",
    )
    parser.add_argument(
        "--init-end",
        type=str,
        default=None,
        help="end (exclusive) of a new file (default: query_end)",
    )
    parser.add_argument("--debug", action="store_true", help="print timing and insert counts")
    parser.add_argument(
        "--num-nodes",
        type=int,
        default=288,
        help="burst-buffer servers: columns of new dataservers/* (default: 288)",
    )
    parser.add_argument(
        "--ssds-per-node",
        type=int,
        default=4,
        help="SSDs per server: new datatargets/* get nodes x SSDs columns (default: 4)",
    )
    parser.add_argument(
        "--timestep", type=int, default=10, help="seconds per row of new datasets (default: 10)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=30,
        help="Elasticsearch request timeout in seconds (default: 30)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="worker processes converting pages (default: 1)"
    )
    parser.add_argument(
        "--input",
        type=str,
        default=None,
        help="read this cached dump (cache_collectdes JSON, .gz allowed) instead",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=str,
        default="output.hdf5",
        help="HDF5 file to create or update (default: output.hdf5)",
    )
    add_es_options(parser, DEFAULT_INDEX, "index pattern to search")
    _archive.add_follow_option(parser)
    return parser


def connection(args: argparse.Namespace) -> CollectdEs:
    """The CollectdEs of the command line (basic authentication from the environment)."""
    options: dict[str, Any] = {}
    user = os.environ.get("PYTOKIO_ES_USER", "")
    password = os.environ.get("PYTOKIO_ES_PASSWORD", "")
    if user and password:
        options["basic_auth"] = (user, password)
    return es_connector(CollectdEs, args, **options)


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parse_es_args(parser, argv)
    _archive.require_window(parser, args)
    setup_logging(2 if args.debug else 0)
    _archive.check_timestep(args.timestep)
    if args.threads < 1:
        raise ValueError(f"threads must be at least 1, not {args.threads}")
    query_start, query_end = _archive.query_window(args)

    if args.follow:
        if args.input is not None:
            raise ValueError("--follow queries Elasticsearch; it cannot be used with --input")
        return _archive.run_follow(
            follow_collectdes,
            connection(args),
            day_template(args.output),
            args.timestep,
            args.num_nodes,
            args.ssds_per_node,
            _archive.follow_options_of(query_start, query_end),
            threads=args.threads,
        )

    assert query_start is not None and query_end is not None
    init_start, init_end = _archive.init_window(
        args, query_start, query_end, "init_start >= init_end"
    )
    began = time.perf_counter()
    if args.input is not None:
        pages = load_pages(args.input)
        loaded = time.perf_counter()
        if args.debug:
            print(f"Loaded {len(pages)} pages in {loaded - began:.3f} s")
        archive = pages_to_hdf5(
            pages,
            args.output,
            init_start,
            init_end,
            query_start,
            query_end,
            args.timestep,
            args.num_nodes,
            args.ssds_per_node,
            threads=args.threads,
        )
    else:
        archive = archive_collectdes(
            connection(args),
            args.output,
            init_start,
            init_end,
            query_start,
            query_end,
            args.timestep,
            args.num_nodes,
            args.ssds_per_node,
            threads=args.threads,
        )
    if args.debug:
        for line in archive.report():
            print(line)
        print(f"Archived in {time.perf_counter() - began:.3f} s")
    print(f"Wrote output to {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
