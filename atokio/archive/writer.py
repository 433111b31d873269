"""The single writer: one task owns the TTS day files; collectors send it batches.

Producers send :class:`Batch` objects — cells ``(epoch, column, value)`` of
one dataset — over a bounded anyio memory channel, so a producer faster than
the disk waits instead of growing memory.  The writer task:

* sorts cells into **day files** (one file per local calendar day, its path
  made by ``strftime`` of the day from a template such as
  ``archive/%Y-%m-%d/snx11025.hdf5``) and creates each file with full-day,
  chunked, gzip-compressed datasets whose cells start as -0.0 (missing);
* buffers cells and **commits in slabs** (every ``flush_cells`` cells, every
  ``flush_seconds`` seconds, and at the end): for each dataset it reads the
  rows the slab touches, merges the new cells in (a cell that is written again
  is overwritten, never duplicated; cells not written keep their values) and
  writes the rows back in one operation;
* resumes an existing day file the same way: nothing in it is lost;
* **commits atomically** (:func:`atokio.archive.files.safe_update`): the day
  file is copied into a scratch file created exclusively beside it, the copy
  is updated and fsynced, then renamed over the original.  A crash (even ``kill -9``) at any
  moment leaves either the previous or the new version, never a file that
  cannot be opened; what is lost is only what was not committed yet;
* flushes and closes cleanly when the channel is closed and on cancellation
  (the last commit is shielded from the cancellation).

Memory holds the cells of at most ``flush_cells`` cells plus one slab of rows
per dataset being committed, whatever the length of the run.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import h5py
import numpy
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from atokio.archive.files import safe_update
from atokio.archive.tts import SCHEMA_VERSION, decode

__all__ = ["Batch", "DatasetSpec", "DayFileWriter", "open_writer"]

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Cells of one dataset: parallel arrays of epoch seconds, column names and values.

    ``reducer`` is ``None`` (a later value of a cell replaces an earlier one)
    or ``"sum"`` (values of a cell add up).
    """

    dataset: str
    epochs: Any
    columns: Any
    values: Any
    reducer: str | None = None

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class DatasetSpec:
    """Metadata of a dataset the writer creates: units, version, group source."""

    units: str = "UNKNOWN"
    version: str = SCHEMA_VERSION
    source: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _local_day_bounds(epoch: int) -> tuple[datetime.date, int, int]:
    day = datetime.datetime.fromtimestamp(epoch).date()
    start = int(time.mktime(datetime.datetime.combine(day, datetime.time()).timetuple()))
    following = day + datetime.timedelta(days=1)
    end = int(time.mktime(datetime.datetime.combine(following, datetime.time()).timetuple()))
    return day, start, end


