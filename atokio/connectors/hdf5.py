"""TOKIO Time Series and H5LMT files through one interface (``tokio.connectors.hdf5``).

:class:`Hdf5` is an ``h5py.File`` that serves TTS v1 names from both schemas
(docs/formats.md#tokio-time-series and docs/formats.md#h5lmt):

* v1 files: names are literal; ``datatargets/readbytes`` and ``readrates``
  (``writebytes``/``writerates``, ``mdtargets/<op>s``/``<op>rates``) are
  derived from each other through the time step when only one is stored;
* H5LMT (v0) files: v1 names map onto the pylmt datasets (transposed, scaled by
  the time step, one column of ``MDSOpsDataSet`` per operation).  As in the
  reference, no time shift is applied: H5LMT rate row *i* is v1 row *i-1*;
* ``<name>/missing`` is an int8 matrix, 1 where a cell is missing (-0.0 in
  v1; ``FSMissingDataSet`` in H5LMT).

Opening needs a valid root ``version`` attribute unless the file is H5LMT or
``ignore_version=True`` is given (``KeyError`` otherwise).

``Hdf5(path)`` with no mode opens the file as pytokio did on the h5py of its
time (mode ``None``, which h5py then treated as ``'a'``): read and write when
the file can be written, read-only when it cannot, and a new file when there
is none.  So :meth:`Hdf5.commit_timeseries` works on a file opened without a
mode.  No HDF5 file lock is taken in that case, so that readers in other
processes are not shut out; pass ``mode="r"`` to only read.  (The reference
text does not name the default; the behaviour is what scripts rely on.)
"""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

import h5py
import numpy
import pandas

from atokio.archive import tts
from atokio.archive.timeseries import TimeSeries
from atokio.connectors import _hdf5

__all__ = ["SCHEMA_DATASET_PROVIDERS", "Hdf5", "get_insert_indices", "missing_values"]

logger = logging.getLogger(__name__)

get_insert_indices = tts.get_insert_indices
missing_values = tts.missing_values

#: Derived v1 datasets: name -> (source name, multiply by the time step?)
_DERIVED = {
    "datatargets/readbytes": ("datatargets/readrates", True),
    "datatargets/writebytes": ("datatargets/writerates", True),
    "datatargets/readrates": ("datatargets/readbytes", False),
    "datatargets/writerates": ("datatargets/writebytes", False),
}
MD_OPS = tts.MD_OPS
for _op in MD_OPS:
    _DERIVED[f"mdtargets/{_op}s"] = (f"mdtargets/{_op}rates", True)
    _DERIVED[f"mdtargets/{_op}rates"] = (f"mdtargets/{_op}s", False)

#: H5LMT (v0) sources of v1 names: name -> (v0 dataset, how)
H5LMT_SCHEMA: dict[str, tuple[str, str]] = {
    "datatargets/readrates": ("/OSTReadGroup/OSTBulkReadDataSet", "transpose"),
    "datatargets/writerates": ("/OSTWriteGroup/OSTBulkWriteDataSet", "transpose"),
    "datatargets/readbytes": ("/OSTReadGroup/OSTBulkReadDataSet", "transpose*dt"),
    "datatargets/writebytes": ("/OSTWriteGroup/OSTBulkWriteDataSet", "transpose*dt"),
    "dataservers/cpuload": ("/OSSCPUGroup/OSSCPUDataSet", "transpose"),
    "mdservers/cpuload": ("/MDSCPUGroup/MDSCPUDataSet", "column"),
}
for _op in MD_OPS:
    H5LMT_SCHEMA[f"mdtargets/{_op}rates"] = ("/MDSOpsGroup/MDSOpsDataSet", f"op:{_op}")
    H5LMT_SCHEMA[f"mdtargets/{_op}s"] = ("/MDSOpsGroup/MDSOpsDataSet", f"op*dt:{_op}")


#: How each dataset name is provided when the file does not hold it literally,
#: per schema version (``None``: H5LMT files; ``"1"``: TTS v1): name ->
#: ``{"source": dataset it is computed from, "how": the conversion}``.  Every
#: name under ``None`` can be read from an H5LMT file through :class:`Hdf5`
#: (``datatargets/readbytes``, ``writebytes``, ``readrates``, ``writerates``,
#: the server CPU loads and the metadata operations).
SCHEMA_DATASET_PROVIDERS: dict[str | None, dict[str, dict[str, str]]] = {
    None: {name: {"source": source, "how": how} for name, (source, how) in H5LMT_SCHEMA.items()},
    tts.SCHEMA_VERSION: {
        name: {"source": source, "how": "times timestep" if multiply else "divided by timestep"}
        for name, (source, multiply) in _DERIVED.items()
    },
}


