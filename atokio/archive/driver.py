"""One archiver driver for every source: a window into one file, one day per file, ``--follow``.

A source (:class:`ArchiveSource`) declares its datasets (names and units,
:meth:`~ArchiveSource.units`; widths or columns when it creates them,
:meth:`~ArchiveSource.init_file` / :meth:`~ArchiveSource.init_day`) and turns
a time window into data: TimeSeries (:meth:`~ArchiveSource.read_window`) for
a file, batches of cells (:meth:`~ArchiveSource.window_batches`) for the
single writer.  The driver does the rest, the same way for every source:

* :func:`aarchive_window` — one window into one TTS file (the documented
  one-shot mode): the existing file is checked
  (:func:`atokio.archive.files.check_output`) and updated through the
  crash-safe path (:func:`atokio.archive.files.safe_update`);
* :func:`archive_day` — one local day into its own day file, from plain,
  picklable arguments (a :class:`SourceSpec`, the day, :class:`DayOptions`):
  the unit of work of a scale-out run, one day per task;
  :func:`archive_days` loops it over days locally;
* :func:`afollow_source` — ``--follow``: resume, polls, day roll-over and
  the single writer, configured by one
  :class:`atokio.archive.daily.FollowOptions`.

Adding a source is one module: a subclass of :class:`ArchiveSource`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import h5py
from anyio.streams.memory import MemoryObjectSendStream

from atokio.archive.daily import (
    FollowOptions,
    commit_datasets,
    day_bounds,
    day_path,
    follow_day_files,
    init_day_file,
    init_timeseries_datasets,
    prepare_days,
    resume_point,
    timeseries_cells,
    writer_specs,
)
from atokio.archive.files import check_output, safe_update
from atokio.archive.timeseries import TimeSeries
from atokio.archive.writer import Batch
from atokio.collectors.sync import run_sync
from atokio.progress import progress

__all__ = [
    "ArchiveSource",
    "DayOptions",
    "DayResult",
    "SourceSpec",
    "Window",
    "aarchive_window",
    "afollow_source",
    "archive_day",
    "archive_days",
    "archive_window",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The rows to archive (``query_*``) and the range of a new file (``init_*``).

    ``None`` leaves the choice to the source (mmperfmon takes it from its
    inputs).
    """

    query_start: datetime.datetime | None
    query_end: datetime.datetime | None
    init_start: datetime.datetime | None = None
    init_end: datetime.datetime | None = None


class ArchiveSource:
    """A source of TTS data; subclass it and the driver does init, commit, days and follow.

    Class attributes: ``source`` (the groups' ``source`` attribute),
    ``keep_existing`` (a commit keeps the file's values where the window has
    no cell), ``strict_timestep`` (an existing file of another time step is
    refused; ``False`` when the source adopts the file's step), ``tool``
    (named in messages).  ``timestep`` is the seconds per
    row (``None``: the source works it out).

    A subclass defines :meth:`units` and either :meth:`read_window` (the
    defaults of the other methods build on it) or its own
    :meth:`write_window` and :meth:`window_batches`.
    """

    source: str = "UNKNOWN"
    tool: str = "archive"
    keep_existing: bool = False
    strict_timestep: bool = True
    timestep: int | None = None

    def units(self) -> Mapping[str, str]:
        """The datasets this source writes, ``name -> units``."""
        raise NotImplementedError

    async def read_window(
        self, begin: datetime.datetime, end: datetime.datetime
    ) -> Mapping[str, TimeSeries]:
        """The TimeSeries of ``[begin, end)``, one per dataset."""
        raise NotImplementedError

    def init_file(
        self,
        hdf5_file: h5py.File,
        start: datetime.datetime,
        end: datetime.datetime,
        datasets: Mapping[str, TimeSeries],
    ) -> list[str]:
        """Create the datasets of ``datasets`` that the open file lacks over ``[start, end)``."""
        assert self.timestep is not None
        return init_timeseries_datasets(
            hdf5_file, datasets, self.units(), start, end, self.timestep, self.source
        )

    async def write_window(self, hdf5_file: h5py.File, window: Window) -> Any:
        """Read ``window`` and commit it into the open file; returns what was read."""
        assert window.query_start is not None and window.query_end is not None
        data = await self.read_window(window.query_start, window.query_end)
        assert window.init_start is not None and window.init_end is not None
        created = self.init_file(hdf5_file, window.init_start, window.init_end, data)
        commit_datasets(data, hdf5_file, created, keep_existing=self.keep_existing)
        return data

    async def window_batches(self, begin: datetime.datetime, end: datetime.datetime) -> list[Batch]:
        """The cells of ``[begin, end)`` that hold data, as writer batches."""
        batches = []
        for name, series in (await self.read_window(begin, end)).items():
            epochs, columns, values = timeseries_cells(series)
            if values.size:
                batches.append(Batch(name, epochs, columns, values))
        return batches

    def init_day(
        self, hdf5_file: h5py.File, start: datetime.datetime, end: datetime.datetime
    ) -> None:
        """Create every dataset of a new day file ``[start, end)`` (widths, columns)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections (after a follow run or a window)."""


# -- one window, one file -------------------------------------------------------------------


