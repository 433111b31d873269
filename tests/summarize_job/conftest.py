"""Fixtures for the summarize_job tests.

Every test runs with ``TZ=America/Los_Angeles`` (the corpus's zone), a
configuration dict it may change freely (restored afterwards), and no
``darshan-parser`` unless a test installs the stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures_common import fresh_cli_logging, pacific_time, path_with
from sj_data import install_darshan_parser, write_tts

from atokio import config

__all__ = ["fresh_cli_logging", "pacific_time"]  # fixtures used by pytest

TTS_TEMPLATE = "tts/%Y-%m-%d/testfs.hdf5"


@pytest.fixture(autouse=True)
def site_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """The live configuration dict, emptied for the test and restored after it."""
    saved = dict(config.CONFIG)
    for name in ("NERSC_HOST", "ATOKIO_DARSHAN_PARSER", "NERSC_JOBSDB_HOST", "NERSC_JOBSDB_USER",
                 "NERSC_JOBSDB_PASSWORD", "NERSC_JOBSDB_DB"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    config.CONFIG.clear()
    yield config.CONFIG
    config.CONFIG.clear()
    config.CONFIG.update(saved)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site_config: dict) -> Path:
    """A working directory holding the generated TTS day file, configured as file system ``testfs``."""
    monkeypatch.chdir(tmp_path)
    write_tts(tmp_path / "tts" / "2018-01-28" / "testfs.hdf5")
    site_config.update(
        {
            "lmt_timestep": 5,
            "hdf5_files": {"testfs": [TTS_TEMPLATE]},
            "mount_to_fsname": {"^/scratch1": "testfs", "^/scratch": "otherfs"},
        }
    )
    return tmp_path


@pytest.fixture
def darshan_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The generated stand-in darshan-parser, first on PATH."""
    bin_dir = tmp_path / "bin"
    install_darshan_parser(bin_dir)
    monkeypatch.setenv("PATH", path_with(bin_dir))
    return bin_dir
