"""Archive collectd data from Elasticsearch as TOKIO Time Series (``archive_collectdes``, docs/cli.md#archive_collectdes).

Dumps collectd samples of the burst-buffer nodes out of Elasticsearch (or a
cached dump, ``--input``) using native scrolling and stores them in a TTS
HDF5 file (schema ``"1"``): the 13 datasets of
:data:`atokio.parsers.collectd.DATASETS`, every group with ``source =
"collectd_disk"``.  ``PYTOKIO_ES_USER`` and ``PYTOKIO_ES_PASSWORD`` give
HTTP basic authentication when both are set and non-empty.

How it works:

* live mode runs the cpu, disk and memory queries over ``[query_start,
  query_end)``; each query's pages stream in through
  :meth:`CollectdEs.page_stream` (the next page is fetched while the current
  one is converted) and each page becomes numpy records at once
  (:func:`atokio.parsers.collectd.hits_to_records`), scattered into the
  rows of the window (:class:`CollectdArchive`) — pages are never kept;
* ``--input`` reads a cached dump page by page; every document inside the
  *file's* range is inserted (the query window only bounds the CPU rows
  that are blanked, below);
* a new file (or dataset) is first created over ``[--init-start,
  --init-end)`` full size and missing (−0.0), ``--num-nodes`` ×
  ``--ssds-per-node`` columns for ``datatargets/*`` and ``--num-nodes``
  for ``dataservers/*``; an existing file keeps its range, its columns and
  its values outside what is rewritten;
* a value lands in row ``floor((t - t0) / timestep)`` (left-aligned); a
  later value for a cell replaces an earlier one; values outside the
  file's range are counted and reported, one warning per page;
* CPU (docs/formats.md#collectd-in-tts): per-core samples are summed per (row, host) with
  the number of samples (the hidden ``dataservers/_num_<name>``
  metadatasets), and each cell that got samples becomes their mean; the CPU
  rows of the query window are reset to −0.0 first, so a re-run recomputes
  them.  [decide] pytokio summed new samples onto whatever a cell already
  held outside the query window; atokio replaces such a cell by the mean of
  the new samples, and leaves cells without new samples untouched.
* columns of a dataset that has none yet are natural-sorted (``bb2`` before
  ``bb10``); datasets that got no data are written all −0.0 with an empty
  ``columns`` attribute.

``--threads N`` (N > 1) converts up to N pages at once in worker
processes; records are still applied in page order.

``--follow`` (an atokio addition) keeps running (:func:`follow_collectdes`):
every timestep it archives the interval since the last poll (see
:func:`atokio.collectors.follow.follow`) and sends the cells to the single
writer (:func:`atokio.archive.writer.open_writer`), which commits them into
the file of their local day, so it rolls over to a new file at midnight; a
source outage is retried and the missed interval caught up; SIGTERM or
SIGINT stops it cleanly.  ``-o`` is then a ``strftime`` template
(``-%Y-%m-%d`` is added before the extension when it has no ``%`` code) and
the positionals are optional (where to start, where to stop).

Time stamps: Elasticsearch stores UTC; rows are placed by the absolute
instant, which is what pytokio's conversion to naive local time gives except
in the repeated hour of a daylight-saving fall-back.
"""

from __future__ import annotations

import datetime
import logging
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
import h5py
import numpy as np

from atokio.archive import daily, tts
from atokio.archive.daily import FollowOptions, day_template
from atokio.archive.driver import ArchiveSource, Window, aarchive_window, afollow_source
from atokio.archive.schema import SCHEMA_VERSION
from atokio.archive.timeseries import TimeSeries, sorted_nodenames
from atokio.archive.tts import decode
from atokio.archive.writer import Batch
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import process_pool, processes_can_start, run_in_worker
from atokio.common import to_epoch
from atokio.connectors.collectd_es import PLUGINS, CollectdEs, plugin_query
from atokio.parsers.collectd import (
    CPU_DATASETS,
    DATASETS,
    SUMMED_DATASETS,
    UNITS,
    Records,
    hits_to_records,
    page_hits,
)
from atokio.pipelines.archive_collectdes_series import (
    dataset2metadataset_key,
    metadataset2dataset_key,
    normalize_cpu_datasets,
    process_page,
    reset_timeseries,
    update_datasets,
)

