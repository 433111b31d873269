"""Read a binary Darshan log directly, through libdarshan-util (the ``darshan`` package).

:func:`read_darshan_log` gives the same records
(:mod:`atokio.parsers.darshan_records`) as ``darshan-parser`` 3.5 text parsed by
:class:`atokio.parsers.darshan.DarshanParser`, without running a subprocess or
printing and re-parsing text: the job header, the mount table, then per module
(in module-id order) the base records, the totals and the performance
estimates asked for.  :func:`read_darshan_arrays` hands over selected counters
as arrays instead (what the log index needs), without a dict per record.

Equivalences with darshan-parser 3.5 text:

* floating-point counters are rounded as ``%f`` prints them (6 decimals), the
  run time as ``%.4f`` prints it before it is truncated to whole seconds;
* a record's mount point is the longest mount-table entry that prefixes its
  file name (the first one listed among equally long ones; ``UNKNOWN`` when
  none does), which is the entry darshan-parser shows for the tables darshan
  writes (sorted longest first);
* Lustre records use the component layout of darshan-util 3.4.6+
  (``NUM_COMPONENTS``, ``NUM_STRIPES``, ``COMP<k>_...``); a pattern or flags
  value darshan could not record (-1), and an empty pool name, are ``"N/A"``;
* totals and performance estimates come from libdarshan-util's accumulator,
  the code darshan-parser itself uses.

Differences, all outside what the corpus logs contain:

* the Lustre ``COMP<k>_STRIPE_PATTERN`` / ``COMP<k>_FLAGS`` values that newer
  darshan runtimes record (other than -1) are given as the integers stored in
  the log, where darshan-parser 3.4.6+ prints names such as ``raid0``;
* only the modules of the documented dict are read (POSIX, MPI-IO, H5F, H5D,
  PNETCDF_FILE, PNETCDF_VAR, BG/Q, LUSTRE, STDIO, DFS, DAOS); DXT, HEATMAP,
  MDHIM, APXC and APMPI data is skipped.  The H5D and PNETCDF_VAR records
  carry the id of their file's record as ``FILE_REC_ID``;
* a module flagged as incomplete gives a :class:`Warning_` record and its
  records, where darshan-parser 3.3+ stops unless ``--show-incomplete``.

libdarshan-util is loaded straight from the ``darshan`` wheel (its own cffi
declarations and its bundled library), which spares each worker process the
import of pandas that ``import darshan`` brings; where that is not possible the
package's own ``darshan.backend.cffi_backend`` is used (:mod:`atokio.collectors.darshanlib`).

Files that cannot be read raise :class:`DarshanLogError` naming the file
and the cause.  Empty files, files that are not Darshan logs, truncated logs
and logs with a corrupt name table are caught before the C library is called
(:mod:`atokio.collectors.darshanfile`); record and stripe counts that the
log's module data cannot hold are refused before anything is allocated for
them.  libdarshan-util never runs in the caller's process: the public
functions read through an isolated child (:func:`guarded`), with a memory and
a time limit, so that an abort or a crash on a corrupt log (libdarshan-util
asserts on some) ends that child and becomes a DarshanLogError; in a worker
process of the pool the read runs in place, under the same limits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from atokio.collectors.darshanfile import DarshanLogError, LogFile, check_file
from atokio.collectors.darshanlib import GENERIC, _library, direct_reader_available
from atokio.parsers.darshan_records import (
    BaseRecord,
    DarshanRecord,
    Header,
    Module,
    ModuleArrays,
    Mount,
    Perf,
    Total,
    Value,
    Warning_,
    counter_prefix,
    module_key,
)

__all__ = [
    "DarshanLogError",
    "LogHeader",
    "direct_reader_available",
    "guarded",
    "iter_darshan_log",
    "read_darshan_arrays",
    "read_darshan_log",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LUSTRE_COMP_FIELDS = (
    "STRIPE_SIZE",
    "STRIPE_COUNT",
    "STRIPE_PATTERN",
    "FLAGS",
    "EXT_START",
    "EXT_END",
    "MIRROR_ID",
)


# -- opening a log ------------------------------------------------------------------


class _Log:
    """An open log: a handle and what has been read of it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.file: LogFile = check_file(path)
        self.version, self.compression = self.file.version, self.file.compression
        self.library = _library()
        self.handle = self.library.lib.darshan_log_open(os.fsencode(path))
        if self.handle == self.library.ffi.NULL:
            raise DarshanLogError(f"{path}: invalid log file (libdarshan-util could not open it)")
        self._modules: dict[str, tuple[int, bool]] | None = None

    def close(self) -> None:
        if self.handle is not None:
            self.library.lib.darshan_log_close(self.handle)
            self.handle = None

    def __enter__(self) -> _Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def header(self) -> LogHeader:
        ffi, lib = self.library.ffi, self.library.lib
        job = ffi.new("struct darshan_job *")
        if lib.darshan_log_get_job(self.handle, job) < 0:
            raise DarshanLogError(f"{self.path}: invalid log file: cannot read the job record")
        runtime = ffi.new("double *")
        lib.darshan_log_get_job_runtime(self.handle, job[0], runtime)
        exe = ffi.new("char[]", 4096)
        lib.darshan_log_get_exe(self.handle, exe)
        metadata = []
        for line in ffi.string(job.metadata).decode(errors="replace").split("\n"):
            key, sep, value = line.partition("=")  # only the first '=' separates
            if sep:
                metadata.append(f"{key} = {value}")
        return LogHeader(
            version=self.version,
            compression=self.compression,
            exe=ffi.string(exe).decode(errors="replace").split(),
            uid=int(job.uid),
            jobid=str(job.jobid),
            start_time=int(job.start_time_sec),
            end_time=int(job.end_time_sec),
            nprocs=int(job.nprocs),
            walltime=int(float("%.4f" % runtime[0])),
            metadata=metadata,
        )

    def mounts(self) -> list[tuple[str, str]]:
        """The mount table in log order: ``(mount point, fs type)``."""
        ffi, lib = self.library.ffi, self.library.lib
        table = ffi.new("struct darshan_mnt_info **")
        count = ffi.new("int *")
        if lib.darshan_log_get_mounts(self.handle, table, count) < 0:
            raise DarshanLogError(f"{self.path}: invalid log file: cannot read the mount table")
        entry = ffi.sizeof("struct darshan_mnt_info")
        type_at = ffi.offsetof("struct darshan_mnt_info", "mnt_type")
        path_at = ffi.offsetof("struct darshan_mnt_info", "mnt_path")
        out = []
        try:
            if count[0]:
                raw = ffi.buffer(table[0], count[0] * entry)  # a view: slices copy

                def string_at(at: int, stop: int) -> str:
                    # NUL-terminated within its field; look at a short head first
                    head = raw[at : min(at + 256, stop)]
                    end = head.find(b"\0")
                    if end < 0:
                        head = raw[at:stop]
                        end = head.find(b"\0")
                    return (head if end < 0 else head[:end]).decode(errors="replace")

                for start in range(0, count[0] * entry, entry):
                    fstype = string_at(start + type_at, start + entry)
                    path = string_at(start + path_at, start + entry)
                    out.append((path, fstype))
        finally:
            if table[0] != ffi.NULL:
                lib.darshan_free(table[0])
        return out

    def modules(self) -> dict[str, tuple[int, bool]]:
        """``{module name: (module id, incomplete)}`` of the modules with data, in id order."""
        if self._modules is None:
            ffi, lib = self.library.ffi, self.library.lib
            table = ffi.new("struct darshan_mod_info **")
            count = ffi.new("int *")
            lib.darshan_log_get_modules(self.handle, table, count)
            found = []
            for i in range(count[0]):
                entry = table[0][i]
                found.append(
                    (int(entry.idx), ffi.string(entry.name).decode(), bool(entry.partial_flag))
                )
            if table[0] != ffi.NULL:
                lib.darshan_free(table[0])
            self._modules = {name: (idx, partial) for idx, name, partial in sorted(found)}
        return self._modules

    def names(self, ids: Iterable[int] | None = None) -> dict[int, str]:
        """Record id -> name, for ``ids`` (all records when None)."""
        ffi, lib = self.library.ffi, self.library.lib
        table = ffi.new("struct darshan_name_record **")
        count = ffi.new("int *")
        if ids is None:
            lib.darshan_log_get_name_records(self.handle, table, count)
        else:
            wanted = ffi.new("darshan_record_id[]", list(ids))
            if not len(wanted):
                return {}
            lib.darshan_log_get_filtered_name_records(
                self.handle, table, count, wanted, len(wanted)
            )
        out: dict[int, str] = {}
        string, free = ffi.string, lib.darshan_free
        records = table[0]
        for i in range(count[0]):
            record = records[i]
            out[record.id] = string(record.name).decode(errors="replace")
            free(record.name)
        if records != ffi.NULL:
            free(records)
        return out

    def generic_records(self, module: str) -> Any:
        """All records of a generic module, as a numpy array of the module's record type."""
        import numpy

        dtype = self.library.record_dtype(module)
        ffi, lib = self.library.ffi, self.library.lib
        index = self.modules()[module][0]
        buffer = ffi.new("void **")
        size = dtype.itemsize
        chunks: list[bytes] = []
        # every record stores at least its 16-byte id and rank: more than the
        # region can hold is corruption (or a library looping on it)
        try:
            # fixed-size records: the library fills the buffer it allocated first
            while (found := lib.darshan_log_get_record(self.handle, index, buffer)) >= 1:
                chunks.append(ffi.buffer(buffer[0], size)[:])
                if not len(chunks) & 0xFFF and not self.file.holds(16 * len(chunks)):
                    raise DarshanLogError(
                        f"{self.path}: corrupt log: more {module} records than its "
                        f"{self.file.module_data_size()} bytes of module data hold"
                    )
        finally:
            if buffer[0] != ffi.NULL:
                lib.darshan_free(buffer[0])
        if found < 0:
            raise DarshanLogError(f"{self.path}: corrupt log: cannot read its {module} records")
        return numpy.frombuffer(b"".join(chunks), dtype=dtype)

    def lustre_records(
        self,
    ) -> Iterator[tuple[int, int, int, list[tuple[list[int], str, list[int]]]]]:
        """``(id, rank, stripes, components)``; a component is ``(counters, pool, OST ids)``."""
        ffi, lib = self.library.ffi, self.library.lib
        index = self.modules()["LUSTRE"][0]
        component = ffi.sizeof("struct darshan_lustre_component")
        buffer = ffi.new("void **")
        while True:
            # records of varying size: a buffer of the library's for each one
            found = lib.darshan_log_get_record(self.handle, index, buffer)
            if found < 0:
                raise DarshanLogError(f"{self.path}: corrupt log: cannot read its LUSTRE records")
            if found == 0:
                return
            try:
                record = ffi.cast("struct darshan_lustre_record *", buffer[0])
                stripes, comps = int(record.num_stripes), int(record.num_comps)
                # the OST ids and components follow the record in the region:
                # counts it cannot hold are corruption, caught before any allocation
                if stripes < 0 or comps < 0 or not self.file.holds(8 * stripes + component * comps):
                    raise DarshanLogError(
                        f"{self.path}: corrupt log: a LUSTRE record claims {stripes} stripes "
                        f"and {comps} components, more than the log's "
                        f"{self.file.module_data_size()} bytes of module data hold"
                    )
                osts = ffi.unpack(record.ost_ids, stripes) if stripes > 0 else []
                components = []
                taken = 0
                for k in range(comps):
                    comp = record.comps[k]
                    counters = list(ffi.unpack(comp.counters, len(_LUSTRE_COMP_FIELDS)))
                    count = max(0, min(int(counters[1]), len(osts) - taken))
                    components.append(
                        (
                            counters,
                            ffi.string(comp.pool_name).decode(errors="replace"),
                            list(osts[taken : taken + count]),
                        )
                    )
                    taken += count
                record_id, rank = int(record.base_rec.id), int(record.base_rec.rank)
            finally:
                lib.darshan_free(buffer[0])
                buffer[0] = ffi.NULL
            yield record_id, rank, stripes, components

    def accumulate(self, module: str, table: Any, nprocs: int) -> tuple[Any, Any] | None:
        """(derived metrics, summary record) from libdarshan-util's accumulator, or None
        when the module has none (darshan-parser prints no totals or perf then)."""
        import numpy

        ffi, lib = self.library.ffi, self.library.lib
        index = self.modules()[module][0]
        accumulator = ffi.new("darshan_accumulator *")
        if lib.darshan_accumulator_create(index, nprocs, accumulator) != 0:
            return None
        try:
            records = numpy.ascontiguousarray(table)
            if len(records) and (
                lib.darshan_accumulator_inject(
                    accumulator[0], ffi.from_buffer(records), len(records)
                )
                != 0
            ):
                return None
            metrics = ffi.new("struct darshan_derived_metrics *")
            summary = ffi.new(GENERIC[module] + " *")
            if lib.darshan_accumulator_emit(accumulator[0], metrics, summary) != 0:
                return None
        finally:
            lib.darshan_accumulator_destroy(accumulator[0])
        dtype = self.library.record_dtype(module)
        row = numpy.frombuffer(ffi.buffer(summary, dtype.itemsize)[:], dtype=dtype)[0]
        return metrics, row


