"""The report pages: the form, an upload's report, a job's report, their images, in a browser too."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromium_pipe import Chromium, find_chromium
from corpus import DARSHAN, INPUTS
from service_server import PACKAGE_LOGS, ServiceProcess, package_log

from atokio.service.pages import format_value

CELL = re.compile(r"<td[^>]*data-key='([^']*)' data-value='([^']*)'>([^<]*)</td>")


def report_log() -> Path:
    """A corpus log (the package's sample log without the corpus)."""
    path = DARSHAN / "sample.darshan"
    return path if path.exists() else package_log(PACKAGE_LOGS[0])


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def unescape(text: str) -> str:
    return (
        text.replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


def upload(service: ServiceProcess, path: Path) -> str:
    """POST the log as the form does; the report page's path."""
    with path.open("rb") as handle:
        answer = httpx.post(
            f"{service.url}/reports", files={"log": (path.name, handle)}, timeout=120
        )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert re.fullmatch(r"/reports/[A-Za-z0-9_-]+", location)
    return location


def summary(service: ServiceProcess, path: Path) -> dict[str, Any]:
    answer = httpx.post(
        f"{service.url}/api/v1/darshan/summary",
        params={"filename": path.name},
        content=path.read_bytes(),
        timeout=120,
    )
    assert answer.status_code == 200
    result: dict[str, Any] = answer.json()
    return result


def test_form(service: ServiceProcess) -> None:
    answer = httpx.get(f"{service.url}/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "<form method='post' action='/reports' enctype='multipart/form-data'>" in answer.text
    assert "<input type='file' name='log' required>" in answer.text
    assert "<form method='get' action='/jobs'>" in answer.text
    assert "<script" not in answer.text


def test_upload_report_page_and_images(service: ServiceProcess) -> None:
    path = report_log()
    location = upload(service, path)
    page = httpx.get(f"{service.url}{location}")
    assert page.status_code == 200
    assert f"<h1>Darshan log {path.name}</h1>" in page.text
    record = summary(service, path)
    summary_table = page.text.split("<table id='summary'>", 1)[1]
    cells = {
        key: (json.loads(unescape(value)), text) for key, value, text in CELL.findall(summary_table)
    }
    assert set(cells) == set(record)
    for key, value in record.items():
        assert cells[key] == (value, format_value(value)), key
    for image in ("umami", "rates"):
        assert f"<img id='{image}' src='{location}/{image}.png'" in page.text
        answer = httpx.get(f"{service.url}{location}/{image}.png", timeout=120)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        width, height = png_size(answer.content)
        assert width > 100 and height > 50


def test_job_form_redirects_and_job_page(service: ServiceProcess) -> None:
    if not DARSHAN.is_dir():
        pytest.skip("the job pages need the corpus's Darshan log tree")
    answer = httpx.get(f"{service.url}/jobs", params={"jobid": "4478544", "fs": "scratch1"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/jobs/4478544?fs=scratch1")
    page = httpx.get(f"{service.url}/jobs/4478544", timeout=120)
    assert page.status_code == 200
    assert "<h1>Job 4478544</h1>" in page.text
    for log in (INPUTS / "darshanlogs" / "2017" / "3" / "20").glob("*.darshan"):
        shown = log.name.replace("_", "_<wbr>").replace("-", "-<wbr>")
        assert f"<th>{shown}</th>" in page.text
    assert "<th>job window</th>" in page.text
    assert "Sources that failed" not in page.text


def test_missing_report_is_404(service: ServiceProcess) -> None:
    as_json = httpx.get(f"{service.url}/reports/nosuch")
    assert as_json.status_code == 404
    assert as_json.json()["error"] == "no such report"
    as_html = httpx.get(f"{service.url}/reports/nosuch", headers={"Accept": "text/html"})
    assert as_html.status_code == 404
    assert "<h1>404: no such report</h1>" in as_html.text


def test_upload_without_a_file_is_400(service: ServiceProcess) -> None:
    answer = httpx.post(f"{service.url}/reports", data={"note": "no file"}, files={})
    assert answer.status_code == 400
    answer = httpx.post(
        f"{service.url}/reports",
        content=b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n',
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "bad upload",
        "detail": "the upload holds no file: choose a Darshan log to send",
    }


def test_report_page_in_a_browser(service: ServiceProcess, tmp_path: Path) -> None:
    find_chromium()
    path = report_log()
    location = upload(service, path)
    record = summary(service, path)
    with Chromium(tmp_path / "profile") as browser:
        tab = browser.open(f"{service.url}{location}")
        seen = browser.evaluate(
            tab,
            """(async () => {
                await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
                return {
                    title: document.querySelector('h1').textContent,
                    images: [...document.images].map(i => [i.id, i.complete, i.naturalWidth]),
                    cells: [...document.querySelectorAll('#summary td[data-key]')].map(
                        td => [td.dataset.key, td.dataset.value, td.textContent]),
                };
            })()""",
        )
        shot = browser.screenshot(tab, tmp_path / "report-page.png")
    assert seen["title"] == f"Darshan log {path.name}"
    assert {name for name, _, _ in seen["images"]} == {"umami", "rates"}
    for name, complete, width in seen["images"]:
        assert complete and width > 0, name
    cells = {key: (json.loads(value), text) for key, value, text in seen["cells"]}
    assert cells == {key: (value, format_value(value)) for key, value in record.items()}
    width, height = png_size(shot.read_bytes())
    assert width >= 1000 and height > 1000


def test_job_page_names_failed_sources(service: ServiceProcess) -> None:
    if not DARSHAN.is_dir():
        pytest.skip("the job pages need the corpus's Darshan log tree")
    page = httpx.get(f"{service.url}/jobs/4487503", timeout=120)
    assert page.status_code == 200
    assert "<h2 class='failed'>Sources that failed</h2>" in page.text
    for log in (INPUTS / "darshanlogs" / "2017" / "3" / "21").glob("*.darshan"):
        assert (
            f"<li><b>darshan:{log.name}</b>: ValueError: {log.name}: no Darshan data" in page.text
        )
    unknown = httpx.get(f"{service.url}/jobs/999", headers={"Accept": "text/html"}, timeout=60)
    assert unknown.status_code == 404
    assert "<h1>404: job not found</h1>" in unknown.text