__all__ = [
    "SOURCE",
    "CollectdArchive",
    "CollectdSource",
    "aarchive_collectdes",
    "afollow_collectdes",
    "archive_collectdes",
    "collect_records",
    "dataset2metadataset_key",
    "day_template",
    "follow_collectdes",
    "init_hdf5_file",
    "iter_records",
    "resume_point",
    "window_batches",
    "metadataset2dataset_key",
    "normalize_cpu_datasets",
    "pages_to_hdf5",
    "process_page",
    "reset_timeseries",
    "update_datasets",
]

logger = logging.getLogger(__name__)

SOURCE = "collectd_disk"
#: rows x columns of an HDF5 chunk of a new dataset (at most)
CHUNK = (360, 128)


# -- the file ------------------------------------------------------------------------------------


def _widths(num_servers: int, devices_per_server: int) -> dict[str, int]:
    return {
        name: num_servers * devices_per_server if name.startswith("datatargets/") else num_servers
        for name in DATASETS
    }


def init_hdf5_file(
    hdf5_file: h5py.File,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    dataset_names: Sequence[str] = DATASETS,
) -> list[str]:
    """Create every dataset of ``dataset_names`` missing from the file, full size and missing.

    A new file gets the root ``version``, ``start`` and ``end`` of
    ``[init_start, init_end)``; in an existing file whose range differs,
    creating a dataset raises ``IndexError("Mismatched start or end values")``.
    New datasets are chunked and gzip-compressed, every cell −0.0, with
    ``units``, ``version`` and an empty ``columns``; their groups get
    ``source = "collectd_disk"``.  Returns the names created.
    """
    widths = _widths(num_servers, devices_per_server)
    specs = [
        tts.NewDataset(name, units=UNITS.get(name, "UNKNOWN"), width=widths.get(name, num_servers))
        for name in dataset_names
    ]
    created = tts.init_datasets(
        hdf5_file, specs, init_start, init_end, timestep, source=SOURCE, chunks=CHUNK
    )
    return list(created)


@dataclass
class _Slab:
    """One dataset's rows being rewritten, with its CPU sums when summed."""

    series: TimeSeries
    had_columns: bool
    sums: np.ndarray | None = None
    counts: np.ndarray | None = None
    inserted: int = 0


