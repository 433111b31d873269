"""Fixtures for the Elasticsearch / collectd tests.

* every test runs with ``TZ=America/Los_Angeles``, the zone of the corpus;
* ``anyio_backend`` runs the async tests under asyncio and trio;
* ``corpus_pages`` & co. load the corpus caches (skipping when the corpus
  is absent); the generated documents of :mod:`es_server` need nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from es_corpus import CPULOADS, FULL, load


@pytest.fixture(autouse=True)
def _pacific_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def full_pages() -> list[list[dict[str, Any]]]:
    return load(FULL)


@pytest.fixture(scope="session")
def cpuload_pages() -> list[list[dict[str, Any]]]:
    return load(CPULOADS)
