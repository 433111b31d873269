"""Fixtures for the Slurm, jobs-database and job-lookup tests.

Every test here runs with ``TZ=America/Los_Angeles`` (the corpus's zone) and
with a copy of the site configuration it can change freely.  ``sacct_bin``
puts a stand-in ``sacct`` (see :mod:`slurm_data`) first on ``PATH``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus import INPUTS
from fixtures_common import empty_path, fresh_cli_logging, pacific_time, path_with
from slurm_data import OTHER_JOB, SAMPLE_JOB, install_sacct

from atokio import config

__all__ = ["empty_path", "fresh_cli_logging", "pacific_time"]  # fixtures used by pytest

SAMPLE_SLURM = INPUTS / "sample.slurm"
SAMPLE_JOBSDB = INPUTS / "sample_nersc_jobsdb.sqlite3"


@pytest.fixture(autouse=True)
def site_config(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The live configuration dict, restored after the test."""
    saved = dict(config.CONFIG)
    for name in ("NERSC_HOST", "ATOKIO_SACCT", "NERSC_JOBSDB_HOST", "NERSC_JOBSDB_USER",
                 "NERSC_JOBSDB_PASSWORD", "NERSC_JOBSDB_DB"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    yield config.CONFIG
    config.CONFIG.clear()
    config.CONFIG.update(saved)


@pytest.fixture
def sacct_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in sacct on PATH knowing the sample job and one other; returns its call log."""
    bin_dir = tmp_path / "bin"
    log = install_sacct(bin_dir, {**SAMPLE_JOB, **OTHER_JOB})
    monkeypatch.setenv("PATH", path_with(bin_dir))
    return log


@pytest.fixture
def no_sacct(empty_path: Path) -> None:
    """A PATH on which there is no sacct."""


@pytest.fixture
def sample_cache(tmp_path: Path) -> Path:
    """A JSON cache of the sample job (generated; same records as the corpus file)."""
    path = tmp_path / "sample.slurm"
    path.write_text(json.dumps(SAMPLE_JOB))
    return path


@pytest.fixture
def corpus_slurm() -> Path:
    if not SAMPLE_SLURM.exists():
        pytest.skip(
            f"corpus file {SAMPLE_SLURM} not found (the corpus lives beside the repository)"
        )
    return SAMPLE_SLURM


@pytest.fixture
def corpus_jobsdb() -> Path:
    if not SAMPLE_JOBSDB.exists():
        pytest.skip(
            f"corpus file {SAMPLE_JOBSDB} not found (the corpus lives beside the repository)"
        )
    return SAMPLE_JOBSDB
