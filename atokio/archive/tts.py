"""The TOKIO Time Series (TTS) HDF5 schema, version 1: reading and committing datasets.

Layout (docs/formats.md#tokio-time-series): root attributes ``version`` ("1"), ``start``
and ``end`` (epoch seconds, ``end`` exclusive); one group per kind of
component (``datatargets``, ``mdtargets``, ``dataservers``, ...) with a 1-D
int64 ``timestamps`` dataset shared by its 2-D float64 datasets (rows = time,
columns = components; attributes ``columns``, ``units``, ``version``,
``updated``).  A cell never written is -0.0.

These functions take an open ``h5py.File``; :class:`atokio.connectors.hdf5.Hdf5`
and the single writer (:mod:`atokio.archive.writer`) are built on them.
:func:`init_datasets` creates datasets ahead of their data (full size for an
init range, every cell missing) and :func:`last_timestamp` finds where the
data of a file stops; the ``archive_*`` tools use both.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import h5py
import numpy

from atokio.archive.schema import MD_OPS, SCHEMA_VERSION
from atokio.archive.timeseries import TimeSeries, sorted_nodenames
from atokio.common import to_epoch

__all__ = [
    "MD_OPS",
    "SCHEMA_VERSION",
    "NewDataset",
    "commit_timeseries",
    "decode",
    "get_insert_indices",
    "init_datasets",
    "last_timestamp",
    "missing_values",
    "read_timeseries",
    "timestamps_key",
]

logger = logging.getLogger(__name__)

#: Rows per HDF5 chunk of a new dataset (a chunk holds at most this many rows).
CHUNK_ROWS = 1024


def decode(value: Any) -> Any:
    """An attribute value with bytes decoded to str (arrays element by element)."""
    if isinstance(value, bytes | numpy.bytes_):
        return value.decode("ascii", errors="replace")
    if isinstance(value, numpy.ndarray) and value.dtype.kind in ("S", "O"):
        return numpy.array([decode(v) for v in value.tolist()], dtype=object)
    return value


def missing_values(dataset: Any, inverse: bool = False) -> numpy.ndarray:
    """int8 matrix: 1 where a cell is -0.0 (never written), else 0 (swapped with ``inverse``)."""
    values = numpy.asarray(dataset)
    missing = (values == 0.0) & numpy.signbit(values)
    return (~missing if inverse else missing).astype(numpy.int8)


def timestamps_key(h5: h5py.File, dataset_name: str) -> str:
    """The path of the time stamps of a dataset: its ``timestamps`` attribute, else its group's."""
    name = "/" + dataset_name.strip("/")
    if name in h5:
        attr = h5[name].attrs.get("timestamps")
        if attr is not None:
            return str(decode(attr))
    group = name.rsplit("/", 1)[0] or "/"
    return f"{group}/timestamps" if group != "/" else "/timestamps"


def get_insert_indices(
    my_timestamps: numpy.ndarray, existing_timestamps: numpy.ndarray, *, timestep: int | None = None
) -> tuple[int, int]:
    """``(first, last)`` rows of ``existing_timestamps`` where ``my_timestamps`` go (last exclusive).

    Raises ``IndexError`` unless the new time stamps fall inside the existing
    ones on the same grid: same first-row alignment and the same time step
    (``timestep``, the new data's step, is checked too when given: a single
    new row shows no step of its own).
    """
    existing = numpy.asarray(existing_timestamps)
    mine = numpy.asarray(my_timestamps)
    if len(existing) < 2 or not len(mine):
        raise IndexError("cannot commit dataset that is not a subset of existing data")
    step = int(existing[1] - existing[0])
    offset = int(mine[0] - existing[0])
    if step <= 0 or offset % step:
        raise IndexError("cannot commit dataset that is not a subset of existing data")
    steps = {int(mine[1] - mine[0])} if len(mine) > 1 else set()
    if timestep:
        steps.add(int(timestep))
    if steps - {step}:
        raise IndexError(
            f"cannot commit dataset with a time step of {sorted(steps - {step})[0]} s "
            f"into one of {step} s"
        )
    first = offset // step
    last = first + len(mine)
    if first < 0 or first > len(existing) - 2 or last < 1 or last > len(existing):
        raise IndexError("cannot commit dataset that is not a subset of existing data")
    return first, last


