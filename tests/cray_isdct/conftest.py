"""Fixtures of the Cray SDB, topology and ISDCT tests.

Every test runs with ``TZ=America/Los_Angeles`` (the corpus's zone), with the
site configuration restored afterwards, and without the CLI's stderr log
handler leaking into the next test.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from atokio import config


@pytest.fixture(autouse=True)
def _pacific_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def site_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """The live configuration dict (node lists from Slurm), restored after the test."""
    saved = dict(config.CONFIG)
    for name in ("ATOKIO_SACCT", "STANDIN_FAIL"):
        monkeypatch.delenv(name, raising=False)
    config.CONFIG.pop("sacct", None)
    config.CONFIG["jobinfo_jobnodes_providers"] = ["slurm"]
    yield config.CONFIG
    config.CONFIG.clear()
    config.CONFIG.update(saved)


@pytest.fixture(autouse=True)
def _fresh_cli_logging() -> Iterator[None]:
    yield
    root = logging.getLogger("atokio")
    for handler in [h for h in root.handlers if getattr(h, "_atokio_cli", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.NOTSET)


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only an empty directory (no xtdb2proc, no sacct)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty
