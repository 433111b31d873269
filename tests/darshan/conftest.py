"""Fixtures of the Darshan reader, index and scoreboard tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from darshan_corpus import (
    INPUTS,
    SMALL_LOGS,
    corpus_log,
    install_darshan_parser,
    need_corpus,
    path_with,
)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time = UTC, as when the corpus text was made (the ``*_asci`` lines are local time)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def site_fsnames(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``mount_to_fsname`` of the corpus ``site.json`` in the configuration."""
    from atokio import config

    need_corpus()
    mapping = json.loads((INPUTS / "site.json").read_text())["mount_to_fsname"]
    monkeypatch.setitem(config.CONFIG, "mount_to_fsname", mapping)
    return mapping


@pytest.fixture
def no_fsnames(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``mount_to_fsname`` rules: file-system names are the mount points."""
    from atokio import config

    monkeypatch.setitem(config.CONFIG, "mount_to_fsname", {})


@pytest.fixture
def small_logs(tmp_path: Path) -> Path:
    """A directory with copies of the five small corpus logs."""
    folder = tmp_path / "logs"
    folder.mkdir()
    for log in SMALL_LOGS:
        (folder / f"{log}.darshan").write_bytes(corpus_log(log).read_bytes())
    return folder


@pytest.fixture
def standin_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``darshan-parser`` first on ``PATH`` (replays the recorded 3.5.0 runs)."""
    bin_dir = tmp_path / "bin"
    path = install_darshan_parser(bin_dir)
    monkeypatch.setenv("PATH", path_with(bin_dir))
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    return path