@dataclass
class LogHeader:
    """The job header of a log under the documented keys (docs/formats.md#darshan-parser-text)."""

    version: str
    compression: str
    exe: list[str]
    uid: int
    jobid: str
    start_time: int
    end_time: int
    nprocs: int
    walltime: int
    metadata: list[str]

    def records(self) -> list[DarshanRecord]:
        """As :class:`Header` records, in darshan-parser's order."""
        out: list[DarshanRecord] = [
            Header("version", self.version),
            Header("compression", self.compression),
            Header("exe", list(self.exe)),
            Header("uid", self.uid),
            Header("jobid", self.jobid),
            Header("start_time", self.start_time),
            Header("start_time_string", time.ctime(self.start_time)),
            Header("end_time", self.end_time),
            Header("end_time_string", time.ctime(self.end_time)),
            Header("nprocs", self.nprocs),
            Header("walltime", self.walltime),
        ]
        out += [Header("metadata", item) for item in self.metadata]
        return out

    def as_dict(self) -> dict[str, Any]:
        """As the ``header`` part of the documented dict."""
        out: dict[str, Any] = {}
        for record in self.records():
            assert isinstance(record, Header)
            if record.key == "metadata":
                out.setdefault("metadata", []).append(record.value)
            else:
                out[record.key] = record.value
        return out


