"""Summarize a job's I/O and what the file system did meanwhile (``summarize_job``, CLI.md 3.22).

For each Darshan log (or one explicit time window) it gathers one row of
numbers from every source the site has configured — the log itself, the
file system's TTS telemetry, Lustre health, the job's place in the network
and the jobs that ran beside it — so the job and the system around it can
be read together.

One record (a flat dict) is made per Darshan log, or one for an explicit
window (``--start-time``/``--end-time``), from these sources:

* ``darshan_*`` — the Darshan log (:func:`retrieve_darshan_data`, one
  ``--perf`` and one ``--base`` read): header fields, POSIX counter
  statistics (:func:`summarize_darshan_posix`), the biggest API
  (:func:`get_biggest_api`) and file system (:func:`get_biggest_fs`);
* ``fs_*`` — the TOKIO Time Series (TTS or H5LMT) archive of the file system
  over ``[_datetime_start, _datetime_end)`` (:func:`retrieve_lmt_data`);
* ``fshealth_*`` — Lustre OST fullness and failover at the job's start
  (``-o``, :func:`retrieve_ost_data`, through :mod:`atokio.tools.lfsstatus`);
* ``topology_*`` — the job's spread on a Cray XC network (``-t``,
  :func:`retrieve_topology_data`, through :mod:`atokio.tools.topology`);
* ``jobsdb_*`` — jobs running concurrently (``-c``,
  :func:`retrieve_concurrent_job_data`, the NERSC jobs database).

Plus ``_datetime_start``, ``_datetime_end`` (naive local datetimes),
``_jobid`` and ``_file_system``.

Choices made where the reference leaves room:

* The window of a Darshan log is its ``start_time`` to its ``end_time`` plus
  the config key ``lmt_timestep`` (default 5 s); ``_datetime_end`` holds that
  padded end, so every ``fs_`` key covers exactly ``[_datetime_start,
  _datetime_end)``.  ``--start-time``/``--end-time`` (``YYYY-MM-DD
  HH:MM:SS``, local time) are used as given and win over the log's window.
  With neither a log nor a window, a ``--slurm-jobid`` gives the window
  through :func:`atokio.tools.jobinfo.get_job_startend`.
* Statistics that come out undefined (NaN: a window with only missing TTS
  cells) are left out of the record rather than written as NaN.
* CSV columns are sorted by name (the first column, ``index``, aside), so the
  header does not depend on which sources answered first.
* Positionals and options may be interleaved freely
  (``parse_intermixed_args``); the optional-value options still take the
  next token unless it starts with ``-``.
* Running with no Darshan log, no window and no ``--slurm-jobid`` is a usage
  error (exit 2).
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import importlib
import json
import logging
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from atokio import config
from atokio.archive.schema import MD_OPS
from atokio.cli._common import run_main, setup_logging
from atokio.common import to_epoch

__all__ = [
    "DATETIME_FMT",
    "_identify_fs_from_path",
    "get_biggest_api",
    "get_biggest_fs",
    "main",
    "merge_dicts",
    "retrieve_concurrent_job_data",
    "retrieve_darshan_data",
    "retrieve_jobid",
    "retrieve_lmt_data",
    "retrieve_ost_data",
    "retrieve_topology_data",
    "serialize_datetime",
    "summarize_byterate_df",
    "summarize_cpu_df",
    "summarize_darshan",
    "summarize_darshan_posix",
    "summarize_mds_ops_df",
    "summarize_missing_df",
]

logger = logging.getLogger("atokio.cli.summarize_job")

#: The format of ``--start-time`` and ``--end-time`` (a space, not ``T``).
DATETIME_FMT = "%Y-%m-%d %H:%M:%S"

#: Default padding (seconds) after a Darshan job's end when the config has no ``lmt_timestep``.
DEFAULT_LMT_TIMESTEP = 5

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

#: Metadata operations summarized from ``mdtargets/<op>s``.
MDS_OPS = MD_OPS

#: Modules whose byte counters do not double-count another module's (used by get_biggest_fs).
_BOTTOM_MODULES = ("posix", "stdio")

_GIB = 2.0**30

# whether the missing-TTS warning was given in this run (one per run)
_missing_warned = False


class DuplicateKeyError(KeyError, AssertionError):
    """:func:`merge_dicts` met a key that is already present (a KeyError and an AssertionError)."""


# -- small helpers ------------------------------------------------------------------------
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


def _optional_module(name: str) -> ModuleType:
    """Import ``name`` on demand, with a clear error when it is not available."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ImportError(
            f"{name} is needed for this option but cannot be imported: {error}"
        ) from error


