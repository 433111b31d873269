"""How a missing or failing command shows, as pytokio callers see it: an exception or a Python warning."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from conform_standins import calls
from corpus import DARSHAN, need_corpus

from atokio.collectors.darshanlog import direct_reader_available
from atokio.connectors import darshan, lfshealth


@pytest.fixture
def restore(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The command names the tests assign are put back afterwards."""
    monkeypatch.setattr(darshan, "DARSHAN_PARSER_BIN", darshan.DARSHAN_PARSER_BIN)
    monkeypatch.setattr(lfshealth, "LFS_DF", list(lfshealth.LFS_DF))
    monkeypatch.delenv("ATOKIO_DARSHAN_PARSER", raising=False)
    return monkeypatch


def test_an_assigned_darshan_parser_that_is_missing_raises(
    restore: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    need_corpus()
    log = tmp_path / "sample.darshan"
    shutil.copy(DARSHAN / "sample.darshan", log)
    missing = str(tmp_path / "no-such-darshan-parser")
    darshan.DARSHAN_PARSER_BIN = missing
    job = darshan.Darshan(str(log))  # no fallback to the direct reader: the command was chosen
    with pytest.raises(FileNotFoundError, match="no-such-darshan-parser: command not found"):
        job.darshan_parser_base()
    with pytest.raises(OSError):
        job.darshan_parser_perf()
    assert dict(job) == {}


def test_default_command_falls_back_to_the_direct_reader(
    restore: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    need_corpus()
    if not direct_reader_available():
        pytest.skip("libdarshan-util (the darshan package) cannot be loaded")
    restore.setenv("PATH", str(tmp_path))  # no darshan-parser on PATH
    job = darshan.Darshan(str(DARSHAN / "sample.darshan"))
    job.darshan_parser_base()
    assert job["header"]["jobid"] == "4478544"


def test_a_failing_darshan_parser_is_a_python_warning(
    restore: pytest.MonkeyPatch, standin: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    parser, log = standin("darshan-parser", "", status=255)
    darshan.DARSHAN_PARSER_BIN = str(parser)
    job = darshan.Darshan(str(tmp_path / "empty.darshan"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job.darshan_parser_base()
    assert dict(job) == {}
    assert calls(log) == [["darshan-parser", "--base", "--", str(tmp_path / "empty.darshan")]]
    argv = [str(parser), "--base", "--", str(tmp_path / "empty.darshan")]
    assert [str(w.message) for w in caught] == [f"{argv} returned nonzero exit code (255)"]
    quiet = darshan.Darshan(str(tmp_path / "empty.darshan"), silent_errors=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.darshan_parser_base()
    assert caught == []


def test_an_unreadable_log_is_a_python_warning_with_the_direct_reader(tmp_path: Path) -> None:
    if not direct_reader_available():
        pytest.skip("libdarshan-util (the darshan package) cannot be loaded")
    empty = tmp_path / "empty.darshan"
    empty.write_bytes(b"")
    job = darshan.Darshan(str(empty), reader="direct")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job.darshan_parser_total()
    assert dict(job) == {}
    assert [str(w.message) for w in caught] == [f"{empty}: invalid log file: empty file"]


def test_a_failing_command_of_a_subprocess_connector_is_a_python_warning(
    restore: pytest.MonkeyPatch, standin: Callable[..., tuple[Path, Path]]
) -> None:
    lfs, log = standin(
        "lfs",
        "snx11035-OST0000_UUID 90767651352 65387344040 24423870832  73% /scratch2[OST:0]\n",
        status=3,
    )
    lfshealth.LFS_DF = [str(lfs), "df"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fullness = lfshealth.LfsOstFullness()
    assert calls(log) == [["lfs", "df"]]
    assert [str(w.message) for w in caught] == [
        f"{[str(lfs), 'df']} returned nonzero exit code (3)"
    ]
    assert fullness["snx11035"]["OST0000"]["used_kib"] == 65387344040  # what was printed is kept