def _mount_finder(mounts: list[tuple[str, str]]) -> Any:
    """``name -> (mount point, fs type)`` as darshan-parser shows it (cached per name)."""
    ordered = sorted(mounts, key=lambda m: -len(m[0]))  # stable: table order among equals
    cache: dict[str, tuple[str, str]] = {}

    def find(name: str) -> tuple[str, str]:
        found = cache.get(name)
        if found is None:
            found = ("UNKNOWN", "UNKNOWN")
            for path, fstype in ordered:
                if name.startswith(path):
                    found = (path, fstype)
                    break
            cache[name] = found
        return found

    return find


def _printed(value: float) -> float:
    """``value`` as darshan-parser prints a double (``%f``) and a parser reads it back."""
    return float("%f" % value)


# -- records ----------------------------------------------------------------------


def read_darshan_log(
    path: str | os.PathLike[str],
    *,
    modes: Sequence[str] = ("base",),
    modules: Iterable[str] | None = None,
    counters: Iterable[str] | None = None,
) -> list[DarshanRecord]:
    """The records of a Darshan log for the given modes (``base``, ``total``, ``perf``).

    Same records, in the same order, as ``darshan-parser --<mode>`` output
    parsed by :class:`~atokio.parsers.darshan.DarshanParser`; ``modules`` /
    ``counters`` keep only those module keys / counter names in base records,
    as that parser does.  No modes gives the header and the mount table and
    the module banners.  Raises :class:`DarshanLogError` for a file that is not
    a readable Darshan log, and for one on which libdarshan-util aborts,
    crashes or exceeds its memory or time limit (see :func:`guarded`).
    """
    path = os.fspath(path)
    _check_modes(modes)
    return guarded(_read_log, path, tuple(modes), _frozen(modules), _frozen(counters))