class DayFileWriter:
    """The state of the writer task (use :func:`open_writer` to run one)."""

    def __init__(
        self,
        template: str,
        timestep: int,
        specs: Mapping[str, DatasetSpec] | None = None,
        *,
        flush_cells: int = 4_000_000,
        flush_seconds: float = 60.0,
        chunk_rows: int = 720,
    ) -> None:
        if timestep <= 0:
            raise ValueError(f"timestep must be positive, not {timestep}")
        self.template = template
        self.timestep = int(timestep)
        self.specs = dict(specs or {})
        self.flush_cells = flush_cells
        self.flush_seconds = flush_seconds
        self.chunk_rows = chunk_rows
        self.pending: dict[tuple[datetime.date, str], list[Batch]] = {}
        self.pending_cells = 0
        self.last_commit = time.monotonic()
        self.commits = 0
        self.cells_written = 0

    def path_for(self, day: datetime.date) -> str:
        """The file of a day (the template formatted with that day)."""
        return datetime.datetime.combine(day, datetime.time()).strftime(self.template)

    # -- taking cells --------------------------------------------------------------
    def add(self, batch: Batch) -> None:
        """Queue a batch's cells, split by day."""
        epochs = numpy.asarray(batch.epochs, dtype=numpy.int64)
        if not len(epochs):
            return
        columns = numpy.asarray(batch.columns, dtype=object)
        values = numpy.asarray(batch.values, dtype=numpy.float64)
        first_day = _local_day_bounds(int(epochs.min()))
        last_day = _local_day_bounds(int(epochs.max()))
        if first_day[0] == last_day[0]:
            pieces = [(first_day[0], slice(None))]
        else:
            days = numpy.array([_local_day_bounds(int(e))[0].toordinal() for e in epochs])
            pieces = [(datetime.date.fromordinal(int(d)), days == d) for d in numpy.unique(days)]
        for day, selector in pieces:
            part = Batch(
                batch.dataset, epochs[selector], columns[selector], values[selector], batch.reducer
            )
            self.pending.setdefault((day, batch.dataset.strip("/")), []).append(part)
            self.pending_cells += len(part)

    def due(self) -> bool:
        """Whether enough cells or time have gathered for a commit."""
        if not self.pending_cells:
            return False
        return (
            self.pending_cells >= self.flush_cells
            or time.monotonic() - self.last_commit >= self.flush_seconds
        )

    # -- committing ------------------------------------------------------------------
    def commit(self) -> None:
        """Write every pending cell to its day file, atomically per file."""
        by_day: dict[datetime.date, dict[str, list[Batch]]] = {}
        for (day, dataset), batches in self.pending.items():
            by_day.setdefault(day, {})[dataset] = batches
        for day, datasets in sorted(by_day.items()):
            self._commit_day(day, datasets)
        self.pending.clear()
        self.pending_cells = 0
        self.last_commit = time.monotonic()
        self.commits += 1

    def _commit_day(self, day: datetime.date, datasets: dict[str, list[Batch]]) -> None:
        path = self.path_for(day)
        _, day_start, day_end = _local_day_bounds(
            int(time.mktime(datetime.datetime.combine(day, datetime.time(12)).timetuple()))
        )
        with safe_update(path) as h5:
            if "version" not in h5.attrs:
                h5.attrs["version"] = SCHEMA_VERSION
                h5.attrs["start"] = numpy.int64(day_start)
                h5.attrs["end"] = numpy.int64(day_end)
            for name, batches in datasets.items():
                self._commit_dataset(h5, name, batches, day_start, day_end)

    def _ensure_dataset(
        self, h5: h5py.File, name: str, day_start: int, day_end: int, width: int
    ) -> h5py.Dataset:
        group_name = name.split("/")[0]
        group = h5.require_group(group_name)
        stamps_key = f"{group_name}/timestamps"
        if stamps_key not in h5:
            h5.create_dataset(
                stamps_key, data=numpy.arange(day_start, day_end, self.timestep, dtype=numpy.int64)
            )
        rows = len(h5[stamps_key])
        if name not in h5:
            h5.create_dataset(
                name,
                shape=(rows, width),
                maxshape=(rows, None),
                dtype=numpy.float64,
                chunks=(min(rows, self.chunk_rows), max(1, min(width, 256))),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
                fillvalue=-0.0,
            )
            spec = self.specs.get(name, DatasetSpec())
            dataset = h5[name]
            dataset.attrs["units"] = str(spec.units)  # a str, as in pytokio's files
            dataset.attrs["version"] = str(spec.version)
            for key, value in spec.extra.items():
                dataset.attrs[key] = value
            if spec.source is not None:
                group.attrs["source"] = str(spec.source)
        return h5[name]

    def _commit_dataset(
        self, h5: h5py.File, name: str, batches: list[Batch], day_start: int, day_end: int
    ) -> None:
        epochs = numpy.concatenate([numpy.asarray(b.epochs, dtype=numpy.int64) for b in batches])
        values = numpy.concatenate([numpy.asarray(b.values, dtype=numpy.float64) for b in batches])
        names = numpy.concatenate([numpy.asarray(b.columns, dtype=object) for b in batches])
        sums = numpy.concatenate([numpy.full(len(b), b.reducer == "sum") for b in batches])
        unique, inverse = numpy.unique(names, return_inverse=True)
        dataset = h5.get(name)
        known: list[str] = []
        if dataset is not None and "columns" in dataset.attrs:
            known = [str(c) for c in decode(dataset.attrs["columns"])]
        new = [str(c) for c in unique if str(c) not in set(known)]
        columns = known + sorted(new, key=_natural) if not known else known + new
        dataset = self._ensure_dataset(h5, name, day_start, day_end, max(1, len(columns)))
        if dataset.shape[1] < len(columns):
            dataset.resize(len(columns), axis=1)
        index = {c: i for i, c in enumerate(columns)}
        cols = numpy.array([index[str(c)] for c in unique], dtype=numpy.int64)[inverse]
        rows = (epochs - day_start) // self.timestep
        inside = (rows >= 0) & (rows < dataset.shape[0])
        if not inside.all():
            logger.warning("%s: %d cells outside the day dropped", name, int((~inside).sum()))
        rows, cols, values, sums = rows[inside], cols[inside], values[inside], sums[inside]
        if len(rows):
            first, last = int(rows.min()), int(rows.max()) + 1
            slab = dataset[first:last, :]
            local = rows - first
            plain = ~sums
            slab[local[plain], cols[plain]] = values[plain]
            if sums.any():
                current = slab[local[sums], cols[sums]]
                missing = (current == 0.0) & numpy.signbit(current)
                slab[local[sums], cols[sums]] = numpy.where(missing, 0.0, current)
                numpy.add.at(slab, (local[sums], cols[sums]), values[sums])
            dataset[first:last, :] = slab
            self.cells_written += len(rows)
        dataset.attrs["columns"] = numpy.array([c.encode() for c in columns], dtype=numpy.bytes_)
        dataset.attrs["updated"] = numpy.int64(int(time.time()))


