"""Time-based access to a site's TTS archive (``tokio.tools.hdf5``).

The day files of a file system are found through the ``hdf5_files`` config
key (a template keyed by file system name, e.g. ``{"scratch1":
["archive/%Y-%m-%d/snx11025.hdf5", "archive/%Y-%m-%d/edison_snx11025.h5lmt"]}``;
the first existing file of each day wins, so TTS and H5LMT files mix).
:func:`get_dataframe_from_time_range` reads only the rows of each file that
fall in ``[start, end)`` and joins the days into one DataFrame.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy
import pandas

from atokio import config
from atokio.connectors.hdf5 import Hdf5, local_index
from atokio.tools.common import enumerate_dated_files

__all__ = [
    "enumerate_h5lmts",
    "enumerate_hdf5",
    "get_dataframe_from_time_range",
    "get_files_and_indices",
]


def enumerate_hdf5(
    fsname: str, datetime_start: datetime.datetime, datetime_end: datetime.datetime
) -> list[str]:
    """The existing day files of ``fsname`` from ``datetime_start`` to ``datetime_end`` (end date included)."""
    template = config.CONFIG.get("hdf5_files")
    if template is None:
        raise KeyError("hdf5_files is not set in the site configuration")
    return enumerate_dated_files(
        start=datetime_start, end=datetime_end, template=template, lookup_key=fsname
    )


enumerate_h5lmts = enumerate_hdf5


def get_files_and_indices(
    fsname: str,
    dataset_name: str,
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
) -> list[tuple[str, int, int]]:
    """``(path, first row, last row exclusive)`` of each day file covering ``[start, end)``."""
    out = []
    for path in enumerate_hdf5(
        fsname, datetime_start, datetime_end - datetime.timedelta(microseconds=1)
    ):
        with Hdf5(path, mode="r") as h5:
            stamps = h5.get_timestamps(dataset_name)
            rows = len(stamps)
            first = max(0, h5.get_index(dataset_name, datetime_start))
            last = min(rows, _ceil_index(h5, dataset_name, datetime_end))
        if first < last:
            out.append((path, first, last))
    return out


def _ceil_index(h5: Hdf5, dataset_name: str, when: datetime.datetime) -> int:
    stamps = h5.get_timestamps(dataset_name)
    step = h5.get_timestep(dataset_name, stamps)
    first = datetime.datetime.fromtimestamp(int(stamps[0]))
    seconds = (when - first).total_seconds()
    return int(-(-seconds // step))


def _rows_frame(h5: Hdf5, dataset_name: str, first: int, last: int) -> pandas.DataFrame:
    source = h5[dataset_name]
    values = numpy.array(source[first:last], dtype=numpy.float64)
    if values.ndim == 1:
        values = values[:, None]
    if h5.get_version() != "0":
        values[(values == 0.0) & numpy.signbit(values)] = numpy.nan
    stamps = numpy.asarray(h5.get_timestamps(dataset_name)[first:last])
    columns = list(h5.get_columns(dataset_name))
    columns += [""] * (values.shape[1] - len(columns))
    return pandas.DataFrame(
        values, index=local_index(stamps), columns=columns[: values.shape[1]], copy=False
    )


def get_dataframe_from_time_range(
    fsname: str,
    dataset_name: str,
    datetime_start: datetime.datetime,
    datetime_end: datetime.datetime,
    fix_errors: bool = False,
) -> pandas.DataFrame | None:
    """One DataFrame over ``[datetime_start, datetime_end)``, spanning day files; None if no data.

    Only the rows in range are read from each file.  ``fix_errors=True``
    replaces negative values (left by an old archiver bug) with NaN
    (missing).
    """
    frames: list[Any] = []
    for path, first, last in get_files_and_indices(
        fsname, dataset_name, datetime_start, datetime_end
    ):
        with Hdf5(path, mode="r") as h5:
            frames.append(_rows_frame(h5, dataset_name, first, last))
    if not frames:
        return None
    result = pandas.concat(frames).sort_index()
    result = result[(result.index >= datetime_start) & (result.index < datetime_end)]
    if fix_errors:
        result = result.mask(result < 0)
    return result
