"""A job's start, end and nodes, from whichever source the site configures (``tokio.tools.jobinfo``).

The site configuration lists the *providers* to ask, in order:

* ``jobinfo_jobid_providers`` (default ``["slurm"]``) for
  :func:`get_job_startend`: ``"slurm"`` (:class:`atokio.connectors.slurm.Slurm`,
  which runs ``sacct`` or reads ``cache_file``) and ``"nersc_jobsdb"``
  (:class:`atokio.connectors.nersc_jobsdb.NerscJobsDb`, MySQL through the
  ``NERSC_JOBSDB_*`` variables or the SQLite ``cache_file``; the system name
  comes from the config key ``nersc_host`` or the ``NERSC_HOST`` variable);
* ``jobinfo_jobnodes_providers`` (default ``["slurm"]``) for
  :func:`get_job_nodes`: only ``"slurm"`` knows node lists.

Each provider is tried in turn and the first that knows the job answers.  A
provider that fails (``sacct`` missing, no database, a ``cache_file`` of
another kind, the job unknown to it) is logged and the next one is tried;
``cache_file`` is offered to every provider.  When none answers, the call
raises :class:`atokio.common.ConfigError`, whose message lists what each
provider said.  An unknown provider name is skipped with a warning.

When ``cache_file`` holds Slurm records of several jobs, only the records of
``jobid`` are used (all of them, with a warning, if none carries that id —
the reference uses the whole file).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable
from typing import Any

import anyio

from atokio import config
from atokio.collectors.sync import run_sync
from atokio.common import ConfigError
from atokio.connectors.nersc_jobsdb import NerscJobsDb
from atokio.connectors.slurm import Slurm

__all__ = [
    "JobNotFound",
    "aget_job_nodes",
    "aget_job_startend",
    "get_job_nodes",
    "get_job_startend",
]

logger = logging.getLogger(__name__)

DEFAULT_JOBID_PROVIDERS = ("slurm",)
DEFAULT_JOBNODES_PROVIDERS = ("slurm",)


class JobNotFound(LookupError):
    """A provider worked but does not know the job."""


def _providers(key: str, default: tuple[str, ...]) -> list[str]:
    value = config.CONFIG.get(key)
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def _slurm_records(jobid: str, cache_file: str | None) -> Slurm:
    """The Slurm records of ``jobid`` (from ``cache_file`` or sacct)."""
    slurm = Slurm(jobid, cache_file=cache_file) if cache_file else Slurm(jobid)
    if not slurm:
        raise JobNotFound(f"Slurm has no record of job {jobid}")
    mine = [task for task in slurm if task.split(".", 1)[0] == jobid]
    if not mine:
        logger.warning("%s has no record of job %s; using all of its records", cache_file, jobid)
        return slurm
    if len(mine) < len(slurm):
        for task in [task for task in slurm if task not in mine]:
            del slurm[task]
    return slurm


def _to_datetime(value: Any) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value)
    raise JobNotFound(f"not a time: {value!r}")


def _startend_slurm(
    jobid: str, cache_file: str | None
) -> tuple[datetime.datetime, datetime.datetime]:
    start, end = _slurm_records(jobid, cache_file).get_job_startend()
    if start is None or end is None:
        raise JobNotFound(f"Slurm does not know when job {jobid} started and ended")
    return _to_datetime(start), _to_datetime(end)


def _nersc_host() -> str:
    host = config.CONFIG.get("nersc_host") or os.environ.get("NERSC_HOST")
    if not host:
        raise ConfigError("set nersc_host in the site config or NERSC_HOST in the environment")
    return str(host)


def _startend_nersc_jobsdb(
    jobid: str, cache_file: str | None
) -> tuple[datetime.datetime, datetime.datetime]:
    host = _nersc_host()
    jobsdb = NerscJobsDb(cache_file=cache_file)
    try:
        start, end = jobsdb.get_job_startend(jobid, host)
    finally:
        jobsdb.close()
        jobsdb.close_cache()
    if start is None or end is None:
        raise JobNotFound(f"the NERSC jobs database has no job {jobid} on {host}")
    return _to_datetime(start), _to_datetime(end)


def _nodes_slurm(jobid: str, cache_file: str | None) -> set[str]:
    nodes = _slurm_records(jobid, cache_file).get_job_nodes()
    if not nodes:
        raise JobNotFound(f"Slurm lists no nodes for job {jobid}")
    return nodes


_JOBID_PROVIDERS: dict[str, Callable[[str, str | None], Any]] = {
    "slurm": _startend_slurm,
    "nersc_jobsdb": _startend_nersc_jobsdb,
}

_JOBNODES_PROVIDERS: dict[str, Callable[[str, str | None], Any]] = {
    "slurm": _nodes_slurm,
}


async def _aask(
    what: str,
    key: str,
    default: tuple[str, ...],
    table: dict[str, Callable[[str, str | None], Any]],
    jobid: Any,
    cache_file: str | None,
) -> Any:
    job = str(jobid)
    reasons: list[str] = []
    for name in _providers(key, default):
        provider = table.get(name)
        if provider is None:
            logger.warning("%s: unknown %s provider %r skipped", key, what, name)
            reasons.append(f"{name}: not a {what} provider")
            continue
        try:
            return await anyio.to_thread.run_sync(provider, job, cache_file)
        except Exception as error:  # any failure: try the next provider
            logger.info("%s provider %s failed for job %s: %s", what, name, job, error)
            reasons.append(f"{name}: {type(error).__name__}: {error}")
    detail = "; ".join(reasons) if reasons else f"{key} lists no provider"
    raise ConfigError(f"No valid {what} provider found for job {job} ({detail})")


async def aget_job_startend(
    jobid: str | int, cache_file: str | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """Find the earliest start and latest end time of a job (async form).

    Asks the providers of ``jobinfo_jobid_providers`` in order (see the
    module docstring), each in a worker thread so that the event loop is
    never blocked; ``cache_file`` is a Slurm cache (JSON or sacct text) or a
    jobs-database SQLite cache.  Returns ``(start, end)`` as naive local
    datetimes.  Raises :class:`atokio.common.ConfigError` when no valid
    provider is found.
    """
    result: tuple[datetime.datetime, datetime.datetime] = await _aask(
        "job id",
        "jobinfo_jobid_providers",
        DEFAULT_JOBID_PROVIDERS,
        _JOBID_PROVIDERS,
        jobid,
        cache_file,
    )
    return result


def get_job_startend(
    jobid: str | int, cache_file: str | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """Find the earliest start and latest end time of a job.

    The sync form of :func:`aget_job_startend`: returns ``(start, end)`` as
    naive local datetimes, or raises :class:`atokio.common.ConfigError` when
    no valid provider is found.
    """
    return run_sync(aget_job_startend, jobid, cache_file)


async def aget_job_nodes(jobid: str | int, cache_file: str | None = None) -> set[str]:
    """Return the set of all node names used by a job (async form).

    Asks the providers of ``jobinfo_jobnodes_providers`` in order (only
    ``slurm`` is valid); ``cache_file`` is a Slurm cache.  Raises
    :class:`atokio.common.ConfigError` when no valid provider is found.
    """
    result: set[str] = await _aask(
        "job nodes",
        "jobinfo_jobnodes_providers",
        DEFAULT_JOBNODES_PROVIDERS,
        _JOBNODES_PROVIDERS,
        jobid,
        cache_file,
    )
    return result


def get_job_nodes(jobid: str | int, cache_file: str | None = None) -> set[str]:
    """Return the set of all node names used by a job (sync form of :func:`aget_job_nodes`)."""
    return run_sync(aget_job_nodes, jobid, cache_file)
