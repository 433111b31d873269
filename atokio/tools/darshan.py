"""Find Darshan logs in a site's dated log repository (``tokio.tools.darshan``).

The repository is laid out as ``<base>/<year>/<month>/<day>/`` without zero
padding (``2017/3/20``), and logs are named
``<user>_<exe>_id<jobid>_<month>-<day>-<seconds>-<hash>_<n>.darshan``
(docs/formats.md#log-names-and-the-dated-tree).  ``<base>`` comes from ``log_dir`` or the config key
``darshan_log_dirs`` (a path, or a dict of paths keyed by system name; the
reference documents the key as ``darshan_log_dir``, which is accepted too).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from atokio import config
from atokio.collectors.fanout import gather
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import map_in_workers
from atokio.connectors.darshan import Darshan, read_darshan, resolve_reader
from atokio.tools import jobinfo
from atokio.tools.common import enumerate_dated_files

__all__ = ["find_darshanlogs", "load_darshanlogs"]

#: How many logs are read at once by :func:`load_darshanlogs`.
CONCURRENT_LOGS = 8


def _job_start(jobid: Any) -> datetime.datetime:
    """The start time of a job, through the site's job-id providers (:mod:`atokio.tools.jobinfo`)."""
    start, _end = jobinfo.get_job_startend(jobid=str(jobid))
    return start


def _log_templates(log_dir: str | None, filename_glob: str) -> Any:
    """The dated-file template(s) of the logs: the base dir(s) + ``%-Y/%-m/%-d/`` + glob."""
    day_glob = os.path.join("%-Y", "%-m", "%-d", filename_glob)
    if log_dir is not None:
        return os.path.join(log_dir, day_glob)
    bases = config.CONFIG.get("darshan_log_dirs", config.CONFIG.get("darshan_log_dir"))
    if bases is None:
        raise KeyError(
            "no Darshan log directory: give log_dir (--logdir) or set darshan_log_dirs in the site config"
        )

    def attach(template: Any) -> Any:
        if isinstance(template, str):
            return os.path.join(template, day_glob)
        if isinstance(template, list):
            return [attach(item) for item in template]
        if isinstance(template, dict):
            return {key: attach(value) for key, value in template.items()}
        raise TypeError(f"darshan_log_dirs must be a path, list or dict, not {template!r}")

    return attach(bases)


def find_darshanlogs(
    datetime_start: datetime.datetime | None = None,
    datetime_end: datetime.datetime | None = None,
    username: str | None = None,
    jobid: int | str | None = None,
    log_dir: str | None = None,
    system: str | None = None,
) -> list[str]:
    """Paths of the Darshan logs matching the criteria.

    Days from ``datetime_start`` to ``datetime_end`` (inclusive; either one
    alone means that single day) are searched.  With only ``jobid``, the job's
    start date comes from the job-id providers.  ``system`` picks one entry of a
    dict-valued ``darshan_log_dirs``; without it every entry is searched.

    Raises ``ValueError`` when neither a start/end nor a job id is given, or
    when the start is after the end.
    """
    if datetime_start is None and datetime_end is None:
        if jobid is None:
            raise ValueError("Either --start/--end or --jobid must be defined")
        datetime_start = _job_start(jobid)
    if datetime_start is None:
        datetime_start = datetime_end
    if datetime_end is None:
        datetime_end = datetime_start
    assert datetime_start is not None and datetime_end is not None
    if datetime_start > datetime_end:
        raise ValueError(
            f"datetime_start ({datetime_start}) is after datetime_end ({datetime_end})"
        )
    user = username if username else "*"
    job = str(jobid) if jobid is not None else "*"
    template = _log_templates(log_dir, f"{user}_*_id{job}_%-m-%-d-*.darshan")
    return enumerate_dated_files(
        start=datetime_start,
        end=datetime_end,
        template=template,
        lookup_key=system,
        match_first=False,
        use_glob=True,
    )


def _read_direct(item: tuple[str, tuple[str, ...], bool]) -> dict[str, Any]:
    """Worker entry point: one log read directly into the documented dict."""
    from atokio.connectors.darshan import _direct_records
    from atokio.parsers.darshan import build_darshan_dict

    path, modes, silent = item
    return build_darshan_dict(_direct_records(path, modes, None, None, silent))


def _counted(
    job: Callable[[], Awaitable[Any]], progress: Callable[[int], Any]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """``job`` that reports 1 to ``progress`` once it has finished (well or not)."""

    async def counted() -> Any:
        try:
            return await job()
        finally:
            progress(1)

    return counted


def _parse_which(which: str | None) -> tuple[str, ...]:
    if which is None:
        return ("base",)
    modes = tuple(m.strip() for m in which.split(",") if m.strip() in ("base", "total", "perf"))
    if not modes:
        raise TypeError(f"which must name base, total and/or perf, not {which!r}")
    return modes


def load_darshanlogs(
    datetime_start: datetime.datetime | None = None,
    datetime_end: datetime.datetime | None = None,
    username: str | None = None,
    jobid: int | str | None = None,
    log_dir: str | None = None,
    system: str | None = None,
    which: str | None = None,
    progress: Callable[[int], Any] | None = None,
    **kwargs: Any,
) -> dict[str, Darshan]:
    """Parsed Darshan logs matching the criteria, keyed by log path.

    ``which`` is a comma-separated string of ``base``, ``total``, ``perf``
    (default ``base``); ``kwargs`` go to each :class:`Darshan`.  Logs are read
    concurrently (up to :data:`CONCURRENT_LOGS` at once); a log that cannot be
    read gives a warning and an empty :class:`Darshan`.  ``progress``, when
    given, is called with 1 as each log is read (a progress bar's ``update``).
    """
    modes = _parse_which(which)
    paths = find_darshanlogs(datetime_start, datetime_end, username, jobid, log_dir, system)
    logs = {path: Darshan(path, **kwargs) for path in paths}

    async def load_all() -> None:
        direct = [log for log in logs.values() if resolve_reader(log.reader) == "direct"]
        if len(direct) > 1:
            # CPU-bound decoding: spread it over worker processes
            items = [(log.log_file or "", modes, log.silent_errors) for log in direct]
            async with map_in_workers(_read_direct, items, isolate=True) as results:
                async for item, loaded in results:
                    if isinstance(loaded, BaseException):
                        raise loaded
                    logs[item[0]].update(loaded)
                    if progress is not None:
                        progress(1)
        jobs = {
            path: (
                lambda log=log: read_darshan(
                    log.log_file or "",
                    modes,
                    reader=log.reader,
                    timeout=log.timeout,
                    silent_errors=log.silent_errors,
                    into=log,
                )
            )
            for path, log in logs.items()
            if len(direct) <= 1 or log not in direct
        }
        if progress is not None:
            jobs = {path: _counted(job, progress) for path, job in jobs.items()}
        outcome = await gather(jobs, limit=CONCURRENT_LOGS)
        outcome.raise_first()

    if logs:
        run_sync(load_all)
    return logs