def iter_darshan_log(
    path: str | os.PathLike[str],
    *,
    modes: Sequence[str] = ("base",),
    modules: Iterable[str] | None = None,
    counters: Iterable[str] | None = None,
) -> Iterator[DarshanRecord]:
    """:func:`read_darshan_log` as an iterator (the log is read whole first, in the child)."""
    yield from read_darshan_log(path, modes=modes, modules=modules, counters=counters)


def _check_modes(modes: Sequence[str]) -> None:
    unknown = set(modes) - {"base", "total", "perf"}
    if unknown:
        raise ValueError(f"unknown Darshan modes {sorted(unknown)}: use base, total or perf")


def _frozen(names: Iterable[str] | None) -> frozenset[str] | None:
    return frozenset(names) if names is not None else None


def _read_log(
    path: str,
    modes: tuple[str, ...],
    modules: frozenset[str] | None,
    counters: frozenset[str] | None,
) -> list[DarshanRecord]:
    """:func:`read_darshan_log` in this process (what the isolated child runs)."""
    return list(_iter_log(path, modes, modules, counters))


def _iter_log(
    path: str,
    modes: tuple[str, ...],
    modules: frozenset[str] | None,
    counters: frozenset[str] | None,
) -> Iterator[DarshanRecord]:
    wanted = set(modes)
    keep_modules, keep_counters = modules, counters
    with _Log(path) as log:
        header = log.header()
        yield from header.records()
        mounts = log.mounts()
        yield from (Mount(m, t) for m, t in mounts)
        present = log.modules()
        mount = _mount_finder(mounts)
        names: dict[int, str] | None = None
        for banner, (_index, partial) in present.items():
            if banner not in GENERIC and banner != "LUSTRE":
                continue  # DXT, HEATMAP, APXC, APMPI: not part of the documented dict
            if banner == "LUSTRE" and "base" not in wanted and wanted:
                continue  # darshan-parser shows Lustre data with --base only
            key = module_key(banner)
            yield Module(key)
            if not wanted:
                continue  # header, mount table and banners only
            if partial:
                yield Warning_(key, f"*WARNING*: The {banner} module contains incomplete data!")
            base = "base" in wanted and (keep_modules is None or key in keep_modules)
            if base and names is None:
                names = log.names()
            if banner == "LUSTRE":
                if base:
                    assert names is not None
                    yield from _lustre_records(log, names, mount, keep_counters)
                continue
            table = log.generic_records(banner)
            if base:
                assert names is not None
                yield from _base_records(log, banner, table, names, mount, keep_counters)
            if len(table) and ("total" in wanted or "perf" in wanted):
                yield from _accumulated(log, banner, table, header.nprocs, wanted)


