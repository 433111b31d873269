"""Fixtures and helpers shared by several test folders.

A folder's ``conftest.py`` imports the fixtures it uses (importing a fixture
function into a conftest registers it there; an ``autouse`` one then applies
to every test of the folder):

* ``pacific_time`` (autouse): the test runs with ``TZ=America/Los_Angeles``,
  the zone the corpus was made in; the zone is restored afterwards;
* ``anyio_backend``: async tests run under asyncio and under trio;
* ``fresh_cli_logging`` (autouse): the CLI's stderr log handler is dropped
  after each test (capsys replaces stderr per test);
* ``empty_path``: ``PATH`` holds only an empty directory.

Stand-in programs (fake executables that the code under test runs through
``PATH``) are written with :func:`write_program`; :func:`path_with` puts their
directory first on ``PATH``; :func:`follow_until_sigterm` runs an
``archive_* --follow`` tool and stops it the way a service manager does.
"""

from __future__ import annotations

import glob
import logging
import os
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = [
    "anyio_backend",
    "empty_path",
    "follow_until_sigterm",
    "fresh_cli_logging",
    "pacific_time",
    "path_with",
    "write_program",
]


@pytest.fixture(autouse=True)
def pacific_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with ``TZ=America/Los_Angeles``."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Async tests run under both anyio backends."""
    return str(request.param)


@pytest.fixture(autouse=True)
def fresh_cli_logging() -> Iterator[None]:
    """Drop the CLI's stderr log handler after each test (capsys replaces stderr per test)."""
    yield
    root = logging.getLogger("atokio")
    for handler in [h for h in root.handlers if getattr(h, "_atokio_cli", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.NOTSET)


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only an empty directory (none of the programs the tests stand in for)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def write_program(path: Path, text: str) -> Path:
    """Write ``text`` (a script with its ``#!`` line) to ``path``, executable; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def path_with(bin_dir: Path) -> str:
    """``PATH`` with ``bin_dir`` first."""
    return str(bin_dir) + os.pathsep + os.environ.get("PATH", "")


def follow_until_sigterm(
    command: list[str],
    env: dict[str, str],
    first_file: str,
    settle: float,
    poll: float = 0.1,
) -> subprocess.CompletedProcess[str]:
    """Run an ``archive_* --follow`` command, stop it with SIGTERM, and return how it ended.

    It is stopped ``settle`` seconds after a file matching the glob
    ``first_file`` appears (the first poll has run; looked for every
    ``poll`` seconds, for at most 30 s); it must then exit within 30 s.
    """
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not glob.glob(first_file):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(poll)
        time.sleep(settle)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(command, process.returncode, out, err)
