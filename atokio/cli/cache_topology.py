"""Provides CLI interface for :func:`atokio.tools.topology.get_job_diameter` (``cache_topology``).

Prints how spread out a Cray XC job's nodes are on the 3-D network as
``{"job_min_radius": ..., "job_max_radius": ..., "job_avg_radius": ...}``
(docs/cli.md#cache_topology): indented and sorted on stdout, compact in a file
(``-o``, after the line ``Caching to FILE``).  Exactly one of ``jobid`` and
``--jobinfo-cache`` must be given (a usage error otherwise).  With
``--jobinfo-cache`` alone, the job is the one the Slurm cache describes (all of
its records when it holds several jobs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    output_path,
    require_input,
    run_main,
    setup_logging,
    write_json,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cache_topology",
        description="Measure how spread out a Cray XC job's nodes are on the 3-D network: "
        "the minimum, maximum and mean distance of its nodes from their centre of mass.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--jobinfo-cache",
        type=str,
        default=None,
        help="Slurm cache (as written by cache_slurm) giving the job's nodes; sacct is not run",
    )
    which.add_argument(
        "jobid",
        nargs="?",
        default=None,
        type=str,
        help="job id whose nodes are looked up with sacct (or give --jobinfo-cache)",
    )
    parser.add_argument(
        "--nodemap-cache",
        type=str,
        default=None,
        help="saved 'xtdb2proc -f -' output (optionally .gz) giving node positions; "
        "without it xtdb2proc is run",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    from atokio.tools.topology import get_job_diameter

    for path in (args.jobinfo_cache, args.nodemap_cache):
        if path is not None:
            require_input(path)
    jobid = args.jobid
    if jobid is None:
        from atokio.connectors.slurm import Slurm

        jobid = Slurm(cache_file=args.jobinfo_cache).jobid or ""
    diameter = get_job_diameter(
        jobid,
        nodemap_cache_file=args.nodemap_cache,
        jobinfo_cache_file=args.jobinfo_cache,
    )
    write_json(diameter, args.output, announce=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