#: Suffixes of integer counters that hold a 64-bit record id (a hash of a file
#: name), such as ``POSIX_RENAMED_FROM``.  libdarshan-util stores every counter
#: as a signed 64-bit integer; darshan-parser prints these unsigned, and so do
#: we, so that the value equals the text and matches the ids of the name table.
RECORD_ID_COUNTERS = ("RENAMED_FROM", "_REC_ID")

_TWO_64 = 1 << 64


def _record_id_columns(names: Sequence[str]) -> list[int]:
    """Positions of the counters in ``names`` that hold record ids (see :data:`RECORD_ID_COUNTERS`)."""
    return [i for i, name in enumerate(names) if name.endswith(RECORD_ID_COUNTERS)]


def _unsigned(value: int) -> int:
    """A signed 64-bit integer read as unsigned."""
    return value + _TWO_64 if value < 0 else value


def _base_records(
    log: _Log,
    banner: str,
    table: Any,
    names: dict[int, str],
    mount: Any,
    keep_counters: frozenset[str] | None,
) -> Iterator[DarshanRecord]:
    prefix = counter_prefix(banner)
    strip = len(prefix)
    library = log.library
    int_names = [c[strip:] if c.startswith(prefix) else c for c in library.counter_names(banner)]
    float_names = [
        c[strip:] if c.startswith(prefix) else c for c in library.counter_names(banner, floats=True)
    ]
    if keep_counters is not None:
        int_keep = [i for i, c in enumerate(int_names) if c in keep_counters]
        float_keep = [i for i, c in enumerate(float_names) if c in keep_counters]
        int_names = [int_names[i] for i in int_keep]
        float_names = [float_names[i] for i in float_keep]
        ints = table["counters"][:, int_keep].tolist()
        floats = table["fcounters"][:, float_keep].tolist()
    else:
        ints = table["counters"].tolist()
        floats = table["fcounters"].tolist()
    file_ids = None
    if "file_rec_id" in (table.dtype.names or ()) and (
        keep_counters is None or "FILE_REC_ID" in keep_counters
    ):
        file_ids = table["file_rec_id"].tolist()
    for column in _record_id_columns(int_names):
        for row in ints:
            row[column] = _unsigned(row[column])
    key = module_key(banner)
    for n, (record_id, rank, int_values, float_values) in enumerate(
        zip(table["id"].tolist(), table["rank"].tolist(), ints, floats, strict=True)
    ):
        name = names.get(record_id, str(record_id))
        mount_pt, fs_type = mount(name)
        values: dict[str, Value] = dict(zip(int_names, int_values, strict=True))
        values.update(zip(float_names, map(_printed, float_values), strict=True))
        if file_ids is not None:
            values["FILE_REC_ID"] = file_ids[n]
        yield BaseRecord(key, str(rank), name, mount_pt, fs_type, values)


