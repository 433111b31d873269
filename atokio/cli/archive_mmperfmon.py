"""Store GPFS mmperfmon counters as TOKIO Time Series (``archive_mmperfmon``, CLI.md section 3.4).

Loads :class:`atokio.connectors.mmperfmon.Mmperfmon` outputs and writes them
into a TTS HDF5 file (schema ``"1"``, FORMATS.md sections 4.5 and 14), every
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

Mapping (FORMATS.md 4.5, master): ``gpfs_nsdds_bytes_read`` and
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

import argparse
import datetime
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np

from atokio import config
from atokio.archive import tts
from atokio.archive.timeseries import TimeSeries, sorted_nodenames
from atokio.archive.tts import decode
from atokio.cli import _archive
from atokio.cli._common import DATETIME_FMT, run_main, setup_logging
from atokio.connectors.mmperfmon import Mmperfmon
from atokio.parsers.base import ParseError
from atokio.tools.common import enumerate_dated_files

__all__ = [
    "METRIC_TO_DATASET",
    "UNITS",
    "Archiver",
    "archive_mmperfmon",
    "build_parser",
    "find_input_files",
    "init_hdf5_file",
    "main",
]

logger = logging.getLogger(__name__)

#: Time formats as pytokio names them: ``DATE_FMT`` for strptime/strftime,
#: the other the form shown to users in messages.
DATE_FMT = "%Y-%m-%dT%H:%M:%S"
DATE_FMT_PRINT = "YYYY-MM-DDTHH:MM:SS"

SOURCE = "mmperfmon"

#: mmperfmon metric -> TTS dataset leaf (FORMATS.md 4.5, master).
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
            _archive.set_metadata(self[name], UNITS.get(leaf, "UNKNOWN"), SOURCE)

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
    end values")``.  ``hdf5_file`` is a path or an open ``h5py.File``.
    Prints ``Initialized <dataset> in / with size (rows, columns)`` for each
    dataset created and returns their names.
    """
    if not isinstance(hdf5_file, h5py.File):
        with _archive.open_archive(hdf5_file, libver="latest") as handle:
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
        created=_archive.print_initialized(hdf5_file),
    )
    return list(created)


def _merge_with_file(series: TimeSeries, dataset: Any, first: int, last: int) -> None:
    """Put ``series`` in the file's column order, keeping the file's values where it has none."""
    existing = [str(c) for c in decode(dataset.attrs.get("columns", np.array([])))]
    mine = series.columns
    if not existing:
        return
    known = set(existing)
    order = existing + [c for c in mine if c not in known]
    position = {c: i for i, c in enumerate(order)}
    merged = np.full((series.dataset.shape[0], len(order)), -0.0)
    width = min(len(existing), dataset.shape[1])
    merged[:, :width] = dataset[first:last, :width]
    for index, column in enumerate(mine):
        values = series.dataset[:, index]
        present = ~((values == 0.0) & np.signbit(values))
        merged[present, position[column]] = values[present]
    series.dataset = merged
    series.columns = order
    series.update_column_map()


def commit_datasets(datasets: Archiver, hdf5_file: h5py.File, created: Sequence[str] = ()) -> None:
    """Commit every TimeSeries (``Hdf5.commit_timeseries``), printing ``Writing out /<dataset>``."""
    fresh = set(created)
    for name in sorted(datasets):
        series = datasets[name]
        path = "/" + name.strip("/")
        print(f"Writing out {path}")
        if path in hdf5_file:
            key = tts.timestamps_key(hdf5_file, path)
            first, last = tts.get_insert_indices(
                series.timestamps, hdf5_file[key][...], timestep=series.timestep
            )
            if name in fresh:
                ordered = [str(c) for c in decode(hdf5_file[path].attrs.get("columns", []))]
                if ordered and ordered != series.columns and set(ordered) == set(series.columns):
                    series.rearrange_columns(ordered)
            else:
                _merge_with_file(series, hdf5_file[path], first, last)
        tts.commit_timeseries(hdf5_file, series)


def _file_range(path: str) -> tuple[datetime.datetime, datetime.datetime] | None:
    """``(start, end)`` of an existing TTS file, or ``None``."""
    if not os.path.isfile(path):
        return None
    with h5py.File(path, "r") as handle:
        if "start" not in handle.attrs or "end" not in handle.attrs:
            return None
        start, end = int(handle.attrs["start"]), int(handle.attrs["end"])
    return datetime.datetime.fromtimestamp(start), datetime.datetime.fromtimestamp(end)


