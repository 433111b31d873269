"""Read a binary Darshan log directly, through libdarshan-util (the ``darshan`` package).

:func:`read_darshan_log` gives the same records
(:mod:`atokio.parsers.darshan_records`) as ``darshan-parser`` 3.5 text parsed by
:class:`atokio.parsers.darshan.DarshanParser`, without running a subprocess or
printing and re-parsing text: the job header, the mount table, then per module
(in module-id order) the base records, the totals and the performance
estimates asked for.

Equivalences with darshan-parser 3.5 text:

* floating-point counters are rounded as ``%f`` prints them (6 decimals);
* a record's mount point is the longest mount-table entry that prefixes its
  file name (``UNKNOWN`` when none does), as darshan-parser shows it;
* Lustre records use the component layout of darshan-util 3.4.6+
  (``NUM_COMPONENTS``, ``NUM_STRIPES``, ``COMP<k>_...``); a pattern or flags
  value darshan could not record (-1), and an empty pool name, are ``"N/A"``;
* totals and performance estimates come from libdarshan-util's accumulator,
  the code darshan-parser itself uses.

Logs that are empty, truncated or not Darshan logs raise
:class:`DarshanLogError` naming the file (checked before the C library is
called, so it prints nothing).
"""

from __future__ import annotations

import os
import re
import struct
import time
from collections.abc import Iterable, Sequence
from typing import Any

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

__all__ = ["DarshanLogError", "read_darshan_arrays", "read_darshan_log"]

#: Compression methods by the byte darshan writes in the log header.
_COMPRESSION = {0: "ZLIB", 1: "BZIP2", 2: "NONE", 3: "LIBZSTD"}
_VERSION = re.compile(rb"^\d+\.\d+")
#: darshan's log magic number, and the header bytes checked (up to 16 module slots).
_MAGIC = 6567223
_HEADER_CHECKED = 24 + 16 + 16 * 16
#: Modules whose records are the generic counters + fcounters layout.
_GENERIC = (
    "POSIX",
    "MPI-IO",
    "STDIO",
    "H5F",
    "H5D",
    "PNETCDF_FILE",
    "PNETCDF_VAR",
    "BG/Q",
    "MDHIM",
)


class DarshanLogError(RuntimeError):
    """A file that cannot be read as a Darshan log."""


def _backend() -> Any:
    from darshan.backend import cffi_backend

    return cffi_backend


def _check_file(path: str) -> tuple[str, str]:
    """(version, compression) from the log header; raises DarshanLogError for non-logs.

    Checks what the header promises before libdarshan-util sees the file: the
    version string, the magic number, and that every region it maps (name
    table, the first 16 module slots, which sit at the same place in every
    log format) lies inside the file.  A truncated log makes the C library
    misbehave (crash, or try to unlink the file), so it never gets one.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEADER_CHECKED)
            size = os.fstat(handle.fileno()).st_size
    except OSError as error:
        raise DarshanLogError(f"{path}: cannot open: {error.strerror}") from error
    if not head:
        raise DarshanLogError(f"{path}: invalid log file: empty file")
    if len(head) < _HEADER_CHECKED or not _VERSION.match(head):
        raise DarshanLogError(
            f"{path}: invalid log file: not a Darshan log (no version in its header)"
        )
    order = "<" if struct.unpack("<q", head[8:16])[0] == _MAGIC else ">"
    if struct.unpack(order + "q", head[8:16])[0] != _MAGIC:
        raise DarshanLogError(f"{path}: invalid log file: bad magic number")
    regions = struct.unpack(order + "34Q", head[24:_HEADER_CHECKED])
    for offset, length in zip(regions[0::2], regions[1::2], strict=True):
        if length and offset + length > size:
            raise DarshanLogError(
                f"{path}: truncated log: a region ends at byte {offset + length}, the file has {size}"
            )
    version = head[:8].split(b"\0", 1)[0].decode("ascii", errors="replace")
    return version, _COMPRESSION.get(head[16], str(head[16]))


def _mount_of(name: str, mounts: list[tuple[str, str]]) -> tuple[str, str]:
    """darshan-parser's mount for a file: the longest mount path prefixing it."""
    best: tuple[str, str] | None = None
    for path, fstype in mounts:
        if name.startswith(path) and (best is None or len(path) > len(best[0])):
            best = (path, fstype)
    return best if best is not None else ("UNKNOWN", "UNKNOWN")


def _printed_float(value: float) -> float:
    return float("%f" % value)


