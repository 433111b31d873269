"""What the command lines of the TOKIO Time Series archive tools share (``archive_lmtdb``, ...).

The query window and init range arguments (:func:`require_window`,
:func:`query_window`, :func:`init_window`), the options the tools spell
alike (:func:`add_file_options`, :func:`add_follow_option`), the
:class:`FollowOptions` of a command line (:func:`follow_options_of`) and
running a ``--follow`` pipeline (:func:`run_follow`).

The day-file work, the commit and the follow loop live in
:mod:`atokio.archive.daily` and :mod:`atokio.archive.driver` (re-exported
here through :mod:`atokio.pipelines.archive`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from atokio.cli._common import parse_datetime
from atokio.pipelines.archive import (
    FollowOptions,
    check_timestep,
    check_window,
    commit_datasets,
    day_bounds,
    day_path,
    day_template,
    ensure_directory,
    follow_day_files,
    init_day_file,
    init_timeseries_datasets,
    prepare_days,
    resume_point,
    set_metadata,
    writer_specs,
)

__all__ = [
    "FollowOptions",
    "add_file_options",
    "add_follow_option",
    "add_scheduler_option",
    "check_timestep",
    "check_window",
    "commit_datasets",
    "day_bounds",
    "day_path",
    "day_template",
    "ensure_directory",
    "follow_day_files",
    "follow_options_of",
    "init_day_file",
    "init_timeseries_datasets",
    "init_window",
    "prepare_days",
    "query_window",
    "require_window",
    "resume_point",
    "run_backfill",
    "run_follow",
    "set_metadata",
    "writer_specs",
]

logger = logging.getLogger(__name__)


# -- the command lines ---------------------------------------------------------------------

#: The ``--follow`` help of the tools whose positionals are the query window.
FOLLOW_HELP = (
    "keep archiving every timestep into day files (-o is then a strftime template; "
    "query_start/query_end, optional, say where to start and stop)"
)


def add_file_options(parser: argparse.ArgumentParser) -> None:
    """``-o/--output``, ``--init-start``, ``--init-end`` and ``--debug``."""
    parser.add_argument(
        "-o", "--output", type=str, default="output.hdf5", help="HDF5 file to create or update"
    )
    parser.add_argument(
        "--init-start",
        type=str,
        default=None,
        help="start of a new file's range (default: query_start)",
    )
    parser.add_argument(
        "--init-end",
        type=str,
        default=None,
        help="end (exclusive) of a new file's range (default: query_end)",
    )
    parser.add_argument("--debug", action="store_true", help="debug messages on stderr")


def add_follow_option(parser: argparse.ArgumentParser, help: str = FOLLOW_HELP) -> None:
    """The ``--follow`` flag."""
    parser.add_argument("--follow", action="store_true", help=help)


def require_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Without ``--follow``, ``query_start`` and ``query_end`` are required (a usage error)."""
    if not args.follow and (args.query_start is None or args.query_end is None):
        parser.error("the following arguments are required: query_start, query_end")


