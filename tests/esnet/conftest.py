"""Fixtures of the ESnet SNMP tests: data (generated, and the corpus caches), a loopback server.

Every test here runs with ``TZ=America/Los_Angeles``, the zone the corpus was
made in.  Data-driven tests run twice: on generated data shaped like the
corpus (always available) and on the recorded corpus cache (skipped, with
the reason, when the corpus is absent).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from esnet_data import SITES, generated, need_cache
from esnet_server import Data, EsnetServer, load_cache, serve

from atokio import config


@pytest.fixture(autouse=True)
def _pacific_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=["generated", "corpus"])
def data(request: pytest.FixtureRequest) -> Data:
    """The rates a test serves: generated, or the corpus cache."""
    if request.param == "corpus":
        return load_cache(need_cache())
    return generated()


@pytest.fixture
def server(data: Data) -> Iterator[EsnetServer]:
    with serve(data) as running:
        yield running


@pytest.fixture
def site(server: EsnetServer, monkeypatch: pytest.MonkeyPatch) -> EsnetServer:
    """The server, configured as the site's ESnet service (with the `nersc` site)."""
    monkeypatch.setitem(config.CONFIG, "esnet_snmp_url", server.url)
    monkeypatch.setitem(config.CONFIG, "esnet_snmp_interfaces", SITES)
    return server
