"""summarize_darshanlogs: the Quick Start's bytes per log and file system."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from darshan_corpus import EMPTY_LOGS, SMALL_LOGS, corpus_log, expected_index, package_logs

from atokio.cli import summarize_darshanlogs as cli
from atokio.cli._common import as_program


def expected(log: str) -> dict[str, dict[str, int]]:
    return {
        mount: {"read_bytes": row["bytes_read"], "write_bytes": row["bytes_written"]}
        for mount, row in expected_index(log)["rows"].items()
    }


def test_json_of_the_corpus_logs(capsys: pytest.CaptureFixture[str], no_fsnames: None) -> None:
    logs = [str(corpus_log(log)) for log in SMALL_LOGS]
    assert cli.main(["-t", "2", *logs]) == 0
    out = capsys.readouterr().out
    want = {path: expected(log) for path, log in zip(logs, SMALL_LOGS, strict=True)}
    assert out == json.dumps(want, indent=4, sort_keys=True) + "\n"
    assert want[logs[0]] == {
        "/scratch2": {"read_bytes": 0, "write_bytes": 2199023259968},
        "UNKNOWN": {"read_bytes": 0, "write_bytes": 3309},
    }


def test_unreadable_logs_are_left_out(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = str(corpus_log(EMPTY_LOGS[1]))
    good = str(corpus_log("noposix"))
    with caplog.at_level(logging.WARNING, logger="atokio"):
        assert as_program(cli.main, [empty, good]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {good: expected("noposix")}
    assert err.splitlines()[-1] == (
        "summarize_darshanlogs: 1 of 2 logs could not be read: "
        "see the warnings above; fix or drop them, or use --silent-errors"
    )
    assert [r.getMessage() for r in caplog.records] == [
        f"skipping unreadable log: {empty}: invalid log file: empty file"
    ]
    assert cli.main(["--silent-errors", empty, good]) == 0
    # the readable part goes to a new -o file; an existing one is left alone
    output = tmp_path / "out.json"
    assert as_program(cli.main, ["-o", str(output), good, empty]) == 1
    assert json.loads(output.read_text()) == {good: expected("noposix")}
    output.write_text("kept")
    assert as_program(cli.main, ["-o", str(output), good, empty]) == 1
    assert output.read_text() == "kept"
    assert f"; {output} was left unchanged:" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.json"]


def test_both_readers_agree(standin_parser: Path) -> None:
    logs = [str(corpus_log(log)) for log in SMALL_LOGS]
    direct = cli.summarize_darshanlogs(logs, reader="direct")
    assert cli.summarize_darshanlogs(logs, threads=2, reader="darshan-parser") == direct
    assert direct == {path: expected(log) for path, log in zip(logs, SMALL_LOGS, strict=True)}


def test_package_logs_without_the_corpus() -> None:
    logs = package_logs()
    path = str(logs["sample-goodost"])
    assert cli.summarize_darshanlogs([path, path], threads=0) == {
        path: {
            "/scratch1": {"read_bytes": 0, "write_bytes": 51539607552},
            "UNKNOWN": {"read_bytes": 0, "write_bytes": 1584},
        }
    }