def query_window(
    args: argparse.Namespace,
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """``(query_start, query_end)`` of the command line, each ``None`` when not given.

    ``ValueError`` for a ``--timestep`` below 1 or a window that does not go
    forward.
    """
    query_start = parse_datetime(args.query_start) if args.query_start else None
    query_end = parse_datetime(args.query_end) if args.query_end else None
    check_timestep(args.timestep)
    if query_start is not None and query_end is not None and query_start >= query_end:
        raise ValueError("query_start >= query_end")
    return query_start, query_end


def init_window(
    args: argparse.Namespace,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    error: str = "query_start >= query_end",
) -> tuple[datetime.datetime, datetime.datetime]:
    """``--init-start``/``--init-end``, by default the query window (``ValueError(error)`` if empty)."""
    init_start = parse_datetime(args.init_start) if args.init_start else query_start
    init_end = parse_datetime(args.init_end) if args.init_end else query_end
    if init_start >= init_end:
        raise ValueError(error)
    return init_start, init_end


def follow_options_of(
    query_start: datetime.datetime | None, query_end: datetime.datetime | None
) -> FollowOptions:
    """The :class:`FollowOptions` of a command line: start at ``query_start``, stop at ``query_end``."""
    return FollowOptions(start=query_start, until=query_end)


def run_follow(tool: Callable[..., datetime.datetime], *args: Any, **kwargs: Any) -> int:
    """Run the sync ``follow_*`` pipeline until it stops; exit status 0."""
    stopped = tool(*args, **kwargs)
    logger.debug("stopped at %s", stopped)
    return 0


class _CurrentStdout(logging.Handler):
    """Write each record's message to whatever ``sys.stdout`` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(record.getMessage() + "\n")
        except Exception:  # a closed stdout must not fail the archive
            self.handleError(record)


class _Forward(logging.Handler):
    """Pass records at or above a level on to another logger's handlers."""

    def __init__(self, logger: logging.Logger | None, level: int) -> None:
        super().__init__(level)
        self.logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        if self.logger is not None:
            self.logger.handle(record)


@contextlib.contextmanager
def progress_lines_on_stdout() -> Iterator[None]:
    """Print the archive's ``Initialized …``/``Writing out …`` lines on stdout.

    pytokio's ``archive_lmtdb``, ``archive_esnet_snmp`` and ``archive_mmperfmon``
    print one line per dataset created and per dataset committed on stdout;
    scripts parse them, so the one-shot runs of these tools keep doing so.
    The engine itself only logs them (``atokio.archive.daily.progress`` at INFO).
    """
    lines = logging.getLogger("atokio.archive.daily.progress")
    handler = _CurrentStdout(logging.INFO)
    level, propagate = lines.level, lines.propagate
    threshold = lines.getEffectiveLevel()
    handlers: list[logging.Handler] = [handler]
    if threshold > logging.INFO:
        # lowered for these lines only: what reaches the log on stderr is
        # still what reached it before (warnings, errors)
        lines.setLevel(logging.INFO)
        lines.propagate = False
        handlers.append(_Forward(lines.parent, threshold))
    for each in handlers:
        lines.addHandler(each)
    try:
        yield
    finally:
        for each in handlers:
            lines.removeHandler(each)
        lines.setLevel(level)
        lines.propagate = propagate


# -- --scheduler: a backfill of day files on Dask -------------------------------------------

SCHEDULER_HELP = (
    "archive the window one local day per task on a Dask cluster, each day into its own "
    "file (-o is then a strftime template, as with --follow): tcp://HOST:PORT of a running "
    "scheduler, or local[:N] for N local worker processes"
)


def add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    """The ``--scheduler`` option of a day-file backfill (docs/scaleout.md)."""
    parser.add_argument("--scheduler", type=str, default=None, help=SCHEDULER_HELP)


def scheduler_of(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The resolved ``--scheduler`` (None without one); a bad value is a usage error."""
    from atokio.pipelines.scaleout import resolve_scheduler

    if args.scheduler is None:
        return None
    if getattr(args, "follow", False):
        parser.error("--scheduler backfills a window of days; it does not go with --follow")
    try:
        spec = resolve_scheduler(args.scheduler)
    except ValueError as error:
        parser.error(str(error))
    if spec is None:
        parser.error("--scheduler is empty: give tcp://HOST:PORT or local[:N]")
    return spec


def run_backfill(
    spec: Any,
    output: str,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    scheduler: Any,
) -> int:
    """Archive the window into day files on Dask; exit status 0, or 1 when a day failed.

    Each failed day is reported on stderr with its error; the others are
    written.  Rerunning the same command resumes.
    """
    from atokio.pipelines.archive_dask import backfill_window, days_of_window
    from atokio.progress import progress

    template = os.path.abspath(day_template(output))  # the workers' directory may differ
    days = days_of_window(query_start, query_end)
    with progress(len(days), unit="day", desc=os.path.basename(template)) as bar:
        report = backfill_window(
            spec, template, query_start, query_end, scheduler=scheduler, progress=bar
        )
    for day, error in report.failed.items():
        logger.error("%s: day %s failed: %s", day_path(template, day), day, error)
    if report.failed:
        logger.error(
            "%d of %d days failed; run the same command again to retry them",
            len(report.failed),
            len(days),
        )
        return 1
    return 0
