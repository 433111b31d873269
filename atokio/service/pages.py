"""The report service's HTML pages: an upload/job form and a report page per log or job.

Pages are rendered on the server from small string templates (every value
escaped); there is no JavaScript.  A report page holds the key figures, the
full summary table and two images drawn by :mod:`atokio.service.plots`: the
UMAMI diagram and the file system's read/write rates around the job.

=====================================  ==============================================
``GET /``                              the form
``POST /reports``                      a Darshan log sent by the form: its report
                                       (answers 303 to the report page)
``GET /jobs?jobid=N[&fs=NAME]``        answers 303 to ``/jobs/N``
``GET /jobs/{jobid}``                  the report page of a job (site configuration)
``GET /reports/{id}``                  a report page
``GET /reports/{id}/umami.png``        its UMAMI diagram
``GET /reports/{id}/rates.png``        its file-system rates plot
=====================================  ==============================================
"""

from __future__ import annotations

import datetime
import html
import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from atokio.service import _jobs, plots
from atokio.service.api import job_record, spooled_body, summarize_upload
from atokio.service.app import Report, ServiceError, state_of, until_disconnected
from atokio.service.uploads import BadUpload, extract_form_file, upload_folder

__all__ = ["HEADLINE", "error_page", "format_value", "render_report", "routes"]

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; font-size: 0.9em; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
form { margin: 1em 0; padding: 1em; border: 1px solid #ddd; }
.failed { color: #a00; }
img { max-width: 100%; border: 1px solid #eee; }
"""

#: (record key, heading, how to show it) of the key-figures table.
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("darshan_app", "Application", "text"),
    ("_jobid", "Job", "text"),
    ("darshan_nprocs", "Ranks", "number"),
    ("darshan_start_time", "Start", "epoch"),
    ("darshan_walltime", "Walltime (s)", "number"),
    ("darshan_total_gibs_posix", "POSIX data (GiB)", "number"),
    ("darshan_agg_perf_by_slowest_posix", "POSIX rate (MiB/s)", "number"),
    ("darshan_io_time", "I/O time (s)", "number"),
    ("_file_system", "File system", "text"),
    ("fs_ave_gibs_read_per_sec", "FS read (GiB/s)", "number"),
    ("fs_ave_gibs_written_per_sec", "FS write (GiB/s)", "number"),
)


def format_value(value: Any, how: str = "number") -> str:
    """How a record value is shown: whole numbers as they are, others to 6 significant digits."""
    if value is None:
        return ""
    if how == "epoch" and isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _name(name: str) -> str:
    """A log name, escaped, with line-break chances after ``_`` and ``-`` (names are long)."""
    return html.escape(name).replace("_", "_<wbr>").replace("-", "-<wbr>")


def _cell(key: str, value: Any, how: str = "number") -> str:
    css = " class='num'" if isinstance(value, int | float) and how != "epoch" else ""
    data = html.escape(json.dumps(value), quote=True)
    return (
        f"<td{css} data-key='{html.escape(key, quote=True)}' data-value='{data}'>"
        f"{html.escape(format_value(value, how))}</td>"
    )


def error_page(status: int, error: str, detail: str) -> str:
    """A small HTML page for an error (the pages' counterpart of the API's JSON errors)."""
    return _page(
        f"{status} {error}",
        f"<h1>{status}: {html.escape(error)}</h1><p>{html.escape(detail)}</p>"
        "<p><a href='/'>Back to the form</a></p>",
    )


def index_page() -> str:
    """The form: upload a Darshan log, or name a job."""
    return _page(
        "atokio job I/O report",
        "<h1>Job I/O report</h1>"
        "<p>How did a job do I/O, and what was the file system doing meanwhile?</p>"
        "<form method='post' action='/reports' enctype='multipart/form-data'>"
        "<h2>A Darshan log</h2>"
        "<input type='file' name='log' required> <button type='submit'>Report</button></form>"
        "<form method='get' action='/jobs'><h2>A job of this site</h2>"
        "<label>Job id <input name='jobid' required></label> "
        "<label>File system <input name='fs' placeholder='guessed from the logs'></label> "
        "<button type='submit'>Report</button></form>",
    )


def render_report(report_id: str, report: Report) -> str:
    """The report page: key figures, the full summary table, the two images."""
    names = [name for name, _ in report.records]
    parts = [f"<h1>{html.escape(report.title)}</h1>"]
    if report.failures:
        items = "".join(
            f"<li><b>{html.escape(source)}</b>: {html.escape(reason)}</li>"
            for source, reason in report.failures.items()
        )
        parts.append(f"<h2 class='failed'>Sources that failed</h2><ul class='failed'>{items}</ul>")
    shown = [
        (key, title, how)
        for key, title, how in HEADLINE
        if any(key in record for _, record in report.records)
    ]
    rows = []
    for name, record in report.records:
        cells = "".join(_cell(key, record.get(key), how) for key, _, how in shown)
        rows.append(f"<tr><th>{_name(name)}</th>{cells}</tr>")
    heads = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in shown)
    parts.append(
        f"<h2>Key figures</h2><table id='headline'><tr><th></th>{heads}</tr>{''.join(rows)}</table>"
    )
    base = f"/reports/{quote(report_id)}"
    parts.append(
        "<h2>UMAMI diagram</h2>"
        f"<img id='umami' src='{base}/umami.png' alt='UMAMI diagram of the job'>"
        "<h2>The file system around the job</h2>"
        f"<img id='rates' src='{base}/rates.png' alt='file system read and write rates'>"
    )
    keys = sorted({key for _, record in report.records for key in record})
    body = []
    for key in keys:
        cells = "".join(_cell(key, record.get(key)) for _, record in report.records)
        body.append(f"<tr><th>{html.escape(key)}</th>{cells}</tr>")
    columns = "".join(f"<th>{_name(name)}</th>" for name in names)
    parts.append(
        "<h2>Summary</h2><table id='summary'>"
        f"<tr><th>key</th>{columns}</tr>{''.join(body)}</table>"
        "<p><a href='/'>Another report</a></p>"
    )
    return _page(report.title, "".join(parts))


async def index(request: Request) -> Response:
    """``GET /``: the form."""
    return HTMLResponse(index_page())


async def upload(request: Request) -> Response:
    """``POST /reports``: the form's Darshan log; answers 303 to its report page."""
    content_type = request.headers.get("content-type", "")
    async with upload_folder() as folder:
        body = await spooled_body(request, folder, ".body")
        try:
            path = await anyio.to_thread.run_sync(extract_form_file, body, content_type, folder)
        except BadUpload as error:
            raise ServiceError(400, "bad upload", str(error)) from None
        await anyio.to_thread.run_sync(os.unlink, body)  # the copy is all that is needed
        record = await summarize_upload(request, path)
    name = os.path.basename(path)
    report = Report(
        title=f"Darshan log {name}",
        records=[(name, record)],
        file_system=record.get("_file_system"),
        window=_jobs.record_window(record),
    )
    report_id = state_of(request).keep(report)
    return RedirectResponse(f"/reports/{quote(report_id)}", status_code=303)


async def job_form(request: Request) -> Response:
    """``GET /jobs?jobid=N``: answers 303 to the job's page."""
    jobid = (request.query_params.get("jobid") or "").strip()
    if not jobid:
        raise ServiceError(400, "missing job id", "fill in the job id")
    fs = (request.query_params.get("fs") or "").strip()
    query = f"?{urlencode({'fs': fs})}" if fs else ""
    return RedirectResponse(f"/jobs/{quote(jobid, safe='')}{query}", status_code=303)


async def job_page(request: Request) -> Response:
    """``GET /jobs/{jobid}``: the job's report page."""
    jobid = request.path_params["jobid"]
    found = await job_record(jobid, request)
    records: list[tuple[str, dict[str, Any]]] = []
    if found.record:
        records.append(("job window", found.record))
    records.extend(found.logs.items())
    report = Report(
        title=f"Job {jobid}",
        records=records,
        file_system=found.record.get("_file_system"),
        window=_jobs.record_window(found.record),
        failures=found.failures,
    )
    report_id = state_of(request).keep(report)
    return HTMLResponse(render_report(report_id, report))


def _report(request: Request) -> tuple[str, Report]:
    report_id = request.path_params["report_id"]
    report = state_of(request).reports.get(report_id)
    if report is None:
        raise ServiceError(
            404, "no such report", f"report {report_id!r} is unknown or expired: make it again"
        )
    return report_id, report


async def report_page(request: Request) -> Response:
    """``GET /reports/{id}``."""
    report_id, report = _report(request)
    return HTMLResponse(render_report(report_id, report))


async def report_image(request: Request) -> Response:
    """``GET /reports/{id}/umami.png`` and ``rates.png`` (drawn once, then kept)."""
    _, report = _report(request)
    image = request.path_params["image"]
    if image not in ("umami", "rates"):
        raise ServiceError(404, "no such image", f"{image!r}: use umami.png or rates.png")
    if image not in report.images:
        state = state_of(request)
        if image == "umami":
            records = [record for _, record in report.records]
            png = await until_disconnected(
                request, lambda: state.run("plots", plots.umami_png, records)
            )
        else:
            start, end = report.window or (None, None)
            png = await until_disconnected(
                request,
                lambda: state.run("plots", plots.rates_png, report.file_system, start, end),
            )
        report.images[image] = png
    return Response(report.images[image], media_type="image/png")


def routes() -> list[Route]:
    """The pages' routes."""
    return [
        Route("/", index, methods=["GET"]),
        Route("/reports", upload, methods=["POST"]),
        Route("/reports/{report_id}", report_page, methods=["GET"]),
        Route("/reports/{report_id}/{image}.png", report_image, methods=["GET"]),
        Route("/jobs", job_form, methods=["GET"]),
        Route("/jobs/{jobid}", job_page, methods=["GET"]),
    ]