def read_darshan_log(
    path: str | os.PathLike[str],
    *,
    modes: Sequence[str] = ("base",),
    modules: Iterable[str] | None = None,
    counters: Iterable[str] | None = None,
) -> list[DarshanRecord]:
    """The records of a Darshan log for the given modes (``base``, ``total``, ``perf``).

    ``modules``/``counters`` keep only those module keys / counter names in
    base records, as :class:`~atokio.parsers.darshan.DarshanParser` does.
    """
    path = os.fspath(path)
    version, compression = _check_file(path)
    backend = _backend()
    log = backend.log_open(path)
    if log["handle"] == backend.ffi.NULL:
        raise DarshanLogError(f"{path}: invalid log file (libdarshan-util could not open it)")
    try:
        return _read(backend, log, path, version, compression, set(modes), modules, counters)
    finally:
        backend.log_close(log)


def _read(
    backend: Any,
    log: Any,
    path: str,
    version: str,
    compression: str,
    modes: set[str],
    modules: Iterable[str] | None,
    counters: Iterable[str] | None,
) -> list[DarshanRecord]:
    keep_modules = frozenset(modules) if modules is not None else None
    keep_counters = frozenset(counters) if counters is not None else None
    job = backend.log_get_job(log)
    exe = backend.log_get_exe(log)
    out: list[DarshanRecord] = [
        Header("version", version),
        Header("compression", compression),
        Header("exe", exe.split()),
        Header("uid", int(job["uid"])),
        Header("jobid", str(job["jobid"])),
        Header("start_time", int(job["start_time_sec"])),
        Header("start_time_string", time.ctime(job["start_time_sec"])),
        Header("end_time", int(job["end_time_sec"])),
        Header("end_time_string", time.ctime(job["end_time_sec"])),
        Header("nprocs", int(job["nprocs"])),
        Header("walltime", int(job["run_time"])),
    ]
    out += [Header("metadata", f"{key} = {value}") for key, value in job["metadata"].items()]
    mounts = [(str(m), str(t)) for m, t in backend.log_get_mounts(log)]
    out += [Mount(m, t) for m, t in mounts]
    names = backend.log_get_name_records(log)
    nprocs = int(job["nprocs"])
    mount_cache: dict[str, tuple[str, str]] = {}

    def mount(name: str) -> tuple[str, str]:
        found = mount_cache.get(name)
        if found is None:
            found = mount_cache[name] = _mount_of(name, mounts)
        return found

    module_info = backend.log_get_modules(log)
    for banner in sorted(module_info, key=lambda m: module_info[m]["idx"]):
        key = module_key(banner)
        if banner not in _GENERIC and banner != "LUSTRE":
            continue  # DXT, HEATMAP, APMPI, ...: not part of the documented dict
        if banner == "LUSTRE" and "base" not in modes:
            continue  # darshan-parser shows Lustre data with --base only
        out.append(Module(key))
        if not modes:
            continue  # header and mount table only
        if module_info[banner].get("partial_flag"):
            out.append(Warning_(key, f"*WARNING*: The {banner} module contains incomplete data!"))
        if banner == "LUSTRE":
            if "base" in modes:
                out += _lustre_records(backend, log, names, mount, keep_modules, keep_counters)
            continue
        raw = _generic_records(backend, log, banner)
        if "base" in modes and (keep_modules is None or key in keep_modules):
            out += _base_records(backend, banner, raw, names, mount, keep_counters)
        if raw and ("total" in modes or "perf" in modes):
            out += _accumulated(backend, banner, raw, nprocs, modes)
    return out


def _generic_records(backend: Any, log: Any, banner: str) -> list[dict[str, Any]]:
    """The module's records as ``{"id", "rank", "counters", "fcounters"}`` dicts."""
    ids, ranks, ints, floats = _generic_arrays(backend, log, banner)
    return [
        {"id": int(ids[i]), "rank": int(ranks[i]), "counters": ints[i], "fcounters": floats[i]}
        for i in range(len(ids))
    ]


def _generic_arrays(backend: Any, log: Any, banner: str) -> tuple[Any, Any, Any, Any]:
    """All records of a module as arrays: ids, ranks, integer and float counter matrices.

    The records are copied out of libdarshan-util as raw structs into one
    buffer and viewed through a numpy record type, instead of building
    Python objects record by record.
    """
    import numpy

    n_int = len(backend.counter_names(banner))
    n_float = len(backend.fcounter_names(banner))
    layout = numpy.dtype(
        [
            ("id", "<u8"),
            ("rank", "<i8"),
            ("counters", "<i8", (n_int,)),
            ("fcounters", "<f8", (n_float,)),
        ]
    )
    ffi, lib = backend.ffi, backend.libdutil
    struct = backend._structdefs[banner].replace("*", "").strip()
    if ffi.sizeof(struct) != layout.itemsize:  # an unexpected layout: go record by record
        return _generic_arrays_slowly(backend, log, banner, layout)
    index = backend.log_get_modules(log)[banner]["idx"]
    buffer = ffi.new("void **")
    chunks: list[bytes] = []
    try:
        while lib.darshan_log_get_record(log["handle"], index, buffer) >= 1:
            chunks.append(ffi.buffer(buffer[0], layout.itemsize)[:])
    finally:
        if buffer[0] != ffi.NULL:
            lib.darshan_free(buffer[0])
    table = numpy.frombuffer(b"".join(chunks), dtype=layout)
    return table["id"], table["rank"], table["counters"], table["fcounters"]


