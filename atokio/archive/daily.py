"""TTS day-file work shared by every archive source: init, commit, alignment, day files, resume.

* a window's TimeSeries go into an open file with :func:`commit_datasets`
  (the one commit function: columns matched by name, never by position;
  ``keep_existing`` keeps the file's values where the new data have no cell);
  :func:`init_timeseries_datasets` creates the datasets a file lacks first;
* day files (``--follow``, and one file per day for scale-out): named by
  :func:`day_template` / :func:`day_path`, spanning :func:`day_bounds`,
  each created once with every dataset (:func:`init_day_file`, through the
  crash-safe path of :mod:`atokio.archive.files`), ahead of a poll
  (:func:`prepare_days`); :func:`resume_point` finds where a restarted run
  goes on;
* :func:`follow_day_files` runs the polls of a ``--follow`` run
  (:func:`atokio.collectors.follow.follow`) into the single writer
  (:func:`atokio.archive.writer.open_writer`), configured by one
  :class:`FollowOptions`.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np
from anyio.streams.memory import MemoryObjectSendStream

from atokio.archive import tts
from atokio.archive.files import check_output, safe_update
from atokio.archive.timeseries import TimeSeries
from atokio.archive.tts import SCHEMA_VERSION, decode
from atokio.archive.writer import Batch, DatasetSpec, open_writer
from atokio.collectors.follow import FollowState, follow
from atokio.common import to_epoch

__all__ = [
    "DayPoll",
    "FollowOptions",
    "check_timestep",
    "check_window",
    "commit_datasets",
    "day_bounds",
    "day_path",
    "day_template",
    "ensure_directory",
    "follow_day_files",
    "init_day_file",
    "init_timeseries_datasets",
    "log_initialized",
    "prepare_days",
    "resume_point",
    "set_metadata",
    "timeseries_cells",
    "writer_specs",
]

logger = logging.getLogger(__name__)
#: The per-dataset "Initialized ..." / "Writing out ..." reports, on a logger of
#: their own so that a front end can show them (pytokio printed them on stdout).
progress_logger = logging.getLogger(__name__ + ".progress")

#: ``poll(send, begin, end)`` of :func:`follow_day_files`: archive ``[begin, end)``.
DayPoll = Callable[
    [MemoryObjectSendStream[Batch], datetime.datetime, datetime.datetime], Awaitable[Any]
]


# -- checks ---------------------------------------------------------------------------------


def ensure_directory(path: str) -> None:
    """Make the directory that ``path`` goes in."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def check_timestep(timestep: int) -> None:
    """``ValueError`` unless ``timestep`` (seconds per row) is at least 1."""
    if timestep < 1:
        raise ValueError(f"timestep must be at least 1, not {timestep}")


def check_window(
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    timestep: int | None = None,
) -> None:
    """``ValueError("query_start >= query_end")`` unless both ranges go forward.

    With ``timestep``, that is checked too (:func:`check_timestep`).
    """
    if query_start >= query_end or init_start >= init_end:
        raise ValueError("query_start >= query_end")
    if timestep is not None:
        check_timestep(timestep)


# -- one window into an open file ----------------------------------------------------------


def log_initialized(hdf5_file: h5py.File) -> Callable[[str, tuple[int, int]], None]:
    """A ``created`` callback for :func:`atokio.archive.tts.init_datasets` that logs each dataset."""

    def report(name: str, shape: tuple[int, int]) -> None:
        progress_logger.info("Initialized %s in %s with size %s", name, hdf5_file.name, shape)

    return report


