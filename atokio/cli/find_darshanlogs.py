"""List (or parse) the Darshan logs of a date range, user or job (``find_darshanlogs``, docs/cli.md#find_darshanlogs).

Days are searched under ``<base>/<year>/<month>/<day>/`` (no zero padding),
``<base>`` being ``--logdir`` or the config key ``darshan_log_dirs`` (``--host``
picks one entry when that key is a dict).  Prints one path per line, or with
``--load base,total,perf`` a JSON object ``{path: parsed log}``.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Sequence

from atokio.cli._common import (
    add_common_arguments,
    date_arg,
    parse_date,
    run_main,
    setup_logging,
    write_json,
)

__all__ = ["main"]

logger = logging.getLogger(__name__)

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%d"
DATE_FMT_PRINT = "YYYY-MM-DD"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="find_darshanlogs",
        description="Find Darshan logs in the site's dated log repository.",
    )
    parser.add_argument(
        "-s", "--start", type=date_arg, default=None, help="first day to search (YYYY-MM-DD)"
    )
    parser.add_argument(
        "-e",
        "--end",
        type=date_arg,
        default=None,
        help="last day to search, inclusive (YYYY-MM-DD)",
    )
    parser.add_argument("-u", "--username", type=str, default=None, help="only logs of this user")
    parser.add_argument("-j", "--jobid", type=str, default=None, help="only logs of this job id")
    parser.add_argument(
        "-l",
        "--load",
        type=str,
        default=None,
        help="parse the logs (comma list of base, total, perf) and print JSON",
    )
    parser.add_argument(
        "--logdir",
        type=str,
        default=None,
        help="log repository base (default: config darshan_log_dirs)",
    )
    parser.add_argument(
        "--host", type=str, default=None, help="system whose entry of darshan_log_dirs to search"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print debug messages (directories searched) on stderr",
    )
    add_common_arguments(parser)
    return parser


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(2 if args.verbose else 0)
    from atokio.tools import darshan as tools_darshan

    start = parse_date(args.start) if args.start else None
    end = parse_date(args.end) if args.end else None
    if start is None and end is None and args.jobid is None:
        parser.error("give --start/--end or --jobid")
    if args.logdir is not None and not os.path.isdir(args.logdir):
        raise FileNotFoundError(errno.ENOENT, "no such log folder", args.logdir)
    criteria = dict(
        datetime_start=start,
        datetime_end=end,
        username=args.username,
        jobid=args.jobid,
        log_dir=args.logdir,
        system=args.host,
    )
    logger.debug("searching with %s", criteria)
    if args.load:
        from atokio.progress import progress

        paths = tools_darshan.find_darshanlogs(**criteria)
        with progress(total=len(paths), desc="load", unit="log") as bar:
            logs = tools_darshan.load_darshanlogs(which=args.load, progress=bar.update, **criteria)
        write_json({path: dict(log) for path, log in logs.items()})
        return 0
    for path in tools_darshan.find_darshanlogs(**criteria):
        print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
