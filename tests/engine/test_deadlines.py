"""Issue 13, item 4 and 11: every HTTP request and command has an overall deadline and a cap.

A real HTTP server on loopback trickles a body one byte at a time, or sends an
endless one; real commands sleep past their deadline.  Under asyncio and trio.
"""

from __future__ import annotations

import gc
import inspect
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest

from atokio.collectors.http import HttpError, HttpRequest, RetryPolicy, fetch, open_client
from atokio.collectors.subprocess import CommandTimeout, iter_command, run_command
from atokio.parsers.base import LineParser

pytestmark = pytest.mark.anyio

ONCE = RetryPolicy(retries=0)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        try:
            if self.path == "/trickle":  # one byte every 0.2 s: no single read ever times out
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                for _ in range(1000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            elif self.path == "/endless":  # no length, no end
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"y" * 65536
                while True:
                    self.wfile.write(chunk)
            elif self.path == "/declared":  # a length beyond the cap, announced
                self.send_response(200)
                self.send_header("Content-Length", str(10 << 30))
                self.end_headers()
                self.wfile.write(b"z" * 1024)
            else:  # echoes the URL, as some servers do in their error pages
                body = f"no such page: http://{self.headers['Host']}{self.path}".encode()
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_a_trickling_body_ends_at_the_timeout(server: str, anyio_backend: str) -> None:
    url = f"{server}/trickle"
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, HttpRequest(url), timeout=1.0, retry=ONCE)
    assert (
        str(caught.value) == f"GET {url}: no complete answer within 1 s (the timeout) (after 1 try)"
    )
    assert caught.value.status is None


async def test_the_deadline_setting_bounds_a_request(
    server: str, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOKIO_HTTP_DEADLINE", "0.8")
    url = f"{server}/trickle"
    async with open_client(timeout=60) as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, HttpRequest(url), retry=ONCE)
    assert caught.value.reason == "no complete answer within 0.8 s (the ATOKIO_HTTP_DEADLINE)"


async def test_an_endless_body_stops_at_the_cap(server: str, anyio_backend: str) -> None:
    url = f"{server}/endless"
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, HttpRequest(url), retry=RetryPolicy(retries=2), max_body=1 << 20)
    # not retried: the same body would come again
    assert (
        str(caught.value)
        == f"GET {url}: the body exceeds 1 MiB (ATOKIO_HTTP_MAX_BODY) (after 1 try)"
    )


async def test_a_declared_length_over_the_cap_is_refused_at_once(
    server: str, anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOKIO_HTTP_MAX_BODY", "512K")
    url = f"{server}/declared"
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, HttpRequest(url), retry=ONCE)
    assert caught.value.reason == "the body exceeds 512 KiB (ATOKIO_HTTP_MAX_BODY)"


class Lines(LineParser[str]):
    def parse_line(self, line: str) -> list[str]:
        return [line]


SLEEPER = [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"]


async def test_a_command_ends_at_its_timeout(anyio_backend: str) -> None:
    with pytest.raises(CommandTimeout) as caught:
        await run_command(SLEEPER, Lines(), timeout=0.5)
    assert (
        str(caught.value)
        == f"{' '.join(SLEEPER)}: did not finish within 0.5 s (timeout); it was killed"
    )
    assert isinstance(caught.value, TimeoutError)


async def test_a_command_ends_at_the_deadline_setting(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOKIO_COMMAND_DEADLINE", "0.5")
    with pytest.raises(CommandTimeout, match=r"\(ATOKIO_COMMAND_DEADLINE\); it was killed$"):
        async with iter_command(SLEEPER, Lines()) as stream:
            async for _batch in stream:
                pass


async def test_a_bad_timeout_is_refused(anyio_backend: str) -> None:
    with pytest.raises(ValueError, match=r"^timeout must be a positive number of seconds, not -1$"):
        await run_command(SLEEPER, Lines(), timeout=-1)


async def test_stopping_early_leaves_no_async_generator_behind(anyio_backend: str) -> None:
    # issue 13 item 11: CommandStream was an async generator, finalised by the garbage collector
    argv = [sys.executable, "-c", "for i in range(100000): print(i)"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with iter_command(argv, Lines()) as stream:
            async for batch in stream:
                assert batch[0] == "0"
                break
        assert not inspect.isasyncgenfunction(type(stream).__aiter__)
        del stream, batch  # the last references: anything unfinished is collected now
        gc.collect()
        await anyio.sleep(0.05)
    assert [str(w.message) for w in caught if "asynchronous generator" in str(w.message)] == []


# -- issue 13 item 10: secrets stay out of messages and logs ------------------------------


async def test_credentials_in_a_url_never_reach_messages_or_logs(
    server: str, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    from atokio.collectors.http import fetch_many

    host = server.removeprefix("http://")
    url = f"http://esnet:pa55word@{host}/missing?begin=1&api_key=t0ken"
    caplog.set_level("DEBUG")
    result = await fetch_many(
        {"q": HttpRequest(url)}, retry=RetryPolicy(retries=1, backoff=0), timeout=0.5
    )
    (failure,) = result.failures
    message = str(failure.error)
    assert message.startswith(f"GET http://esnet:***@{host}/missing?begin=1&api_key=***: ")
    everything = message + caplog.text
    assert "pa55word" not in everything and "t0ken" not in everything


def test_redaction() -> None:
    from atokio.collectors.elasticsearch import EsClient
    from atokio.collectors.secrets import redact_options, redact_text, redact_url

    assert (
        redact_url("https://u:p@h:1/x?token=abc&begin=1") == "https://u:***@h:1/x?token=***&begin=1"
    )
    assert redact_url("https://h/x?begin=1") == "https://h/x?begin=1"
    assert (
        redact_text("failed: GET https://u:p@h/x (twice)")
        == "failed: GET https://u:***@h/x (twice)"
    )
    assert redact_options({"basic_auth": ("u", "p"), "headers": {"Authorization": "Bearer x"}}) == {
        "basic_auth": "***",
        "headers": {"Authorization": "***"},
    }
    client = EsClient(["https://elastic:hunter2@es:9200"], options={"api_key": "k3y"})
    assert "hunter2" not in repr(client) and "k3y" not in repr(client)