def load_inputs(input_files: Sequence[str]) -> Mmperfmon:
    """All inputs merged into one :class:`Mmperfmon`; a bad input only gives a warning."""
    mmpm = Mmperfmon()
    for path in input_files:
        try:
            mmpm.load(path)
        except ParseError as error:
            logger.warning("%s (the samples before it are kept)", error)
    return mmpm


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
    autodetect.  When ``output_file`` exists, its own range is used for the
    rows.  Returns the archiver.
    """
    mmpm = load_inputs(input_files)
    existing = _file_range(output_file)
    rows_start, rows_end = existing if existing is not None else (init_start, init_end)
    archiver = Archiver(rows_start, rows_end, timestep, num_luns, num_servers)
    if existing is not None and timestep is None:
        with h5py.File(output_file, "r") as handle:
            for group in handle.values():
                if isinstance(group, h5py.Group) and "timestamps" in group:
                    stamps = group["timestamps"]
                    if len(stamps) > 1:
                        archiver.timestep = int(stamps[1] - stamps[0])
                        break
    archiver.archive(mmpm)
    archiver.finalize()
    if not archiver:
        logger.warning("no counter of the inputs maps to a TTS dataset; nothing written")
        return archiver
    create_start = init_start if init_start is not None else archiver.init_start
    create_end = init_end if init_end is not None else archiver.init_end
    assert create_start is not None and create_end is not None
    with _archive.open_archive(output_file, libver="latest") as hdf5_file:
        created = init_hdf5_file(archiver, create_start, create_end, hdf5_file)
        commit_datasets(archiver, hdf5_file, created)
    return archiver


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


# -- command line ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (CLI.md 3.4, master and 0.13.0 forms)."""
    parser = argparse.ArgumentParser(
        prog="archive_mmperfmon",
        description="Store GPFS mmperfmon counters in a TOKIO Time Series HDF5 file. "
        "Give --filesystem FS and query_start query_end (inputs found through the "
        "mmperfmon_output_files configuration), or the input files themselves "
        "(positionally, or after --files).",
        epilog="Times are YYYY-MM-DDTHH:MM:SS in local time. mmperfmon time stamps mark the "
        "end of their interval, so a value stamped t is stored in the row starting at "
        "t - timestep.",
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="query_start query_end | FILE",
        help="query_start and query_end (with --filesystem or --files), or mmperfmon "
        "outputs, directories or .tar/.tgz bundles (0.13.0 form)",
    )
    parser.add_argument(
        "-o", "--output", type=str, default="output.hdf5", help="HDF5 file to create or update"
    )
    parser.add_argument(
        "--init-start",
        type=str,
        default=None,
        help="start of a new file's range (default: query_start, else from the data)",
    )
    parser.add_argument(
        "--init-end",
        type=str,
        default=None,
        help="end (exclusive) of a new file's range (default: query_end, else from the data)",
    )
    parser.add_argument(
        "--debug", action="store_true", help="debug messages; also lists the input files"
    )
    parser.add_argument("--timestep", type=int, default=60, help="seconds per row (default 60)")
    parser.add_argument(
        "--num-luns", type=int, default=None, help="accepted; widths come from the LUNs seen"
    )
    parser.add_argument(
        "--num-servers", type=int, default=None, help="accepted; widths come from the servers seen"
    )
    parser.add_argument(
        "--files",
        nargs="*",
        default=None,
        metavar="FILE",
        help="input files instead of finding them through the configuration",
    )
    parser.add_argument(
        "--filesystem",
        type=str,
        default=None,
        help="key of mmperfmon_output_files whose templates locate the inputs",
    )
    return parser


def _time(parser: argparse.ArgumentParser, text: str, what: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        parser.error(f"{what} must be in YYYY-MM-DDTHH:MM:SS format, not {text!r}")


def _looks_like_time(text: str) -> bool:
    try:
        datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        return False
    return True


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(2 if args.debug else 0)
    if args.timestep < 1:
        parser.error(f"--timestep must be at least 1, not {args.timestep}")
    init_start = _time(parser, args.init_start, "--init-start") if args.init_start else None
    init_end = _time(parser, args.init_end, "--init-end") if args.init_end else None
    if init_start is not None and init_end is not None and init_start >= init_end:
        parser.error("--init-start must be before --init-end")

    query: tuple[datetime.datetime, datetime.datetime] | None = None
    if args.files and not args.inputs and len(args.files) >= 2:
        # --files swallowed the positionals: two trailing times are the query window
        if all(_looks_like_time(text) for text in args.files[-2:]):
            args.inputs, args.files = args.files[-2:], args.files[:-2]
    if args.files is not None or args.filesystem is not None:
        if args.inputs:
            if len(args.inputs) != 2:
                parser.error(
                    "give query_start and query_end (two times), or no positionals with --files"
                )
            query = (
                _time(parser, args.inputs[0], "query_start"),
                _time(parser, args.inputs[1], "query_end"),
            )
            if query[0] >= query[1]:
                parser.error("query_start must be before query_end")
        elif args.files is None:
            parser.error("the following arguments are required: query_start, query_end")
        if args.files is not None:
            input_files = list(args.files)
        else:
            assert query is not None
            input_files = find_input_files(args.filesystem, *query)
    else:
        if not args.inputs:
            parser.error("give --filesystem FS query_start query_end, or input files")
        if len(args.inputs) == 2 and all(_looks_like_time(text) for text in args.inputs):
            parser.error("--filesystem is required with query_start and query_end")
        if (init_start is None) != (init_end is None):
            parser.error("--init-start and --init-end must be given together with input files")
        input_files = list(args.inputs)

    if query is not None:
        init_start = init_start or query[0]
        init_end = init_end or query[1]
        if init_start >= init_end:
            parser.error("--init-start must be before --init-end")
    if args.debug:
        print("Input files:")
        for path in input_files:
            print(f"  {path}")
    if not input_files:
        raise RuntimeError("No input files match query range")
    for path in input_files:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file")

    archive_mmperfmon(
        init_start,
        init_end,
        args.timestep,
        args.num_luns,
        args.num_servers,
        args.output,
        input_files,
    )
    if args.debug:
        print(f"Wrote output to {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
