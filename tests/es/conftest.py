"""Fixtures for the Elasticsearch / collectd tests.

* every test runs with ``TZ=America/Los_Angeles``, the zone of the corpus;
* ``anyio_backend`` runs the async tests under asyncio and trio;
* ``corpus_pages`` & co. load the corpus caches (skipping when the corpus
  is absent); the generated documents of :mod:`es_server` need nothing.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from corpus import INPUTS

FULL = INPUTS / "sample_collectdes-full.json.gz"
PART = INPUTS / "sample_collectdes-part.json.gz"
CPULOADS = INPUTS / "collectdes_cpuloads.json.gz"
TOKIOTS = INPUTS / "sample_tokiots.hdf5"


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


def need(path: Path) -> Path:
    """``path``, or skip the calling test when the corpus file is absent."""
    if not path.exists():
        pytest.skip(f"corpus file {path} not found (the corpus lives beside the repository)")
    return path


def load(path: Path) -> list[Any]:
    return json.loads(gzip.decompress(need(path).read_bytes()))


@pytest.fixture(scope="session")
def full_pages() -> list[list[dict[str, Any]]]:
    return load(FULL)


@pytest.fixture(scope="session")
def cpuload_pages() -> list[list[dict[str, Any]]]:
    return load(CPULOADS)
