"""Fixtures of the Cray SDB, topology and ISDCT tests.

Every test runs with ``TZ=America/Los_Angeles`` (the corpus's zone), with the
site configuration restored afterwards, and without the CLI's stderr log
handler leaking into the next test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fixtures_common import empty_path, fresh_cli_logging, pacific_time

from atokio import config

__all__ = ["empty_path", "fresh_cli_logging", "pacific_time"]  # fixtures used by pytest


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