def _writable(path: str | bytes | os.PathLike[Any]) -> bool:
    """Whether a file may be written: its permission bits allow it and so does the system.

    The bits are checked as well as :func:`os.access`, so that a file marked
    read-only (``r--r--r--``) stays untouched even for the superuser.
    """
    try:
        bits = os.stat(path).st_mode
    except OSError:
        return False
    return bool(bits & 0o222) and os.access(path, os.W_OK)


def _open_default(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Fill in the mode of an ``Hdf5(path)`` opened without one (see the module docstring)."""
    name = args[0] if args else kwargs.get("name")
    if not isinstance(name, str | bytes | os.PathLike) or not os.path.exists(name):
        kwargs["mode"] = "a"
        return
    kwargs["mode"] = "r+" if _writable(name) else "r"
    if kwargs["mode"] == "r+":
        kwargs.setdefault("locking", False)


def local_index(stamps: Any) -> pandas.DatetimeIndex:
    """Epoch seconds as naive local datetimes (the zone of the process), vectorised."""
    from dateutil.tz import tzlocal

    utc = pandas.to_datetime(numpy.asarray(stamps, dtype=numpy.int64), unit="s", utc=True)
    return utc.tz_convert(tzlocal()).tz_localize(None)


class Hdf5(h5py.File):
    """A TTS v1 or H5LMT file under the v1 schema (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        ignore_version = kwargs.pop("ignore_version", False)
        if len(args) < 2 and kwargs.get("mode") is None:
            kwargs.pop("mode", None)
            _open_default(args, kwargs)
        self.schema: dict[str, tuple[str, str]] = {}
        self.always_translate = False
        self._timesteps: dict[str, int] = {}
        try:
            super().__init__(*args, **kwargs)
        except OSError:
            if kwargs.get("mode") != "r+":
                raise
            kwargs["mode"] = "r"  # not writable after all (read-only file system, ...)
            kwargs.pop("locking", None)
            super().__init__(*args, **kwargs)
        self._version = self._detect_version()
        if self._version is None and not ignore_version:
            self.close()
            raise KeyError(f"{args[0] if args else kwargs.get('name')}: no valid version attribute")
        self.schema = H5LMT_SCHEMA if self._version == "0" else {}
        self.dataset_providers = {
            name: f"{source} ({how})" for name, (source, how) in self.schema.items()
        }

    def _detect_version(self) -> str | None:
        version = self.attrs.get("version")
        if version is not None:
            return str(tts.decode(version))
        if _hdf5.H5LMT_TIMESTAMPS in self:
            return "0"
        if self.mode != "r" and len(self.keys()) == 0:
            return tts.SCHEMA_VERSION  # a new file, about to be written
        return None

    # -- name resolution ----------------------------------------------------------
    def _resolve_schema_key(self, key: str) -> Any:
        """An object for a v1 name: a literal dataset, a mapped H5LMT dataset, or a derived array."""
        name = key.strip("/")
        if (
            not self.always_translate
            and ("/" + name) in self
            and isinstance(super().__getitem__("/" + name), h5py.Dataset)
        ):
            return super().__getitem__("/" + name)
        if name in self.schema:
            return self._h5lmt_dataset(name)
        if name in _DERIVED:
            source, multiply = _DERIVED[name]
            if ("/" + source) in self:
                step = self.get_timestep(source)
                values = super().__getitem__("/" + source)[...]
                return values * step if multiply else values / step
        return super().__getitem__(key)

    def _h5lmt_dataset(self, name: str) -> _hdf5.MappedDataset:
        source, how = self.schema[name]
        dataset = super().__getitem__(source)
        step = int(numpy.diff(super().__getitem__(_hdf5.H5LMT_TIMESTAMPS)[:2])[0])
        if how == "transpose":
            return _hdf5.MappedDataset(None, None, True, False, dataset=dataset)
        if how == "transpose*dt":
            return _hdf5.MappedDataset(lambda x: x * step, None, True, False, dataset=dataset)
        if how == "column":
            return _hdf5.MappedDataset(None, None, False, True, dataset=dataset)
        scale = how.startswith("op*dt:")
        op = how.split(":", 1)[1]
        names = [tts.decode(n) for n in dataset.attrs["OpNames"]]
        index = names.index(op)

        def pick(values: numpy.ndarray) -> numpy.ndarray:
            column = values[:, index : index + 1]
            return column * step if scale else column

        return _hdf5.MappedDataset(pick, None, True, False, dataset=dataset)

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        base, modifier = _hdf5.reduce_dataset_name(key)
        if modifier == "missing" and ("/" + key.strip("/")) not in self:
            return self.get_missing(base)
        return self._resolve_schema_key(key)

    def get(
        self, name: str, default: Any = None, getclass: bool = False, getlink: bool = False
    ) -> Any:
        if getclass or getlink:
            return super().get(name, default, getclass, getlink)
        try:
            return self[name]
        except KeyError:
            return default

    # -- metadata -------------------------------------------------------------------
    def get_version(self, dataset_name: str | None = None) -> str | None:
        """The ``version`` of a dataset (or of a group named itself), else of the file.

        A group's version does not pass to its datasets.  A name the file
        cannot provide (neither stored nor derivable) raises ``KeyError``, as
        in pytokio.  A derived or H5LMT-mapped name has the version of the
        dataset it comes from.
        """
        if dataset_name is None:
            return self._version
        name = "/" + dataset_name.strip("/")
        if name not in self:
            bare = name.strip("/")
            if bare in self.schema:
                name = "/" + self.schema[bare][0].strip("/")
            elif bare in _DERIVED and ("/" + _DERIVED[bare][0]) in self:
                name = "/" + _DERIVED[bare][0]
            else:
                raise KeyError(f"{self.filename}: no dataset {dataset_name!r}")
        version = super().__getitem__(name).attrs.get("version")
        if version is not None:
            return str(tts.decode(version))
        return self._version

    def set_version(self, version: str, dataset_name: str | None = None) -> None:
        """Set the version of a dataset, or of the file (written as a str, as pytokio does)."""
        if dataset_name is None:
            self.attrs["version"] = str(version)
            self._version = str(version)
        else:
            super().__getitem__("/" + dataset_name.strip("/")).attrs["version"] = str(version)

    def get_columns(self, dataset_name: str) -> numpy.ndarray:
        """The column names of a dataset (empty when none are defined)."""
        if self._version == "0":
            return self._get_columns_h5lmt(dataset_name)
        name = "/" + dataset_name.strip("/")
        target = (
            name
            if name in self
            else "/" + _DERIVED.get(dataset_name.strip("/"), (dataset_name, False))[0].strip("/")
        )
        columns = super().__getitem__(target).attrs.get("columns")
        if columns is None:
            return numpy.array([], dtype=object)
        return numpy.array([str(c) for c in tts.decode(columns)], dtype=object)

    def _get_columns_h5lmt(self, dataset_name: str) -> numpy.ndarray:
        name = dataset_name.strip("/")
        if name not in self.schema:
            dataset = super().__getitem__("/" + name)
            for attr in ("OSTNames", "OSSNames", "OpNames"):
                if attr in dataset.attrs:
                    return numpy.array(
                        [str(tts.decode(c)) for c in dataset.attrs[attr]], dtype=object
                    )
            return numpy.array([], dtype=object)
        source, how = self.schema[name]
        attrs = super().__getitem__(source).attrs
        if how.startswith("op"):
            return numpy.array([how.split(":", 1)[1]], dtype=object)
        if how == "column":
            return numpy.array(["_unknown"], dtype=object)
        for attr in ("OSTNames", "OSSNames"):
            if attr in attrs:
                return numpy.array([str(tts.decode(c)) for c in attrs[attr]], dtype=object)
        return numpy.array([], dtype=object)

    def get_timestamps(self, dataset_name: str) -> Any:
        """The time-stamp **dataset** of a dataset (read it with ``[...]`` before iterating)."""
        if self._version == "0":
            return super().__getitem__(_hdf5.H5LMT_TIMESTAMPS)
        name = dataset_name.strip("/")
        if ("/" + name) not in self and name in _DERIVED:
            name = _DERIVED[name][0]
        return super().__getitem__(tts.timestamps_key(self, name))

    def get_timestep(self, dataset_name: str, timestamps: Any = None) -> int:
        """Seconds between rows of a dataset (cached)."""
        if dataset_name not in self._timesteps:
            stamps = timestamps if timestamps is not None else self.get_timestamps(dataset_name)
            self._timesteps[dataset_name] = int(stamps[1] - stamps[0])
        return self._timesteps[dataset_name]

    def get_index(self, dataset_name: str, target_datetime: datetime.datetime) -> int:
        """The row of ``target_datetime`` (truncating: 00:00:07 at 5 s is row 1)."""
        stamps = self.get_timestamps(dataset_name)
        first = datetime.datetime.fromtimestamp(int(stamps[0]))
        return int(
            (target_datetime - first).total_seconds() / self.get_timestep(dataset_name, stamps)
        )

    def get_missing(self, dataset_name: str, inverse: bool = False) -> numpy.ndarray:
        """int8 matrix: 1 where a cell is missing (0 with ``inverse``)."""
        if self._version == "0":
            return self._get_missing_h5lmt(dataset_name, inverse)
        return tts.missing_values(self[dataset_name][...], inverse)

    def _get_missing_h5lmt(self, dataset_name: str, inverse: bool = False) -> numpy.ndarray:
        values = numpy.asarray(self[dataset_name][...])
        missing = super().__getitem__("/FSMissingGroup/FSMissingDataSet")[...].T.astype(numpy.int8)
        if missing.shape != values.shape:
            missing = numpy.zeros(values.shape, dtype=numpy.int8)
        return (1 - missing).astype(numpy.int8) if inverse else missing

    # -- conversions --------------------------------------------------------------------
    def to_dataframe(self, dataset_name: str) -> pandas.DataFrame:
        """A DataFrame indexed by local datetimes; missing cells are NaN."""
        if self._version == "0" and dataset_name.strip("/") not in self.schema:
            return self._to_dataframe_h5lmt(dataset_name)
        return self._to_dataframe(dataset_name)

    def _to_dataframe(self, dataset_name: str) -> pandas.DataFrame:
        values = numpy.array(self[dataset_name][...], dtype=numpy.float64)
        if values.ndim == 1:
            values = values[:, None]
        if self._version != "0":
            values[tts.missing_values(values).astype(bool)] = numpy.nan
        stamps = numpy.asarray(self.get_timestamps(dataset_name)[...])[: values.shape[0]]
        columns = list(self.get_columns(dataset_name))
        columns += [""] * (values.shape[1] - len(columns))
        return pandas.DataFrame(
            values, index=local_index(stamps), columns=columns[: values.shape[1]], copy=False
        )

    def _to_dataframe_h5lmt(self, dataset_name: str) -> pandas.DataFrame:
        dataset = super().__getitem__("/" + dataset_name.strip("/"))
        values = numpy.asarray(dataset[...], dtype=numpy.float64)
        if values.ndim == 1:
            values = values[:, None]
        else:
            values = values.T
        stamps = numpy.asarray(super().__getitem__(_hdf5.H5LMT_TIMESTAMPS)[...])
        names: list[Any] = []
        for attr in ("OSTNames", "OSSNames", "OpNames"):
            if attr in dataset.attrs:
                names = list(dataset.attrs[attr])
        names += [""] * (values.shape[1] - len(names))
        index = local_index(stamps[: values.shape[0]])
        return pandas.DataFrame(values[: len(index)], index=index, columns=names[: values.shape[1]])

    def to_timeseries(self, dataset_name: str, light: bool = False) -> TimeSeries | None:
        """The dataset as a TimeSeries (``None`` if absent)."""
        name = dataset_name.strip("/")
        if self._version != "0" and ("/" + name) in self:
            return tts.read_timeseries(self, name, light=light)
        try:
            values = self[dataset_name]
        except KeyError:
            return None
        ts = TimeSeries(dataset_name="/" + name)
        ts.dataset = numpy.asarray(values[...], dtype=numpy.float64)
        stamps = numpy.asarray(self.get_timestamps(name)[...], dtype=numpy.int64)
        ts.timestamps = stamps[: ts.dataset.shape[0]]
        ts.timestep = int(stamps[1] - stamps[0]) if len(stamps) > 1 else None
        ts.timestamp_key = self.get_timestamps(name).name
        ts.columns = [str(c) for c in self.get_columns(name)]
        ts.update_column_map()
        ts.version = self.get_version(name)
        ts.global_version = self._version
        return ts

    def commit_timeseries(self, timeseries: TimeSeries, **kwargs: Any) -> None:
        """Write a TimeSeries into this file (see :func:`atokio.archive.tts.commit_timeseries`)."""
        tts.commit_timeseries(self, timeseries, **kwargs)
        self._version = tts.SCHEMA_VERSION
