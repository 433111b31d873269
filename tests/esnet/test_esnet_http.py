"""The HTTP collector against a real loopback server: streaming, retries, timeouts, fan-out.

Every async test runs under asyncio and under trio.
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from esnet_data import T0, generated
from esnet_server import Data, EsnetServer

from atokio.collectors.http import (
    HttpError,
    HttpRequest,
    RetryPolicy,
    fetch,
    fetch_many,
    open_client,
)
from atokio.parsers.base import ParseError
from atokio.parsers.esnet_snmp import EsnetSnmpParser, Point, parse_response

pytestmark = pytest.mark.anyio


@pytest.fixture
def data() -> Data:
    """The collector does not look at the data: generated data are enough."""
    return generated()


FAST = RetryPolicy(retries=3, backoff=0.005, backoff_max=0.02)
KEY = "sunn-cr5:to_nersc_ip-b:in"
WINDOW = {"begin": T0, "end": T0 + 300}


def request(server: EsnetServer, key: str = KEY) -> HttpRequest:
    endpoint, interface, direction = key.split(":")
    return HttpRequest(f"{server.url}/{endpoint}/interface/{interface}/{direction}", WINDOW)


def expected(server: EsnetServer, key: str = KEY) -> dict:
    answer = server.answer(key, {k: str(v) for k, v in WINDOW.items()})
    assert answer is not None
    return answer


async def test_body_as_bytes(server: EsnetServer, anyio_backend: str) -> None:
    async with open_client() as client:
        result = await fetch(client, request(server), retry=FAST)
    assert result.status == 200 and result.attempts == 1 and result.records is None
    assert result.content == json.dumps(expected(server)).encode()
    assert result.json() == expected(server)
    assert result.url == request(server).full_url()
    assert result.url.endswith(f"?begin={T0}&end={T0 + 300}")


async def test_body_streamed_into_a_parser(server: EsnetServer, anyio_backend: str) -> None:
    async with open_client() as client:
        result = await fetch(client, request(server), parser_factory=EsnetSnmpParser, retry=FAST)
    assert result.content is None
    assert result.records == parse_response(json.dumps(expected(server)).encode())
    assert sum(isinstance(r, Point) for r in result.records) == 11
    with pytest.raises(ValueError, match="parser"):
        result.json()


async def test_5xx_is_retried_and_counted(server: EsnetServer, anyio_backend: str) -> None:
    server.fault(KEY, statuses=[503, 500])
    async with open_client() as client:
        result = await fetch(client, request(server), retry=FAST)
    assert result.attempts == 3 and server.counts[KEY] == 3
    assert result.json() == expected(server)


async def test_permanent_5xx_fails_after_the_retries(
    server: EsnetServer, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.fault(KEY, status=502)
    caplog.set_level(logging.INFO, logger="atokio.collectors.http")
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, request(server), retry=FAST)
    error = caught.value
    assert error.status == 502 and error.attempts == 4 and server.counts[KEY] == 4
    assert str(error) == (
        f"GET {request(server).full_url()}: HTTP 502 Bad Gateway: "
        "<html>Service Unavailable</html> (after 4 tries)"
    )
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 3 and "retry 1 of 3" in retries[0]


async def test_4xx_is_not_retried(server: EsnetServer, anyio_backend: str) -> None:
    bad = HttpRequest(f"{server.url}/sunn-cr5/interface/no-such-interface/in", WINDOW)
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(client, bad, retry=FAST)
    assert caught.value.status == 404 and caught.value.attempts == 1
    assert server.counts["sunn-cr5:no-such-interface:in"] == 1
    assert "no such interface" in caught.value.reason


async def test_dropped_connection_is_retried(server: EsnetServer, anyio_backend: str) -> None:
    server.fault(KEY, drop=2)
    async with open_client() as client:
        result = await fetch(client, request(server), parser_factory=EsnetSnmpParser, retry=FAST)
    assert result.attempts == 3 and server.counts[KEY] == 3
    assert result.records == parse_response(json.dumps(expected(server)).encode())


async def test_body_cut_short_is_retried_with_a_fresh_parser(
    server: EsnetServer, anyio_backend: str
) -> None:
    server.fault(KEY, truncate=1)
    async with open_client() as client:
        result = await fetch(client, request(server), parser_factory=EsnetSnmpParser, retry=FAST)
    assert result.attempts == 2
    assert result.records == parse_response(json.dumps(expected(server)).encode())


async def test_timeout_is_retried_then_reported(server: EsnetServer, anyio_backend: str) -> None:
    server.fault(KEY, latency=0.5)
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(
                client,
                request(server),
                timeout=0.05,
                deadline=5,  # the per-read timeout, not the overall deadline, ends each try
                retry=FAST.__class__(retries=1, backoff=0),
            )
    assert caught.value.status is None and caught.value.attempts == 2
    assert caught.value.reason == "timed out (ReadTimeout)"
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_connection_refused(anyio_backend: str) -> None:
    from esnet_server import serve

    with serve({}) as gone:
        url = gone.url
    async with open_client() as client:
        with pytest.raises(HttpError) as caught:
            await fetch(
                client,
                HttpRequest(url + "/x/interface/y/in"),
                retry=RetryPolicy(retries=2, backoff=0),
            )
    assert caught.value.attempts == 3 and caught.value.status is None
    assert "ConnectError" in caught.value.reason


async def test_a_bad_body_is_a_parse_error_not_retried(
    server: EsnetServer, anyio_backend: str
) -> None:
    async with open_client() as client:
        bad = HttpRequest(server.url + "/not/an/esnet/path")
        with pytest.raises(HttpError):  # 404 first
            await fetch(client, bad, retry=FAST)
        server.fault(KEY, empty=True)
        result = await fetch(client, request(server), parser_factory=EsnetSnmpParser, retry=FAST)
        assert not any(isinstance(r, Point) for r in result.records or [])

        def failing(source: str) -> EsnetSnmpParser:
            parser = EsnetSnmpParser(source)
            parser.feed(b"[")  # the body then continues an array: not an object
            return parser

        with pytest.raises(ParseError, match="not a JSON object"):
            await fetch(client, request(server), parser_factory=failing, retry=FAST)
    assert server.counts[KEY] == 2


async def test_fan_out_keeps_the_others(
    server: EsnetServer, anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [
        f"{endpoint}:{interface}:{direction}"
        for endpoint, interfaces in server.data.items()
        for interface in interfaces
        for direction in ("in", "out")
    ]
    broken = "sacr-cr5:to_nersc_ip-e:out"
    server.fault(broken, status=500)
    server.fault("sunn-cr5:to_nersc_ip-d_v6:in", statuses=[503])
    result = await fetch_many(
        {key: request(server, key) for key in keys}, limit=4, retry=FAST, timeout=5.0
    )
    assert list(result.results) == [k for k in keys if k != broken]  # in the order given
    for key, got in result.results.items():
        assert got.json() == expected(server, key)
    assert result.results["sunn-cr5:to_nersc_ip-d_v6:in"].attempts == 2
    assert [f.source for f in result.failures] == [broken]
    error = result.failures[0].error
    assert isinstance(error, HttpError) and error.status == 500 and error.attempts == 4
    assert server.counts[broken] == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(w.startswith(broken + ": HttpError: GET ") for w in warnings)
    with pytest.raises(HttpError):
        result.raise_first()


@pytest.mark.parametrize("limit", [1, 3])
async def test_capacity_limit(server: EsnetServer, anyio_backend: str, limit: int) -> None:
    server.fault("*", latency=0.02)
    keys = [f"sunn-cr5:to_nersc_ip-b:{d}" for d in ("in", "out")] * 1
    many = {f"{i}": request(server, keys[i % 2]) for i in range(8)}
    result = await fetch_many(many, limit=limit, retry=FAST)
    assert len(result.results) == 8 and not result.failures
    assert 1 <= server.max_in_flight <= limit


async def test_fan_out_really_is_concurrent(server: EsnetServer, anyio_backend: str) -> None:
    server.fault("*", latency=0.1)
    many = {f"{i}": request(server) for i in range(8)}
    result = await fetch_many(many, limit=8, retry=FAST)
    assert len(result.results) == 8
    assert server.max_in_flight > 1


async def test_shared_client(server: EsnetServer, anyio_backend: str) -> None:
    async with open_client(limit=2) as client:
        result = await fetch_many(
            [("a", request(server)), ("b", request(server))], client=client, limit=2
        )
    assert list(result.results) == ["a", "b"]
    with pytest.raises(ValueError, match="limit"):
        await fetch_many({}, limit=0)


def test_retry_policy() -> None:
    policy = RetryPolicy(backoff=1.0, backoff_max=5.0, jitter=0.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 5.0
    jittery = RetryPolicy(backoff=1.0, jitter=0.5)
    assert all(0.5 <= jittery.delay(1) <= 1.0 for _ in range(100))
    assert 500 in policy.retry_statuses and 429 in policy.retry_statuses
    assert 404 not in policy.retry_statuses
    for bad in ({"retries": -1}, {"backoff": -1.0}, {"jitter": 2.0}):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)  # type: ignore[arg-type]


def test_full_url_keeps_the_parameter_order() -> None:
    req = HttpRequest(
        "http://h/p", [("begin", 1), ("end", 2), ("calc_func", "average"), ("calc", 30)]
    )
    assert req.full_url() == "http://h/p?begin=1&end=2&calc_func=average&calc=30"
    assert HttpRequest("http://h/p").full_url() == "http://h/p"
