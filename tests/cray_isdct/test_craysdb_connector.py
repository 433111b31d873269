"""``CraySdbProc``: caches, strings, the real ``xtdb2proc`` subprocess (a stand-in), round trips."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest
from cray_isdct_data import (
    SMALL_TABLE,
    corpus_input,
    install_program,
    processor,
    write_gzip,
    xtdb2proc_line,
    xtdb2proc_text,
)
from fixtures_common import path_with

from atokio.connectors.common import SubprocessOutputDict
from atokio.connectors.craysdb import CraySdbProc

TEXT = xtdb2proc_text(SMALL_TABLE)
EXPECTED = {record["processor_id"]: record for record in SMALL_TABLE}


@pytest.fixture
def xtdb2proc_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in ``xtdb2proc`` on PATH that insists on ``-f -``; returns its call log."""
    bin_dir = tmp_path / "bin"
    log = install_program(bin_dir, "xtdb2proc", TEXT.encode(), required=["-f", "-"])
    monkeypatch.setenv("PATH", path_with(bin_dir))
    return log


def test_is_a_subprocess_output_dict_keyed_by_int_processor_id(tmp_path: Path) -> None:
    path = tmp_path / "sdb.txt"
    path.write_text(TEXT)
    table = CraySdbProc(cache_file=str(path))
    assert isinstance(table, SubprocessOutputDict)
    assert dict(table) == EXPECTED
    assert list(table) == [10, 11, 12, 13, 20, 21]
    assert table.key_order == list(SMALL_TABLE[0])
    assert table[21]["processor_type"] == "service"
    assert table.subprocess_cmd == ["xtdb2proc", "-f", "-"]


def test_gzip_cache(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "sdb.txt.gz", TEXT)
    assert dict(CraySdbProc(cache_file=str(path))) == EXPECTED


def test_from_string_and_load_str() -> None:
    assert dict(CraySdbProc(from_string=TEXT)) == EXPECTED
    table = CraySdbProc(from_string="")
    assert table == {}
    table.load_str(xtdb2proc_line(processor(5, 1, 2, 3)))
    assert table[5]["y_coord"] == 2 and table.key_order[0] == "cpu"


def test_repr_is_xtdb2proc_text_and_round_trips() -> None:
    table = CraySdbProc(from_string=TEXT)
    assert repr(table) == xtdb2proc_text(SMALL_TABLE, header=False)
    assert str(table) == repr(table)
    again = CraySdbProc(from_string=repr(table))
    assert again == table and again.key_order == table.key_order


def test_save_cache_writes_text_that_loads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = CraySdbProc(from_string=TEXT)
    out = tmp_path / "saved.txt"
    table.save_cache(str(out))
    assert out.read_text() == xtdb2proc_text(SMALL_TABLE, header=False)
    assert CraySdbProc(cache_file=str(out)) == table
    table.save_cache()
    assert capsys.readouterr().out == out.read_text()


def test_duplicate_processor_id_is_an_assertion_error() -> None:
    text = TEXT + xtdb2proc_line(processor(10, 5, 5, 5)) + "\n"
    with pytest.raises(AssertionError, match="duplicate processor_id 10"):
        CraySdbProc(from_string=text)


def test_bad_string_warns_and_keeps_the_records_before(caplog: pytest.LogCaptureFixture) -> None:
    text = (
        xtdb2proc_line(processor(1, 0, 0, 0))
        + "\ngarbage\n"
        + xtdb2proc_line(processor(2, 0, 0, 0))
    )
    with caplog.at_level(logging.WARNING, logger="atokio"):
        table = CraySdbProc(from_string=text)
    assert list(table) == [1]
    assert "<string>:2: expected key=value: 'garbage'" in caplog.text


def test_load_str_names_the_string_not_the_cache_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_gzip(tmp_path / "sdb.txt.gz", TEXT)
    table = CraySdbProc(cache_file=str(path))
    with caplog.at_level(logging.WARNING, logger="atokio"):
        table.load_str("garbage\n")
    assert "<string>:1: expected key=value: 'garbage'" in caplog.text
    assert str(path) not in caplog.text


def test_bad_cache_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("cpu=0\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: record has no processor_id"):
        CraySdbProc(cache_file=str(path))


def test_runs_xtdb2proc_when_no_cache(xtdb2proc_bin: Path) -> None:
    table = CraySdbProc()
    assert dict(table) == EXPECTED
    assert [json.loads(line) for line in xtdb2proc_bin.read_text().splitlines()] == [["-f", "-"]]


def test_failing_xtdb2proc_is_a_warning(
    xtdb2proc_bin: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STANDIN_FAIL", "cannot reach the SDB")
    with caplog.at_level(logging.WARNING, logger="atokio"):
        table = CraySdbProc()
    assert table == {}
    assert "xtdb2proc -f - exited with status 3: xtdb2proc: cannot reach the SDB" in caplog.text


def test_silent_errors_log_at_debug(
    xtdb2proc_bin: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("STANDIN_FAIL", "down")
    with caplog.at_level(logging.DEBUG, logger="atokio"):
        CraySdbProc(silent_errors=True)
    assert [r.levelno for r in caplog.records if "exited" in r.message] == [logging.DEBUG]


@pytest.mark.usefixtures("empty_path")
def test_missing_xtdb2proc() -> None:
    with pytest.raises(FileNotFoundError, match="xtdb2proc: command not found"):
        CraySdbProc()


def test_corpus_sample(tmp_path: Path) -> None:
    path = corpus_input("sample.xtdb2proc.gz")
    table = CraySdbProc(cache_file=str(path))
    assert len(table) == 499
    assert table[5000] == {
        "cpu": 0, "slot": 2, "cage": 0, "cabinet": None, "cab_position": 2, "cab_row": 3,
        "x_coord": 13, "y_coord": 0, "z_coord": 2, "process_slots": 4, "process_slots_free": 4,
        "processor_status": "up", "processor_type": "compute", "alloc_mode": "interactive",
        "processor_id": 5000, "od_allocator_id": 0, "next_red_black_switch": None,
        "processor_spec": None,
    }  # fmt: skip
    data_lines = [
        line
        for line in gzip.decompress(path.read_bytes()).decode().splitlines()
        if line and not line.startswith("#")
    ]
    assert repr(table).splitlines() == data_lines


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_subprocess_path_under_both_backends(
    backend: str, xtdb2proc_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATOKIO_BACKEND", backend)
    assert dict(CraySdbProc()) == EXPECTED


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_works_inside_a_running_event_loop(backend: str, xtdb2proc_bin: Path) -> None:
    import anyio

    async def notebook_cell() -> dict:
        return dict(CraySdbProc())  # sync API called from async code, as in Jupyter

    assert anyio.run(notebook_cell, backend=backend) == EXPECTED
