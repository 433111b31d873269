"""The service's one door into the job-summary library functions.

Every call the service makes into the job-summary pipeline
(:mod:`atokio.pipelines.job_summary`, the engine of ``summarize_job``) goes
through this module, so that a change there changes this file only.  Two
kinds of calls live here:

* plain functions (:func:`summarize_log`, :func:`window_record`,
  :func:`job_window`, :func:`job_logs`) that do the work synchronously; the
  service runs them off its event loop, in worker processes or threads;
* :func:`job_record`, which gathers a job's record from the site
  configuration, every source at once, and names the sources that failed.

Records are returned as ``summarize_job -j`` prints them: datetimes become
float seconds (a naive datetime read as if its wall-clock time were UTC),
numpy numbers plain numbers.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from atokio.pipelines import job_summary

logger = logging.getLogger(__name__)

__all__ = [
    "JobRecord",
    "job_logs",
    "job_record",
    "job_window",
    "record_window",
    "summarize_log",
    "window_record",
]

_EPOCH = datetime.datetime(1970, 1, 1)


def summarize_log(path: str) -> dict[str, Any]:
    """The record ``summarize_job -j PATH`` prints for one Darshan log.

    Raises ``ValueError`` naming the file when nothing could be read from it
    (not a Darshan log, or a damaged one).
    """
    found = job_summary.summarize_log(path, silent_errors=True)  # an empty record: reported below
    if not found:
        raise ValueError(
            f"{os.path.basename(path)}: no Darshan data could be read from this file "
            "(is it a Darshan log?)"
        )
    record: dict[str, Any] = job_summary.record_as_json(found)
    return record


def window_record(
    jobid: str | None,
    start: datetime.datetime,
    end: datetime.datetime,
    file_system: str | None,
) -> dict[str, Any]:
    """The record of ``summarize_job --start-time S --end-time E [-f FS] [--slurm-jobid J] -j``."""
    found = job_summary.summarize_job(
        (), start_time=start, end_time=end, file_system=file_system, slurm_jobid=jobid
    )
    record: dict[str, Any] = job_summary.record_as_json(found[0]) if found else {}
    return record


def record_window(record: dict[str, Any]) -> tuple[datetime.datetime, datetime.datetime] | None:
    """A record's ``[_datetime_start, _datetime_end)`` as naive local datetimes, or None."""
    start = record.get("_datetime_start")
    end = record.get("_datetime_end")
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        return None
    # the record holds local wall-clock times written as if they were UTC
    return (
        _EPOCH + datetime.timedelta(seconds=float(start)),
        _EPOCH + datetime.timedelta(seconds=float(end)),
    )


def job_window(jobid: str) -> tuple[datetime.datetime, datetime.datetime]:
    """A job's start and end (naive local) from the site's job-id providers."""
    from atokio.tools.jobinfo import get_job_startend

    return get_job_startend(jobid)


def job_logs(jobid: str, start: datetime.datetime, end: datetime.datetime) -> list[str]:
    """The Darshan logs of a job in the site's ``darshan_log_dirs`` (days from start to end)."""
    from atokio.tools.darshan import find_darshanlogs

    return sorted(find_darshanlogs(datetime_start=start, datetime_end=end, jobid=jobid))


@dataclass
class JobRecord:
    """What the service knows of one job.

    ``record`` is ``summarize_job``'s record of the job's window (``_jobid``,
    ``_datetime_start``, ``_datetime_end``, ``_file_system`` and the ``fs_``
    keys); ``logs`` maps each Darshan log's file name to its record;
    ``failures`` maps each source that failed to the reason.
    """

    jobid: str
    record: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON answer of ``/api/v1/jobs/{jobid}``."""
        return {
            "jobid": self.jobid,
            "record": self.record,
            "logs": self.logs,
            "failed_sources": [
                {"source": source, "error": error} for source, error in self.failures.items()
            ],
        }


#: Runs a sync function off the loop for a source: ``await run(source, fn, *args)``.
Runner = Callable[..., Awaitable[Any]]


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


async def job_record(jobid: str, run: Runner, *, file_system: str | None = None) -> JobRecord:
    """Gather a job's record: its window, its Darshan logs and the file system meanwhile.

    ``run(source, fn, *args)`` runs ``fn(*args)`` off the event loop within
    that source's capacity (``"jobinfo"``, ``"darshan"``, ``"tts"``).  The
    job's window comes from the job-id providers; then the logs are found
    and summarized, all at once, while the file system's telemetry over the
    window is read (for ``file_system``, or the file system the logs name).
    A source that fails is recorded in ``failures`` and the others go on;
    raises ``LookupError`` only when no source knows the job at all.
    """
    job = JobRecord(jobid)
    try:
        start, end = await run("jobinfo", job_window, jobid)
    except Exception as error:
        job.failures["jobinfo"] = _reason(error)
        raise LookupError(
            f"job {jobid}: no source knows this job ({job.failures['jobinfo']})"
        ) from error

    async def logs() -> None:
        try:
            paths = await run("jobinfo", job_logs, jobid, start, end)
        except Exception as error:
            job.failures["darshan_logs"] = _reason(error)
            return

        async def one(path: str) -> None:
            name = os.path.basename(path)
            try:
                job.logs[name] = await run("darshan", summarize_log, path)
            except Exception as error:
                job.failures[f"darshan:{name}"] = _reason(error)

        async with anyio.create_task_group() as group:
            for path in paths:
                group.start_soon(one, path)
        job.logs = dict(sorted(job.logs.items()))

    async def telemetry(fsname: str | None) -> None:
        try:
            job.record = await run("tts", window_record, jobid, start, end, fsname)
        except Exception as error:
            job.failures["tts"] = _reason(error)

    if file_system:
        async with anyio.create_task_group() as group:
            group.start_soon(logs)
            group.start_soon(telemetry, file_system)
    else:
        await logs()
        guessed = next(
            (r["_file_system"] for r in job.logs.values() if r.get("_file_system")), None
        )
        await telemetry(guessed)
    return job
