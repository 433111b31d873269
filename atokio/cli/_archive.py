"""What the TOKIO Time Series archive tools share (``archive_lmtdb``, ``archive_esnet_snmp``, ...).

* one-shot mode: :func:`open_archive` (the output file, its directory made
  first) and :func:`commit_datasets` (every TimeSeries of a window into the
  file, printing ``Writing out /<dataset>``);
* ``--follow``: a day file per local day, named by :func:`day_template`
  (:func:`day_path`, :func:`day_bounds`), each initialised once, atomically
  (:func:`init_day_file`, :func:`prepare_days`); :func:`resume_point` finds
  where a restarted run goes on; :func:`follow_day_files` drives the polls
  (:func:`atokio.collectors.follow.follow`) into the archive's single writer
  (:func:`atokio.archive.writer.open_writer`);
* the command lines: the query window and init range arguments
  (:func:`require_window`, :func:`query_window`, :func:`init_window`,
  :func:`check_window`), the options the tools spell alike
  (:func:`add_file_options`, :func:`add_follow_option`) and running a
  ``--follow`` tool (:func:`run_follow`).

The TTS schema itself (creating datasets, committing, reading) lives in
:mod:`atokio.archive.tts`.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np
from anyio.streams.memory import MemoryObjectSendStream

from atokio.archive import tts
from atokio.archive.timeseries import TimeSeries
from atokio.archive.tts import SCHEMA_VERSION, decode
from atokio.archive.writer import Batch, DatasetSpec, open_writer
from atokio.cli._common import parse_datetime
from atokio.collectors.follow import FollowState, follow
from atokio.collectors.sync import backend
from atokio.common import to_epoch

__all__ = [
    "FOLLOW_OPTIONS",
    "add_file_options",
    "add_follow_option",
    "check_timestep",
    "check_window",
    "commit_datasets",
    "day_bounds",
    "day_path",
    "day_template",
    "ensure_directory",
    "follow_day_files",
    "follow_options",
    "init_day_file",
    "init_timeseries_datasets",
    "init_window",
    "open_archive",
    "prepare_days",
    "print_initialized",
    "query_window",
    "require_window",
    "resume_point",
    "run_follow",
    "set_metadata",
    "writer_specs",
]

logger = logging.getLogger(__name__)

#: ``poll(send, begin, end)`` of :func:`follow_day_files`: archive ``[begin, end)``.
DayPoll = Callable[
    [MemoryObjectSendStream[Batch], datetime.datetime, datetime.datetime], Awaitable[Any]
]


# -- one-shot mode -------------------------------------------------------------------------


def ensure_directory(path: str) -> None:
    """Make the directory that ``path`` goes in."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


def open_archive(path: str, **options: Any) -> h5py.File:
    """The TTS file at ``path``, opened to create or update (its directory made first).

    ``options`` go to ``h5py.File`` (e.g. ``libver``).
    """
    ensure_directory(path)
    return h5py.File(path, "a", **options)


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


