"""Archive backfills on a Dask cluster: one task per day file.

A backfill of a range of days is as many independent jobs: each day has its
own TTS file, written by the one task that archives that day (a single
writer per file, as always).  :func:`backfill_days` submits the archiver's
picklable ``archive_day(spec, day, options)`` once per day through
:func:`atokio.pipelines.scaleout.run_tasks` and collects what each day did.

A day that fails (its source unreachable, its file unwritable) is logged and
listed in :attr:`BackfillReport.failed`, with its error, while the other days
finish.  Day files are written through the archive's crash-safe path, so a
task that is rerun (``retries``, or a worker that died) and a backfill that is
run again simply bring each day file up to date: rerunning resumes.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from atokio.pipelines.scaleout import run_tasks

__all__ = ["BackfillReport", "backfill_days", "backfill_window", "days_between", "days_of_window"]

logger = logging.getLogger(__name__)


@dataclass
class BackfillReport:
    """What a backfill did: each finished day's result, and each failed day's error."""

    done: dict[datetime.date, Any] = field(default_factory=dict)
    failed: dict[datetime.date, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every day was archived."""
        return not self.failed


def days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """Every day from ``first`` to ``last``, both included (``ValueError`` if ``last`` is earlier)."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first day {first}")
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def days_of_window(start: datetime.datetime, end: datetime.datetime) -> list[datetime.date]:
    """The local days that ``[start, end)`` touches (``ValueError`` unless it goes forward)."""
    if start >= end:
        raise ValueError("query_start >= query_end")
    return days_between(start.date(), (end - datetime.timedelta(microseconds=1)).date())


def backfill_window(
    spec: Any,
    template: str,
    start: datetime.datetime,
    end: datetime.datetime,
    *,
    scheduler: Any,
    retries: int = 1,
    progress: Any = None,
) -> BackfillReport:
    """Archive ``[start, end)`` of the source ``spec`` into day files, one Dask task per day.

    ``spec`` is an :class:`atokio.archive.driver.SourceSpec` (a top-level
    factory and plain arguments), ``template`` the ``strftime`` name of the
    day files; each day's file covers its whole local day and receives the
    part of ``[start, end)`` inside it (:func:`atokio.archive.driver.archive_day`).
    See :func:`backfill_days` for ``scheduler``, ``retries``, ``progress`` and
    the report.
    """
    from atokio.archive.driver import DayOptions, archive_day

    return backfill_days(
        archive_day,
        spec,
        days_of_window(start, end),
        DayOptions(template, start, end),
        scheduler=scheduler,
        retries=retries,
        progress=progress,
    )


def backfill_days(
    archive_day: Callable[[Any, datetime.date, Any], Any],
    spec: Any,
    days: Sequence[datetime.date],
    options: Any,
    *,
    scheduler: Any,
    retries: int = 1,
    progress: Any = None,
) -> BackfillReport:
    """Run ``archive_day(spec, day, options)`` for each of ``days`` on Dask, one task per day.

    ``spec`` and ``options`` are the archiver's plain, picklable description
    of the source and of the day files; ``scheduler`` is as in
    :func:`atokio.pipelines.scaleout.dask_client`.  ``progress``, a bar or a
    callable, is advanced by one per finished day (failed or not).  Returns
    a :class:`BackfillReport`; failures are also logged as warnings.
    """
    report = BackfillReport()
    update = getattr(progress, "update", progress)
    with run_tasks(
        archive_day,
        [(spec, day, options) for day in days],
        scheduler=scheduler,
        labels=list(days),
        retries=retries,
        name="archive_day",
    ) as outcomes:
        for outcome in outcomes:
            day: datetime.date = outcome.label  # type: ignore[assignment]
            if outcome.ok:
                report.done[day] = outcome.value
            else:
                report.failed[day] = outcome.describe_error()
                logger.warning("day %s failed: %s", day, report.failed[day])
            if callable(update):
                update(1)
    report.done = dict(sorted(report.done.items()))
    report.failed = dict(sorted(report.failed.items()))
    return report