def _lustre_records(
    log: _Log,
    names: dict[int, str],
    mount: Any,
    keep_counters: frozenset[str] | None,
) -> Iterator[DarshanRecord]:
    for record_id, rank, stripes, components in log.lustre_records():
        name = names.get(record_id, str(record_id))
        mount_pt, fs_type = mount(name)
        values: dict[str, Value] = {"NUM_COMPONENTS": len(components), "NUM_STRIPES": stripes}
        for k, (counters, pool, osts) in enumerate(components, start=1):
            comp = dict(zip(_LUSTRE_COMP_FIELDS, counters, strict=True))
            values[f"COMP{k}_STRIPE_SIZE"] = comp["STRIPE_SIZE"]
            values[f"COMP{k}_STRIPE_COUNT"] = comp["STRIPE_COUNT"]
            pattern = comp["STRIPE_PATTERN"]
            values[f"COMP{k}_STRIPE_PATTERN"] = "N/A" if pattern == -1 else pattern
            values[f"COMP{k}_FLAGS"] = "N/A" if comp["FLAGS"] == -1 else comp["FLAGS"]
            values[f"COMP{k}_EXT_START"] = comp["EXT_START"]
            values[f"COMP{k}_EXT_END"] = comp["EXT_END"]
            values[f"COMP{k}_MIRROR_ID"] = comp["MIRROR_ID"]
            values[f"COMP{k}_POOL_NAME"] = pool or "N/A"
            for i, ost in enumerate(osts):
                values[f"COMP{k}_OST_ID_{i}"] = int(ost)
        if keep_counters is not None:
            values = {k: v for k, v in values.items() if k in keep_counters}
        yield BaseRecord("lustre", str(rank), name, mount_pt, fs_type, values)


