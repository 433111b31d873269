"""Service quality: trio, the bearer token, the body limit, cancelling work of clients that leave."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_server import PACKAGE_LOGS, ServiceProcess, package_log

TOKEN = "s3cret-token"
LIMIT = 64 * 1024

SLOW_PARSER = """#!{python}
import os, sys, time
with open({marker!r}, "a") as marker:
    marker.write(os.path.basename(sys.argv[-1]) + "\\n")
time.sleep(2)
sys.exit(1)
"""


@pytest.fixture(scope="module")
def guarded(site: Path) -> Iterator[ServiceProcess]:
    """The service on trio, with a token and a 64 KiB body limit."""
    with ServiceProcess(site, "--loop", "trio", "--body-limit", "64K", token=TOKEN) as server:
        yield server


def test_runs_on_trio(guarded: ServiceProcess) -> None:
    assert "serving on http://127.0.0.1:%d (trio)" % guarded.port in guarded.log()
    answer = httpx.get(f"{guarded.url}/api/v1/health", headers=guarded.headers)
    assert answer.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/health", "/", "/api/v1/jobs/1", "/reports/x"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}"])
def test_token_required_on_every_route(
    guarded: ServiceProcess, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = httpx.get(f"{guarded.url}{path}", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthorized"


def test_summary_with_the_token_under_trio(guarded: ServiceProcess) -> None:
    path = package_log(PACKAGE_LOGS[0])
    if path.stat().st_size > LIMIT:
        pytest.skip(f"{path.name} is larger than the test's body limit")
    answer = httpx.post(
        f"{guarded.url}/api/v1/darshan/summary",
        params={"filename": path.name},
        content=path.read_bytes(),
        headers=guarded.headers,
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["darshan_nprocs"] > 0


def test_declared_body_over_the_limit_is_413(guarded: ServiceProcess) -> None:
    answer = httpx.post(
        f"{guarded.url}/api/v1/darshan/summary",
        params={"filename": "big.darshan"},
        content=b"x" * (LIMIT + 1),
        headers=guarded.headers,
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": "request body too large",
        "detail": f"the body has {LIMIT + 1} bytes; this service accepts at most {LIMIT} "
        "(atokio serve --body-limit)",
    }


def test_streamed_body_over_the_limit_is_413(guarded: ServiceProcess) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 4096 + 2):
            yield b"y" * 4096

    answer = httpx.post(
        f"{guarded.url}/api/v1/darshan/summary",
        params={"filename": "big.darshan"},
        content=chunks(),
        headers=guarded.headers,
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "request body too large"
    assert f"limit of {LIMIT} bytes" in answer.json()["detail"]


def test_body_at_the_limit_is_read(guarded: ServiceProcess) -> None:
    answer = httpx.post(
        f"{guarded.url}/api/v1/darshan/summary",
        params={"filename": "junk.darshan"},
        content=b"z" * LIMIT,
        headers=guarded.headers,
        timeout=60,
    )
    assert answer.status_code == 422  # read in full, then found not to be a log


def test_client_that_disconnects_cancels_its_work(site: Path, tmp_path: Path) -> None:
    """With one log read at a time: a queued request whose client left never starts."""
    marker = tmp_path / "parser-runs"
    marker.write_text("")
    parser = tmp_path / "slow-darshan-parser"
    parser.write_text(SLOW_PARSER.format(python=sys.executable, marker=str(marker)))
    parser.chmod(0o755)
    body = package_log(PACKAGE_LOGS[0]).read_bytes()
    env = {"ATOKIO_DARSHAN_PARSER": str(parser)}
    with ServiceProcess(site, "--limits", "darshan=1", env=env) as server:

        def post(name: str, timeout: httpx.Timeout) -> httpx.Response:
            return httpx.post(
                f"{server.url}/api/v1/darshan/summary",
                params={"filename": name},
                content=body,
                timeout=timeout,
            )

        def wait_for(predicate: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 60.0
            while not predicate():
                assert time.monotonic() < deadline, f"{what}:\n{server.log()}"
                time.sleep(0.05)

        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, "first.darshan", httpx.Timeout(120.0))
            wait_for(lambda: "first.darshan" in marker.read_text(), "the first log never started")
            with pytest.raises(httpx.ReadTimeout):  # queued behind the first; the client leaves
                post("second.darshan", httpx.Timeout(30.0, read=0.5))
            wait_for(
                lambda: "POST /api/v1/darshan/summary disconnected" in server.log(),
                "the departure was not noticed",
            )
            assert first.result().status_code == 422  # the stand-in parser fails
        third = post("third.darshan", httpx.Timeout(120.0))
        assert third.status_code == 422
        # the second request was withdrawn: the third was read right after the first
        runs = marker.read_text().split()
        assert "second.darshan" not in runs
        assert runs[0] == "first.darshan" and runs[-1] == "third.darshan"
        text = server.log()
        assert "POST /api/v1/darshan/summary: the client disconnected" in text
        assert text.count("POST /api/v1/darshan/summary 422") == 2
        assert httpx.get(f"{server.url}/api/v1/health").status_code == 200


def test_app_runs_on_another_asgi_server(site: Path, tmp_path: Path) -> None:
    """``atokio.service:app`` is a plain ASGI application: Hypercorn's own command serves it."""
    import os
    import signal
    import subprocess

    from service_server import free_port

    port = free_port()
    env = {**os.environ, "ATOKIO_CONFIG": str(site / "site.json"), "ATOKIO_SERVICE_TOKEN": TOKEN}
    log = tmp_path / "hypercorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypercorn",
                "atokio.service:app",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=site,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60.0
        answer = None
        while answer is None and time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/health",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=2.0,
                )
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None, log.read_text()
        assert answer.json()["status"] == "ok"
        refused = httpx.get(f"http://127.0.0.1:{port}/api/v1/health")
        assert refused.status_code == 401  # the token comes from the environment
        # hypercorn's worker is a daemon process: logs are read in threads there
        log_file = package_log(PACKAGE_LOGS[0])
        summary = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/darshan/summary",
            params={"filename": log_file.name},
            content=log_file.read_bytes(),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=120,
        )
        assert summary.status_code == 200, summary.text
        assert summary.json()["darshan_nprocs"] > 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
