"""Fixtures for the Elasticsearch / collectd tests.

* every test runs with ``TZ=America/Los_Angeles``, the zone of the corpus;
* ``anyio_backend`` runs the async tests under asyncio and trio;
* ``corpus_pages`` & co. load the corpus caches (skipping when the corpus
  is absent); the generated documents of :mod:`es_server` need nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from es_corpus import CPULOADS, FULL, load
from fixtures_common import anyio_backend, pacific_time

__all__ = ["anyio_backend", "pacific_time"]  # fixtures used by pytest


@pytest.fixture(scope="session")
def full_pages() -> list[list[dict[str, Any]]]:
    return load(FULL)


@pytest.fixture(scope="session")
def cpuload_pages() -> list[list[dict[str, Any]]]:
    return load(CPULOADS)