def _accumulated(
    log: _Log, banner: str, table: Any, nprocs: int, modes: set[str]
) -> list[DarshanRecord]:
    """Totals and performance estimates through libdarshan-util's accumulator."""
    result = log.accumulate(banner, table, nprocs)
    if result is None:
        return []
    metrics, summary = result
    key = module_key(banner)
    prefix = counter_prefix(banner)
    strip = len(prefix)
    out: list[DarshanRecord] = []
    if "total" in modes:
        library = log.library
        for counter, int_value in zip(
            library.counter_names(banner), summary["counters"].tolist(), strict=True
        ):
            name = counter[strip:] if counter.startswith(prefix) else counter
            if name.endswith(RECORD_ID_COUNTERS):
                int_value = _unsigned(int_value)
            out.append(Total(key, name, int_value))
        for counter, float_value in zip(
            library.counter_names(banner, floats=True), summary["fcounters"].tolist(), strict=True
        ):
            name = counter[strip:] if counter.startswith(prefix) else counter
            out.append(Total(key, name, _printed(float_value)))
    if "perf" in modes:
        out += [
            Perf(key, "total_bytes", int(metrics.total_bytes)),
            Perf(key, "slowest_rank_io_time_unique_files", _printed(metrics.unique_io_total_time_by_slowest)),
            Perf(key, "slowest_rank_meta_only_time_unique_files", _printed(metrics.unique_md_only_time_by_slowest)),
            Perf(key, "slowest_rank_rw_only_time_unique_files", _printed(metrics.unique_rw_only_time_by_slowest)),
            Perf(key, "slowest_rank_unique_files", int(metrics.unique_io_slowest_rank)),
            Perf(key, "time_by_slowest_shared_files", _printed(metrics.shared_io_total_time_by_slowest)),
            Perf(key, "agg_perf_by_slowest", _printed(metrics.agg_perf_by_slowest)),
        ]  # fmt: skip
    return out


# -- arrays (for summaries) -----------------------------------------------------------


def read_darshan_arrays(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    modules: Sequence[str] = ("POSIX", "STDIO"),
) -> tuple[dict[str, Any], dict[str, str], list[ModuleArrays]]:
    """Header, mount table and selected counters of a log, as arrays (for summaries).

    ``columns`` are lower-case counter names without the module prefix
    (``bytes_read``, ``f_open_start_timestamp``); a module that lacks one
    leaves it out.  Integer counters go to ``ModuleArrays.counters`` (int64),
    floating-point ones to ``ModuleArrays.timestamps`` (float64) **as stored
    in the log**, not rounded as darshan-parser prints them (``%f``): a
    reduction such as min or max gives the printed value when its result is
    rounded, because rounding preserves order.  ``ModuleArrays.names`` holds
    each record's file name.  The header is the documented ``header`` dict;
    the mount table is ``{mount point: fs type}`` (a repeated mount point keeps
    its last fs type, as in the documented dict).  Raises :class:`DarshanLogError`
    as :func:`read_darshan_log` does.
    """
    return guarded(_read_arrays, os.fspath(path), tuple(columns), tuple(modules))


