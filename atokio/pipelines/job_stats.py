"""The statistics of a ``summarize_job`` record: pure functions of a Darshan dict or a TTS frame.

No I/O here: :mod:`atokio.pipelines.job_summary` reads the sources and calls
these to turn what it read into the flat keys of a record —
:func:`summarize_darshan` (and the functions it combines) for the
``darshan_*`` keys, :func:`summarize_byterate_df`, :func:`summarize_cpu_df`,
:func:`summarize_mds_ops_df` and :func:`summarize_missing_df` for the
``fs_*`` keys — and :func:`merge_dicts` to put them together.
Undefined statistics (NaN) are left out of what they return.
"""

from __future__ import annotations

import calendar
import datetime
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "POSIX_COUNTERS",
    "DuplicateKeyError",
    "get_biggest_api",
    "get_biggest_fs",
    "identify_fs_from_path",
    "merge_dicts",
    "serialize_datetime",
    "summarize_byterate_df",
    "summarize_cpu_df",
    "summarize_darshan",
    "summarize_darshan_posix",
    "summarize_mds_ops_df",
    "summarize_missing_df",
]

#: POSIX counters summarized as ``{tot,ave,num,min,max}_<counter>_posix``.
POSIX_COUNTERS = (
    "bytes_read",
    "bytes_written",
    "reads",
    "writes",
    "f_meta_time",
    "f_read_time",
    "f_write_time",
    "opens",
    "seq_reads",
    "seq_writes",
    "stats",
    "file_not_aligned",
    "mem_not_aligned",
)

#: Modules whose byte counters do not double-count another module's (used by get_biggest_fs).
_BOTTOM_MODULES = ("posix", "stdio")

_GIB = 2.0**30


class DuplicateKeyError(KeyError, AssertionError):
    """:func:`merge_dicts` met a key that is already present (a KeyError and an AssertionError)."""


def _native(value: Any) -> Any:
    """A numpy scalar as the Python number it holds; anything else unchanged."""
    item = getattr(value, "item", None)
    if item is not None and not isinstance(value, (str, bytes, datetime.datetime)):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


def _defined(stats: Mapping[str, Any]) -> dict[str, Any]:
    """``stats`` without NaN values, with numpy scalars made Python numbers."""
    out = {}
    for key, value in stats.items():
        value = _native(value)
        if isinstance(value, float) and math.isnan(value):
            continue
        out[key] = value
    return out


# -- merging and serialising ------------------------------------------------------------------
def merge_dicts(
    dict1: dict[str, Any],
    dict2: Mapping[str, Any],
    assertion: bool = True,
    prefix: str | None = None,
) -> None:
    """Take two dictionaries and merge their keys.

    Every key of ``dict2``, with ``prefix`` put in front when given, is set
    in ``dict1`` (in place).  With ``assertion=True`` (the default) a key
    already present in ``dict1`` raises :class:`DuplicateKeyError` (both a
    ``KeyError`` and an ``AssertionError``) and ``dict1`` is left unchanged;
    with ``assertion=False`` the new value replaces the old one.
    """
    items = [((prefix + key) if prefix else key, value) for key, value in dict2.items()]
    if assertion:
        clashes = [key for key, _ in items if key in dict1]
        if clashes:
            raise DuplicateKeyError(f"duplicate key(s) when merging: {', '.join(clashes)}")
    for key, value in items:
        dict1[key] = value


def serialize_datetime(obj: Any) -> Any:
    """``json`` ``default=`` hook of the JSON output: datetimes (and numpy scalars) as numbers.

    A naive datetime becomes float seconds computed as if its (local)
    wall-clock time were UTC: ``datetime(2018, 1, 28, 0, 1)`` gives
    ``1517097660.0`` whatever the time zone (docs/cli.md#summarize_job); an aware datetime
    gives its true epoch seconds.  numpy scalars become Python numbers;
    anything else raises ``TypeError`` (the ``json`` ``default=`` contract).
    """
    if isinstance(obj, datetime.datetime):
        if obj.tzinfo is not None:
            return obj.timestamp()
        return float(calendar.timegm(obj.timetuple())) + obj.microsecond / 1e6
    if isinstance(obj, datetime.date):
        return float(calendar.timegm(obj.timetuple()))
    native = _native(obj)
    if native is not obj:
        return native
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# -- Darshan ------------------------------------------------------------------------------
def identify_fs_from_path(path: str, mounts: Iterable[str]) -> str | None:
    """The mount point, among ``mounts``, that holds ``path`` (``None`` if none does).

    ``mounts`` is any iterable of mount points (a Darshan ``mounts`` dict
    works).  Returns the longest mount point that ``path`` lies under
    (component-wise: ``/scratch2`` holds ``/scratch2/a`` but not
    ``/scratch21/a``), or ``None`` (e.g. for ``<STDOUT>``).
    """
    best: str | None = None
    for mount in mounts:
        if not mount:
            continue
        root = mount.rstrip("/")
        if path == mount or path == root or path.startswith(root + "/"):
            if best is None or len(mount) > len(best):
                best = mount
    return best