def init_timeseries_datasets(
    hdf5_file: h5py.File,
    datasets: Mapping[str, TimeSeries],
    units: Mapping[str, str],
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    timestep: int,
    source: str,
    attributes: bool = True,
    columns: Callable[[TimeSeries], Sequence[str]] | None = None,
) -> list[str]:
    """Create the datasets of ``datasets`` missing from the file, full size and missing (−0.0).

    Each gets its TimeSeries' columns (in that order, or ``columns(series)``)
    and time stamps key, and ``units[name]`` (``UNKNOWN`` when absent); see
    :func:`atokio.archive.tts.init_datasets` for the rest (range
    ``[init_start, init_end)``, attributes, the mismatch check).  Logs
    ``Initialized <dataset> ...`` for each dataset created and returns
    their names.
    """
    specs = [
        tts.NewDataset(
            name,
            columns(series) if columns is not None else series.columns,
            units.get(name, "UNKNOWN"),
            timestamp_key=series.timestamp_key,
        )
        for name, series in datasets.items()
    ]
    created = tts.init_datasets(
        hdf5_file,
        specs,
        init_start,
        init_end,
        timestep,
        source=source,
        attributes=attributes,
        created=log_initialized(hdf5_file),
    )
    return list(created)


def set_metadata(
    series: TimeSeries, units: str, source: str, version: str = SCHEMA_VERSION
) -> None:
    """Set ``version`` and ``units`` on a TimeSeries and ``source`` on its group."""
    series.version = version
    series.global_version = version
    series.dataset_metadata.update({"version": version, "units": units})
    series.group_metadata.update({"source": source})


def _file_columns(dataset: Any) -> list[str]:
    return [str(c) for c in decode(dataset.attrs.get("columns", np.array([])))]


def _align_to_file(series: TimeSeries, dataset: Any, first: int, last: int) -> None:
    """Reorder ``series`` to the file's columns; keep the file's values of columns it lacks."""
    existing = _file_columns(dataset)
    if not existing or existing == series.columns:
        return
    mine = set(series.columns)
    order = [c for c in existing if c in mine] + [
        c for c in series.columns if c not in set(existing)
    ]
    foreign = [c for c in existing if c not in mine]
    series.rearrange_columns(order)
    if foreign:
        kept = dataset[first:last, :]
        extra = np.column_stack([kept[:, existing.index(c)] for c in foreign])
        series.dataset = np.hstack([series.dataset, extra])
        series.columns = order + foreign
        series.update_column_map()
        # the file's own order first, then the new columns
        series.rearrange_columns(existing + [c for c in order if c not in set(existing)])


def _merge_with_file(series: TimeSeries, dataset: Any, first: int, last: int) -> None:
    """Put ``series`` in the file's column order, keeping the file's values where it has none."""
    existing = _file_columns(dataset)
    if not existing:
        return
    known = set(existing)
    order = existing + [c for c in series.columns if c not in known]
    position = {c: i for i, c in enumerate(order)}
    merged = np.full((series.dataset.shape[0], len(order)), -0.0)
    width = min(len(existing), dataset.shape[1])
    merged[:, :width] = dataset[first:last, :width]
    for index, column in enumerate(series.columns):
        values = series.dataset[:, index]
        present = ~((values == 0.0) & np.signbit(values))
        merged[present, position[column]] = values[present]
    series.dataset = merged
    series.columns = order
    series.update_column_map()


def commit_datasets(
    datasets: Mapping[str, TimeSeries],
    hdf5_file: h5py.File,
    created: Sequence[str] = (),
    *,
    keep_existing: bool = False,
) -> None:
    """Commit every TimeSeries into the open file (``Hdf5.commit_timeseries`` per dataset).

    Values are matched to the file by column name, never by position.  A
    dataset in ``created`` (just made) takes the file's column order when it
    holds the same columns.  For one that existed before, the TimeSeries is
    put in the file's order with its new columns after them; the file's
    values of columns it lacks are kept, and with ``keep_existing`` also
    the file's values wherever the TimeSeries has no cell (−0.0).
    """
    fresh = set(created)
    for name in sorted(datasets) if keep_existing else list(datasets):
        series = datasets[name]
        path = "/" + name.strip("/")
        progress_logger.info("Writing out %s", path)
        if path in hdf5_file and series.timestamps.size:
            key = tts.timestamps_key(hdf5_file, path)
            first, last = tts.get_insert_indices(
                series.timestamps, hdf5_file[key][...], timestep=series.timestep
            )
            if name in fresh:
                ordered = _file_columns(hdf5_file[path])
                if ordered and ordered != series.columns and set(ordered) == set(series.columns):
                    series.rearrange_columns(ordered)
            elif keep_existing:
                _merge_with_file(series, hdf5_file[path], first, last)
            else:
                _align_to_file(series, hdf5_file[path], first, last)
        tts.commit_timeseries(hdf5_file, series)


