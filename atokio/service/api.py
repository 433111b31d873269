"""The JSON API of the report service, under ``/api/v1``.

=======================================================  ============================================
``GET /api/v1/health``                                   ``{"status": "ok", "version": ...}``
``GET /api/v1/timeseries/{fsname}/{dataset}``            rows ``start <= t < end`` of the TTS/H5LMT
                                                         archive (``?start=&end=``, ISO 8601 or epoch
                                                         seconds); JSON or, with ``Accept: text/csv``,
                                                         CSV
``POST /api/v1/darshan/summary?filename=NAME``           the ``summarize_job -j`` record of the Darshan
                                                         log sent as the body
``GET /api/v1/jobs/{jobid}``                             the job's records from the site configuration
                                                         (``?fs=`` names the file system)
=======================================================  ============================================

Errors are ``{"error": ..., "detail": ...}`` with 400, 401, 404, 413, 422 or
500 (the traceback goes to the service log only).
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atokio.service import _jobs
from atokio.service.app import ClientDisconnected, ServiceError, state_of, until_disconnected
from atokio.service.uploads import BodyTooLarge, safe_name, spool_body, upload_folder

__all__ = ["parse_time", "routes", "spooled_body"]


def parse_time(text: str | None, name: str) -> datetime.datetime:
    """A query time as a naive local datetime.

    Epoch seconds (``1517097660``), or ISO 8601 (``2018-01-28T00:01:00``;
    naive means local time, an offset or ``Z`` is converted to local time).
    Raises :class:`ServiceError` (400) naming the parameter otherwise.
    """
    if text is None or not text.strip():
        raise ServiceError(400, f"missing {name}", f"give ?{name}= as ISO 8601 or epoch seconds")
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ServiceError(400, f"bad {name}", f"{text!r} is not a time")
        return datetime.datetime.fromtimestamp(seconds)
    try:
        when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ServiceError(
            400,
            f"bad {name}",
            f"{text!r} is neither ISO 8601 (2018-01-28T00:01:00) nor epoch seconds",
        ) from None
    if when.tzinfo is not None:
        when = when.astimezone().replace(tzinfo=None)
    return when


async def health(request: Request) -> Response:
    """``{"status": "ok", "version": ...}``: answered on the loop, never queued."""
    from atokio import __version__

    return JSONResponse({"status": "ok", "version": __version__})


def _timeseries_body(
    fsname: str, dataset: str, start: datetime.datetime, end: datetime.datetime, as_csv: bool
) -> bytes:
    """The answer's body for ``[start, end)``, JSON or CSV (runs in a worker thread).

    A day of a large file system is tens of megabytes of text: it is made
    here, off the event loop, which then only sends it.
    """
    from atokio.tools.hdf5 import get_dataframe_from_time_range

    frame = get_dataframe_from_time_range(fsname, dataset, start, end)
    if frame is None:
        columns: list[str] = []
        stamps: list[int] = []
        rows: list[list[float | None]] = []
    else:
        columns = [str(column) for column in frame.columns]
        stamps = [int(round(when.timestamp())) for when in frame.index.to_pydatetime()]
        rows = [
            [value if math.isfinite(value) else None for value in row]
            for row in frame.to_numpy(dtype=float).tolist()
        ]
    if as_csv:
        lines = [",".join(["timestamp", *columns])]
        for stamp, row in zip(stamps, rows, strict=True):
            cells = ["" if value is None else repr(value) for value in row]
            lines.append(",".join([str(stamp), *cells]))
        return ("\n".join(lines) + "\n").encode()
    document = {"columns": columns, "timestamps": stamps, "values": rows}
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _known_file_systems() -> list[str]:
    from atokio import config

    files = config.CONFIG.get("hdf5_files")
    return sorted(files) if isinstance(files, dict) else []


async def timeseries(request: Request) -> Response:
    """The rows of one TTS dataset in ``[start, end)``, as JSON or CSV."""
    fsname = request.path_params["fsname"]
    dataset = request.path_params["dataset"].strip("/")
    start = parse_time(request.query_params.get("start"), "start")
    end = parse_time(request.query_params.get("end"), "end")
    if end <= start:
        raise ServiceError(400, "empty time range", f"end ({end}) must be after start ({start})")
    known = _known_file_systems()
    if fsname not in known:
        raise ServiceError(
            404,
            "unknown file system",
            f"{fsname!r} is not a key of hdf5_files in the site configuration "
            f"(known: {', '.join(known) or 'none'})",
        )
    as_csv = "text/csv" in request.headers.get("accept", "")
    state = state_of(request)
    try:
        body = await until_disconnected(
            request,
            lambda: state.run("tts", _timeseries_body, fsname, dataset, start, end, as_csv),
        )
    except KeyError as error:
        raise ServiceError(404, "unknown dataset", f"{dataset!r} of {fsname}: {error}") from None
    except OSError as error:
        raise ServiceError(422, "unreadable archive file", str(error)) from None
    return Response(body, media_type="text/csv" if as_csv else "application/json")


async def _body_chunks(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise ClientDisconnected(
            f"{request.method} {request.url.path}: the client disconnected during the upload"
        ) from None


async def spooled_body(request: Request, folder: str, name: str) -> str:
    """Write the request body to ``folder/name`` within the body limit; return the path."""
    path = os.path.join(folder, name)
    try:
        size = await spool_body(_body_chunks(request), path, state_of(request).settings.body_limit)
    except BodyTooLarge as error:
        raise ServiceError(413, "request body too large", str(error)) from None
    if size == 0:
        raise ServiceError(400, "empty body", "send the Darshan log as the request body")
    return path


async def summarize_upload(request: Request, path: str) -> dict[str, Any]:
    """The summary record of the log at ``path``, cancelled if the client leaves."""
    state = state_of(request)
    try:
        return await until_disconnected(
            request, lambda: state.run("darshan", _jobs.summarize_log, path)
        )
    except ValueError as error:
        raise ServiceError(422, "unreadable Darshan log", str(error)) from None


async def darshan_summary(request: Request) -> Response:
    """The ``summarize_job -j`` record of the Darshan log in the body."""
    name = safe_name(request.query_params.get("filename"))
    async with upload_folder() as folder:
        path = await spooled_body(request, folder, name)
        record = await summarize_upload(request, path)
    return JSONResponse(record)


async def job_record(jobid: str, request: Request) -> _jobs.JobRecord:
    """The job's record from the site configuration (404 when no source knows it)."""
    if not jobid.strip() or "/" in jobid:
        raise ServiceError(400, "bad job id", f"{jobid!r} is not a job id")
    state = state_of(request)
    file_system = request.query_params.get("fs") or None
    try:
        return await until_disconnected(
            request, lambda: _jobs.job_record(jobid, state.run, file_system=file_system)
        )
    except LookupError as error:
        raise ServiceError(404, "job not found", str(error)) from None


async def job(request: Request) -> Response:
    """``summarize_job``'s records for one job; failed sources are named, not fatal."""
    found = await job_record(request.path_params["jobid"], request)
    return JSONResponse(found.to_dict())


def routes() -> list[Route]:
    """The API's routes."""
    return [
        Route("/api/v1/health", health, methods=["GET"]),
        Route("/api/v1/timeseries/{fsname}/{dataset:path}", timeseries, methods=["GET"]),
        Route("/api/v1/darshan/summary", darshan_summary, methods=["POST"]),
        Route("/api/v1/jobs/{jobid}", job, methods=["GET"]),
    ]
