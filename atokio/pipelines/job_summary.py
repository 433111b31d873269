"""Summarize a job's I/O and what the file system did meanwhile: the engine of ``summarize_job``.

A *record* is one flat dict per Darshan log (or per explicit window, or per
job id), with keys from every source the site has configured:

* ``darshan_*`` — the Darshan log (:func:`aretrieve_darshan_data`, one
  ``--perf`` and one ``--base`` read under the reader policy of
  :mod:`atokio.connectors.darshan`): header fields and the statistics of
  :func:`~atokio.pipelines.job_stats.summarize_darshan`;
* ``fs_*`` — the TOKIO Time Series (TTS or H5LMT) archive of the file system
  over ``[_datetime_start, _datetime_end)`` (:func:`retrieve_lmt_data`);
* ``fshealth_*`` — Lustre OST fullness and failover at the job's start
  (:func:`retrieve_ost_data`, through :mod:`atokio.tools.lfsstatus`);
* ``topology_*`` — the job's spread on a Cray XC network
  (:func:`retrieve_topology_data`, through :mod:`atokio.tools.topology`);
* ``jobsdb_*`` — jobs running concurrently
  (:func:`retrieve_concurrent_job_data`, the NERSC jobs database);

plus ``_datetime_start``, ``_datetime_end`` (naive local datetimes),
``_jobid`` and ``_file_system``.  :func:`serialize_datetime` is the ``json``
hook that gives the printed form; :func:`record_as_json` applies it.

Entry points (async, each with its sync form without the ``a``):

* :func:`asummarize_job` — the records ``summarize_job`` prints, for its
  options given as keyword arguments;
* :func:`asummarize_log` — the record ``summarize_job -j LOG`` prints for one
  log;
* :func:`asummarize_jobid` — the record of a job id found through the site
  configuration: its times from the jobinfo providers, its Darshan logs from
  ``darshan_log_dirs``, the TTS archive around it; the sources are fetched
  concurrently and a source that fails is named under ``_failed_sources``
  instead of failing the call.

The window of a Darshan log is its ``start_time`` to its ``end_time`` plus
the config key ``lmt_timestep`` (default 5 s).  Statistics that come out
undefined (NaN) are left out of the record.  Blocking reads (HDF5, SQLite,
MySQL, commands) run in worker threads, so the async forms never block the
event loop.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio

from atokio import config
from atokio.archive.schema import MD_OPS
from atokio.collectors.sync import run_sync
from atokio.common import to_epoch
from atokio.pipelines.job_stats import (
    POSIX_COUNTERS,
    DuplicateKeyError,
    _defined,
    _identify_fs_from_path,
    _native,
    get_biggest_api,
    get_biggest_fs,
    identify_fs_from_path,
    merge_dicts,
    serialize_datetime,
    summarize_byterate_df,
    summarize_cpu_df,
    summarize_darshan,
    summarize_darshan_posix,
    summarize_mds_ops_df,
    summarize_missing_df,
)

__all__ = [
    "MDS_OPS",
    "POSIX_COUNTERS",
    "TTS_DATASETS",
    "DuplicateKeyError",
    "_identify_fs_from_path",
    "aretrieve_darshan_data",
    "asummarize_job",
    "asummarize_jobid",
    "asummarize_log",
    "get_biggest_api",
    "get_biggest_fs",
    "guess_file_system",
    "identify_fs_from_path",
    "merge_dicts",
    "record_as_json",
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
    "summarize_job",
    "summarize_jobid",
    "summarize_log",
    "summarize_mds_ops_df",
    "summarize_missing_df",
]

logger = logging.getLogger(__name__)

#: Default padding (seconds) after a Darshan job's end when the config has no ``lmt_timestep``.
DEFAULT_LMT_TIMESTEP = 5

#: Metadata operations summarized from ``mdtargets/<op>s``.
MDS_OPS = MD_OPS

# whether the missing-TTS warning was given in this run (one per run)
_missing_warned = False


def _lmt_timestep() -> int:
    value = config.CONFIG.get("lmt_timestep")
    return DEFAULT_LMT_TIMESTEP if value is None else int(value)


async def aretrieve_darshan_data(
    results: dict[str, Any],
    darshan_log_file: str,
    silent_errors: bool = False,
    *,
    reader: str | None = "auto",
) -> dict[str, Any]:
    """Extract the performance data from the Darshan log (async form).

    Reads the log (``--perf`` and ``--base``, under the reader policy of
    :mod:`atokio.connectors.darshan`), adds the :func:`summarize_darshan`
    keys with the prefix ``darshan_``, and sets ``_datetime_start`` (the
    log's start, a naive local datetime), ``_datetime_end`` (its end plus
    ``lmt_timestep`` seconds) and ``_jobid``.  A log that cannot be read
    raises ``DarshanLogError``; with ``silent_errors`` it adds nothing
    instead (logged at debug level).  Returns ``results``, updated in place.
    """
    from atokio.connectors.darshan import aread_darshan

    darshan_data = await aread_darshan(
        darshan_log_file,
        ("perf", "base"),
        reader=reader,
        silent_errors=silent_errors,
        strict=not silent_errors,
    )
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


def retrieve_darshan_data(
    results: dict[str, Any],
    darshan_log_file: str,
    silent_errors: bool = False,
    *,
    reader: str | None = "auto",
) -> dict[str, Any]:
    """Extract the performance data from the Darshan log (sync form of :func:`aretrieve_darshan_data`)."""
    return run_sync(aretrieve_darshan_data, results, darshan_log_file, silent_errors, reader=reader)


def guess_file_system(results: Mapping[str, Any]) -> str | None:
    """The logical file system of a record's Darshan data (see docs/cli.md#summarize_job), or None.

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
    from atokio.tools.topology import get_job_diameter

    diameter = get_job_diameter(
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
    from atokio.tools import lfsstatus

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


# -- the records ------------------------------------------------------------------------------
async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread (blocking reads stay off the event loop)."""
    return await anyio.to_thread.run_sync(lambda: function(*args))


def _check_options(
    files: Sequence[str],
    start_time: datetime.datetime | None,
    end_time: datetime.datetime | None,
    slurm_jobid: str | None,
) -> tuple[datetime.datetime, datetime.datetime] | None:
    """The explicit window, after checking that the options go together."""
    if (start_time is None) != (end_time is None):
        raise ValueError("--start-time and --end-time must be given together")
    if start_time is not None and len(files) > 1:
        raise ValueError("--start-time/--end-time cannot be used with more than one Darshan log")
    if slurm_jobid is not None and len(files) > 1:
        raise ValueError("--slurm-jobid cannot be used with more than one Darshan log")
    if start_time is None or end_time is None:
        return None
    return start_time, end_time


async def asummarize_job(
    files: Sequence[str] = (),
    *,
    file_system: str | None = None,
    start_time: datetime.datetime | None = None,
    end_time: datetime.datetime | None = None,
    slurm_jobid: str | None = None,
    ost: bool = False,
    ost_fullness: str | None = None,
    ost_map: str | None = None,
    topology: str | None = None,
    concurrentjobs: str | None = None,
    jobhost: str | None = None,
    silent_errors: bool = False,
    reader: str | None = "auto",
) -> list[dict[str, Any]]:
    """The records ``summarize_job`` prints: one per Darshan log, or one for the window.

    The keyword arguments are the tool's options (docs/cli.md#summarize_job):
    ``start_time``/``end_time`` an explicit window (naive local datetimes,
    they win over a log's); ``slurm_jobid`` a job id or a Slurm cache file;
    ``ost`` with ``ost_fullness``/``ost_map`` for the ``fshealth_`` keys;
    ``topology`` ``None`` (off), ``""`` (run xtdb2proc) or a saved node map;
    ``concurrentjobs`` ``None`` (off), ``""`` (MySQL) or a jobs-database
    cache, used with ``jobhost``; ``reader`` as in
    :mod:`atokio.connectors.darshan`.  Options that do not go together
    raise ``ValueError``.  A log that gives no data gives no record.
    """
    global _missing_warned
    _missing_warned = False
    window = _check_options(files, start_time, end_time, slurm_jobid)
    slurm_cache = slurm_jobid if slurm_jobid and os.path.isfile(slurm_jobid) else None
    records: list[dict[str, Any]] = []
    logs: list[str | None] = list(files) or [None]
    for log in logs:
        results: dict[str, Any] = {}
        if log is not None:
            await aretrieve_darshan_data(results, log, silent_errors, reader=reader)
        if window is not None:
            results["_datetime_start"], results["_datetime_end"] = window
        await _in_thread(retrieve_jobid, results, slurm_jobid, len(files))
        if "_datetime_start" not in results and log is None and results.get("_jobid"):
            from atokio.tools.jobinfo import aget_job_startend

            start, end = await aget_job_startend(results["_jobid"], cache_file=slurm_cache)
            results["_datetime_start"], results["_datetime_end"] = start, end
        chosen = file_system or guess_file_system(results)
        if chosen is not None:
            results["_file_system"] = chosen
        await _in_thread(retrieve_lmt_data, results, chosen)
        await _in_thread(retrieve_ost_data, results, ost, ost_fullness or None, ost_map or None)
        if topology is not None:
            await _in_thread(retrieve_topology_data, results, slurm_cache, topology or None)
        if concurrentjobs is not None and jobhost:
            await _in_thread(retrieve_concurrent_job_data, results, jobhost, concurrentjobs or None)
        if results:
            records.append(results)
    return records


def summarize_job(files: Sequence[str] = (), **options: Any) -> list[dict[str, Any]]:
    """The records ``summarize_job`` prints (sync form of :func:`asummarize_job`)."""
    return run_sync(asummarize_job, files, **options)


async def asummarize_log(
    darshan_log: str,
    *,
    file_system: str | None = None,
    silent_errors: bool = False,
    reader: str | None = "auto",
) -> dict[str, Any]:
    """The record ``summarize_job -j LOG`` prints for one log (``{}`` for a log without data).

    The values are as in memory (datetimes for ``_datetime_*``);
    :func:`record_as_json` gives the printed form.
    """
    records = await asummarize_job(
        [darshan_log], file_system=file_system, silent_errors=silent_errors, reader=reader
    )
    return records[0] if records else {}


def summarize_log(darshan_log: str, **options: Any) -> dict[str, Any]:
    """The record of one log (sync form of :func:`asummarize_log`)."""
    return run_sync(asummarize_log, darshan_log, **options)


def record_as_json(record: Any) -> Any:
    """A record (or a list of them) as ``summarize_job -j`` prints it: datetimes as numbers."""
    import json

    return json.loads(json.dumps(record, default=serialize_datetime))


def _failure_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _merge_new(record: dict[str, Any], part: Mapping[str, Any]) -> None:
    """Copy into ``record`` the keys of ``part`` it does not have yet."""
    for key, value in part.items():
        record.setdefault(key, value)


async def asummarize_jobid(
    jobid: str | int,
    *,
    file_system: str | None = None,
    cache_file: str | None = None,
    log_dir: str | None = None,
    system: str | None = None,
    ost: bool = False,
    topology: str | None = None,
    concurrentjobs: str | None = None,
    jobhost: str | None = None,
    reader: str | None = "auto",
) -> dict[str, Any]:
    """The record of a job id, from the sources the site configuration names.

    The job's start and end come from the jobinfo providers
    (:func:`atokio.tools.jobinfo.aget_job_startend`, ``cache_file`` offered to
    them) and make the window.  Then, at once: its Darshan logs under
    ``darshan_log_dirs`` (``log_dir``/``system`` as for
    :func:`atokio.tools.darshan.find_darshanlogs`; all found are listed in
    ``_darshan_logs`` and the largest gives the ``darshan_*`` keys), the
    topology (``topology`` as in :func:`asummarize_job`) and the concurrent
    jobs (with ``jobhost``); then, for ``file_system`` (or the one the log
    points to), the TTS archive and, with ``ost``, Lustre health.  A source
    that fails leaves its keys out and is named in ``_failed_sources``
    (``{source: "Error: message"}``, empty when all answered); a job the
    providers do not know gives only ``_jobid`` and ``_failed_sources``.
    """
    from atokio.tools.jobinfo import aget_job_startend

    job = str(jobid)
    record: dict[str, Any] = {"_jobid": job}
    failed: dict[str, str] = {}

    async def attempt(source: str, work: Callable[[], Awaitable[Any]]) -> None:
        try:
            await work()
        except Exception as error:
            failed[source] = _failure_text(error)
            logger.warning("job %s: %s failed: %s", job, source, failed[source])

    async def job_times() -> None:
        start, end = await aget_job_startend(job, cache_file=cache_file)
        record["_datetime_start"], record["_datetime_end"] = start, end

    await attempt("jobinfo", job_times)
    if "_datetime_start" not in record:
        record["_failed_sources"] = failed
        return record
    window = {key: record[key] for key in ("_jobid", "_datetime_start", "_datetime_end")}

    async def darshan() -> None:
        from atokio.tools.darshan import find_darshanlogs

        logs = await _in_thread(
            lambda: find_darshanlogs(
                datetime_start=window["_datetime_start"],
                datetime_end=window["_datetime_end"],
                jobid=job,
                log_dir=log_dir,
                system=system,
            )
        )
        record["_darshan_logs"] = list(logs)
        if not logs:
            raise FileNotFoundError(f"no Darshan log of job {job} in the configured log dirs")
        largest = max(logs, key=lambda path: (os.path.getsize(path), path))
        part = await aretrieve_darshan_data({}, largest, reader=reader)
        _merge_new(record, {k: v for k, v in part.items() if k.startswith("darshan_")})

    async def topology_data() -> None:
        part = await _in_thread(retrieve_topology_data, dict(window), None, topology or None)
        _merge_new(record, part)

    async def jobsdb() -> None:
        part = await _in_thread(
            retrieve_concurrent_job_data, dict(window), jobhost, concurrentjobs or None
        )
        _merge_new(record, part)

    async with anyio.create_task_group() as group:
        group.start_soon(attempt, "darshan", darshan)
        if topology is not None:
            group.start_soon(attempt, "topology", topology_data)
        if concurrentjobs is not None and jobhost:
            group.start_soon(attempt, "jobsdb", jobsdb)
    chosen = file_system or guess_file_system(record)
    if chosen is not None:
        record["_file_system"] = chosen
        window["_file_system"] = chosen

        async def tts() -> None:
            _merge_new(record, await _in_thread(retrieve_lmt_data, dict(window), chosen))

        async def health() -> None:
            _merge_new(record, await _in_thread(retrieve_ost_data, dict(window), True))

        async with anyio.create_task_group() as group:
            group.start_soon(attempt, "tts", tts)
            if ost:
                group.start_soon(attempt, "lfsstatus", health)
    record["_failed_sources"] = failed
    return record


def summarize_jobid(jobid: str | int, **options: Any) -> dict[str, Any]:
    """The record of a job id (sync form of :func:`asummarize_jobid`)."""
    return run_sync(asummarize_jobid, jobid, **options)