def _records(module_data: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """``(file name, counters)`` for every per-rank record of one module (no ``_total``/``_perf``)."""
    for name, ranks in module_data.items():
        if name.startswith("_") or not isinstance(ranks, Mapping):
            continue
        for counters in ranks.values():
            if isinstance(counters, Mapping):
                yield name, counters


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def get_biggest_api(darshan_data: Mapping[str, Any]) -> dict[str, Any]:
    """Determine the most-used API based on the Darshan log.

    For every module with ``BYTES_READ``/``BYTES_WRITTEN`` counters (posix,
    mpiio, stdio, ...) the bytes are summed over its records.  Returns
    ``biggest_read_api`` (module key), ``biggest_read_api_bytes``,
    ``biggest_read_api_files`` (files of that module that read anything), and
    the same three ``biggest_write_api*`` keys; ``{}`` when no module has
    byte counters.  On a tie the module that comes first in the log wins
    (POSIX before MPI-IO, as darshan orders them).
    """
    totals: dict[str, dict[str, Any]] = {}
    for module, module_data in darshan_data.get("counters", {}).items():
        if not isinstance(module_data, Mapping):
            continue
        found = False
        read: float = 0
        written: float = 0
        files_read: set[str] = set()
        files_written: set[str] = set()
        for name, counters in _records(module_data):
            got_read = _number(counters.get("BYTES_READ"))
            got_written = _number(counters.get("BYTES_WRITTEN"))
            if got_read is None and got_written is None:
                continue
            found = True
            if got_read is not None and got_read > 0:
                read += got_read
                files_read.add(name)
            if got_written is not None and got_written > 0:
                written += got_written
                files_written.add(name)
        if found:
            totals[module] = {
                "read": (read, len(files_read)),
                "write": (written, len(files_written)),
            }
    if not totals:
        return {}
    results: dict[str, Any] = {}
    for which in ("read", "write"):
        best = None
        for module, entry in totals.items():
            if best is None or entry[which][0] > totals[best][which][0]:
                best = module
        assert best is not None
        nbytes, nfiles = totals[best][which]
        results[f"biggest_{which}_api"] = best
        results[f"biggest_{which}_api_bytes"] = nbytes
        results[f"biggest_{which}_api_files"] = nfiles
    return results


def get_biggest_fs(darshan_data: Mapping[str, Any]) -> dict[str, Any]:
    """Determine the most-used file system based on the Darshan log.

    The bytes of the POSIX and STDIO records (the lowest layers, so that
    MPI-IO traffic is not counted twice) are summed per mount point
    (:func:`identify_fs_from_path` over the log's ``mounts``).  Returns
    ``biggest_read_fs`` (a mount point), ``biggest_read_fs_bytes``,
    ``biggest_write_fs``, ``biggest_write_fs_bytes``; ``{}`` when no record
    lies on a known mount.  On a tie the mount met first wins.
    """
    mounts = list(darshan_data.get("mounts", {}) or ())
    counters = darshan_data.get("counters", {})
    per_mount: dict[str, list[float]] = {}
    cache: dict[str, str | None] = {}
    for module in _BOTTOM_MODULES:
        module_data = counters.get(module)
        if not isinstance(module_data, Mapping):
            continue
        for name, record in _records(module_data):
            if name not in cache:
                cache[name] = identify_fs_from_path(name, mounts)
            mount = cache[name]
            if mount is None:
                continue
            sums = per_mount.setdefault(mount, [0, 0])
            for index, key in enumerate(("BYTES_READ", "BYTES_WRITTEN")):
                value = _number(record.get(key))
                if value is not None and value > 0:
                    sums[index] += value
    if not per_mount:
        return {}
    results: dict[str, Any] = {}
    for index, which in enumerate(("read", "write")):
        best = None
        for mount, sums in per_mount.items():
            if best is None or sums[index] > per_mount[best][index]:
                best = mount
        assert best is not None
        results[f"biggest_{which}_fs"] = best
        results[f"biggest_{which}_fs_bytes"] = per_mount[best][index]
    return results


def summarize_darshan_posix(darshan_data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``darshan_*_posix`` numbers of a Darshan dict (its POSIX records and ``--perf`` block).

    From the ``--perf`` block: ``total_gibs_posix`` (``total_bytes`` / 2**30),
    ``agg_perf_by_slowest_posix`` (MiB/s) and ``io_time`` (seconds: the
    slowest rank's time on unique files plus the slowest time on shared
    files, the time darshan divides by).  From the ``--base`` records, for
    each counter ``c`` of :data:`POSIX_COUNTERS`: ``tot_c_posix`` (sum),
    ``num_c_posix`` (records holding it: one per file and rank, a file
    shared by all ranks being one record), ``ave_c_posix``, ``min_c_posix``,
    ``max_c_posix``.  Negative values (darshan's "not recorded") are left
    out; with no value at all only ``tot`` (0) and ``num`` (0) are given.
    Returns ``{}`` for a log without POSIX data.
    """
    posix = darshan_data.get("counters", {}).get("posix")
    if not isinstance(posix, Mapping):
        return {}
    results: dict[str, Any] = {}
    perf = posix.get("_perf", {})
    if isinstance(perf, Mapping):
        if _number(perf.get("total_bytes")) is not None:
            results["total_gibs_posix"] = perf["total_bytes"] / _GIB
        if _number(perf.get("agg_perf_by_slowest")) is not None:
            results["agg_perf_by_slowest_posix"] = perf["agg_perf_by_slowest"]
        unique = _number(perf.get("slowest_rank_io_time_unique_files"))
        shared = _number(perf.get("time_by_slowest_shared_files"))
        if unique is not None or shared is not None:
            results["io_time"] = (unique or 0.0) + (shared or 0.0)
    values: dict[str, list[float | int]] = {counter: [] for counter in POSIX_COUNTERS}
    names = {counter: counter.upper() for counter in POSIX_COUNTERS}
    have_records = False
    for _name, counters in _records(posix):
        have_records = True
        for counter in POSIX_COUNTERS:
            value = _number(counters.get(names[counter]))
            if value is not None and value >= 0:
                values[counter].append(value)
    if have_records:
        for counter in POSIX_COUNTERS:
            found = values[counter]
            total = sum(found)
            results[f"tot_{counter}_posix"] = total
            results[f"num_{counter}_posix"] = len(found)
            if found:
                results[f"ave_{counter}_posix"] = total / len(found)
                results[f"min_{counter}_posix"] = min(found)
                results[f"max_{counter}_posix"] = max(found)
    return results


def summarize_darshan(darshan_data: Mapping[str, Any]) -> dict[str, Any]:
    """Synthesize new Darshan summary metrics from a (partly or fully populated) Darshan object.

    Header fields ``walltime``, ``end_time``, ``start_time`` (epoch
    seconds), ``jobid`` (str), ``nprocs`` and ``app`` (the basename of the
    executable), then :func:`summarize_darshan_posix`,
    :func:`get_biggest_api` and :func:`get_biggest_fs`; keys without a
    prefix.  Header fields the log lacks are left out.
    """
    header = darshan_data.get("header", {}) or {}
    results: dict[str, Any] = {}
    for key in ("walltime", "end_time", "start_time", "jobid", "nprocs"):
        if header.get(key) is not None:
            results[key] = header[key]
    exe = header.get("exe")
    if isinstance(exe, list) and exe:
        results["app"] = os.path.basename(str(exe[0]))
    elif isinstance(exe, str) and exe:
        results["app"] = os.path.basename(exe.split()[0])
    merge_dicts(results, summarize_darshan_posix(darshan_data))
    merge_dicts(results, get_biggest_api(darshan_data))
    merge_dicts(results, get_biggest_fs(darshan_data))
    return results


# -- file-system telemetry (TTS) ------------------------------------------------------------------
def _timestep_from_index(dataframe: Any) -> float:
    if len(dataframe.index) < 2:
        raise ValueError("cannot infer the timestep from fewer than two rows; pass timestep=")
    return float((dataframe.index[1] - dataframe.index[0]).total_seconds())


def _row_totals(dataframe: Any) -> Any:
    """Per-row sums; NaN for a row whose cells are all missing."""
    return dataframe.sum(axis=1, min_count=1)


def summarize_byterate_df(
    dataframe: Any, readwrite: str, timestep: float | None = None
) -> dict[str, Any]:
    """Calculate some interesting statistics from a dataframe containing byte rate data.

    ``dataframe`` holds bytes moved per time step (rows: time steps,
    columns: OSTs; NaN = missing), as ``datatargets/readbytes`` or
    ``writebytes`` read through :func:`atokio.tools.hdf5.get_dataframe_from_time_range`;
    ``readwrite`` names the direction in the keys (``"read"``,
    ``"written"``); ``timestep`` is the seconds per row (inferred from the
    index when ``None``).  Returns ``tot_bytes_<rw>``, ``tot_gibs_<rw>``,
    ``{ave,max,min}_{bytes,gibs}_<rw>_per_sec`` (over the time steps of the
    whole file system's rate) and ``frac_zero_<rw>`` (the fraction of the
    non-missing per-OST cells that are zero).  Undefined values (no data)
    are left out.
    """
    if timestep is None:
        timestep = _timestep_from_index(dataframe)
    totals = _row_totals(dataframe)
    cells = dataframe.to_numpy(dtype=float)
    present = cells[~_isnan(cells)]
    total = float(present.sum()) if present.size else 0.0
    rates = totals / float(timestep)
    stats: dict[str, Any] = {
        f"tot_bytes_{readwrite}": total,
        f"tot_gibs_{readwrite}": total / _GIB,
    }
    for name, value in (("ave", rates.mean()), ("max", rates.max()), ("min", rates.min())):
        stats[f"{name}_bytes_{readwrite}_per_sec"] = float(value)
        stats[f"{name}_gibs_{readwrite}_per_sec"] = float(value) / _GIB
    stats[f"frac_zero_{readwrite}"] = (
        float((present == 0.0).sum()) / present.size if present.size else float("nan")
    )
    return _defined(stats)


def _isnan(values: Any) -> Any:
    import numpy

    return numpy.isnan(values)


def summarize_cpu_df(dataframe: Any, servertype: str) -> dict[str, Any]:
    """Calculate some interesting statistics from a dataframe containing CPU load data.

    ``dataframe`` holds CPU load (%) per time step and server
    (``dataservers/cpuload``, ``mdservers/cpuload``); ``servertype`` names
    them in the keys (``"oss"``, ``"mds"``).  Returns
    ``ave_<servertype>_cpu`` (mean over all non-missing cells) and
    ``max_<servertype>_cpu``; undefined values are left out.
    """
    cells = dataframe.to_numpy(dtype=float)
    present = cells[~_isnan(cells)]
    if not present.size:
        return {}
    return _defined(
        {
            f"ave_{servertype}_cpu": float(present.mean()),
            f"max_{servertype}_cpu": float(present.max()),
        }
    )


def summarize_mds_ops_df(
    dataframe: Any, opname: str, timestep: float | None = None
) -> dict[str, Any]:
    """Summarize various metadata op counts over a time range.

    ``dataframe`` holds operations per time step: either one operation's
    dataset (``mdtargets/<opname>s``, one column per MDT, summed across
    columns) or a frame with one column per operation, of which the column
    ``opname`` is used.  Returns ``tot_<opname>_ops`` and
    ``{ave,max,min}_<opname>_ops_per_sec`` (``timestep``: seconds per row,
    inferred from the index when ``None``); undefined values are left out.
    """
    if timestep is None:
        timestep = _timestep_from_index(dataframe)
    frame = dataframe[[opname]] if opname in dataframe.columns else dataframe
    totals = _row_totals(frame)
    rates = totals / float(timestep)
    return _defined(
        {
            f"tot_{opname}_ops": float(totals.sum()),
            f"ave_{opname}_ops_per_sec": float(rates.mean()),
            f"max_{opname}_ops_per_sec": float(rates.max()),
            f"min_{opname}_ops_per_sec": float(rates.min()),
        }
    )


def summarize_missing_df(dataframe: Any) -> dict[str, Any]:
    """Populate the fraction missing counter from a given DataFrame.

    Returns ``{"frac_missing": missing cells / all cells}`` where missing
    cells are NaN (how TTS readers present −0.0 cells); ``{}`` for an
    empty frame.
    """
    cells = dataframe.to_numpy(dtype=float)
    if not cells.size:
        return {}
    return {"frac_missing": float(_isnan(cells).sum()) / cells.size}


#: The name of :func:`identify_fs_from_path` in ``tokio.cli.summarize_job``.
_identify_fs_from_path = identify_fs_from_path