def _generic_arrays_slowly(
    backend: Any, log: Any, banner: str, layout: Any
) -> tuple[Any, Any, Any, Any]:
    import numpy

    rows = []
    while (record := backend.log_get_record(log, banner, dtype="numpy")) is not None:
        rows.append((record["id"], record["rank"], record["counters"], record["fcounters"]))
    table = numpy.array(rows, dtype=layout)
    return table["id"], table["rank"], table["counters"], table["fcounters"]


def _base_records(
    backend: Any,
    banner: str,
    raw: list[dict[str, Any]],
    names: dict[int, str],
    mount: Any,
    keep_counters: frozenset[str] | None,
) -> list[DarshanRecord]:
    prefix = counter_prefix(banner)
    strip = len(prefix)
    int_names = [c[strip:] if c.startswith(prefix) else c for c in backend.counter_names(banner)]
    float_names = [c[strip:] if c.startswith(prefix) else c for c in backend.fcounter_names(banner)]
    key = module_key(banner)
    out: list[DarshanRecord] = []
    for record in raw:
        name = names.get(record["id"], str(record["id"]))
        mount_pt, fs_type = mount(name)
        values: dict[str, Value] = dict(zip(int_names, record["counters"].tolist(), strict=True))
        values.update(
            zip(float_names, map(_printed_float, record["fcounters"].tolist()), strict=True)
        )
        if keep_counters is not None:
            values = {k: v for k, v in values.items() if k in keep_counters}
        out.append(BaseRecord(key, str(record["rank"]), name, mount_pt, fs_type, values))
    return out


def _lustre_records(
    backend: Any,
    log: Any,
    names: dict[int, str],
    mount: Any,
    keep_modules: frozenset[str] | None,
    keep_counters: frozenset[str] | None,
) -> list[DarshanRecord]:
    out: list[DarshanRecord] = []
    while True:
        record = backend.log_get_record(log, "LUSTRE", dtype="dict")
        if record is None:
            return out
        if keep_modules is not None and "lustre" not in keep_modules:
            continue
        name = names.get(record["id"], str(record["id"]))
        mount_pt, fs_type = mount(name)
        components = record.get("components", [])
        values: dict[str, Value] = {
            "NUM_COMPONENTS": len(components),
            "NUM_STRIPES": sum(len(c.get("ost_ids", [])) for c in components),
        }
        for k, component in enumerate(components, start=1):
            comp = {n.replace("LUSTRE_COMP_", ""): int(v) for n, v in component["counters"].items()}
            values[f"COMP{k}_STRIPE_SIZE"] = comp["STRIPE_SIZE"]
            values[f"COMP{k}_STRIPE_COUNT"] = comp["STRIPE_COUNT"]
            values[f"COMP{k}_STRIPE_PATTERN"] = (
                "N/A" if comp["STRIPE_PATTERN"] == -1 else comp["STRIPE_PATTERN"]
            )
            values[f"COMP{k}_FLAGS"] = "N/A" if comp["FLAGS"] == -1 else comp["FLAGS"]
            values[f"COMP{k}_EXT_START"] = comp["EXT_START"]
            values[f"COMP{k}_EXT_END"] = comp["EXT_END"]
            values[f"COMP{k}_MIRROR_ID"] = comp["MIRROR_ID"]
            values[f"COMP{k}_POOL_NAME"] = component.get("pool_name") or "N/A"
            for i, ost in enumerate(component.get("ost_ids", [])):
                values[f"COMP{k}_OST_ID_{i}"] = int(ost)
        if keep_counters is not None:
            values = {k: v for k, v in values.items() if k in keep_counters}
        out.append(BaseRecord("lustre", str(record["rank"]), name, mount_pt, fs_type, values))