@dataclass
class CollectdArchive:
    """The datasets of one run: slabs of rows of an open TTS file, filled from records.

    Use :meth:`open`, then :meth:`add` records (any number of times), then
    :meth:`finish` and :meth:`commit`.  ``rows`` is the half-open range of
    file rows that is read, updated and written back.
    """

    hdf5_file: h5py.File
    timestep: int
    rows: tuple[int, int]
    slabs: dict[str, _Slab] = field(default_factory=dict)
    outside: int = 0
    created: list[str] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        hdf5_file: h5py.File,
        init_start: datetime.datetime,
        init_end: datetime.datetime,
        timestep: int,
        num_servers: int,
        devices_per_server: int,
        window: tuple[datetime.datetime, datetime.datetime] | None = None,
    ) -> CollectdArchive:
        """Initialise missing datasets and load the rows of ``window`` (default: the whole file)."""
        daily.check_timestep(timestep)
        version = hdf5_file.attrs.get("version")
        if version is not None and str(decode(version)) != SCHEMA_VERSION:
            logger.warning(
                "%s has version %r; it will be upgraded in place to %s",
                hdf5_file.filename,
                str(decode(version)),
                SCHEMA_VERSION,
            )
        created = init_hdf5_file(
            hdf5_file, init_start, init_end, timestep, num_servers, devices_per_server
        )
        stamps = hdf5_file[tts.timestamps_key(hdf5_file, DATASETS[0])][...]
        if len(stamps) > 1 and int(stamps[1] - stamps[0]) != timestep:
            logger.info(
                "%s has a timestep of %d s: using it",
                hdf5_file.filename,
                int(stamps[1] - stamps[0]),
            )
            timestep = int(stamps[1] - stamps[0])
        total = len(stamps)
        first, last = 0, total
        if window is not None:
            t0 = int(stamps[0])
            first = max(0, (int(to_epoch(window[0])) - t0) // timestep)
            last = min(total, -(-(int(to_epoch(window[1])) - t0) // timestep))
            last = max(last, first)
        # a commit needs at least two rows and may not start on the last row
        first = max(0, min(first, total - 2))
        last = min(total, max(last, first + 2))
        archive = cls(hdf5_file, timestep, (first, last), created=created)
        for name in DATASETS:
            archive.slabs[name] = archive._load(name)
        return archive

    def _load(self, name: str) -> _Slab:
        h5 = self.hdf5_file
        dataset = h5[name]
        first, last = self.rows
        key = tts.timestamps_key(h5, name)
        series = TimeSeries(dataset_name=name)
        series.timestep = self.timestep
        series.timestamp_key = key
        series.timestamps = h5[key][first:last].astype(np.int64)
        series.dataset = dataset[first:last, :]
        columns = dataset.attrs.get("columns")
        names = [str(c) for c in decode(columns)] if columns is not None else []
        series.columns = [c for c in names if c]
        series.update_column_map()
        series.version = SCHEMA_VERSION
        series.global_version = SCHEMA_VERSION
        series.dataset_metadata = {"units": UNITS[name], "version": SCHEMA_VERSION}
        series.group_metadata = {"source": SOURCE}
        slab = _Slab(series, had_columns=bool(series.columns))
        if name in SUMMED_DATASETS:
            slab.sums = np.zeros(series.dataset.shape)
            slab.counts = np.zeros(series.dataset.shape)
        return slab

    def _columns(self, slab: _Slab, names: np.ndarray) -> np.ndarray:
        """Column index of each name; new names take free columns in first-seen order."""
        unique, first_seen, inverse = np.unique(names, return_index=True, return_inverse=True)
        index = np.empty(len(unique), dtype=np.int64)
        for k in np.argsort(first_seen, kind="stable"):
            index[k] = slab.series.add_column(str(unique[k]))
        width = slab.series.dataset.shape[1]
        if slab.sums is not None and slab.sums.shape[1] < width:
            extra = width - slab.sums.shape[1]
            slab.sums = np.hstack([slab.sums, np.zeros((slab.sums.shape[0], extra))])
            assert slab.counts is not None
            slab.counts = np.hstack([slab.counts, np.zeros((slab.counts.shape[0], extra))])
        return index[inverse]

    def add(self, records: Records) -> int:
        """Scatter records into the slabs; returns how many fell outside the file (warned)."""
        if not len(records):
            return 0
        first, last = self.rows
        stamps = self.hdf5_file[tts.timestamps_key(self.hdf5_file, DATASETS[0])]
        t_file0 = int(stamps[0])
        total = len(stamps)
        rows_abs = np.floor((records.epochs - t_file0) / self.timestep).astype(np.int64)
        in_file = (rows_abs >= 0) & (rows_abs < total)
        in_slab = (rows_abs >= first) & (rows_abs < last)
        outside = int((~in_file).sum())
        if outside:
            documents = int(np.unique(records.hit_index[~in_file]).size)
            message = f"{documents} documents outside the file's time range were not inserted"
            logger.warning("%s", message)
            warnings.warn(message, stacklevel=2)  # as pytokio: seen by callers recording warnings
            self.outside += documents
        if (in_file & ~in_slab).any():
            logger.debug(
                "%d values outside the rows rewritten skipped", int((in_file & ~in_slab).sum())
            )
        for code in np.unique(records.datasets[in_slab]):
            name = DATASETS[int(code)]
            chosen = in_slab & (records.datasets == code)
            rows = rows_abs[chosen] - first
            values = records.values[chosen]
            slab = self.slabs[name]
            cols = self._columns(slab, records.columns[chosen])
            slab.inserted += len(rows)
            if slab.sums is not None:
                assert slab.counts is not None
                np.add.at(slab.sums, (rows, cols), values)
                np.add.at(slab.counts, (rows, cols), 1.0)
                continue
            width = slab.series.dataset.shape[1]
            linear = rows * width + cols
            # the last value of a cell wins: keep each cell's last occurrence
            _, last_from_end = np.unique(linear[::-1], return_index=True)
            keep = len(linear) - 1 - last_from_end
            slab.series.dataset[rows[keep], cols[keep]] = values[keep]
        return outside

    def finish(self, query_start: datetime.datetime, query_end: datetime.datetime) -> None:
        """Blank the CPU rows of ``[query_start, query_end)``, then store the CPU means."""
        for name in CPU_DATASETS:
            slab = self.slabs[name]
            reset_timeseries(slab.series, query_start, query_end)
            assert slab.sums is not None and slab.counts is not None
            seen = slab.counts > 0
            slab.series.dataset[seen] = slab.sums[seen] / slab.counts[seen]
            slab.sums = slab.counts = None

    def commit(self) -> None:
        """Write every slab back into the file (columns, units, version, updated, source)."""
        for name, slab in self.slabs.items():
            series = slab.series
            if not slab.had_columns and series.columns:
                series.rearrange_columns(sorted_nodenames(series.columns, sort_hex=series.sort_hex))
            tts.commit_timeseries(self.hdf5_file, series)
            if not series.columns:
                self.hdf5_file[name].attrs["columns"] = np.array([], dtype="S1")

    def report(self) -> list[str]:
        """One ``<dataset>: <n> values inserted`` line per dataset (for ``--debug``)."""
        return [f"{name}: {slab.inserted} values inserted" for name, slab in self.slabs.items()]


def _records_pool(pages: Iterable[Any], threads: int) -> Iterable[Records]:
    """Records of each page, in page order (worker processes when ``threads`` > 1)."""
    if threads <= 1 or not processes_can_start():
        for page in pages:
            yield hits_to_records(page_hits(page))
        return
    yield from process_pool().map(hits_to_records, (page_hits(p) for p in pages), chunksize=1)


def pages_to_hdf5(
    pages: Iterable[Any],
    output_file: str,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    threads: int = 1,
) -> CollectdArchive:
    """Stores pages from Elasticsearch queries in an HDF5 file.

    ``pages`` are pages of collectd hits (response dicts or lists of hits),
    read one at a time.  A new ``output_file`` (or a missing dataset) covers
    ``[init_start, init_end)`` with ``timestep`` seconds per row,
    ``num_servers`` x ``devices_per_server`` columns for ``datatargets/*``
    and ``num_servers`` for ``dataservers/*``.  Every document inside the
    file's range is inserted; the CPU rows of ``[query_start, query_end)``
    are blanked before the CPU means are stored.  ``threads`` > 1 converts
    pages in that many worker processes.  Returns the archive (insert
    counts, documents outside the range).
    """
    daily.check_window(query_start, query_end, init_start, init_end)
    source = CollectdSource(None, timestep, num_servers, devices_per_server, threads, pages=pages)
    window = Window(query_start, query_end, init_start, init_end)
    archive: CollectdArchive = run_sync(aarchive_window, source, output_file, window)
    return archive


def _warn_skipped(records: Records) -> None:
    if records.no_source:
        logger.warning("%d hits without _source skipped", records.no_source)
    if records.incomplete:
        logger.debug("%d hits without the values their plugin needs skipped", records.incomplete)
    if records.bad_timestamp:
        logger.warning("%d hits with an unreadable @timestamp skipped", records.bad_timestamp)


# -- live mode -------------------------------------------------------------------------------------


@dataclass
class _Slot:
    """One page being converted in a worker process."""

    done: anyio.Event = field(default_factory=anyio.Event)
    result: Records | None = None
    error: BaseException | None = None

    async def run(self, hits: list[Any], limiter: anyio.CapacityLimiter) -> None:
        try:
            self.result = await run_in_worker(hits_to_records, hits, limiter=limiter)
        except Exception as error:
            self.error = error
        finally:
            self.done.set()


async def iter_records(
    pages: AsyncIterator[dict[str, Any]], threads: int = 1
) -> AsyncIterator[Records]:
    """The records of each page of ``pages``, in page order.

    With ``threads`` > 1 up to that many pages are converted at once in
    worker processes while more pages are fetched.
    """
    if threads <= 1:
        async for page in pages:
            yield hits_to_records(page_hits(page))
        return
    limiter = anyio.CapacityLimiter(threads)
    send, receive = anyio.create_memory_object_stream[_Slot](threads)
    async with anyio.create_task_group() as group:

        async def feed() -> None:
            async with send:
                async for page in pages:
                    slot = _Slot()
                    await send.send(slot)
                    group.start_soon(slot.run, page_hits(page), limiter)

        group.start_soon(feed)
        async with receive:
            async for slot in receive:
                await slot.done.wait()
                if slot.error is not None:
                    raise slot.error
                assert slot.result is not None
                yield slot.result


async def collect_records(
    es: CollectdEs,
    start: datetime.datetime,
    end: datetime.datetime,
    consume: Callable[[Records], Any],
    *,
    threads: int = 1,
    plugins: Sequence[str] = tuple(PLUGINS),
) -> int:
    """Run the plugin queries over ``[start, end)`` and hand each page's records to ``consume``.

    Returns the number of hits seen.  One client serves the three queries.
    """
    hits = 0
    async with es.open_client() as client:
        for plugin in plugins:
            query = plugin_query(plugin, start, end)
            async with es.page_stream(query, es.default_source_filter, client=client) as pages:
                async for records in iter_records(pages, threads):
                    hits += records.hits
                    _warn_skipped(records)
                    consume(records)
    return hits


async def aarchive_collectdes(
    es: CollectdEs,
    output_file: str,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    threads: int = 1,
) -> CollectdArchive:
    """Query ``[query_start, query_end)`` live and archive it into ``output_file`` (async form).

    Only the rows of the query window are read and rewritten (the documents
    of a live query all lie inside it).  The file is checked and updated
    crash-safely (:func:`atokio.archive.driver.aarchive_window`).
    """
    daily.check_window(query_start, query_end, init_start, init_end)
    source = CollectdSource(es, timestep, num_servers, devices_per_server, threads)
    window = Window(query_start, query_end, init_start, init_end)
    archive: CollectdArchive = await aarchive_window(source, output_file, window)
    return archive


def archive_collectdes(
    es: CollectdEs,
    output_file: str,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    query_start: datetime.datetime,
    query_end: datetime.datetime,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    threads: int = 1,
) -> CollectdArchive:
    """Query ``[query_start, query_end)`` live and archive it into ``output_file``.

    Only the rows of the query window are read and rewritten (the documents
    of a live query all lie inside it).
    """
    return run_sync(
        aarchive_collectdes,
        es,
        output_file,
        init_start,
        init_end,
        query_start,
        query_end,
        timestep,
        num_servers,
        devices_per_server,
        threads,
    )


class CollectdSource(ArchiveSource):
    """collectd (Elasticsearch, or pages of a cached dump) as a source of the archiver driver.

    Its 13 datasets have fixed widths (``num_servers`` x
    ``devices_per_server`` columns for ``datatargets/*``, ``num_servers``
    for ``dataservers/*``).  One-shot (:meth:`write_window`) fills slabs of
    the open file (:class:`CollectdArchive`): the window's rows from a live
    query, or every row of the file from ``pages``; an existing file's own
    time step is kept.  Following (:meth:`window_batches`) aligns each poll's
    cells to the row grid (:func:`window_batches`).
    """

    source = SOURCE
    tool = "archive_collectdes"
    timestep: int
    strict_timestep = False  # an existing file's own step is used

    def __init__(
        self,
        es: CollectdEs | None,
        timestep: int,
        num_servers: int,
        devices_per_server: int,
        threads: int = 1,
        *,
        pages: Iterable[Any] | None = None,
    ) -> None:
        daily.check_timestep(timestep)
        self.es = es
        self.timestep = int(timestep)
        self.num_servers = num_servers
        self.devices_per_server = devices_per_server
        self.threads = threads
        self.pages = pages

    def units(self) -> dict[str, str]:
        """The 13 datasets with their units."""
        return {name: UNITS.get(name, "UNKNOWN") for name in DATASETS}

    async def write_window(self, hdf5_file: h5py.File, window: Window) -> CollectdArchive:
        """Fill the slabs of the open file from the query (or the pages) and commit them."""
        assert window.query_start is not None and window.query_end is not None
        assert window.init_start is not None and window.init_end is not None
        archive = CollectdArchive.open(
            hdf5_file,
            window.init_start,
            window.init_end,
            self.timestep,
            self.num_servers,
            self.devices_per_server,
            window=None if self.pages is not None else (window.query_start, window.query_end),
        )
        if self.pages is not None:
            for records in _records_pool(self.pages, self.threads):
                _warn_skipped(records)
                archive.add(records)
        else:
            assert self.es is not None
            await collect_records(
                self.es, window.query_start, window.query_end, archive.add, threads=self.threads
            )
        archive.finish(window.query_start, window.query_end)
        archive.commit()
        return archive

    async def window_batches(self, begin: datetime.datetime, end: datetime.datetime) -> list[Batch]:
        """The three queries over ``[begin, end)``, as grid-aligned writer batches."""
        assert self.es is not None
        parts: list[Records] = []
        await collect_records(self.es, begin, end, parts.append, threads=self.threads)
        return window_batches(Records.concat(parts), begin, end, self.timestep)

    def init_day(
        self, hdf5_file: h5py.File, start: datetime.datetime, end: datetime.datetime
    ) -> None:
        """Every dataset over the day, at the configured widths."""
        init_hdf5_file(
            hdf5_file, start, end, self.timestep, self.num_servers, self.devices_per_server
        )


# -- --follow ----------------------------------------------------------------------------------------


def _init_day_file(
    path: str, day: datetime.date, timestep: int, num_servers: int, devices_per_server: int
) -> None:
    """Make sure a day file holds every dataset over its whole day (created atomically).

    An existing file must cover exactly that day (``ValueError`` otherwise).
    """

    def initialise(hdf5_file: h5py.File, start: datetime.datetime, end: datetime.datetime) -> None:
        init_hdf5_file(hdf5_file, start, end, timestep, num_servers, devices_per_server)

    daily.init_day_file(path, day, DATASETS, initialise)


def window_batches(
    records: Records, begin: datetime.datetime, end: datetime.datetime, timestep: int
) -> list[Batch]:
    """The writer batches of one polled window: cells aligned to the row grid.

    A cell's time is the start of its row (counted from ``begin``, which is
    on the grid).  Plain datasets keep each cell's last value; CPU datasets
    get the mean of the samples of each cell.
    """
    t0 = int(to_epoch(begin))
    stop = int(to_epoch(end))
    rows = np.floor((records.epochs - t0) / timestep).astype(np.int64)
    cells = t0 + rows * timestep
    inside = (cells >= t0) & (cells < stop)
    batches = []
    for code in np.unique(records.datasets[inside]):
        name = DATASETS[int(code)]
        chosen = inside & (records.datasets == code)
        epochs, columns, values = cells[chosen], records.columns[chosen], records.values[chosen]
        names, column_codes = np.unique(columns, return_inverse=True)
        keys = (epochs - t0) // timestep * len(names) + column_codes
        unique, first_index, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if name in SUMMED_DATASETS:
            sums = np.bincount(inverse, weights=values, minlength=len(unique))
            counts = np.bincount(inverse, minlength=len(unique))
            out = sums / counts
        else:
            last_from_end = np.unique(inverse[::-1], return_index=True)[1]
            out = values[len(values) - 1 - last_from_end]
        batches.append(Batch(name, epochs[first_index], columns[first_index], out))
    return batches


def resume_point(template: str, now: datetime.datetime, timestep: int) -> datetime.datetime | None:
    """Right after the last row holding data in today's or yesterday's day file (``None``: no data)."""
    return daily.resume_point(template, now, timestep, DATASETS)


async def afollow_collectdes(
    es: CollectdEs,
    template: str,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    options: FollowOptions | None = None,
    *,
    threads: int = 1,
) -> datetime.datetime:
    """Archive collectd continuously into day files until stopped; return where it stopped.

    Every ``timestep`` seconds the three queries run over the interval since
    the last poll (up to ``now - lag``, so that late documents are indexed)
    and the window's cells go to the single writer, which commits them into
    the file of their local day; each day file is first initialised over its
    whole day.  Resume, retries, day roll-over and stopping are the driver's
    (:func:`atokio.archive.driver.afollow_source`, ``options``).
    """
    source = CollectdSource(es, timestep, num_servers, devices_per_server, threads)
    return await afollow_source(source, template, options)


def follow_collectdes(
    es: CollectdEs,
    template: str,
    timestep: int,
    num_servers: int,
    devices_per_server: int,
    options: FollowOptions | None = None,
    *,
    threads: int = 1,
) -> datetime.datetime:
    """The sync form of :func:`afollow_collectdes`."""
    return run_sync(
        partial(
            afollow_collectdes,
            es,
            template,
            timestep,
            num_servers,
            devices_per_server,
            options,
            threads=threads,
        )
    )
