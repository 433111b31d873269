"""The report service's JSON API, on a real server process driven by httpx."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import h5py
import httpx
import numpy as np
import pytest
from corpus import DARSHAN, INPUTS, REAL_LOGS, need_corpus
from service_server import PACKAGE_LOGS, SACCT_JOBS, ServiceProcess, package_log

import atokio

PLACEHOLDER = "glock_vpicio_uni_id4487503_3-21-14391-1931100114561819213_1.darshan"


def summarize_job_cli(site: Path, *args: str) -> list[dict[str, Any]]:
    """What ``summarize_job ARGS -j`` prints, run in ``site`` as the service runs."""
    env = {**os.environ, "TZ": "America/Los_Angeles", "ATOKIO_CONFIG": str(site / "site.json")}
    env["PATH"] = f"{site / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [sys.executable, "-m", "atokio.cli.summarize_job", *args, "-j"],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def post_log(service: ServiceProcess, path: Path, name: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{service.url}/api/v1/darshan/summary",
        params={"filename": name or path.name},
        content=path.read_bytes(),
        headers=service.headers,
        timeout=120,
    )


def test_health(service: ServiceProcess) -> None:
    answer = httpx.get(f"{service.url}/api/v1/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": atokio.__version__}


# -- TTS slices --------------------------------------------------------------------------------
def tts_rows(dataset: str, lo: float, hi: float) -> tuple[list[str], list[int], list[list[Any]]]:
    """Columns, stamps and values of ``lo <= t < hi`` read with h5py from the corpus file."""
    with h5py.File(INPUTS / "snx11025_2018-01-28.hdf5", "r") as h5:
        stamps = h5[dataset.split("/")[0] + "/timestamps"][...]
        keep = (stamps >= lo) & (stamps < hi)
        values = np.array(h5[dataset][...], dtype=float)[keep]
        columns = [
            c.decode() if isinstance(c, bytes) else str(c) for c in h5[dataset].attrs["columns"]
        ]
    values[(values == 0) & np.signbit(values)] = np.nan
    rows = [[None if np.isnan(v) else float(v) for v in row] for row in values]
    return columns, [int(s) for s in stamps[keep]], rows


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2018-01-28T00:01:00", "2018-01-28T00:03:00"),  # naive: local (America/Los_Angeles)
        ("1517126460", "1517126580"),  # the same window in epoch seconds
        ("2018-01-28T08:01:00Z", "2018-01-28T00:03:00-08:00"),  # with offsets
    ],
)
def test_timeseries_slice_equals_the_file_rows(
    service: ServiceProcess, start: str, end: str
) -> None:
    need_corpus()
    answer = httpx.get(
        f"{service.url}/api/v1/timeseries/scratch1/datatargets/readbytes",
        params={"start": start, "end": end},
    )
    assert answer.status_code == 200, answer.text
    columns, stamps, rows = tts_rows("datatargets/readbytes", 1517126460, 1517126580)
    assert len(stamps) == 24 and stamps[0] == 1517126460 and stamps[-1] == 1517126575
    assert answer.json() == {"columns": columns, "timestamps": stamps, "values": rows}


def test_timeseries_as_csv(service: ServiceProcess) -> None:
    need_corpus()
    answer = httpx.get(
        f"{service.url}/api/v1/timeseries/scratch1/mdtargets/opens",
        params={"start": "1517126460", "end": "1517126480"},
        headers={"Accept": "text/csv"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(answer.text)))
    columns, stamps, rows = tts_rows("mdtargets/opens", 1517126460, 1517126480)
    assert table[0] == ["timestamp", *columns]
    assert [int(row[0]) for row in table[1:]] == stamps == [1517126460 + 5 * i for i in range(4)]
    assert [[float(c) if c else None for c in row[1:]] for row in table[1:]] == rows


@pytest.mark.parametrize(
    ("path", "params", "status", "error"),
    [
        ("nofs/datatargets/readbytes", {"start": "0", "end": "10"}, 404, "unknown file system"),
        ("scratch1/datatargets/readbytes", {"end": "10"}, 400, "missing start"),
        ("scratch1/datatargets/readbytes", {"start": "yesterday", "end": "10"}, 400, "bad start"),
        ("scratch1/datatargets/readbytes", {"start": "10", "end": "5"}, 400, "empty time range"),
    ],
)
def test_timeseries_errors(
    service: ServiceProcess, path: str, params: dict[str, str], status: int, error: str
) -> None:
    answer = httpx.get(f"{service.url}/api/v1/timeseries/{path}", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == error
    assert "Traceback" not in answer.text


def test_timeseries_unknown_dataset(service: ServiceProcess) -> None:
    need_corpus()
    answer = httpx.get(
        f"{service.url}/api/v1/timeseries/scratch1/datatargets/nosuch",
        params={"start": "2018-01-28T00:01:00", "end": "2018-01-28T00:02:00"},
    )
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown dataset"
    assert "datatargets/nosuch" in answer.json()["detail"]


# -- Darshan summaries -------------------------------------------------------------------------
@pytest.mark.parametrize("log", REAL_LOGS)
def test_summary_equals_summarize_job_for_corpus_logs(
    service: ServiceProcess, site: Path, log: str
) -> None:
    need_corpus()
    path = DARSHAN / f"{log}.darshan"
    answer = post_log(service, path)
    assert answer.status_code == 200, answer.text
    (expected,) = summarize_job_cli(site, str(path))
    assert answer.json() == expected


def test_summary_of_a_corpus_placeholder_log(service: ServiceProcess, site: Path) -> None:
    """summarize_job fails on a 0-byte log (no record with --silent-errors); the service says why, with 422."""
    need_corpus()
    path = DARSHAN / PLACEHOLDER
    assert summarize_job_cli(site, "--silent-errors", str(path)) == []
    answer = post_log(service, path)
    assert answer.status_code == 400  # an empty body: nothing was sent
    answer = httpx.post(
        f"{service.url}/api/v1/darshan/summary",
        params={"filename": PLACEHOLDER},
        content=b"\0" * 64,
    )
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith(f"{PLACEHOLDER}: no Darshan data could be read")


@pytest.mark.parametrize("name", PACKAGE_LOGS)
def test_summary_equals_summarize_job_for_package_logs(
    service: ServiceProcess, site: Path, name: str
) -> None:
    path = package_log(name)
    answer = post_log(service, path)
    assert answer.status_code == 200, answer.text
    (expected,) = summarize_job_cli(site, str(path))
    assert answer.json() == expected
    assert answer.json()["darshan_nprocs"] == expected["darshan_nprocs"] > 0


def test_summary_uses_the_given_file_name(
    service: ServiceProcess, site: Path, tmp_path: Path
) -> None:
    """The record is that of the log under the name the client gave (here: with a job id in it)."""
    source = package_log(PACKAGE_LOGS[0])
    name = "user_app_id12345_1-2-3-4_1.darshan"
    (tmp_path / name).write_bytes(source.read_bytes())
    answer = post_log(service, source, name)
    assert answer.status_code == 200
    (expected,) = summarize_job_cli(site, str(tmp_path / name))
    assert answer.json() == expected


def test_32_summaries_at_once_while_health_answers(service: ServiceProcess, site: Path) -> None:
    need_corpus()
    logs = ["sample", "sample-2", "sample-goodost", "noposix", "noposixopens"]
    expected = {log: summarize_job_cli(site, str(DARSHAN / f"{log}.darshan"))[0] for log in logs}
    bodies = {log: (DARSHAN / f"{log}.darshan").read_bytes() for log in logs}
    answers: list[tuple[str, int, Any]] = []
    health: list[int] = []

    async def main() -> None:
        async with httpx.AsyncClient(base_url=service.url, timeout=300) as client:
            done = anyio.Event()

            async def one(index: int) -> None:
                log = logs[index % len(logs)]
                answer = await client.post(
                    "/api/v1/darshan/summary",
                    params={"filename": f"{log}.darshan"},
                    content=bodies[log],
                )
                answers.append((log, answer.status_code, answer.json()))

            async def poll() -> None:
                while not done.is_set():
                    health.append((await client.get("/api/v1/health")).status_code)
                    await anyio.sleep(0.02)

            async with anyio.create_task_group() as outer:
                outer.start_soon(poll)
                async with anyio.create_task_group() as group:
                    for index in range(32):
                        group.start_soon(one, index)
                done.set()

    anyio.run(main)
    assert len(answers) == 32
    assert all(status == 200 and record == expected[log] for log, status, record in answers)
    assert health and set(health) == {200}


def test_summary_of_a_file_that_is_not_a_log(service: ServiceProcess) -> None:
    answer = httpx.post(
        f"{service.url}/api/v1/darshan/summary",
        params={"filename": "notes.txt"},
        content=b"this is not a Darshan log\n" * 10,
    )
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "unreadable Darshan log",
        "detail": "notes.txt: no Darshan data could be read from this file (is it a Darshan log?)",
    }


def test_summary_of_an_empty_body(service: ServiceProcess) -> None:
    answer = httpx.post(f"{service.url}/api/v1/darshan/summary", params={"filename": "x.darshan"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "empty body",
        "detail": "send the Darshan log as the request body",
    }


def test_unknown_route_and_method_are_json(service: ServiceProcess) -> None:
    missing = httpx.get(f"{service.url}/api/v1/nothing")
    assert (missing.status_code, missing.json()["error"]) == (404, "Not Found")
    wrong = httpx.get(f"{service.url}/api/v1/darshan/summary")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "Method Not Allowed")


# -- jobs ------------------------------------------------------------------------------------------
def test_job_record_from_the_site_configuration(service: ServiceProcess, site: Path) -> None:
    need_corpus()
    answer = httpx.get(f"{service.url}/api/v1/jobs/4478544", timeout=120)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    day = INPUTS / "darshanlogs" / "2017" / "3" / "20"
    logs = sorted(day.glob("*_id4478544_*.darshan"))
    assert len(logs) == 2
    assert found["jobid"] == "4478544"
    assert found["failed_sources"] == []
    assert found["logs"] == {log.name: summarize_job_cli(site, str(log))[0] for log in logs}
    job = SACCT_JOBS["4478544"]
    (window,) = summarize_job_cli(
        site,
        "--start-time", job["start"].replace("T", " "),
        "--end-time", job["end"].replace("T", " "),
        "-f", "scratch2",
        "--slurm-jobid", "4478544",
    )  # fmt: skip
    assert found["record"] == window
    assert found["record"]["_file_system"] == "scratch2"
    start = datetime.datetime(2017, 3, 20, 2, 7)
    assert (
        found["record"]["_datetime_start"]
        == (start - datetime.datetime(1970, 1, 1)).total_seconds()
    )


def test_job_with_unreadable_logs_names_the_failed_sources(service: ServiceProcess) -> None:
    need_corpus()
    answer = httpx.get(f"{service.url}/api/v1/jobs/4487503", params={"fs": "scratch1"}, timeout=120)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["logs"] == {}
    failed = {item["source"]: item["error"] for item in found["failed_sources"]}
    assert sorted(failed) == sorted(
        f"darshan:{path.name}"
        for path in (INPUTS / "darshanlogs" / "2017" / "3" / "21").glob("*.darshan")
    )
    assert failed[f"darshan:{PLACEHOLDER}"] == (
        f"ValueError: {PLACEHOLDER}: no Darshan data could be read from this file "
        "(is it a Darshan log?)"
    )
    assert found["record"]["_jobid"] == "4487503"
    assert found["record"]["_file_system"] == "scratch1"


def test_unknown_job_is_404(service: ServiceProcess) -> None:
    answer = httpx.get(f"{service.url}/api/v1/jobs/999", timeout=60)
    assert answer.status_code == 404
    assert answer.json()["error"] == "job not found"
    assert answer.json()["detail"].startswith("job 999: no source knows this job (")