def _accumulated(
    backend: Any, banner: str, raw: list[dict[str, Any]], nprocs: int, modes: set[str]
) -> list[DarshanRecord]:
    """Totals and performance estimates through libdarshan-util's accumulator."""
    import numpy
    import pandas

    ids = [r["id"] for r in raw]
    ranks = [r["rank"] for r in raw]
    int_frame = pandas.DataFrame(
        numpy.vstack([r["counters"] for r in raw]), columns=backend.counter_names(banner)
    )
    float_frame = pandas.DataFrame(
        numpy.vstack([r["fcounters"] for r in raw]), columns=backend.fcounter_names(banner)
    )
    for frame in (int_frame, float_frame):
        frame.insert(0, "rank", ranks)
        frame.insert(0, "id", ids)
    try:
        accumulated = backend.accumulate_records(
            {"counters": int_frame, "fcounters": float_frame}, banner, nprocs
        )
    except RuntimeError:
        return []  # the module has no accumulator: darshan-parser prints no totals either
    key = module_key(banner)
    prefix = counter_prefix(banner)
    out: list[DarshanRecord] = []
    if "total" in modes:
        summary = accumulated.summary_record
        for frame, convert in ((summary["counters"], int), (summary["fcounters"], _printed_float)):
            for column in frame.columns:
                if column in ("id", "rank"):
                    continue
                counter = column[len(prefix) :] if column.startswith(prefix) else column
                out.append(Total(key, counter, convert(frame[column].iloc[0])))
    if "perf" in modes:
        metrics = accumulated.derived_metrics
        out += [
            Perf(key, "total_bytes", int(metrics.total_bytes)),
            Perf(key, "slowest_rank_io_time_unique_files", _printed_float(metrics.unique_io_total_time_by_slowest)),
            Perf(key, "slowest_rank_meta_only_time_unique_files", _printed_float(metrics.unique_md_only_time_by_slowest)),
            Perf(key, "slowest_rank_rw_only_time_unique_files", _printed_float(metrics.unique_rw_only_time_by_slowest)),
            Perf(key, "slowest_rank_unique_files", int(metrics.unique_io_slowest_rank)),
            Perf(key, "time_by_slowest_shared_files", _printed_float(metrics.shared_io_total_time_by_slowest)),
            Perf(key, "agg_perf_by_slowest", _printed_float(metrics.agg_perf_by_slowest)),
        ]  # fmt: skip
    return out


def read_darshan_arrays(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    modules: Sequence[str] = ("POSIX", "STDIO"),
) -> tuple[dict[str, Any], dict[str, str], list[ModuleArrays]]:
    """Header, mount table and selected counters of a log, as arrays (for summaries).

    ``columns`` are lower-case counter names without the module prefix
    (``bytes_read``, ``f_open_start_timestamp``); a module that lacks one
    leaves it out.  Header values are those of :func:`read_darshan_log`.
    """
    import numpy

    path = os.fspath(path)
    version, compression = _check_file(path)
    backend = _backend()
    log = backend.log_open(path)
    if log["handle"] == backend.ffi.NULL:
        raise DarshanLogError(f"{path}: invalid log file (libdarshan-util could not open it)")
    try:
        records = _read(backend, log, path, version, compression, set(), None, None)
        header: dict[str, Any] = {}
        mounts: dict[str, str] = {}
        for record in records:
            if isinstance(record, Header):
                if record.key == "metadata":
                    header.setdefault("metadata", []).append(record.value)
                else:
                    header[record.key] = record.value
            elif isinstance(record, Mount):
                mounts[record.mountpoint] = record.fstype
        present = backend.log_get_modules(log)
        names = backend.log_get_name_records(log)
        out: list[ModuleArrays] = []
        for banner in modules:
            if banner not in present:
                continue
            ids, _ranks, ints, floats = _generic_arrays(backend, log, banner)
            arrays = ModuleArrays(
                module_key(banner), [names.get(int(i), str(i)) for i in ids.tolist()]
            )
            if len(ids):
                prefix = counter_prefix(banner)
                int_index = {
                    c[len(prefix) :].lower(): i for i, c in enumerate(backend.counter_names(banner))
                }
                float_index = {
                    c[len(prefix) :].lower(): i
                    for i, c in enumerate(backend.fcounter_names(banner))
                }
                for column in columns:
                    if column in int_index:
                        arrays.counters[column] = ints[:, int_index[column]]
                    elif column in float_index:
                        # as darshan-parser prints them (%f), exactly
                        printed = [
                            _printed_float(v) for v in floats[:, float_index[column]].tolist()
                        ]
                        arrays.timestamps[column] = numpy.asarray(printed, dtype=numpy.float64)
            out.append(arrays)
        return header, mounts, out
    finally:
        backend.log_close(log)