def _natural(name: str) -> list[Any]:
    from atokio.archive.timeseries import _natural_key

    return _natural_key(name, False)


async def _run(writer: DayFileWriter, receive: MemoryObjectReceiveStream[Batch]) -> None:
    try:
        async with receive:
            async for batch in receive:
                writer.add(batch)
                if writer.due():
                    await anyio.to_thread.run_sync(writer.commit)
    finally:
        if writer.pending_cells:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(writer.commit)


@asynccontextmanager
async def open_writer(
    template: str,
    timestep: int,
    specs: Mapping[str, DatasetSpec] | None = None,
    *,
    channel_size: int = 16,
    flush_cells: int = 4_000_000,
    flush_seconds: float = 60.0,
) -> AsyncIterator[MemoryObjectSendStream[Batch]]:
    """Run a writer task; yields the channel to send :class:`Batch` objects on.

    Leaving the block closes the channel and waits until everything sent has
    been committed (also when the block is cancelled or fails)::

        async with open_writer("archive/%Y-%m-%d/fs.hdf5", 5, specs) as send:
            await send.send(Batch("datatargets/readbytes", epochs, columns, values))
    """
    writer = DayFileWriter(
        template, timestep, specs, flush_cells=flush_cells, flush_seconds=flush_seconds
    )
    send, receive = anyio.create_memory_object_stream[Batch](channel_size)
    async with anyio.create_task_group() as group:
        group.start_soon(_run, writer, receive)
        async with send:
            yield send


def write_batches(
    template: str,
    timestep: int,
    batches: Sequence[Batch],
    specs: Mapping[str, DatasetSpec] | None = None,
) -> DayFileWriter:
    """Commit batches synchronously (for scripts and tests); returns the writer's state."""
    writer = DayFileWriter(
        template, timestep, specs, flush_cells=1 << 62, flush_seconds=float("inf")
    )
    for batch in batches:
        writer.add(batch)
    writer.commit()
    return writer
