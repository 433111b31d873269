"""The archive tools' progress lines on stdout, and the log beside them."""

from __future__ import annotations

import logging

import pytest

from atokio.cli._archive import progress_lines_on_stdout
from atokio.cli._common import setup_logging

DAILY = logging.getLogger("atokio.archive.daily")
PROGRESS = logging.getLogger("atokio.archive.daily.progress")


def test_lines_on_stdout_warnings_still_logged(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(0)
    with progress_lines_on_stdout():
        PROGRESS.info("Initialized datatargets/readbytes in / with size %s", (2, 3))
        DAILY.info("something else")
        PROGRESS.info("Writing out %s", "/datatargets/readbytes")
        DAILY.warning("rebuilt a half-made file")
        PROGRESS.warning("a progress warning")
    PROGRESS.info("Writing out /after")
    captured = capsys.readouterr()
    assert captured.out == (
        "Initialized datatargets/readbytes in / with size (2, 3)\n"
        "Writing out /datatargets/readbytes\n"
        "a progress warning\n"
    )
    assert captured.err == "WARNING: rebuilt a half-made file\nWARNING: a progress warning\n"
    assert PROGRESS.propagate and PROGRESS.level == logging.NOTSET


def test_debug_runs_log_the_lines_too(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(2)
    try:
        with progress_lines_on_stdout():
            PROGRESS.info("Writing out /x")
    finally:
        setup_logging(0)
    captured = capsys.readouterr()
    assert captured.out == "Writing out /x\n"
    assert captured.err == "INFO: Writing out /x\n"
