"""Fixtures for the HPSS and Globus/GridFTP log tests.

Every test here runs with ``TZ=America/Los_Angeles`` (the zone the corpus's
expected epoch values were computed in); the zone is restored afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _pacific_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
