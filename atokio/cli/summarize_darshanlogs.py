"""Bytes read and written per log and per file system (``summarize_darshanlogs``).

The command of the published Quick Start: for each Darshan log given, the
bytes read and written on each mount point, summed over the POSIX and STDIO
records there (the rules of :mod:`atokio.tools.darshan_summary`, as in
``index_darshanlogs``), printed as JSON::

    {"/path/to/log.darshan": {"/global/project": {"read_bytes": 0, "write_bytes": 206144000000}}}

Logs that cannot be read are reported on stderr and left out.  ``-t`` reads
logs on several worker processes (0 = all cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from atokio.cli._common import run_main, setup_logging

__all__ = ["main", "summarize_darshanlogs"]

logger = logging.getLogger(__name__)


def summarize_darshanlogs(
    log_list: Sequence[str], threads: int = 1, reader: str = "auto"
) -> dict[str, dict[str, dict[str, int]]]:
    """``{log: {mount point: {"read_bytes": n, "write_bytes": n}}}`` for the readable logs."""
    from atokio import config
    from atokio.cli.index_darshanlogs import _choose_reader, _summarize_batch
    from atokio.collectors.sync import run_sync
    from atokio.collectors.workers import default_workers, map_in_workers

    workers = default_workers() if threads == 0 else max(1, threads)
    chosen = _choose_reader(reader)
    mapping = config.CONFIG.get("mount_to_fsname")
    outcomes: dict[str, Any] = {}

    async def run() -> None:
        calls = [([log], chosen, mapping) for log in log_list]
        async with map_in_workers(
            _summarize_batch, calls, workers=workers, isolate=True
        ) as results:
            async for call, outcome in results:
                if isinstance(outcome, BaseException):
                    outcomes[call[0][0]] = f"{type(outcome).__name__}: {outcome}"
                else:
                    outcomes.update(dict(outcome))

    run_sync(run)
    report: dict[str, dict[str, dict[str, int]]] = {}
    for log in log_list:
        outcome = outcomes.get(log)
        if not isinstance(outcome, dict):
            logger.warning("skipped: %s", outcome)
            continue
        report[log] = {
            mount: {"read_bytes": row["bytes_read"], "write_bytes": row["bytes_written"]}
            for mount, row in outcome["summaries"].items()
        }
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="summarize_darshanlogs",
        description="Print the bytes read and written per Darshan log and file system, as JSON.",
    )
    parser.add_argument("darshanlogs", nargs="+", type=str, help="Darshan logs")
    parser.add_argument(
        "-t", "--threads", type=int, default=1, help="worker processes (0 = all cores)"
    )
    parser.add_argument(
        "--reader",
        choices=("auto", "direct", "darshan-parser"),
        default="auto",
        help="how to read the logs",
    )
    parser.add_argument(
        "-o", "--output", type=str, default=None, help="output file (default: stdout)"
    )
    return parser


def _body(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    report = summarize_darshanlogs(args.darshanlogs, threads=args.threads, reader=args.reader)
    if args.output:
        with open(args.output, "w") as out:
            json.dump(report, out, indent=4, sort_keys=True)
    else:
        print(json.dumps(report, indent=4, sort_keys=True))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
