"""Fixtures of the ESnet SNMP tests: data (generated, and the corpus caches), a loopback server.

Every test here runs with ``TZ=America/Los_Angeles``, the zone the corpus was
made in.  Data-driven tests run twice: on generated data shaped like the
corpus (always available) and on the recorded corpus cache (skipped, with
the reason, when the corpus is absent).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from esnet_data import SITES, generated, need_cache
from esnet_server import Data, EsnetServer, load_cache, serve
from fixtures_common import anyio_backend, pacific_time

from atokio import config

__all__ = ["anyio_backend", "pacific_time"]  # fixtures used by pytest


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
