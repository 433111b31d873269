"""TimeSeries: one dataset of the TOKIO Time Series format in memory (``tokio.timeseries``).

A TimeSeries is a 2-D float64 matrix (rows = time stamps, columns =
components such as OSTs) with its time stamps, column names and metadata.
Conventions (docs/formats.md#tokio-time-series):

* row *i* covers ``[t_i, t_i + timestep)`` (left-aligned);
* a cell never written holds **-0.0** ("missing"); a measured zero is +0.0;
* naive datetimes are local time (:func:`atokio.common.to_epoch`).

Inserting a batch of ``(timestamp, column, value)`` records is one numpy
operation (:meth:`TimeSeries.insert_many`); :meth:`TimeSeries.insert_element`
is the documented one-cell form.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy

from atokio.common import to_epoch

__all__ = ["TimeSeries", "sorted_nodenames", "timeseries_deltas"]

MISSING = -0.0

_RUNS = re.compile(r"(\d+)")
_HEX_RUNS = re.compile(r"([0-9a-fA-F]+)")


def _natural_key(name: str, sort_hex: bool) -> list[Any]:
    pattern = _HEX_RUNS if sort_hex else _RUNS
    key: list[Any] = []
    for i, part in enumerate(pattern.split(name)):
        if i % 2:
            key.append((0, int(part, 16 if sort_hex else 10), part))
        else:
            key.append((1, part, ""))
    return key


def sorted_nodenames(nodenames: Iterable[str], sort_hex: bool = False) -> list[str]:
    """Natural sort of node names: digit runs compare as numbers (``bb2`` < ``bb10``).

    ``sort_hex=True`` compares runs of hexadecimal digits as hex numbers
    (``OST000a`` < ``OST0010``).
    """
    return sorted(nodenames, key=lambda name: _natural_key(str(name), sort_hex))


def _is_missing(values: numpy.ndarray) -> numpy.ndarray:
    return (values == 0.0) & numpy.signbit(values)


def timeseries_deltas(dataset: numpy.ndarray) -> numpy.ndarray:
    """Per-timestep differences of monotonic counters; one row fewer than ``dataset``.

    Row *i* of the result is ``counter(t_{i+1}) - counter(t_i)``.  Zeros (and
    -0.0) mean "no data"; a counter that goes down (a reset) or a gap never
    gives a negative delta: while "searching" (at the start, after a gap or a
    decrease) the first value at least as large as the last non-zero value
    seen credits the whole change to the row before it; a smaller one becomes
    the new reference.  Cells without a delta stay -0.0 (missing).  (docs/formats.md#lmt-in-tts.)
    """
    data = numpy.asarray(dataset, dtype=numpy.float64)
    if data.ndim == 1:
        return timeseries_deltas(data[:, None])[:, 0]
    rows, cols = data.shape
    out = numpy.full((max(rows - 1, 0), cols), MISSING)
    if rows < 2:
        return out
    searching = numpy.ones(cols, dtype=bool)
    last_nonzero = numpy.zeros(cols)
    seen_nonzero = numpy.zeros(cols, dtype=bool)
    previous = data[0]
    nonzero = previous != 0
    last_nonzero[nonzero] = previous[nonzero]
    seen_nonzero |= nonzero
    for i in range(1, rows):
        value = data[i]
        nonzero = value != 0
        # searching: a non-zero value >= the last non-zero one ends the search
        found = searching & nonzero & seen_nonzero & (value >= last_nonzero)
        out[i - 1, found] = value[found] - last_nonzero[found]
        # not searching: a decrease starts a search, else the plain difference
        steady = ~searching
        drop = steady & (value < previous)
        rise = steady & ~drop
        out[i - 1, rise] = value[rise] - previous[rise]
        searching = (searching & ~found) | drop
        last_nonzero[nonzero] = value[nonzero]
        seen_nonzero |= nonzero
        previous = value
    return out


class TimeSeries:
    """One TTS dataset in memory; see the module docstring.

    Attributes: ``dataset_name``, ``dataset`` (rows x columns float64),
    ``columns`` (list of str), ``column_map`` (name -> index), ``timestamps``
    (int64 epoch seconds), ``timestep`` (seconds), ``timestamp_key`` (HDF5
    path of the time stamps), ``dataset_metadata``, ``group_metadata``,
    ``sort_hex``, ``version``, ``global_version``.
    """

    def __init__(
        self,
        dataset_name: str | None = None,
        start: datetime.datetime | None = None,
        end: datetime.datetime | None = None,
        timestep: int | None = None,
        num_columns: int | None = None,
        column_names: Sequence[str] | None = None,
        timestamp_key: str | None = None,
        sort_hex: bool = False,
    ) -> None:
        self.dataset_name = dataset_name
        self.sort_hex = sort_hex
        self.dataset: numpy.ndarray = numpy.empty((0, 0))
        self.timestamps: numpy.ndarray = numpy.empty(0, dtype=numpy.int64)
        self.timestep: int | None = timestep
        self.timestamp_key: str | None = timestamp_key
        self.columns: list[str] = []
        self.column_map: dict[str, int] = {}
        self.dataset_metadata: dict[str, Any] = {}
        self.group_metadata: dict[str, Any] = {}
        self.version: str | None = None
        self.global_version: str | None = None
        if (
            start is not None
            and end is not None
            and timestep is not None
            and num_columns is not None
        ):
            self.init(
                start, end, timestep, num_columns, dataset_name or "", column_names, timestamp_key
            )

    def __repr__(self) -> str:
        return (
            f"TimeSeries({self.dataset_name!r}, rows={self.dataset.shape[0]}, "
            f"columns={self.dataset.shape[1] if self.dataset.ndim == 2 else 0}, timestep={self.timestep})"
        )

    # -- building ------------------------------------------------------------------
    def init(
        self,
        start: datetime.datetime,
        end: datetime.datetime,
        timestep: int,
        num_columns: int,
        dataset_name: str,
        column_names: Sequence[str] | None = None,
        timestamp_key: str | None = None,
    ) -> None:
        """A new dataset: rows from ``start`` (inclusive) to ``end`` (exclusive) every ``timestep`` s, all -0.0."""
        if timestep <= 0:
            raise ValueError(f"timestep must be positive, not {timestep}")
        first, last = to_epoch(start), to_epoch(end)
        self.dataset_name = dataset_name
        self.timestep = int(timestep)
        self.timestamps = numpy.arange(first, last, self.timestep, dtype=numpy.int64)
        self.dataset = numpy.full((len(self.timestamps), num_columns), MISSING)
        self.columns = list(column_names or [])[:num_columns]
        if timestamp_key is None:
            group = dataset_name.strip("/").split("/")[0]
            timestamp_key = f"/{group}/timestamps"
        self.set_timestamp_key(timestamp_key)
        self.update_column_map()

    def set_timestamp_key(self, timestamp_key: str, safe: bool = False) -> None:
        """Set the HDF5 path of the time stamps (``safe=True`` keeps an existing one)."""
        if safe and self.timestamp_key is not None:
            return
        self.timestamp_key = timestamp_key

    def set_columns(self, column_names: Sequence[str]) -> None:
        """Name the columns (the matrix grows if there are more names than columns)."""
        names = list(column_names)
        if len(names) > self.dataset.shape[1]:
            self._grow_columns(len(names) - self.dataset.shape[1])
        self.columns = names
        self.update_column_map()

    def update_column_map(self) -> None:
        """Rebuild the column name -> index map."""
        self.column_map = {name: index for index, name in enumerate(self.columns)}

    def _grow_columns(self, count: int) -> None:
        extra = numpy.full((self.dataset.shape[0], count), MISSING)
        self.dataset = numpy.hstack([self.dataset, extra]) if self.dataset.size else extra

    def add_column(self, column_name: str) -> int:
        """Add a named column (the next unnamed one, or a new one); return its index."""
        if column_name in self.column_map:
            return self.column_map[column_name]
        if len(self.columns) >= self.dataset.shape[1]:
            self._grow_columns(1)
        self.columns.append(column_name)
        self.column_map[column_name] = len(self.columns) - 1
        return len(self.columns) - 1

    def add_rows(self, num_rows: int = 1) -> None:
        """Append ``num_rows`` missing rows, with time stamps continuing by ``timestep``."""
        if self.timestep is None:
            raise ValueError("add_rows needs a timestep")
        last = int(self.timestamps[-1]) if len(self.timestamps) else 0
        more = last + self.timestep * numpy.arange(1, num_rows + 1, dtype=numpy.int64)
        self.timestamps = numpy.concatenate([self.timestamps, more])
        self.dataset = numpy.vstack(
            [self.dataset, numpy.full((num_rows, self.dataset.shape[1]), MISSING)]
        )

    def trim_rows(self, num_rows: int = 1) -> None:
        """Remove ``num_rows`` rows from the end."""
        if num_rows <= 0:
            return
        self.dataset = self.dataset[:-num_rows]
        self.timestamps = self.timestamps[:-num_rows]

    # -- inserting ---------------------------------------------------------------------
    def _row_of(self, epoch: float, align: str) -> int | None:
        if self.timestep is None or not len(self.timestamps):
            return None
        row = int((epoch - int(self.timestamps[0])) // self.timestep)
        if align in ("r", "right"):
            row -= 1
        if row < 0 or row >= len(self.timestamps):
            return None
        return row

    def get_insert_pos(
        self,
        timestamp: datetime.datetime,
        column_name: str,
        create_col: bool = False,
        align: str = "l",
    ) -> tuple[int | None, int | None]:
        """``(row, column)`` for a time and column name; either may be None."""
        row = self._row_of(to_epoch(timestamp, float), align)
        col = self.column_map.get(column_name)
        if col is None and create_col:
            if len(self.columns) >= self.dataset.shape[1]:
                raise IndexError(
                    f"no free column left for {column_name!r} in {self.dataset_name} "
                    f"({self.dataset.shape[1]} columns)"
                )
            col = self.add_column(column_name)
        return row, col

    def insert_element(
        self,
        timestamp: datetime.datetime,
        column_name: str,
        value: float,
        reducer: Callable[[float, float], float] | None = None,
        align: str = "l",
    ) -> bool:
        """Set one cell (``reducer(old, new)`` when a value is already there); False if out of range.

        An unknown column takes the next unnamed column; ``IndexError`` when
        every column is named already.  ``align='r'`` is for sources whose
        time stamp marks the end of the interval.
        """
        row, col = self.get_insert_pos(timestamp, column_name, create_col=True, align=align)
        if row is None or col is None:
            return False
        old = self.dataset[row, col]
        if reducer is not None and not (old == 0.0 and numpy.signbit(old)):
            self.dataset[row, col] = reducer(old, value)
        else:
            self.dataset[row, col] = value
        return True

    def insert_many(
        self,
        epochs: Sequence[float] | numpy.ndarray,
        column_names: Sequence[str] | numpy.ndarray,
        values: Sequence[float] | numpy.ndarray,
        reducer: str | None = None,
        align: str = "l",
    ) -> int:
        """Insert a batch of cells in one numpy operation; return how many were out of range.

        ``epochs`` are epoch seconds.  Unknown column names become new columns.
        ``reducer`` is ``None`` (the last value of a cell wins) or ``"sum"``
        (values of one cell add up, and add to what was there).
        """
        epochs = numpy.asarray(epochs, dtype=numpy.float64)
        values = numpy.asarray(values, dtype=numpy.float64)
        names = numpy.asarray(column_names, dtype=object)
        if self.timestep is None or not len(self.timestamps):
            return len(epochs)
        rows = numpy.floor((epochs - self.timestamps[0]) / self.timestep).astype(numpy.int64)
        if align in ("r", "right"):
            rows -= 1
        unique, inverse = numpy.unique(names, return_inverse=True)
        col_of = numpy.array([self.add_column(str(name)) for name in unique], dtype=numpy.int64)
        cols = col_of[inverse] if len(unique) else numpy.empty(0, dtype=numpy.int64)
        ok = (rows >= 0) & (rows < len(self.timestamps))
        rows, cols, values = rows[ok], cols[ok], values[ok]
        if reducer == "sum":
            current = self.dataset[rows, cols]
            start = numpy.where(_is_missing(current), 0.0, current)
            self.dataset[rows, cols] = start  # cells seen start from their value (or 0)
            numpy.add.at(self.dataset, (rows, cols), values)
        elif reducer is None:
            self.dataset[rows, cols] = values
        else:
            raise ValueError(f"unknown reducer {reducer!r}: use None or 'sum'")
        return int((~ok).sum())

    # -- reshaping ---------------------------------------------------------------------
    def convert_to_deltas(self, align: str = "l") -> None:
        """Replace counters by per-timestep deltas (one row fewer; see :func:`timeseries_deltas`).

        ``align='l'`` labels a delta by the start of its interval (drops the
        last time stamp), ``'r'`` by its end (drops the first).
        """
        self.dataset = timeseries_deltas(self.dataset)
        if align in ("l", "left"):
            self.timestamps = self.timestamps[:-1]
        elif align in ("r", "right"):
            self.timestamps = self.timestamps[1:]
        else:
            raise ValueError(f"align must be 'l' or 'r', not {align!r}")

    def swap_columns(self, index1: int, index2: int) -> None:
        """Swap two columns (data and names) in place."""
        self.dataset[:, [index1, index2]] = self.dataset[:, [index2, index1]]
        if max(index1, index2) < len(self.columns):
            self.columns[index1], self.columns[index2] = self.columns[index2], self.columns[index1]
        self.update_column_map()

    def rearrange_columns(self, new_order: Sequence[str] | Sequence[int]) -> None:
        """Reorder the columns: ``new_order`` lists column names (or indices) in their new order."""
        indices = [self.column_map[c] if isinstance(c, str) else int(c) for c in new_order]
        rest = [i for i in range(self.dataset.shape[1]) if i not in set(indices)]
        order = indices + rest
        self.dataset = self.dataset[:, order]
        named = [self.columns[i] for i in order if i < len(self.columns)]
        self.columns = named
        self.update_column_map()

    def sort_columns(self) -> None:
        """Sort the named columns naturally (:func:`sorted_nodenames`, honouring ``sort_hex``)."""
        self.rearrange_columns(sorted_nodenames(self.columns, sort_hex=self.sort_hex))

    def missing(self) -> numpy.ndarray:
        """int8 matrix: 1 where a cell is missing (-0.0)."""
        return _is_missing(self.dataset).astype(numpy.int8)
