"""Get a Slurm job's accounting records and print them as sacct text, JSON or CSV (``cache_slurm``, docs/cli.md#cache_slurm).

Provides the command-line interface to
:meth:`atokio.connectors.slurm.Slurm.to_dataframe` and
:meth:`atokio.connectors.slurm.Slurm.to_json`.  The one argument is a file
(a JSON cache or saved sacct text, plain or gzip) when such a file exists,
else a job id, for which ``sacct --jobs <id>
--format=jobidraw,start,end,nodelist --parsable2`` is run.

Output formats (the last one given wins in this order: ``-c`` over ``-j``
over ``-n``, which is always on):

* native: ``jobidraw|start|end|nodelist`` then one line per job or step,
  times ``YYYY-MM-DDTHH:MM:SS``, node lists compacted (``nid[05301-05428]``);
  no newline at the end of a file;
* JSON: ``{jobidraw: {"jobidraw", "start", "end", "nodelist": [...]}}``,
  indented and sorted on stdout, compact in a file;
* CSV: pandas' default layout, an index column then
  ``jobidraw,start,end,nodelist`` with times ``YYYY-MM-DD HH:MM:SS``.

With ``-o FILE`` the line ``Caching to FILE`` is printed first.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    InputFailed,
    add_common_arguments,
    output_path,
    reading,
    run_main,
    setup_logging,
    text_output,
    write_csv,
)

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (docs/cli.md#cache_slurm)."""
    parser = argparse.ArgumentParser(
        prog="cache_slurm",
        description="Get a Slurm job's accounting records (job id, start, end and node "
        "list of every step) from sacct, or reload a saved copy, and print them as "
        "sacct-style text, JSON or CSV.",
    )
    parser.add_argument(
        "slurm_jobid",
        type=str,
        help="Slurm job id to look up with sacct, or the path of a cache file "
        "(JSON or saved sacct text) to load instead",
    )
    parser.add_argument(
        "-n",
        "--native",
        action="store_true",
        default=True,
        help="pipe-delimited text like sacct's (the default; -j and -c take precedence)",
    )
    parser.add_argument(
        "-j", "--json", action="store_true", help="JSON output (takes precedence over --native)"
    )
    parser.add_argument(
        "-c",
        "--csv",
        action="store_true",
        help="CSV output (takes precedence over --json and --native)",
    )
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )
    add_common_arguments(parser)
    return parser


#: What a Slurm job id looks like (``1234``, ``1234_5``, ``1234.batch``, ``1234_[1-3]``).
_JOBID = re.compile(r"[0-9][0-9A-Za-z_.\[\],+-]*")


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(0)
    from atokio.connectors.slurm import Slurm

    if os.path.isfile(args.slurm_jobid):
        with reading(args.slurm_jobid, "Slurm cache (JSON or sacct text)"):
            slurm = Slurm(cache_file=args.slurm_jobid)
        if not slurm:
            raise InputFailed(
                f"no job records in {args.slurm_jobid}: give a cache written by cache_slurm"
            )
    elif not _JOBID.fullmatch(args.slurm_jobid):
        raise FileNotFoundError(
            errno.ENOENT, "no such cache file (and not a job id)", args.slurm_jobid
        )
    else:
        slurm = Slurm(args.slurm_jobid)

    if args.csv:
        write_csv(slurm.to_dataframe(), args.output, announce=True)
        return 0
    if args.json:
        if args.output is None:
            print(slurm.to_json(indent=4, sort_keys=True))
        else:
            print(f"Caching to {args.output}")
            with text_output(args.output) as output:
                output.write(slurm.to_json())
        return 0
    if args.output is None:
        print(str(slurm))
    else:
        print(f"Caching to {args.output}")
        with text_output(args.output) as output:
            output.write(str(slurm))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