async def aarchive_window(source: ArchiveSource, path: str, window: Window) -> Any:
    """Archive ``window`` of ``source`` into the TTS file at ``path``; returns the source's result.

    An existing file is checked first (a non-TTS file, another step or
    inconsistent datasets are refused; a half-made one is rebuilt), then
    updated through an exclusive scratch copy that is fsynced and renamed
    over it: a crash leaves the file as it was before, or complete.
    """
    usable = await anyio.to_thread.run_sync(
        partial(
            check_output,
            path,
            source.timestep if source.strict_timestep else None,
            list(source.units()),
            tool=source.tool,
        )
    )
    with safe_update(path, fresh=not usable) as hdf5_file:
        return await source.write_window(hdf5_file, window)


def archive_window(source: ArchiveSource, path: str, window: Window) -> Any:
    """The sync form of :func:`aarchive_window`."""
    return run_sync(aarchive_window, source, path, window)


# -- one day per file (scale-out) -------------------------------------------------------------


@dataclass(frozen=True)
class SourceSpec:
    """How to make a source anywhere: a top-level factory and its plain arguments (picklable)."""

    factory: Callable[..., ArchiveSource]
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def open(self) -> ArchiveSource:
        """A new source from the factory."""
        return self.factory(**dict(self.arguments))


@dataclass(frozen=True)
class DayOptions:
    """Where day files go (``template``, strftime) and the part of each day to archive."""

    template: str
    query_start: datetime.datetime | None = None
    query_end: datetime.datetime | None = None


@dataclass(frozen=True)
class DayResult:
    """What :func:`archive_day` did: the day, its file, and whether there was anything to do."""

    day: datetime.date
    path: str
    archived: bool


def archive_day(spec: SourceSpec, day: datetime.date, options: DayOptions) -> DayResult:
    """Archive one local day of a source into its own day file; a self-contained unit of work.

    Everything it needs comes in plain, picklable arguments: the source is
    built from ``spec`` in the calling process, the file is
    ``options.template`` formatted with ``day``, its datasets created over
    the whole day, and it is updated through the crash-safe path
    (:func:`aarchive_window`).  Only the part of the day inside
    ``[options.query_start, options.query_end)`` is read.  Days are
    independent files, so a Dask scheduler can run one call per day
    (``client.map(archive_day, [spec] * n, days, [options] * n)``); locally
    :func:`archive_days` loops over them.
    """
    midnight, next_midnight = day_bounds(day)
    begin = max(midnight, options.query_start or midnight)
    end = min(next_midnight, options.query_end or next_midnight)
    path = day_path(options.template, day)
    if begin >= end:
        return DayResult(day, path, False)
    source = spec.open()

    async def run() -> None:
        try:
            await aarchive_window(source, path, Window(begin, end, midnight, next_midnight))
        finally:
            await source.aclose()

    run_sync(run)
    return DayResult(day, path, True)


def archive_days(
    spec: SourceSpec,
    first: datetime.date,
    last: datetime.date,
    options: DayOptions,
    *,
    show_progress: bool | None = None,
) -> list[DayResult]:
    """:func:`archive_day` for every day from ``first`` to ``last`` (inclusive), one after the other.

    A progress bar counts the days on a terminal (``show_progress`` forces it).
    """
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    results = []
    with progress(len(days), desc=options.template, unit="day", enabled=show_progress) as bar:
        for day in days:
            results.append(archive_day(spec, day, options))
            bar.update(1)
    return results


# -- --follow -------------------------------------------------------------------------------------


async def afollow_source(
    source: ArchiveSource, template: str, options: FollowOptions | None = None
) -> datetime.datetime:
    """Archive ``source`` continuously into day files until stopped; return where it stopped.

    Without ``options.start`` it resumes right after the last row holding
    data in today's or yesterday's day file (else starts now).  Each poll
    asks the source for the cells of its interval (a poll that takes longer
    than ``options.poll_timeout`` fails and is retried with backoff, its
    interval caught up), makes sure the day files they fall in exist
    (created over their whole day, :meth:`ArchiveSource.init_day`), and
    sends them to the single writer, which commits them into the file of
    their local day, so the run rolls over to a new file at midnight.
    SIGTERM/SIGINT stop it after the poll in flight; everything sent is
    committed before this returns, and the source is closed.  A progress
    bar counts the cells on a terminal.
    """
    options = options or FollowOptions()
    timestep = source.timestep
    if timestep is None:
        raise ValueError(f"{source.tool}: --follow needs a timestep")
    ready: set[datetime.date] = set()
    names = list(source.units())

    def init(path: str, day: datetime.date) -> None:
        init_day_file(path, day, names, source.init_day, timestep)

    bar = progress(desc=template, unit="cells", unit_scale=True)

    async def poll(
        send: MemoryObjectSendStream[Batch], begin: datetime.datetime, end: datetime.datetime
    ) -> None:
        with anyio.fail_after(options.poll_timeout):  # a source that hangs is an outage too
            batches = await source.window_batches(begin, end)
        first = begin
        for batch in batches:
            if len(batch):
                first = min(first, datetime.datetime.fromtimestamp(int(min(batch.epochs))))
        await prepare_days(template, first.date(), end, ready, init)
        for batch in batches:
            await send.send(batch)
            bar.update(len(batch))

    try:
        return await follow_day_files(
            poll,
            template,
            timestep,
            writer_specs(source.units(), source.source),
            partial(_resume, names=names),
            options,
        )
    finally:
        bar.close()
        with anyio.CancelScope(shield=True):
            await source.aclose()


def _resume(
    template: str, now: datetime.datetime, timestep: int, names: list[str]
) -> datetime.datetime | None:
    return resume_point(template, now, timestep, names)