def _lmt_timestep() -> int:
    value = config.CONFIG.get("lmt_timestep")
    return DEFAULT_LMT_TIMESTEP if value is None else int(value)


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
    ``1517097660.0`` whatever the time zone (CLI.md 3.22); an aware datetime
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
def _identify_fs_from_path(path: str, mounts: Iterable[str]) -> str | None:
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
    (:func:`_identify_fs_from_path` over the log's ``mounts``).  Returns
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
                cache[name] = _identify_fs_from_path(name, mounts)
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


def retrieve_darshan_data(
    results: dict[str, Any], darshan_log_file: str, silent_errors: bool = False
) -> dict[str, Any]:
    """Extract the performance data from the Darshan log.

    Reads the log (``--perf`` and ``--base``; ``darshan-parser`` or the
    direct reader, see :mod:`atokio.connectors.darshan`), adds the
    :func:`summarize_darshan` keys with the prefix ``darshan_``, and sets
    ``_datetime_start`` (the log's start, a naive local datetime),
    ``_datetime_end`` (its end plus ``lmt_timestep`` seconds) and
    ``_jobid``.  ``silent_errors`` hides darshan-parser's complaints.  A log
    that cannot be read adds nothing (the connector warns).  Returns
    ``results``, updated in place.
    """
    from atokio.connectors.darshan import Darshan

    darshan_data = Darshan(darshan_log_file, silent_errors=silent_errors)
    darshan_data.darshan_parser_perf()
    darshan_data.darshan_parser_base()
    header = darshan_data.get("header", {}) or {}
    if header.get("start_time") is not None:
        results["_datetime_start"] = datetime.datetime.fromtimestamp(int(header["start_time"]))
    if header.get("end_time") is not None:
        results["_datetime_end"] = datetime.datetime.fromtimestamp(
            int(header["end_time"])
        ) + datetime.timedelta(seconds=_lmt_timestep())
    if header.get("jobid") is not None:
        results["_jobid"] = str(header["jobid"])
    merge_dicts(results, summarize_darshan(darshan_data), prefix="darshan_")
    return results


def _guess_file_system(results: Mapping[str, Any]) -> str | None:
    """The logical file system of a record's Darshan data (see CLI.md 3.22), or None.

    The mount with the most bytes written (the one with the most bytes read
    when reads are larger), then the first ``mount_to_fsname`` regex found
    anywhere in it.
    """
    write_mount = results.get("darshan_biggest_write_fs")
    read_mount = results.get("darshan_biggest_read_fs")
    mount = write_mount
    if read_mount is not None and (
        write_mount is None
        or (results.get("darshan_biggest_read_fs_bytes") or 0)
        > (results.get("darshan_biggest_write_fs_bytes") or 0)
    ):
        mount = read_mount
    if mount is None:
        return None
    for regex, fsname in (config.CONFIG.get("mount_to_fsname") or {}).items():
        if re.search(regex, mount):
            return str(fsname)
    return None


# -- job id, topology, concurrent jobs ----------------------------------------------------------
def retrieve_jobid(results: dict[str, Any], jobid: str | None, file_count: int) -> dict[str, Any]:
    """Set ``_jobid`` from ``--slurm-jobid``: a job id, or the first job of a Slurm cache.

    ``jobid`` (``--slurm-jobid``) is a job id, or a Slurm cache file (as
    written by ``cache_slurm``), whose first top-level job is used; it
    replaces ``_jobid``.  ``None`` leaves ``results`` alone.  A job id
    together with more than one Darshan log (``file_count > 1``) raises
    ``ValueError``.  Returns ``results``, updated in place.
    """
    if jobid is None:
        return results
    if file_count > 1:
        raise ValueError("--slurm-jobid cannot be used with more than one Darshan log")
    if os.path.isfile(jobid):
        from atokio.connectors.slurm import Slurm

        ids = Slurm(cache_file=jobid).get_job_ids()
        if not ids:
            raise ValueError(f"{jobid}: the Slurm cache holds no job")
        results["_jobid"] = ids[0]
    else:
        results["_jobid"] = jobid
    return results


def retrieve_topology_data(
    results: dict[str, Any], jobinfo_cache_file: str | None, nodemap_cache_file: str | None
) -> dict[str, Any]:
    """Get the diameter of the job (Cray XC).

    Adds ``topology_job_min_radius``, ``topology_job_max_radius`` and
    ``topology_job_avg_radius`` from
    :func:`atokio.tools.topology.get_job_diameter` for ``_jobid``: the nodes
    come from ``jobinfo_cache_file`` (a Slurm cache) or ``sacct``, their
    positions from ``nodemap_cache_file`` (saved ``xtdb2proc`` output) or
    ``xtdb2proc``.  Nothing is added without a ``_jobid``.  Returns
    ``results``, updated in place.
    """
    jobid = results.get("_jobid")
    if jobid is None:
        return results
    topology = _optional_module("atokio.tools.topology")
    diameter = topology.get_job_diameter(
        jobid,
        nodemap_cache_file=nodemap_cache_file or None,
        jobinfo_cache_file=jobinfo_cache_file or None,
    )
    merge_dicts(results, _defined(diameter or {}), prefix="topology_")
    return results


def retrieve_concurrent_job_data(
    results: dict[str, Any], jobhost: str | None, concurrentjobs: str | None
) -> dict[str, Any]:
    """Get information about all jobs that were running during a time period.

    Asks the NERSC jobs database (the SQLite cache ``concurrentjobs``, or
    MySQL through the ``NERSC_JOBSDB_*`` variables when it is ``""`` or
    ``None``) for the jobs of ``jobhost`` that overlapped ``[_datetime_start,
    _datetime_end]`` and adds ``jobsdb_concurrent_jobs``,
    ``jobsdb_concurrent_nodes`` and ``jobsdb_concurrent_nodehrs``.  Nothing
    is added without ``jobhost`` or a window.  Returns ``results``, updated
    in place.
    """
    if not jobhost or "_datetime_start" not in results or "_datetime_end" not in results:
        return results
    from atokio.connectors.nersc_jobsdb import NerscJobsDb

    jobsdb = NerscJobsDb(cache_file=concurrentjobs or None)
    try:
        concurrent = jobsdb.get_concurrent_jobs(
            to_epoch(results["_datetime_start"]), to_epoch(results["_datetime_end"]), jobhost
        )
    finally:
        for closer in ("close", "close_cache"):
            method = getattr(jobsdb, closer, None)
            if callable(method):
                method()
    merge_dicts(
        results,
        _defined(
            {
                "concurrent_jobs": concurrent["numjobs"],
                "concurrent_nodes": concurrent["numnodes"],
                "concurrent_nodehrs": concurrent["nodehrs"],
            }
        ),
        prefix="jobsdb_",
    )
    return results


# -- Lustre health --------------------------------------------------------------------------
def _epoch_of(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return to_epoch(value)
    return _native(value)


def retrieve_ost_data(
    results: dict[str, Any],
    ost: bool,
    ost_fullness: str | None = None,
    ost_map: str | None = None,
) -> dict[str, Any]:
    """Get Lustre server status via lfsstatus tool.

    With ``ost`` true and ``_file_system`` a key of ``fsname_to_backend_name``,
    adds with the prefix ``fshealth_`` the fullness summary
    (:func:`atokio.tools.lfsstatus.get_fullness`, from ``ost_fullness``, an
    ``lfs df`` collection file, or the configured files) and the failover
    summary (:func:`~atokio.tools.lfsstatus.get_failures`, from ``ost_map``,
    an ``lctl dl -t`` collection file, or the configured files) at
    ``_datetime_start``; the failure pass overwrites the time keys they
    share.  Then ``fshealth_ost_fullness_lead_secs`` and
    ``fshealth_ost_failures_lead_secs`` (job start minus the time of the
    sample used, seconds) and ``fshealth_ost_overloaded_pct`` (overloaded
    OSTs as a percentage of ``ost_count``).  Returns ``results``, updated in
    place.
    """
    file_system = results.get("_file_system")
    if not ost or file_system is None or "_datetime_start" not in results:
        return results
    if file_system not in (config.CONFIG.get("fsname_to_backend_name") or {}):
        return results
    lfsstatus = _optional_module("atokio.tools.lfsstatus")
    start = results["_datetime_start"]
    start_epoch = to_epoch(start)
    fullness_kwargs = {"cache_file": ost_fullness} if ost_fullness else {}
    failures_kwargs = {"cache_file": ost_map} if ost_map else {}
    fullness = {
        key: _epoch_of(value)
        for key, value in (lfsstatus.get_fullness(file_system, start, **fullness_kwargs)).items()
    }
    failures = {
        key: _epoch_of(value)
        for key, value in (lfsstatus.get_failures(file_system, start, **failures_kwargs)).items()
    }
    merge_dicts(results, fullness, prefix="fshealth_")
    merge_dicts(results, failures, assertion=False, prefix="fshealth_")
    extra: dict[str, Any] = {}
    if fullness.get("ost_actual_timestamp") is not None:
        extra["ost_fullness_lead_secs"] = start_epoch - fullness["ost_actual_timestamp"]
    if failures.get("ost_actual_timestamp") is not None:
        extra["ost_failures_lead_secs"] = start_epoch - failures["ost_actual_timestamp"]
    count = fullness.get("ost_count")
    overloaded = failures.get("ost_overloaded_ost_count")
    if count and overloaded is not None:
        extra["ost_overloaded_pct"] = 100.0 * overloaded / count
    merge_dicts(results, extra, assertion=False, prefix="fshealth_")
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


def _tts_timestep(
    file_system: str, dataset: str, start: datetime.datetime, end: datetime.datetime
) -> int | None:
    from atokio.connectors.hdf5 import Hdf5
    from atokio.tools.hdf5 import enumerate_hdf5

    for path in enumerate_hdf5(file_system, start, end):
        with Hdf5(path) as h5:
            try:
                return int(h5.get_timestep(dataset))
            except (KeyError, IndexError):
                continue
    return None


#: (dataset, kind, name) read by retrieve_lmt_data, in order.
TTS_DATASETS: tuple[tuple[str, str, str], ...] = (
    ("datatargets/readbytes", "bytes", "read"),
    ("datatargets/writebytes", "bytes", "written"),
    ("dataservers/cpuload", "cpu", "oss"),
    ("mdservers/cpuload", "cpu", "mds"),
    *((f"mdtargets/{op}s", "ops", op) for op in MDS_OPS),
)


def retrieve_lmt_data(results: dict[str, Any], file_system: str | None) -> dict[str, Any]:
    """Figure out the H5LMT/TTS file corresponding to this run and summarize it.

    Reads each dataset of :data:`TTS_DATASETS` for ``[_datetime_start,
    _datetime_end)`` from the day files of ``file_system`` (config
    ``hdf5_files``) and adds with the prefix ``fs_`` the
    :func:`summarize_byterate_df` keys for reads and writes,
    :func:`summarize_cpu_df` for the OSSes and MDSes,
    :func:`summarize_mds_ops_df` for each metadata operation, and
    :func:`summarize_missing_df` (``frac_missing``) of
    ``datatargets/readbytes``.  A dataset without data leaves its keys out;
    the first one in a run gives a warning.  Nothing is done without a file
    system or a window.  Returns ``results``, updated in place.
    """
    global _missing_warned
    if not file_system or "_datetime_start" not in results or "_datetime_end" not in results:
        return results
    from atokio.tools.hdf5 import get_dataframe_from_time_range

    start = results["_datetime_start"]
    end = results["_datetime_end"]
    stats: dict[str, Any] = {}
    for dataset, kind, name in TTS_DATASETS:
        try:
            frame = get_dataframe_from_time_range(file_system, dataset, start, end)
        except (KeyError, OSError) as error:
            frame, reason = None, f"{type(error).__name__}: {error}"
        else:
            reason = "no day file, or no rows in the window"
        if frame is None or frame.empty:
            if not _missing_warned:
                _missing_warned = True
                logger.warning(
                    "no TTS data for %s of %s from %s to %s (%s)",
                    dataset,
                    file_system,
                    start,
                    end,
                    reason,
                )
            continue
        if kind == "cpu":
            stats.update(summarize_cpu_df(frame, name))
            continue
        timestep: float | None = None
        if len(frame.index) < 2:
            timestep = _tts_timestep(file_system, dataset, start, end)
        if kind == "bytes":
            stats.update(summarize_byterate_df(frame, name, timestep=timestep))
            if name == "read":
                stats.update(summarize_missing_df(frame))
        else:
            stats.update(summarize_mds_ops_df(frame, name, timestep=timestep))
    merge_dicts(results, stats, prefix="fs_")
    return results


# -- command line ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``summarize_job`` (CLI.md 3.22)."""
    parser = argparse.ArgumentParser(
        prog="summarize_job",
        description=(
            "For each Darshan log, or for one explicit time window, gather one row of scalar "
            "metrics from Darshan, the file system's TOKIO Time Series archive, Lustre health, "
            "network topology and concurrent jobs, and print the rows as CSV (or JSON)."
        ),
        epilog=(
            "-t, -c, --ost-fullness and --ost-map take an optional value: the next argument is "
            "taken as their value unless it starts with '-'; put such a flag after the log "
            "files, or end it with '--', to use it without a value. Config keys: lmt_timestep, "
            "mount_to_fsname, hdf5_files, fsname_to_backend_name, lfsstatus_*, "
            "jobinfo_jobnodes_providers; NERSC_JOBSDB_* variables for -c without a file."
        ),
    )
    parser.add_argument(
        "files", nargs="*", default=[], help="Darshan logs to process (one output row per log)"
    )
    parser.add_argument(
        "-t",
        "--topology",
        nargs="?",
        const="",
        default=None,
        metavar="NODEMAP",
        help="add job diameter metrics; NODEMAP is saved xtdb2proc output "
        "(without it, xtdb2proc is run)",
    )
    parser.add_argument(
        "-c",
        "--concurrentjobs",
        nargs="?",
        const="",
        default=None,
        metavar="JOBSDB",
        help="add counts of concurrently running jobs (needs --jobhost); JOBSDB is a NERSC "
        "jobs database SQLite cache (without it, MySQL is used)",
    )
    parser.add_argument(
        "-o",
        "--ost",
        action="store_true",
        help="add Lustre OST fullness and failover metrics (not an output option)",
    )
    parser.add_argument("-j", "--json", action="store_true", help="output JSON instead of CSV")
    parser.add_argument(
        "-f",
        "--file-system",
        type=str,
        default=None,
        help="logical file system name (a key of hdf5_files); guessed from the Darshan log "
        "when not given",
    )
    parser.add_argument(
        "--start-time",
        type=str,
        default=None,
        help="window start, 'YYYY-MM-DD HH:MM:SS' local time (with --end-time, when no "
        "Darshan log gives the window)",
    )
    parser.add_argument(
        "--end-time",
        type=str,
        default=None,
        help="window end, 'YYYY-MM-DD HH:MM:SS' local time (with --start-time)",
    )
    parser.add_argument(
        "--slurm-jobid",
        type=str,
        default=None,
        help="job id, or a Slurm cache file (its first job): overrides the Darshan job id and "
        "gives the nodes for -t",
    )
    parser.add_argument(
        "--jobhost", type=str, default=None, help="system name for -c (e.g. edison)"
    )
    parser.add_argument(
        "--ost-fullness",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="lfs df collection file for -o (default: the lfsstatus_fullness_files of the config)",
    )
    parser.add_argument(
        "--ost-map",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="lctl dl -t collection file for -o (default: the lfsstatus_map_files of the config)",
    )
    parser.add_argument(
        "--silent-errors", action="store_true", help="hide darshan-parser's error messages"
    )
    return parser


def _parse_time(text: str, option: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(text, DATETIME_FMT)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not in the form 'YYYY-MM-DD HH:MM:SS'") from None


def _records_to_csv(records: list[dict[str, Any]]) -> str:
    import pandas

    columns = sorted({key for record in records for key in record})
    frame = pandas.DataFrame(records, columns=columns, dtype=object)
    text: str = frame.to_csv(index_label="index")
    return text


def _summarize(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One record per Darshan log (or one for the window), in order."""
    global _missing_warned
    _missing_warned = False
    if (args.start_time is None) != (args.end_time is None):
        raise ValueError("--start-time and --end-time must be given together")
    window = None
    if args.start_time is not None:
        if len(args.files) > 1:
            raise ValueError(
                "--start-time/--end-time cannot be used with more than one Darshan log"
            )
        window = (
            _parse_time(args.start_time, "--start-time"),
            _parse_time(args.end_time, "--end-time"),
        )
    if args.slurm_jobid is not None and len(args.files) > 1:
        raise ValueError("--slurm-jobid cannot be used with more than one Darshan log")
    slurm_cache = (
        args.slurm_jobid if args.slurm_jobid and os.path.isfile(args.slurm_jobid) else None
    )
    records: list[dict[str, Any]] = []
    for log in args.files or [None]:
        results: dict[str, Any] = {}
        if log is not None:
            retrieve_darshan_data(results, log, silent_errors=args.silent_errors)
        if window is not None:
            results["_datetime_start"], results["_datetime_end"] = window
        retrieve_jobid(results, args.slurm_jobid, len(args.files))
        if "_datetime_start" not in results and log is None and results.get("_jobid"):
            from atokio.tools.jobinfo import get_job_startend

            start, end = get_job_startend(results["_jobid"], cache_file=slurm_cache)
            results["_datetime_start"], results["_datetime_end"] = start, end
        file_system = args.file_system or _guess_file_system(results)
        if file_system is not None:
            results["_file_system"] = file_system
        retrieve_lmt_data(results, file_system)
        retrieve_ost_data(results, args.ost, args.ost_fullness or None, args.ost_map or None)
        if args.topology is not None:
            retrieve_topology_data(results, slurm_cache, args.topology or None)
        if args.concurrentjobs is not None and args.jobhost:
            retrieve_concurrent_job_data(results, args.jobhost, args.concurrentjobs or None)
        if results:
            records.append(results)
    return records


def _body(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    if (
        not args.files
        and args.start_time is None
        and args.end_time is None
        and not args.slurm_jobid
    ):
        parser.error("give Darshan logs, or --start-time and --end-time (or --slurm-jobid)")
    setup_logging()
    records = _summarize(args)
    if args.json:
        sys.stdout.write(
            json.dumps(records, indent=4, sort_keys=True, default=serialize_datetime) + "\n"
        )
    else:
        print(_records_to_csv(records))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for the CLI interface."""
    return run_main(_body, argv)


if __name__ == "__main__":
    sys.exit(main())
