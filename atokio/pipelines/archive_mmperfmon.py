"""Store GPFS mmperfmon counters as TOKIO Time Series (``archive_mmperfmon``, docs/cli.md#archive_mmperfmon).

Loads :class:`atokio.connectors.mmperfmon.Mmperfmon` outputs and writes them
into a TTS HDF5 file (schema ``"1"``, docs/formats.md#mmperfmon-in-tts and docs/formats.md#tokio-time-series), every
group with ``source = "mmperfmon"``.  Both synopses work::

    archive_mmperfmon --filesystem FS [options] query_start query_end   # master
    archive_mmperfmon [options] FILE [FILE ...]                         # 0.13.0
    archive_mmperfmon [options] --files FILE [FILE ...] [query_start query_end]

* master: the inputs are found through the configuration key
  ``mmperfmon_output_files[FS]`` (strftime templates with shell globs),
  stepped hourly from ``query_start`` while the date is not after
  ``query_end``'s date; a new file covers ``[--init-start, --init-end)``,
  which default to the query range.
* 0.13.0: the inputs are text outputs (plain or ``.gz``), directories or
  ``.tar``/``.tgz`` bundles; ``--init-start``/``--init-end`` must be given
  together or not at all.
* ``--files`` (an atokio decision: usable, unlike pytokio master's) takes the
  inputs explicitly and swallows every following token that does not start
  with ``-``; the positionals are then optional.
* Without a range anywhere (0.13.0 form or ``--files`` alone), a new file
  covers the data: from one timestep before the earliest time stamp (the
  stamps mark the *end* of their interval, so that sample needs that row)
  to the latest one (exclusive).

Mapping (docs/formats.md#mmperfmon-in-tts, master): ``gpfs_nsdds_bytes_read`` and
``gpfs_fs_bytes_read`` -> ``readbytes``, ``..._written`` -> ``writebytes``,
``..._read_ops`` -> ``readops``, ``..._write_ops`` -> ``writeops``,
``cpu_user`` -> ``cpuuser`` (also ``cpuload``), ``cpu_sys`` -> ``cpusys``,
``mem_free_bytes`` -> ``memfree``, ``mem_total_bytes`` -> ``memtotal``.
Per-instance metrics go to ``<lun type>s/<leaf>`` with columns
``<host>:<lun>``, where the type comes from the ``mmperfmon_lun_map`` regexes
(a LUN that matches none, such as the network interface ``lo``, is dropped);
per-host metrics go to ``<server type>s/<leaf>`` with columns ``<host>``, the
type from ``mmperfmon_server_map`` (default ``dataserver``).  A counter that
maps to no dataset is skipped with a warning (pytokio crashes on it).
Values are right-aligned: a value stamped *t* goes into the row that starts
at *t - timestep*.  ``cpuuser``/``cpusys`` are the mmperfmon values times 100
(as the reference stores them); ``cpuload`` is ``cpu_user`` unscaled.

Decisions where pytokio is accidental: ``units`` are ``bytes`` for the byte
datasets, ``ops`` for the operation counts and ``UNKNOWN`` only for the CPU
datasets (pytokio writes ``UNKNOWN`` everywhere); ``--num-luns`` and
``--num-servers`` are accepted and ignored (dataset widths come from the LUNs
and servers seen); when the output file exists, every sample that falls in
the file's range is stored, and cells that the inputs do not cover keep the
values already in the file (columns are matched by name).  An input that
holds bad text is reported with a warning naming the file and line, and what
was read before the bad line is archived.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import h5py
import numpy as np

from atokio import config
from atokio.archive import daily, tts
from atokio.archive.driver import ArchiveSource, Window, aarchive_window
from atokio.archive.files import check_output, safe_update
from atokio.archive.timeseries import TimeSeries, sorted_nodenames
from atokio.collectors.sync import run_sync
from atokio.connectors.mmperfmon import Mmperfmon
from atokio.parsers.base import ParseError
from atokio.tools.common import enumerate_dated_files

__all__ = [
    "METRIC_TO_DATASET",
    "UNITS",
    "Archiver",
    "MmperfmonSource",
    "aarchive_mmperfmon",
    "archive_mmperfmon",
    "commit_datasets",
    "find_input_files",
    "init_hdf5_file",
    "load_inputs",
]

logger = logging.getLogger(__name__)

SOURCE = "mmperfmon"

#: mmperfmon metric -> TTS dataset leaf (docs/formats.md#mmperfmon-in-tts, master).
METRIC_TO_DATASET: dict[str, str] = {
    "gpfs_nsdds_bytes_read": "readbytes",
    "gpfs_nsdds_bytes_written": "writebytes",
    "gpfs_nsdds_read_ops": "readops",
    "gpfs_nsdds_write_ops": "writeops",
    "gpfs_fs_bytes_read": "readbytes",
    "gpfs_fs_bytes_written": "writebytes",
    "gpfs_fs_read_ops": "readops",
    "gpfs_fs_write_ops": "writeops",
    "cpu_user": "cpuuser",
    "cpu_sys": "cpusys",
    "mem_free_bytes": "memfree",
    "mem_total_bytes": "memtotal",
}

#: Dataset leaf -> ``units`` attribute.
UNITS: dict[str, str] = {
    "readbytes": "bytes",
    "writebytes": "bytes",
    "readops": "ops",
    "writeops": "ops",
    "memfree": "bytes",
    "memtotal": "bytes",
    "cpuuser": "UNKNOWN",
    "cpusys": "UNKNOWN",
    "cpuload": "UNKNOWN",
}

#: Leaves whose values are multiplied by 100 in :meth:`Archiver.finalize`.
SCALED_BY_100 = ("cpuuser", "cpusys")


class Archiver(dict):
    """The TimeSeries (``dataset name -> TimeSeries``) filled from :class:`Mmperfmon` objects.

    ``init_start`` (inclusive) and ``init_end`` (exclusive) bound the rows;
    either may be ``None`` to take it from the data (see the module
    docstring).  ``timestep`` (seconds per row) ``None`` means the smallest
    interval between the time stamps seen.  ``num_luns`` and ``num_servers``
    are accepted for compatibility and ignored: widths come from the LUNs
    and servers actually seen.  ``*args``/``**kwargs`` go to ``dict``.
    """

    def __init__(
        self,
        init_start: datetime.datetime | None,
        init_end: datetime.datetime | None,
        timestep: int | None,
        num_luns: int | None,
        num_servers: int | None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if timestep is not None and timestep < 1:
            raise ValueError(f"timestep must be at least 1, not {timestep}")
        self.init_start = init_start
        self.init_end = init_end
        self.timestep = timestep
        self.num_luns = num_luns
        self.num_servers = num_servers
        self.config = METRIC_TO_DATASET
        self.lun_map = _compile_map(config.CONFIG.get("mmperfmon_lun_map"))
        self.server_map = _compile_map(config.CONFIG.get("mmperfmon_server_map"))
        self._lun_types: dict[str, str | None] = {}
        self._server_types: dict[str, str] = {}
        self._warned: set[str] = set()
        self.finalized = False

    # -- classification ------------------------------------------------------------------
    def lun_type(self, lun_name: str) -> str | None:
        """``datatarget``/``mdtarget``/... for a LUN, from ``mmperfmon_lun_map``; ``None`` if none matches."""
        known = self._lun_types.get(lun_name, "")
        if known != "":
            return known
        found: str | None = None
        for pattern, kind in self.lun_map:
            if pattern.search(lun_name):
                found = kind
                break
        self._lun_types[lun_name] = found
        return found

    def server_type(self, server_name: str) -> str:
        """``mdserver`` or ``dataserver`` for a host, from ``mmperfmon_server_map`` (default ``dataserver``)."""
        known = self._server_types.get(server_name)
        if known is not None:
            return known
        found = "dataserver"
        for pattern, kind in self.server_map:
            if pattern.search(server_name):
                found = kind
                break
        self._server_types[server_name] = found
        return found

    def _targets(self, host: str, key: str, value: Any) -> list[tuple[str, str, Any]]:
        """``(dataset, column, value)`` cells of one metric of one host at one time."""
        leaf = self.config.get(key)
        cells: list[tuple[str, str, Any]] = []
        if isinstance(value, dict):
            for instance, sample in value.items():
                kind = self.lun_type(instance)
                if kind is None:
                    if not self.lun_map:
                        self._no_lun_map(key)
                    continue  # network interfaces, file systems, ...: not a LUN
                if leaf is None:
                    self._skip(key)
                    continue
                cells.append((f"{kind}s/{leaf}", f"{host}:{instance}", sample))
            return cells
        if leaf is None:
            self._skip(key)
            return cells
        group = self.server_type(host) + "s"
        cells.append((f"{group}/{leaf}", host, value))
        if key == "cpu_user":
            cells.append((f"{group}/cpuload", host, value))
        return cells

    def _no_lun_map(self, key: str) -> None:
        if "\0lun_map" not in self._warned:
            self._warned.add("\0lun_map")
            logger.warning(
                "mmperfmon_lun_map is not in the configuration: disk-level counters such as %s "
                "are dropped; add mmperfmon_lun_map (LUN name regex -> datatarget/mdtarget) "
                "to site.json to archive them",
                key,
            )

    def _skip(self, key: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("counter %s maps to no TTS dataset; skipped", key)

    # -- setup -------------------------------------------------------------------------------
    def _detect(self, mmpm: Mmperfmon) -> None:
        stamps = np.array(sorted(int(s) for s in mmpm), dtype=np.int64)
        if self.timestep is None:
            steps = np.diff(stamps)
            steps = steps[steps > 0]
            if not steps.size:
                raise ValueError("cannot detect the timestep from fewer than two time stamps")
            self.timestep = int(steps.min())
            logger.debug("detected a timestep of %d s", self.timestep)
        if not stamps.size and (self.init_start is None or self.init_end is None):
            raise ValueError("no data to take the time range from")
        if self.init_start is None:
            self.init_start = datetime.datetime.fromtimestamp(int(stamps[0]) - self.timestep)
        if self.init_end is None:
            self.init_end = datetime.datetime.fromtimestamp(int(stamps[-1]))
        if self.init_start >= self.init_end:
            raise ValueError("init_start >= init_end")

    def init_dataset(self, dataset_name: str, columns: Sequence[str]) -> TimeSeries:
        """Create and attach one empty (−0.0) TimeSeries with these columns (natural order)."""
        assert self.init_start is not None and self.init_end is not None
        assert self.timestep is not None
        ordered = sorted_nodenames(list(dict.fromkeys(columns)))
        series = TimeSeries(
            dataset_name=dataset_name,
            start=self.init_start,
            end=self.init_end,
            timestep=self.timestep,
            num_columns=len(ordered),
            column_names=ordered,
        )
        self[dataset_name] = series
        return series

    def init_datasets(self, mmpm: Mmperfmon) -> None:
        """Create every dataset ``mmpm`` can fill, sized by the unique columns it holds.

        Also works out the timestep and range when they were left ``None``,
        and caches the LUN and server roles.
        """
        self._detect(mmpm)
        columns: dict[str, dict[str, None]] = {}
        for hosts in mmpm.values():
            for host, metrics in hosts.items():
                for key, value in metrics.items():
                    for dataset, column, _ in self._targets(host, key, value):
                        columns.setdefault(dataset, {})[column] = None
        for dataset, names in columns.items():
            if dataset not in self:
                self.init_dataset(dataset, list(names))
            else:
                for name in sorted_nodenames(names):
                    self[dataset].add_column(name)
        self.set_timeseries_metadata(list(self))

    def set_timeseries_metadata(self, dataset_names: Sequence[str]) -> None:
        """Set ``version`` and ``units`` on the datasets and ``source`` on their groups."""
        for name in dataset_names:
            leaf = name.rsplit("/", 1)[-1]
            daily.set_metadata(self[name], UNITS.get(leaf, "UNKNOWN"), SOURCE)

    # -- filling ---------------------------------------------------------------------------
    def archive(self, mmpm: Mmperfmon) -> None:
        """Insert every sample of ``mmpm`` (right-aligned); samples outside the range are dropped."""
        self.init_datasets(mmpm)
        cells: dict[str, tuple[list[int], list[str], list[float]]] = {}
        for stamp, hosts in mmpm.items():
            epoch = int(stamp)
            for host, metrics in hosts.items():
                for key, value in metrics.items():
                    for dataset, column, sample in self._targets(host, key, value):
                        epochs, names, values = cells.setdefault(dataset, ([], [], []))
                        epochs.append(epoch)
                        names.append(column)
                        values.append(float(sample))
        for dataset, (epochs, names, values) in cells.items():
            dropped = self[dataset].insert_many(epochs, names, values, align="r")
            if dropped:
                logger.debug("%s: %d samples outside the time range", dataset, dropped)

    def finalize(self) -> None:
        """Scale ``cpuuser``/``cpusys`` by 100 and set the metadata, once."""
        if self.finalized:
            return
        for name, series in self.items():
            if name.rsplit("/", 1)[-1] in SCALED_BY_100:
                series.dataset = series.dataset * 100.0  # −0.0 (missing) stays −0.0
        self.set_timeseries_metadata(list(self))
        self.finalized = True


def _compile_map(mapping: Any) -> list[tuple[re.Pattern[str], str]]:
    if not mapping:
        return []
    return [(re.compile(pattern), str(kind)) for pattern, kind in dict(mapping).items()]


# -- the HDF5 file ---------------------------------------------------------------------------


def init_hdf5_file(
    datasets: Archiver,
    init_start: datetime.datetime,
    init_end: datetime.datetime,
    hdf5_file: str | h5py.File,
) -> list[str]:
    """Idempotently make sure the file holds one dataset per TimeSeries of ``datasets``.

    A missing dataset is created full size over ``[init_start, init_end)``
    with every cell missing (−0.0), with its columns, ``units``, ``version``,
    ``updated`` and its group's ``source``; a new file also gets the root
    ``version``, ``start`` and ``end``.  In a file whose ``start``/``end``
    differ from the init range this raises ``IndexError("Mismatched start or
    end values")``.  ``hdf5_file`` is a path (checked, then updated
    crash-safely) or an open ``h5py.File``.  Logs ``Initialized <dataset>
    ...`` for each dataset created and returns their names.
    """
    if not isinstance(hdf5_file, h5py.File):
        usable = check_output(
            hdf5_file, datasets.timestep, list(datasets), tool="archive_mmperfmon"
        )
        with safe_update(hdf5_file, fresh=not usable, libver="latest") as handle:
            return init_hdf5_file(datasets, init_start, init_end, handle)
    specs = [
        tts.NewDataset(
            name,
            sorted_nodenames(series.columns),
            series.dataset_metadata.get("units", "UNKNOWN"),
            timestamp_key=series.timestamp_key,
        )
        for name, series in datasets.items()
    ]
    created = tts.init_datasets(
        hdf5_file,
        specs,
        init_start,
        init_end,
        datasets.timestep or 1,
        source=SOURCE,
        created=daily.log_initialized(hdf5_file),
    )
    return list(created)


def commit_datasets(datasets: Archiver, hdf5_file: h5py.File, created: Sequence[str] = ()) -> None:
    """Commit every TimeSeries, keeping the file's values where the inputs have no cell.

    This is :func:`atokio.archive.daily.commit_datasets` with ``keep_existing``.
    """
    daily.commit_datasets(datasets, hdf5_file, created, keep_existing=True)


def _file_range(path: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    """``(start, end)`` of an existing TTS file, or ``None``."""
    with h5py.File(path, "r") as handle:
        if "start" not in handle.attrs or "end" not in handle.attrs:
            return None
        start, end = int(handle.attrs["start"]), int(handle.attrs["end"])
    return datetime.datetime.fromtimestamp(start), datetime.datetime.fromtimestamp(end)


def _file_timestep(path: str) -> int | None:
    with h5py.File(path, "r") as handle:
        for group in handle.values():
            if isinstance(group, h5py.Group) and "timestamps" in group:
                stamps = group["timestamps"]
                if len(stamps) > 1:
                    return int(stamps[1] - stamps[0])
    return None


def load_inputs(input_files: Sequence[str]) -> Mmperfmon:
    """All inputs merged into one :class:`Mmperfmon`; a bad input only gives a warning."""
    mmpm = Mmperfmon()
    for path in input_files:
        try:
            mmpm.load(path)
        except ParseError as error:
            logger.warning("%s (the samples before it are kept)", error)
    return mmpm


class MmperfmonSource(ArchiveSource):
    """mmperfmon outputs as a source of the archiver driver.

    Its "window" is the samples of the input files, already sorted into an
    :class:`Archiver` (datasets ``<kind>s/<leaf>`` found in the inputs, units
    by leaf, columns the LUNs and hosts seen).  A commit keeps the file's
    values wherever the inputs have no cell (``keep_existing``).
    """

    source = SOURCE
    tool = "archive_mmperfmon"
    keep_existing = True

    def __init__(self, archiver: Archiver) -> None:
        self.archiver = archiver
        self.timestep = archiver.timestep

    def units(self) -> Mapping[str, str]:
        """The datasets of the inputs, with the units of their leaf."""
        return {name: UNITS.get(name.rsplit("/", 1)[-1], "UNKNOWN") for name in self.archiver}

    async def read_window(self, begin: datetime.datetime, end: datetime.datetime) -> Archiver:
        """The archiver (the inputs were read when it was filled)."""
        return self.archiver

    def init_file(
        self,
        hdf5_file: h5py.File,
        start: datetime.datetime,
        end: datetime.datetime,
        datasets: Mapping[str, TimeSeries],
    ) -> list[str]:
        """:func:`init_hdf5_file` on the open file."""
        return init_hdf5_file(self.archiver, start, end, hdf5_file)


async def aarchive_mmperfmon(
    init_start: datetime.datetime | None,
    init_end: datetime.datetime | None,
    timestep: int | None,
    num_luns: int | None,
    num_servers: int | None,
    output_file: str,
    input_files: Sequence[str],
) -> Archiver:
    """The async form of :func:`archive_mmperfmon`."""
    existing = check_output(output_file, timestep, tool="archive_mmperfmon")
    mmpm = load_inputs(input_files)
    file_range = _file_range(output_file) if existing else None
    rows_start, rows_end = file_range if file_range is not None else (init_start, init_end)
    archiver = Archiver(rows_start, rows_end, timestep, num_luns, num_servers)
    if file_range is not None and timestep is None:
        archiver.timestep = _file_timestep(output_file)
    archiver.archive(mmpm)
    archiver.finalize()
    if not archiver:
        logger.warning("no counter of the inputs maps to a TTS dataset; nothing written")
        return archiver
    create_start = init_start if init_start is not None else archiver.init_start
    create_end = init_end if init_end is not None else archiver.init_end
    assert create_start is not None and create_end is not None
    window = Window(create_start, create_end, create_start, create_end)
    await aarchive_window(MmperfmonSource(archiver), output_file, window)
    return archiver


def archive_mmperfmon(
    init_start: datetime.datetime | None,
    init_end: datetime.datetime | None,
    timestep: int | None,
    num_luns: int | None,
    num_servers: int | None,
    output_file: str,
    input_files: Sequence[str],
) -> Archiver:
    """Load ``input_files`` (text, directories, tar bundles) and store them in a TTS file.

    ``init_start`` is the first time stamp of a new file, ``init_end`` the
    one after its last (``None``: from the data); ``timestep`` ``None`` means
    autodetect.  When ``output_file`` exists (a TTS file: anything else is
    refused), its own range is used for the rows and cells the inputs do not
    cover keep its values.  The file is updated crash-safely.  Returns the
    archiver.
    """
    return run_sync(
        aarchive_mmperfmon,
        init_start,
        init_end,
        timestep,
        num_luns,
        num_servers,
        output_file,
        input_files,
    )


def find_input_files(
    filesystem: str, query_start: datetime.datetime, query_end: datetime.datetime
) -> list[str]:
    """The outputs of ``mmperfmon_output_files[filesystem]`` for the query window, hour by hour.

    ``KeyError`` when the file system has no templates.
    """
    templates = config.CONFIG.get("mmperfmon_output_files") or {}
    if filesystem not in templates:
        raise KeyError(f"file system {filesystem!r} is not in mmperfmon_output_files")
    return enumerate_dated_files(
        query_start,
        query_end,
        templates,
        lookup_key=filesystem,
        match_first=False,
        timedelta=datetime.timedelta(hours=1),
        use_glob=True,
    )
