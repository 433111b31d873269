"""GlobusLog on a large file: ranges parsed into columns by worker processes, dicts built here."""

from __future__ import annotations

import gzip
import logging
import os
import pickle
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from hpss_data import GLOBUS_TEXT

from atokio.collectors import files
from atokio.connectors import globuslogs
from atokio.connectors.globuslogs import GlobusLog
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.globus import GlobusColumns, GlobusLogParser, records_of

#: Lines the column path takes (one or more spaces in FILE, ``=`` in FILE, keys in
#: another order, fewer keys, a repeated and an unrepeated value in every column)
#: and lines it leaves to the general rule (a TAB, two spaces, blanks around,
#: a repeated key), each kind several times among the others.
ODD_LINES = [
    "DATE=20190731073044.5 HOST=h1 FILE=/a b/c d NBYTES=12 DEST=[1.2.3.4, 5.6.7.8] CODE=226",
    "HOST=h2 DATE=20190731073045.000001 CODE=426 NBYTES=0012",
    "DATE=20190731073046.100000 HOST=h1\tFILE=/tab NBYTES=7",
    "DATE=20190731073047.100000  HOST=h1 FILE=/two-spaces NBYTES=8",
    "  DATE=20190731073048.100000 HOST=h1 FILE=/lead NBYTES=9  ",
    "DATE=20190731073049.100000 HOST=h1 HOST=h3 NBYTES=10",
    "",
    "DATE=20190731073050 START=20190731073049.1 USER=u FILE=/x=y z=w BUFFER=1 STREAMS=99999999999999999999999",
]


def log_text(copies: int) -> str:
    """The sample lines and the odd lines, each copy with its own time stamps and sizes."""
    lines = []
    base = GLOBUS_TEXT.splitlines() + ODD_LINES
    for k in range(copies):
        for line in base:
            lines.append(
                line.replace("20190731", "201908%02d" % (1 + k % 28)).replace("=12 ", f"={k} ")
            )
    return "\n".join(lines) + "\n"


def one_process(text: str) -> list[dict[str, Any]]:
    return parse_all(GlobusLogParser("<string>"), text.encode())


def typed(records: list[dict[str, Any]]) -> list[list[tuple[str, type, Any]]]:
    """Keys in order, the types and the values of every record (``==`` alone ignores the types)."""
    return [[(key, type(value), value) for key, value in record.items()] for record in records]


def test_small_files_are_parsed_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "globus.log"
    path.write_text(log_text(3))

    def no_ranges(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a small file was cut into ranges")

    monkeypatch.setattr(globuslogs, "aparse_file_ranges", no_ranges)
    assert typed(GlobusLog.from_file(str(path))) == typed(one_process(log_text(3)))


@pytest.mark.parametrize("piece", [300, 4096, 1 << 30])
def test_file_equals_one_process_for_any_range_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece: int
) -> None:
    text = log_text(60)
    path = tmp_path / "globus.log"
    path.write_text(text)
    monkeypatch.setattr(files, "RANGE", piece)
    monkeypatch.setattr(globuslogs, "PARALLEL_BYTES", 0)
    log = GlobusLog.from_file(str(path))
    assert typed(log) == typed(one_process(text))
    assert len(log) == 60 * (len(GLOBUS_TEXT.splitlines()) + len(ODD_LINES) - 1)


def test_columns_mode_equals_dict_mode_in_any_chunking() -> None:
    data = log_text(5).encode()
    expected = one_process(data.decode())
    for size in (1, 97, 1000, len(data)):
        parser = GlobusLogParser("<string>", columns=True)
        batches: list[GlobusColumns] = []
        for start in range(0, len(data), size):
            batches += parser.feed(data[start : start + size])
        batches += parser.close()
        assert all(isinstance(batch, GlobusColumns) for batch in batches)
        assert typed(records_of(pickle.loads(pickle.dumps(batches)))) == typed(expected)


def test_repeated_values_are_sent_once() -> None:
    parser = GlobusLogParser("<string>", columns=True)
    batches = parse_all(parser, (GLOBUS_TEXT * 50).encode())
    groups = [group for batch in batches for group in batch.groups]
    assert len(groups) == 2  # lines of 16 tokens, lines of 17 (a space in FILE)
    hosts = []
    for _, keys, columns in groups:
        assert keys is not None
        hosts += columns[keys.index("HOST")]
        assert columns[keys.index("DATE")].dtype.kind == "f"  # times travel as an array
    assert len(hosts) == 150 and len({id(host) for host in hosts}) <= 2


def test_a_bad_line_is_numbered_in_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = log_text(40).splitlines()
    lines[333] = lines[333].replace("NBYTES=", "NBYTES=x")
    path = tmp_path / "globus.log"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(files, "RANGE", 2000)
    monkeypatch.setattr(globuslogs, "PARALLEL_BYTES", 0)
    log = GlobusLog(cache_file=str(path), silent_errors=True)
    assert typed(log) == typed(one_process("\n".join(lines[:333]) + "\n"))
    with pytest.raises(ParseError) as caught:
        GlobusLog.from_file(str(path))
    assert caught.value.line_number == 334
    assert caught.value.source == str(path)
    assert caught.value.message.startswith("bad GridFTP transfer record")


def test_gzip_file_and_json_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(globuslogs, "PARALLEL_BYTES", 0)
    text = log_text(20)
    packed = tmp_path / "globus.log.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    log = GlobusLog.from_file(str(packed))
    assert typed(log) == typed(one_process(text))
    cache = tmp_path / "globus.json"
    log.save_cache(str(cache))
    assert GlobusLog.from_file(str(cache)) == log
    blank = tmp_path / "blank.log"
    blank.write_text("\n\n")
    assert GlobusLog.from_file(str(blank)) == []


def test_failed_workers_leave_the_work_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    text = log_text(30)
    path = tmp_path / "globus.log"
    path.write_text(text)

    async def broken(fn: Any, *args: Any, **_kwargs: Any) -> Any:
        if fn is os.getpid:  # the pool has started
            return os.getpid()
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(files, "RANGE", 500)
    monkeypatch.setattr(globuslogs, "PARALLEL_BYTES", 0)
    monkeypatch.setattr("atokio.collectors.workers.run_in_worker", broken)
    log = GlobusLog.from_str(GLOBUS_TEXT)
    with caplog.at_level(logging.WARNING):
        log.load_cache(str(path))
    assert typed(log) == typed(one_process(GLOBUS_TEXT + text))
    assert "worker processes failed; parsing in this process" in caplog.text
