"""Fixtures for the LMT tests: the corpus SQLite samples and a throwaway MariaDB.

The ``mariadb`` fixture (one per test session) starts a private ``mariadbd``
on a free loopback port with a temporary data directory, loads both corpus
LMT samples into it (databases ``snx11025`` and ``lmtdb_reset``), and stops
it at the end.  Tests that need it are skipped only when no MariaDB server
binary can be found at all (``scripts/ensure-mariadb`` installs one).

All tests here run with ``TZ=America/Los_Angeles``, the zone the corpus was
made in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from corpus import INPUTS
from fixtures_common import pacific_time
from lmt_mariadb import MariaDbServer, find_binaries, load_sqlite
from lmt_paths import DATABASES, SNX_SQLITE

__all__ = ["pacific_time"]  # fixtures used by pytest


@pytest.fixture(scope="session")
def lmt_corpus() -> Path:
    """The folder of the LMT samples (skips when the corpus is absent)."""
    if not SNX_SQLITE.exists():
        pytest.skip(f"LMT sample {SNX_SQLITE} not found (the corpus lives beside the repository)")
    return INPUTS


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory, lmt_corpus: Path) -> Iterator[MariaDbServer]:
    """A running private MariaDB with the corpus LMT samples loaded."""
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(
            "MariaDB server binaries (mariadbd and mariadb-install-db) not found; "
            "run scripts/ensure-mariadb to install Debian's mariadb-server"
        )
    server = MariaDbServer(tmp_path_factory.mktemp("mariadb"), binaries)
    server.start()
    try:
        for name, path in DATABASES.items():
            load_sqlite(server, path, name)
        yield server
    finally:
        server.stop()
