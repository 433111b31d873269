"""The documented pytokio helpers of ``archive_collectdes`` that work on hits and TimeSeries in memory.

:func:`process_page` turns a page of collectd hits into inserts,
:func:`update_datasets` applies them to TimeSeries, :func:`normalize_cpu_datasets`
turns the CPU sums into means, :func:`reset_timeseries` blanks rows; the
``_num_<name>`` metadatasets hold the CPU sample counts
(:func:`dataset2metadataset_key`, :func:`metadataset2dataset_key`).  The
archive itself (:mod:`atokio.pipelines.archive_collectdes`) works on numpy
records and slabs, and uses :func:`reset_timeseries`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

import numpy as np

from atokio.archive.timeseries import TimeSeries
from atokio.common import to_epoch
from atokio.parsers.collectd import DATASETS, SUMMED_DATASETS, hits_to_records, page_hits

__all__ = [
    "METADATASET_PREFIX",
    "dataset2metadataset_key",
    "metadataset2dataset_key",
    "normalize_cpu_datasets",
    "process_page",
    "reset_timeseries",
    "update_datasets",
]

METADATASET_PREFIX = "_num_"


def dataset2metadataset_key(dataset_key: str) -> str:
    """The name of the metadataset that goes with a dataset.

    ``dataservers/cpuload`` -> ``dataservers/_num_cpuload``.
    """
    group, _, name = dataset_key.strip("/").rpartition("/")
    return f"{group}/{METADATASET_PREFIX}{name}" if group else f"{METADATASET_PREFIX}{name}"


def metadataset2dataset_key(metadataset_name: str) -> str | None:
    """The name of the dataset a metadataset goes with (``None`` if it is not one).

    Metadatasets are never stored in the HDF5 file; they hold what is needed
    to compute dataset values (the number of CPU samples summed into each
    cell).  ``dataservers/_num_cpuload`` -> ``dataservers/cpuload``; a name
    that is not a metadataset name gives ``None``.
    """
    group, _, name = metadataset_name.strip("/").rpartition("/")
    if not name.startswith(METADATASET_PREFIX) or len(name) == len(METADATASET_PREFIX):
        return None
    base = name[len(METADATASET_PREFIX) :]
    return f"{group}/{base}" if group else base


def process_page(page: Any) -> list[tuple[Any, ...]]:
    """Go through a page of hits and turn its documents into insert tuples.

    ``page`` is one page of an Elasticsearch scroll query (a dict with a
    ``hits`` key) or the list of its hits.  Returns tuples ``(dataset name,
    timestamp, column name, value, reducer name)`` for
    :func:`update_datasets`: ``timestamp`` a naive local ``datetime``,
    ``reducer`` ``None`` (replace) or ``"sum"`` (CPU samples, each
    accompanied by a ``(_num_<name>, timestamp, column, 1.0, "sum")`` tuple
    that counts it).
    """
    records = hits_to_records(page_hits(page))
    inserts: list[tuple[Any, ...]] = []
    for code, epoch, column, value in zip(
        records.datasets.tolist(),
        records.epochs.tolist(),
        records.columns.tolist(),
        records.values.tolist(),
        strict=True,
    ):
        name = DATASETS[code]
        stamp = datetime.datetime.fromtimestamp(epoch)
        if name in SUMMED_DATASETS:
            inserts.append((name, stamp, column, value, "sum"))
            inserts.append((dataset2metadataset_key(name), stamp, column, 1.0, "sum"))
        else:
            inserts.append((name, stamp, column, value, None))
    return inserts


def _add(old: float, new: float) -> float:
    return old + new


def update_datasets(inserts: Iterable[tuple[Any, ...]], datasets: dict[str, TimeSeries]) -> int:
    """Insert a list of tuples into the TimeSeries of ``datasets``, one at a time.

    Tuples are ``(dataset name, timestamp, column name, value)`` or ``(...,
    reducer name)``; a reducer ``None`` replaces the cell, ``"sum"`` adds to
    it (−0.0 counts as empty).  A metadataset that is not in ``datasets``
    yet is created like its dataset, with every count missing.  Returns the
    number of inserts dropped because their time stamp was outside the
    dataset.
    """
    dropped = 0
    for insert in inserts:
        name, stamp, column, value = insert[:4]
        reducer_name = insert[4] if len(insert) > 4 else None
        series = datasets.get(name)
        if series is None:
            base = metadataset2dataset_key(name)
            if base is None or base not in datasets:
                raise KeyError(f"no dataset {name!r}")
            series = datasets[name] = _like(datasets[base], name)
        reducer = _add if reducer_name == "sum" else None
        if not series.insert_element(stamp, column, value, reducer=reducer):
            dropped += 1
    return dropped


def _like(series: TimeSeries, name: str) -> TimeSeries:
    """An empty (all −0.0) TimeSeries with the shape, time stamps and columns of ``series``."""
    twin = TimeSeries(dataset_name=name)
    twin.timestep = series.timestep
    twin.timestamps = np.array(series.timestamps, copy=True)
    twin.dataset = np.full(series.dataset.shape, -0.0)
    twin.columns = list(series.columns)
    twin.update_column_map()
    twin.timestamp_key = series.timestamp_key
    return twin


def normalize_cpu_datasets(
    inserts: Iterable[tuple[Any, ...]], datasets: dict[str, TimeSeries]
) -> None:
    """Normalize CPU load datasets.

    Divide each cell of the CPU datasets by the number of CPU samples summed
    into it (its metadataset): values are reported per core, and not every
    core reports at every time stamp.  ``inserts`` are the tuples that
    populated ``datasets``; every summed dataset they name is normalised.
    Cells without samples are left as they are (0/0 stays missing, −0.0).
    """
    names = {insert[0] for insert in inserts}
    names |= {name for name in datasets if metadataset2dataset_key(name) is not None}
    for name in sorted(names):
        base = metadataset2dataset_key(name)
        if base is None or base not in datasets or name not in datasets:
            continue
        values, counts = datasets[base], datasets[name]
        for column in values.columns:
            if column not in counts.column_map:
                continue
            mine, theirs = values.column_map[column], counts.column_map[column]
            count = counts.dataset[:, theirs]
            seen = count > 0
            values.dataset[seen, mine] = values.dataset[seen, mine] / count[seen]


def reset_timeseries(
    timeseries: TimeSeries,
    start: datetime.datetime,
    end: datetime.datetime,
    value: float = -0.0,
) -> None:
    """Set every column of ``timeseries`` to ``value`` over ``[start, end)`` (end exclusive).

    The default −0.0 is the missing-data marker.
    """
    if not len(timeseries.timestamps):
        return
    stamps = np.asarray(timeseries.timestamps)
    first = int(np.searchsorted(stamps, to_epoch(start), side="left"))
    last = int(np.searchsorted(stamps, to_epoch(end), side="left"))
    if last > first:
        timeseries.dataset[first:last, :] = value
