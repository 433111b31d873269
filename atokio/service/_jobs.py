"""The service's one door into the job-summary library functions.

Every call the service makes into the job-summary functions goes through
this module, so that moving them changes this file only.  They are taken
from the pipeline module (``atokio.pipelines.job_summary``) when this
version of atokio has it, else from the ``summarize_job`` command's own
module (the same records either way).  Two kinds of calls live here:

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
import importlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import anyio

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

#: The ``summarize_job`` time format of ``--start-time``/``--end-time``.
_TIME_FMT = "%Y-%m-%d %H:%M:%S"

_EPOCH = datetime.datetime(1970, 1, 1)


def _pipeline() -> ModuleType | None:
    """The job-summary pipeline module, when this version of atokio has it."""
    try:
        return importlib.import_module("atokio.pipelines.job_summary")
    except ModuleNotFoundError as error:  # not this version; a broken module still fails
        if error.name in ("atokio.pipelines", "atokio.pipelines.job_summary"):
            return None
        raise


def _records(argv: Sequence[str]) -> list[dict[str, Any]]:
    """The records ``summarize_job ARGV -j`` prints, through the command's own functions."""
    from atokio.cli import summarize_job

    args = summarize_job.build_parser().parse_intermixed_args(list(argv))
    records = summarize_job._summarize(args)
    text = json.dumps(records, default=summarize_job.serialize_datetime)
    result: list[dict[str, Any]] = json.loads(text)
    return result


def summarize_log(path: str) -> dict[str, Any]:
    """The record ``summarize_job -j PATH`` prints for one Darshan log.

    Raises ``ValueError`` naming the file when nothing could be read from it
    (not a Darshan log, or a damaged one).
    """
    pipeline = _pipeline()
    if pipeline is not None:
        found = pipeline.summarize_log(path)
        records = [pipeline.record_as_json(found)] if found else []
    else:
        records = _records([path])
    if not records:
        raise ValueError(
            f"{os.path.basename(path)}: no Darshan data could be read from this file "
            "(is it a Darshan log?)"
        )
    record: dict[str, Any] = records[0]
    return record


def window_record(
    jobid: str | None,
    start: datetime.datetime,
    end: datetime.datetime,
    file_system: str | None,
) -> dict[str, Any]:
    """The record of ``summarize_job --start-time S --end-time E [-f FS] [--slurm-jobid J] -j``."""
    pipeline = _pipeline()
    if pipeline is not None:
        found = pipeline.summarize_job(
            (), start_time=start, end_time=end, file_system=file_system, slurm_jobid=jobid
        )
        records = pipeline.record_as_json(found)
    else:
        argv = ["--start-time", start.strftime(_TIME_FMT), "--end-time", end.strftime(_TIME_FMT)]
        if file_system:
            argv += ["-f", file_system]
        if jobid:
            argv += ["--slurm-jobid", jobid]
        records = _records(argv)
    record: dict[str, Any] = records[0] if records else {}
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