def timeseries_cells(series: TimeSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(epochs, column names, values)`` of the cells of ``series`` that hold data (not −0.0)."""
    matrix = series.dataset
    present = ~((matrix == 0) & np.signbit(matrix))
    rows, cols = np.nonzero(present)
    names = np.array(series.columns, dtype=object)
    return series.timestamps[rows], names[cols], matrix[rows, cols]


# -- day files ------------------------------------------------------------------------------


def day_template(output: str) -> str:
    """The strftime template of the day files (``-%Y-%m-%d`` added when ``output`` has no code)."""
    if "%" in output:
        return output
    stem, suffix = os.path.splitext(output)
    return f"{stem}-%Y-%m-%d{suffix or '.hdf5'}"


def day_path(template: str, day: datetime.date) -> str:
    """The file of a day: ``template`` formatted with its midnight."""
    return datetime.datetime.combine(day, datetime.time()).strftime(template)


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """Midnight of ``day`` and of the day after (naive local time)."""
    midnight = datetime.datetime.combine(day, datetime.time())
    return midnight, midnight + datetime.timedelta(days=1)


def init_day_file(
    path: str,
    day: datetime.date,
    dataset_names: Iterable[str],
    initialise: Callable[[h5py.File, datetime.datetime, datetime.datetime], Any],
    timestep: int | None = None,
) -> None:
    """Make sure the day file at ``path`` holds every one of ``dataset_names``, atomically.

    An existing file is checked first (:func:`atokio.archive.files.check_output`,
    with ``timestep`` when given: a non-TTS file is refused, a half-made one
    rebuilt) and must cover exactly that day (``ValueError`` otherwise: the
    writer places rows counting from midnight).  When it lacks a dataset,
    ``initialise(hdf5_file, midnight, next midnight)`` creates them in a
    scratch copy that is synced and renamed over ``path``
    (:func:`atokio.archive.files.safe_update`), so a crash leaves the old
    file or the new one, never half of one.
    """
    names = list(dataset_names)
    start, end = day_bounds(day)
    usable = check_output(path, timestep, names, tool="archive")
    if usable:
        with h5py.File(path, "r") as existing:
            bounds = (int(existing.attrs.get("start", -1)), int(existing.attrs.get("end", -1)))
            if "start" in existing.attrs and bounds != (to_epoch(start), to_epoch(end)):
                raise ValueError(f"{path} does not cover the day {day} (start/end {bounds})")
            if all("/" + name in existing for name in names):
                return
    with safe_update(path, fresh=not usable) as hdf5_file:
        initialise(hdf5_file, start, end)


async def prepare_days(
    template: str,
    first: datetime.date,
    end: datetime.datetime,
    ready: set[datetime.date],
    init: Callable[[str, datetime.date], Any],
) -> None:
    """Initialise (``init(path, day)``, in a thread) the day files from ``first`` to ``end``.

    ``end`` is exclusive; days in ``ready`` are skipped, and each day done
    is added to it.
    """
    day = first
    last = (end - datetime.timedelta(microseconds=1)).date()
    while day <= last:
        if day not in ready:
            await anyio.to_thread.run_sync(init, day_path(template, day), day)
            ready.add(day)
        day += datetime.timedelta(days=1)


def resume_point(
    template: str, now: datetime.datetime, timestep: int, dataset_names: Iterable[str]
) -> datetime.datetime | None:
    """Right after the last row holding data in today's or yesterday's day file.

    Rows of any of ``dataset_names`` count; ``None`` when neither file has
    any data.
    """
    names = list(dataset_names)
    for day in (now.date(), now.date() - datetime.timedelta(days=1)):
        path = day_path(template, day)
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as h5:
            last = tts.last_timestamp(h5, names)
        if last is not None:
            return datetime.datetime.fromtimestamp(last + timestep)
    return None


def writer_specs(units: Mapping[str, str], source: str) -> dict[str, DatasetSpec]:
    """The writer's dataset specs: these ``units`` per dataset, schema version, ``source``."""
    return {
        name: DatasetSpec(units=unit, version=SCHEMA_VERSION, source=source)
        for name, unit in units.items()
    }


# -- --follow -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowOptions:
    """How a ``--follow`` run goes on: one object instead of a dozen keyword arguments.

    * ``start``: where to start (``None``: after the last row archived in
      today's or yesterday's day file, else now); ``until``: where to stop
      (``None``: never);
    * ``lag``: seconds behind the clock a poll ends (``None``: two timesteps);
      ``now``: the clock;
    * ``retry_initial``/``retry_max``: backoff after a failed poll;
    * ``handle_signals``: SIGTERM/SIGINT stop the run after the poll in flight;
      ``stop``: an event that does the same; ``state``: counters shared with
      the caller (:class:`atokio.collectors.follow.FollowState`);
    * ``flush_seconds``: the writer commits at least this often;
      ``max_window``: a poll covers at most this many seconds (catching up
      takes several); ``poll_timeout``: a poll that takes longer is a
      failure (retried).
    """

    start: datetime.datetime | None = None
    until: datetime.datetime | None = None
    lag: float | None = None
    now: Callable[[], datetime.datetime] = datetime.datetime.now
    retry_initial: float = 1.0
    retry_max: float = 300.0
    handle_signals: bool = True
    stop: anyio.Event | None = None
    state: FollowState | None = None
    flush_seconds: float = 60.0
    max_window: float = 3600.0
    poll_timeout: float = 300.0

    def but(self, **changes: Any) -> FollowOptions:
        """A copy with some fields changed."""
        return replace(self, **changes)


async def follow_day_files(
    poll: DayPoll,
    template: str,
    timestep: int,
    specs: Mapping[str, DatasetSpec],
    resume: Callable[[str, datetime.datetime, int], datetime.datetime | None],
    options: FollowOptions | None = None,
) -> datetime.datetime:
    """Poll into day files through the single writer until stopped; return where it stopped.

    Without ``options.start`` it resumes at ``resume(template, now(),
    timestep)`` (run in a thread), else starts now.  Then
    :func:`atokio.collectors.follow.follow` calls ``poll(send, begin, end)``
    for each interval (up to ``now - lag``), where ``send`` is the channel
    of the writer (:func:`atokio.archive.writer.open_writer` over
    ``template``, with ``specs``, committing every ``flush_seconds``); every
    cell sent is committed before this returns.
    """
    options = options or FollowOptions()
    start = options.start
    if start is None:
        start = await anyio.to_thread.run_sync(resume, template, options.now(), timestep)
        if start is not None:
            logger.info("resuming after the last row archived: %s", start)
    async with open_writer(template, timestep, specs, flush_seconds=options.flush_seconds) as send:
        return await follow(
            partial(poll, send),
            timestep=timestep,
            start=start,
            until=options.until,
            lag=2 * timestep if options.lag is None else options.lag,
            max_window=options.max_window,
            now=options.now,
            retry_initial=options.retry_initial,
            retry_max=options.retry_max,
            handle_signals=options.handle_signals,
            stop=options.stop,
            state=options.state,
        )
