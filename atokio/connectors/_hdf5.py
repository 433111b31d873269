"""Helpers that present H5LMT (v0) datasets under TTS (v1) names (``tokio.connectors._hdf5``).

A :class:`MappedDataset` wraps an h5py dataset and transforms what slicing
returns (transpose, one column, multiply by the time step, ...).  Unlike the
reference it wraps the dataset rather than subclassing ``h5py.Dataset``; it
offers ``__getitem__``, ``shape`` (the untransposed shape, as the reference
reports it), ``dtype``, ``attrs``, ``parent``, ``name`` and ``len()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy

from atokio.archive.tts import timestamps_key

__all__ = [
    "MappedDataset",
    "convert_counts_rates",
    "demux_column",
    "get_timestamps",
    "get_timestamps_key",
    "map_dataset",
    "reduce_dataset_name",
]

#: The time stamps of every H5LMT dataset.
H5LMT_TIMESTAMPS = "/FSStepsGroup/FSStepsDataSet"


class MappedDataset:
    """A dataset whose sliced values go through ``map_function(values, **map_kwargs)``."""

    def __init__(
        self,
        map_function: Callable[..., numpy.ndarray] | None = None,
        map_kwargs: dict[str, Any] | None = None,
        transpose: bool = False,
        force2d: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self._dataset = kwargs.pop("dataset", args[0] if args else None)
        if self._dataset is None:
            raise TypeError("MappedDataset needs the dataset it maps (dataset=...)")
        self.map_function = map_function
        self.map_kwargs = map_kwargs or {}
        self.transpose = transpose
        self.force2d = force2d

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._dataset.shape)

    @property
    def dtype(self) -> Any:
        return self._dataset.dtype

    @property
    def attrs(self) -> Any:
        return self._dataset.attrs

    @property
    def parent(self) -> Any:
        return self._dataset.parent

    @property
    def name(self) -> str:
        return str(self._dataset.name)

    @property
    def file(self) -> Any:
        return self._dataset.file

    def __len__(self) -> int:
        return len(self._dataset)

    def _values(self) -> numpy.ndarray:
        values = numpy.asarray(self._dataset[...])
        if self.force2d and values.ndim == 1:
            values = values[:, None] if not self.transpose else values[None, :]
        if self.transpose:
            values = values.T
        if self.map_function is not None:
            values = self.map_function(values, **self.map_kwargs)
        return values

    def __getitem__(self, key: Any) -> numpy.ndarray:
        return self._values()[key]

    def __array__(self, dtype: Any = None, copy: Any = None) -> numpy.ndarray:
        values = self._values()
        return values.astype(dtype) if dtype is not None else values


def reduce_dataset_name(key: str) -> tuple[str, str | None]:
    """Split ``"datatargets/readbytes/missing"`` into ``("datatargets/readbytes", "missing")``."""
    stripped = key.rstrip("/")
    base, _, last = stripped.rpartition("/")
    if last == "missing" and base:
        return base, "missing"
    return stripped, None


def get_timestamps_key(hdf5_file: Any, dataset_name: str) -> str:
    """The path of the time stamps of ``dataset_name`` (H5LMT: ``FSStepsDataSet``)."""
    if H5LMT_TIMESTAMPS in hdf5_file:
        return H5LMT_TIMESTAMPS
    return timestamps_key(hdf5_file, dataset_name)


def get_timestamps(hdf5_file: Any, dataset_name: str) -> Any:
    """The time-stamp dataset of ``dataset_name``."""
    return hdf5_file[get_timestamps_key(hdf5_file, dataset_name)]


def _timestep(hdf5_file: Any, dataset_name: str) -> int:
    stamps = get_timestamps(hdf5_file, dataset_name)
    return int(stamps[1] - stamps[0])


def _apply_timestep(
    return_value: numpy.ndarray,
    parent_dataset: Any,
    func: Callable[[numpy.ndarray, int], numpy.ndarray] = lambda x, y: x * y,
) -> numpy.ndarray:
    """``func(values, time step of parent_dataset)`` (default: multiply)."""
    return func(return_value, _timestep(parent_dataset.file, parent_dataset.name))


def _one_column(
    return_value: numpy.ndarray,
    col_idx: int,
    apply_timestep_func: Callable[..., numpy.ndarray] | None = None,
    parent_dataset: Any = None,
) -> numpy.ndarray:
    """Column ``col_idx`` as a one-column matrix, optionally scaled by the time step."""
    column = return_value[:, col_idx : col_idx + 1]
    if apply_timestep_func is not None and parent_dataset is not None:
        column = apply_timestep_func(column, _timestep(parent_dataset.file, parent_dataset.name))
    return column


def map_dataset(hdf5_file: Any, from_key: str, *args: Any, **kwargs: Any) -> MappedDataset:
    """A MappedDataset over ``hdf5_file[from_key]`` (kwargs as for MappedDataset)."""
    dataset = hdf5_file[from_key]
    if isinstance(dataset, MappedDataset):
        dataset = dataset._dataset
    return MappedDataset(*args, dataset=dataset, **kwargs)


def convert_counts_rates(
    hdf5_file: Any, from_key: str, to_rates: bool, *args: Any, **kwargs: Any
) -> MappedDataset:
    """``from_key`` converted between per-timestep amounts and per-second rates."""
    dataset = hdf5_file[from_key]
    step = _timestep(hdf5_file, from_key)
    scale = (lambda x: x / step) if to_rates else (lambda x: x * step)
    if isinstance(dataset, MappedDataset):
        inner = dataset.map_function

        def chained(values: numpy.ndarray, **map_kwargs: Any) -> numpy.ndarray:
            return scale(inner(values, **map_kwargs) if inner else values)

        return MappedDataset(
            chained,
            dataset.map_kwargs,
            dataset.transpose,
            dataset.force2d,
            dataset=dataset._dataset,
        )
    return MappedDataset(lambda x: scale(x), None, *args, dataset=dataset, **kwargs)


def demux_column(
    hdf5_file: Any,
    from_key: str,
    column: int | str,
    apply_timestep_func: Callable[..., Any] | None = None,
    *args: Any,
    **kwargs: Any,
) -> MappedDataset:
    """One column of ``from_key`` (by index or by name) as a dataset of its own."""
    dataset = hdf5_file[from_key]
    if isinstance(column, str):
        names = [
            n.decode() if isinstance(n, bytes) else str(n) for n in dataset.attrs.get("OpNames", [])
        ]
        column = names.index(column)
    step = _timestep(hdf5_file, from_key) if apply_timestep_func is not None else None

    def pick(values: numpy.ndarray) -> numpy.ndarray:
        picked = values[:, column : column + 1]
        return apply_timestep_func(picked, step) if apply_timestep_func is not None else picked

    return MappedDataset(pick, None, *args, dataset=dataset, **kwargs)