def _text(value: Any) -> str:
    """A text attribute as pytokio's files hold it: a (variable-length) str, read back as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr_bytes(values: list[str]) -> numpy.ndarray:
    return numpy.array([v.encode() for v in values], dtype=numpy.bytes_)


def commit_timeseries(h5: h5py.File, timeseries: TimeSeries, **kwargs: Any) -> None:
    """Write a TimeSeries into its dataset of an open TTS file (docs/formats.md#writing-and-appending).

    Creates the dataset (chunked, gzip; ``kwargs`` go to ``create_dataset``)
    and the group's time stamps when absent; otherwise writes the rows into
    place, which must lie within the existing time stamps
    (``IndexError("cannot commit dataset that is not a subset of existing data")``).
    The root ``start``/``end`` are set by the first commit and must match later
    ones (``IndexError("Mismatched start or end values")``).  Columns of a new
    dataset are natural-sorted first.
    """
    name = "/" + (timeseries.dataset_name or "").strip("/")
    if name == "/":
        raise ValueError("the TimeSeries has no dataset_name")
    if timeseries.timestep is None or not len(timeseries.timestamps):
        raise ValueError(f"{name}: the TimeSeries has no time stamps")
    step = int(timeseries.timestep)
    start = int(timeseries.timestamps[0])
    end = int(timeseries.timestamps[-1]) + step
    if "start" in h5.attrs or "end" in h5.attrs:
        file_start, file_end = int(h5.attrs.get("start", start)), int(h5.attrs.get("end", end))
        if (
            name not in h5
            and (file_start, file_end) != (start, end)
            and timestamps_key(h5, name) not in h5
        ):
            raise IndexError("Mismatched start or end values")
    else:
        h5.attrs["start"] = numpy.int64(start)
        h5.attrs["end"] = numpy.int64(end)

    if (
        name not in h5
        and timeseries.columns
        and len(timeseries.columns) == timeseries.dataset.shape[1]
    ):
        ordered = sorted_nodenames(timeseries.columns, sort_hex=timeseries.sort_hex)
        if ordered != timeseries.columns:
            timeseries.rearrange_columns(ordered)

    key = timeseries.timestamp_key or timestamps_key(h5, name)
    if key not in h5:
        h5.create_dataset(key, data=numpy.asarray(timeseries.timestamps, dtype=numpy.int64))
        first, last = 0, len(timeseries.timestamps)
    else:
        first, last = get_insert_indices(
            timeseries.timestamps, h5[key][...], timestep=timeseries.timestep
        )

    if name not in h5:
        rows = len(h5[key])
        options: dict[str, Any] = {
            "chunks": (min(rows, CHUNK_ROWS), max(1, timeseries.dataset.shape[1])),
            "compression": "gzip",
            "shuffle": True,
            "fillvalue": -0.0,
            "maxshape": (rows, None),
        }
        options.update(kwargs)
        h5.create_dataset(
            name, shape=(rows, timeseries.dataset.shape[1]), dtype=numpy.float64, **options
        )
    dataset = h5[name]
    if dataset.shape[1] < timeseries.dataset.shape[1]:
        dataset.resize(timeseries.dataset.shape[1], axis=1)
    dataset[first:last, : timeseries.dataset.shape[1]] = timeseries.dataset

    if timeseries.columns:
        dataset.attrs["columns"] = _attr_bytes(timeseries.columns)
    dataset.attrs["updated"] = numpy.int64(int(time.time()))
    if timeseries.version is not None:
        dataset.attrs["version"] = str(timeseries.version)
    for attr, value in timeseries.dataset_metadata.items():
        if value is None:
            logger.warning("%s: metadata %s is None; not written", name, attr)
            continue
        if attr == "version" or isinstance(value, str | bytes):
            dataset.attrs[attr] = _text(value)
        else:
            dataset.attrs[attr] = value
    h5.attrs["version"] = str(timeseries.global_version or SCHEMA_VERSION)
    group = dataset.parent
    for attr, value in timeseries.group_metadata.items():
        if value is None:
            continue
        group.attrs[attr] = _text(value) if isinstance(value, str | bytes) else value


def read_timeseries(h5: h5py.File, dataset_name: str, light: bool = False) -> TimeSeries | None:
    """A TimeSeries from a v1 dataset of an open file; ``None`` when it is absent.

    ``light=True`` keeps ``dataset`` and ``timestamps`` as h5py datasets
    (nothing is read until sliced).
    """
    name = "/" + dataset_name.strip("/")
    if name not in h5:
        return None
    dataset = h5[name]
    key = timestamps_key(h5, name)
    ts = TimeSeries(dataset_name=name)
    ts.timestamp_key = key
    if light:
        ts.dataset = dataset
        ts.timestamps = h5[key]
    else:
        ts.dataset = dataset[...]
        ts.timestamps = h5[key][...].astype(numpy.int64)
    stamps = h5[key]
    ts.timestep = int(stamps[1] - stamps[0]) if len(stamps) > 1 else None
    columns = dataset.attrs.get("columns")
    ts.columns = [str(c) for c in decode(columns)] if columns is not None else []
    ts.update_column_map()
    ts.dataset_metadata = {k: decode(v) for k, v in dataset.attrs.items() if k != "columns"}
    ts.group_metadata = {k: decode(v) for k, v in dataset.parent.attrs.items()}
    version = dataset.attrs.get("version")
    ts.version = str(decode(version)) if version is not None else None
    global_version = h5.attrs.get("version")
    ts.global_version = str(decode(global_version)) if global_version is not None else None
    return ts


# -- creating datasets ahead of their data, and finding where the data stops ------------


@dataclass(frozen=True)
class NewDataset:
    """A dataset for :func:`init_datasets` to create.

    ``width`` is the number of columns to allocate (default: one per name of
    ``columns``, at least one); ``timestamp_key`` the time stamps it shares
    (default: its group's ``timestamps``).
    """

    name: str
    columns: Sequence[str] = ()
    units: str = "UNKNOWN"
    width: int | None = None
    timestamp_key: str | None = None


def _epoch(value: datetime.datetime | int) -> int:
    return int(to_epoch(value)) if isinstance(value, datetime.datetime) else int(value)


def init_datasets(
    h5: h5py.File,
    datasets: Iterable[NewDataset],
    start: datetime.datetime | int,
    end: datetime.datetime | int,
    timestep: int,
    *,
    source: str | None = None,
    version: str = SCHEMA_VERSION,
    attributes: bool = True,
    chunks: tuple[int, int | None] = (CHUNK_ROWS, None),
    created: Callable[[str, tuple[int, int]], Any] | None = None,
) -> dict[str, tuple[int, int]]:
    """Create the ``datasets`` missing from an open TTS file, full size, every cell −0.0.

    A new dataset covers ``[start, end)`` (datetimes, or epoch seconds) with
    ``timestep`` seconds per row: its group's ``timestamps`` are created when
    absent, its rows are never written (HDF5's fill value, −0.0, stands for
    "missing"), it may grow in columns only, and it is chunked (at most
    ``chunks`` rows x columns, ``None``: the full width), gzip-compressed
    and shuffled.  With ``attributes`` it also gets ``columns`` (bytes),
    ``units``, ``version`` and ``updated``, and its group ``source`` (when
    given).  A new file gets the root ``start``, ``end`` and ``version``;
    a file whose ``start``/``end`` differ from ``[start, end)`` raises
    ``IndexError("Mismatched start or end values")``.  Nothing is checked or
    written when no dataset is missing.

    Returns ``name -> (rows, columns)`` of the datasets created, in order;
    ``created(name, shape)`` is also called after each one.
    """
    missing = [spec for spec in datasets if "/" + spec.name.strip("/") not in h5]
    if not missing:
        return {}
    first, stop = _epoch(start), _epoch(end)
    if first >= stop:
        raise ValueError("init_start >= init_end")
    if "start" in h5.attrs or "end" in h5.attrs:
        found = (int(h5.attrs.get("start", -1)), int(h5.attrs.get("end", -1)))
        if found != (first, stop):
            raise IndexError("Mismatched start or end values")
    else:
        h5.attrs["start"] = numpy.int64(first)
        h5.attrs["end"] = numpy.int64(stop)
        h5.attrs["version"] = str(version)
    stamps = numpy.arange(first, stop, timestep, dtype=numpy.int64)
    chunk_rows, chunk_columns = chunks
    shapes: dict[str, tuple[int, int]] = {}
    for spec in missing:
        group_name = spec.name.strip("/").split("/")[0]
        group = h5.require_group(group_name)
        key = spec.timestamp_key or f"/{group_name}/timestamps"
        if key not in h5:
            h5.create_dataset(key, data=stamps)
        rows = len(h5[key])
        width = max(1, len(spec.columns) if spec.width is None else spec.width)
        dataset = h5.create_dataset(
            spec.name,
            shape=(rows, width),
            maxshape=(rows, None),
            dtype=numpy.float64,
            chunks=(
                max(1, min(rows, chunk_rows)),
                width if chunk_columns is None else min(width, chunk_columns),
            ),
            compression="gzip",
            shuffle=True,
            fillvalue=-0.0,
        )
        if attributes:
            dataset.attrs["columns"] = _attr_bytes(list(spec.columns))
            dataset.attrs["units"] = str(spec.units)
            dataset.attrs["version"] = str(version)
            dataset.attrs["updated"] = numpy.int64(int(time.time()))
            if source is not None:
                group.attrs["source"] = str(source)
        shapes[spec.name] = (rows, width)
        if created is not None:
            created(spec.name, (rows, width))
    return shapes


def _last_row_with_data(dataset: Any, block: int = 4 * CHUNK_ROWS) -> int | None:
    """The index of the last row of a 2-D dataset with a cell that is not −0.0."""
    stop = dataset.shape[0]
    while stop > 0:
        begin = max(0, stop - block)
        data = dataset[begin:stop]
        present = numpy.nonzero(~numpy.all((data == 0) & numpy.signbit(data), axis=1))[0]
        if present.size:
            return begin + int(present[-1])
        stop = begin
    return None


def last_timestamp(h5: h5py.File, dataset_names: Iterable[str]) -> int | None:
    """The time stamp of the last row holding data in any of these datasets of an open file.

    A row holds data when one of its cells is not −0.0; datasets absent from
    the file are skipped.  ``None`` when none of them holds any data.  The
    rows are read backwards a block at a time, so a file whose data reaches
    its end is not read whole.
    """
    last: int | None = None
    for name in dataset_names:
        path = "/" + name.strip("/")
        if path not in h5:
            continue
        row = _last_row_with_data(h5[path])
        if row is not None:
            stamp = int(h5[timestamps_key(h5, path)][row])
            last = stamp if last is None else max(last, stamp)
    return last
