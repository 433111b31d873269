"""Fixtures of the ESnet SNMP tests: data (generated, and the corpus caches), a loopback server.

Every test here runs with ``TZ=America/Los_Angeles``, the zone the corpus was
made in.  Data-driven tests run twice: on generated data shaped like the
corpus (always available) and on the recorded corpus cache (skipped, with
the reason, when the corpus is absent).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import INPUTS
from esnet_server import Data, EsnetServer, load_cache, make_data, serve

from atokio import config

#: The corpus caches: 2019-02-11 01:00-01:05 and 01:01-01:04 PST.
CACHE = INPUTS / "esnet_snmp.json.gz"
CACHE_2 = INPUTS / "esnet_snmp-2.json.gz"

#: The `nersc` site of the corpus configuration.
NERSC = {
    "sunn-cr5": ["to_nersc_ip-d_v4", "to_nersc_ip-d_v6", "to_nersc_ip-b", "to_nersc_ip-b_v6"],
    "sacr-cr5": ["to_nersc_ip-e"],
}
SITES = {"nersc": NERSC, "alcf": {"star-cr5": ["to_anl_ip-a"]}}
#: 2019-02-11 01:00:00 PST
T0 = 1549875600


def need_cache(path: Path = CACHE) -> Path:
    """A corpus ESnet cache, or skip the calling test with the reason."""
    if not path.exists():
        pytest.skip(f"ESnet corpus cache {path} not found (the corpus lives beside the repository)")
    return path


def generated() -> Data:
    """Eleven 30-s points per interface and direction, 01:00-01:05 PST, like the corpus."""
    return make_data(T0, 11, NERSC)


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