def _read_arrays(
    path: str, columns: tuple[str, ...], modules: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, str], list[ModuleArrays]]:
    """:func:`read_darshan_arrays` in this process (what the isolated child runs)."""
    with _Log(path) as log:
        header = log.header().as_dict()
        mounts = dict(log.mounts())
        present = log.modules()
        library = log.library
        tables = []
        for banner in modules:
            if banner in present and banner in GENERIC:
                tables.append((banner, log.generic_records(banner)))
        ids: set[int] = set()
        for _banner, table in tables:
            ids.update(table["id"].tolist())
        names = log.names(ids) if ids else {}
        out: list[ModuleArrays] = []
        for banner, table in tables:
            record_ids = table["id"].tolist()
            arrays = ModuleArrays(module_key(banner), [names.get(i, str(i)) for i in record_ids])
            if record_ids:
                strip = len(counter_prefix(banner))
                ints = {c[strip:].lower(): i for i, c in enumerate(library.counter_names(banner))}
                floats = {
                    c[strip:].lower(): i
                    for i, c in enumerate(library.counter_names(banner, floats=True))
                }
                int_matrix = table["counters"]
                float_matrix = table["fcounters"]
                for column in columns:
                    if column in ints:
                        arrays.counters[column] = int_matrix[:, ints[column]]
                    elif column in floats:
                        arrays.timestamps[column] = float_matrix[:, floats[column]]
            out.append(arrays)
        return header, mounts, out


# -- isolation ----------------------------------------------------------------------


def guarded(fn: Callable[..., T], path: str, *args: Any) -> T:
    """``fn(path, *args)`` where libdarshan-util cannot take the caller down.

    In the caller's process the call runs in an isolated child
    (:func:`~atokio.collectors.workers.call_isolated`); in a worker process of
    the pool (which a crash costs nothing but a restart) it runs there.  Either
    way under the limits ``ATOKIO_DARSHAN_MEMORY_LIMIT`` (address space,
    default 2G) and ``ATOKIO_DARSHAN_TIME_LIMIT`` (seconds, default 300), also
    settable as the configuration keys ``darshan_memory_limit`` /
    ``darshan_time_limit``.  An abort, a crash, a signal or a limit is a
    :class:`DarshanLogError` naming the file and the cause.
    """
    from atokio.collectors.limits import setting_duration, setting_size
    from atokio.collectors.workers import IsolatedCallError, call_isolated, in_worker_process

    memory = setting_size("DARSHAN_MEMORY_LIMIT")
    seconds = setting_duration("DARSHAN_TIME_LIMIT")
    if in_worker_process():
        with _limits_here(memory, seconds):
            try:
                return fn(path, *args)
            except MemoryError:
                raise DarshanLogError(_memory_message(path, memory)) from None
    try:
        return call_isolated(fn, path, *args, memory_limit=memory, time_limit=seconds)
    except IsolatedCallError as error:
        cause = str(error)
        if cause.startswith("exceeded the memory limit"):
            raise DarshanLogError(_memory_message(path, memory)) from None
        if cause.startswith("exceeded the time limit"):
            raise DarshanLogError(
                f"{path}: the Darshan reader {cause} (ATOKIO_DARSHAN_TIME_LIMIT); "
                "the log is corrupt or very large"
            ) from None
        raise DarshanLogError(f"{path}: corrupt log: libdarshan-util {cause}") from None
    except MemoryError:
        raise DarshanLogError(f"{path}: the log's records do not fit in memory") from None


def _memory_message(path: str, memory: int | None) -> str:
    from atokio.collectors.limits import format_size

    bound = f" of {format_size(memory)}" if memory else ""
    return (
        f"{path}: the Darshan reader exceeded its memory limit{bound} "
        "(ATOKIO_DARSHAN_MEMORY_LIMIT); the log is corrupt or very large"
    )


@contextlib.contextmanager
def _limits_here(memory: int | None, seconds: float | None) -> Iterator[None]:
    """Memory and time limits on this (worker) process for the duration of a read."""
    import resource
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        seconds = None  # timers and signal dispositions belong to the main thread
    old_as = resource.getrlimit(resource.RLIMIT_AS)
    if memory is not None and (old_as[0] == resource.RLIM_INFINITY or memory < old_as[0]):
        resource.setrlimit(resource.RLIMIT_AS, (memory, old_as[1]))
    old_handler = signal.signal(signal.SIGALRM, signal.SIG_DFL) if seconds else None
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)  # the default action ends the process
    try:
        yield
    finally:
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, old_as)