def print_initialized(hdf5_file: h5py.File) -> Callable[[str, tuple[int, int]], None]:
    """A ``created`` callback for :func:`atokio.archive.tts.init_datasets`.

    It prints ``Initialized <dataset> in / with size (rows, columns)``.
    """

    def report(name: str, shape: tuple[int, int]) -> None:
        print(f"Initialized {name} in {hdf5_file.name} with size {shape}")

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
) -> list[str]:
    """Create the datasets of ``datasets`` missing from the file, full size and missing (−0.0).

    Each gets its TimeSeries' columns (in that order) and time stamps key,
    and ``units[name]``; see :func:`atokio.archive.tts.init_datasets` for
    the rest (range ``[init_start, init_end)``, attributes, the mismatch
    check).  Prints ``Initialized <dataset> in / with size (rows, columns)``
    for each dataset created and returns their names.
    """
    specs = [
        tts.NewDataset(name, series.columns, units[name], timestamp_key=series.timestamp_key)
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
        created=print_initialized(hdf5_file),
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


def _align_to_file(series: TimeSeries, dataset: Any, first: int, last: int) -> None:
    """Reorder ``series`` to the file's columns; keep the file's values of columns it lacks."""
    existing = [str(c) for c in decode(dataset.attrs.get("columns", np.array([])))]
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


def commit_datasets(
    datasets: Mapping[str, TimeSeries], hdf5_file: h5py.File, created: Sequence[str] = ()
) -> None:
    """Commit every TimeSeries into the file, printing ``Writing out /<dataset>``.

    This is ``Hdf5.commit_timeseries`` per dataset, after putting the columns
    in the file's order when the dataset existed before (values are matched
    by column name, never by position); ``created`` names the datasets that
    were just made with the TimeSeries' own columns.
    """
    fresh = set(created)
    for name, series in datasets.items():
        path = "/" + name.strip("/")
        print(f"Writing out {path}")
        if name not in fresh and path in hdf5_file and series.timestamps.size:
            key = tts.timestamps_key(hdf5_file, path)
            first, last = tts.get_insert_indices(
                series.timestamps, hdf5_file[key][...], timestep=series.timestep
            )
            _align_to_file(series, hdf5_file[path], first, last)
        tts.commit_timeseries(hdf5_file, series)


# -- --follow: day files -------------------------------------------------------------------


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
) -> None:
    """Make sure the day file at ``path`` holds every one of ``dataset_names``, atomically.

    An existing file must cover exactly that day (``ValueError`` otherwise:
    the writer places rows counting from midnight); when it lacks a dataset,
    ``initialise(hdf5_file, midnight, next midnight)`` creates them in a
    copy (``<path>.init``), which is synced and then renamed over ``path``,
    so a crash leaves the old file or the new one, never half of one.
    """
    start, end = day_bounds(day)
    if os.path.exists(path):
        with h5py.File(path, "r") as existing:
            bounds = (int(existing.attrs.get("start", -1)), int(existing.attrs.get("end", -1)))
            if "start" in existing.attrs and bounds != (to_epoch(start), to_epoch(end)):
                raise ValueError(f"{path} does not cover the day {day} (start/end {bounds})")
            if all("/" + name in existing for name in dataset_names):
                return
    ensure_directory(path)
    scratch = path + ".init"
    if os.path.exists(path):
        shutil.copyfile(path, scratch)
    elif os.path.exists(scratch):
        os.unlink(scratch)
    with h5py.File(scratch, "a") as hdf5_file:
        initialise(hdf5_file, start, end)
    with open(scratch, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(scratch, path)


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


#: The keyword arguments of :func:`follow_day_files` that the ``follow_*`` tools pass on.
FOLLOW_OPTIONS = (
    "start",
    "until",
    "lag",
    "now",
    "retry_initial",
    "retry_max",
    "handle_signals",
    "stop",
    "state",
    "flush_seconds",
    "max_window",
)


def follow_options(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`FOLLOW_OPTIONS` among a ``follow_*`` tool's ``arguments`` (its ``locals()``)."""
    return {name: arguments[name] for name in FOLLOW_OPTIONS if name in arguments}


def writer_specs(units: Mapping[str, str], source: str) -> dict[str, DatasetSpec]:
    """The writer's dataset specs: these ``units`` per dataset, schema version, ``source``."""
    return {
        name: DatasetSpec(units=unit, version=SCHEMA_VERSION, source=source)
        for name, unit in units.items()
    }


async def follow_day_files(
    poll: DayPoll,
    template: str,
    timestep: int,
    specs: Mapping[str, DatasetSpec],
    resume: Callable[[str, datetime.datetime, int], datetime.datetime | None],
    *,
    start: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    lag: float | None = None,
    now: Callable[[], datetime.datetime] = datetime.datetime.now,
    retry_initial: float = 1.0,
    retry_max: float = 300.0,
    handle_signals: bool = True,
    stop: anyio.Event | None = None,
    state: FollowState | None = None,
    flush_seconds: float = 60.0,
    max_window: float = 3600.0,
) -> datetime.datetime:
    """Poll into day files through the single writer until stopped; return where it stopped.

    Without ``start`` it resumes at ``resume(template, now(), timestep)``
    (run in a thread), else starts now.  Then
    :func:`atokio.collectors.follow.follow` calls ``poll(send, begin, end)``
    for each interval (up to ``now - lag``, default two timesteps), where
    ``send`` is the channel of the writer
    (:func:`atokio.archive.writer.open_writer` over ``template``, with
    ``specs``, committing every ``flush_seconds``); every cell sent is
    committed before this returns.  The other arguments go to ``follow``.
    """
    if start is None:
        start = await anyio.to_thread.run_sync(resume, template, now(), timestep)
        if start is not None:
            logger.info("resuming after the last row archived: %s", start)
    async with open_writer(template, timestep, specs, flush_seconds=flush_seconds) as send:
        return await follow(
            partial(poll, send),
            timestep=timestep,
            start=start,
            until=until,
            lag=2 * timestep if lag is None else lag,
            max_window=max_window,
            now=now,
            retry_initial=retry_initial,
            retry_max=retry_max,
            handle_signals=handle_signals,
            stop=stop,
            state=state,
        )


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


def run_follow(tool: Callable[..., Awaitable[datetime.datetime]], *args: Any, **kwargs: Any) -> int:
    """Run a ``follow_*`` tool in its own event loop until it stops; exit status 0."""
    stopped = anyio.run(partial(tool, *args, **kwargs), backend=backend())
    logger.debug("stopped at %s", stopped)
    return 0
