"""FTP and HSI/HTAR log files parsed on every core, and blocks read from their bytes.

A file is cut into line-aligned ranges that worker processes turn into columns
while this process builds the records: the dict must be the one a single
process gives (same records, key order and value types), bad lines must be
named by their line in the whole file, and the byte path must give what the
line-by-line path gives.
"""

from __future__ import annotations

import calendar
import gzip
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from hpss_data import FTP_TEXT, HSI_TEXT

from atokio.collectors import files
from atokio.connectors import hpss
from atokio.connectors.hpss import FtpLog, HsiLog
from atokio.parsers import hpss_bytes
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.hpss import FtpLogParser, HsiLogParser

#: An FTP transfer whose path holds spaces (read by the line-by-line path only).
FTP_SPACED = (
    "Tue Jan  1 10:00:00 2019 1.5 dtn01.nersc.gov 100 /home/a/my file.txt b o RETR_Cmd r ftp"
    " alice\n"
)
#: Lines of every layout, and one of each kind of line the byte path leaves to the other.
FTP_MIXED = FTP_TEXT * 40 + FTP_SPACED + FTP_TEXT * 40 + "\n" + FTP_TEXT * 20
HSI_MIXED = HSI_TEXT * 60 + "Sat Aug 10 00:05:28 2019 h other 1 2\tX\n" + HSI_TEXT * 60

LOGS = [(FtpLog, FTP_MIXED), (HsiLog, HSI_MIXED)]


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """The same buckets and records, keys in the same order, values of the same types."""
    assert list(got) == list(want)
    for bucket in want:
        assert got[bucket] == want[bucket]
        for a, b in zip(got[bucket], want[bucket], strict=True):
            assert list(a) == list(b)
            assert [type(v) for v in a.values()] == [type(v) for v in b.values()]


@pytest.mark.parametrize(("cls", "text"), LOGS, ids=["ftp", "hsi"])
@pytest.mark.parametrize("piece", [211, 1500, 9000, 1 << 20])
def test_ranges_give_the_dict_of_one_process(
    cls: type, text: str, piece: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.txt"
    path.write_text(text)
    monkeypatch.setattr(hpss, "_RANGE", piece)
    cuts: list[int] = []

    def line_ranges(*given: Any) -> list[tuple[int, int]]:
        found = cut_lines(*given)
        cuts.append(len(found))
        return found

    cut_lines = files.line_ranges
    monkeypatch.setattr(files, "line_ranges", line_ranges)
    got = cls.from_file(str(path))
    assert sum(map(len, got.values())) > 100
    if piece < len(text):  # cut into ranges, parsed in the worker processes
        assert len(cuts) == 1 and len(text) / piece / 2 < cuts[0] <= len(text) / piece + 1
    else:
        assert cuts == []
    assert_same(got, cls.from_str(text))


@pytest.mark.parametrize(("cls", "text"), LOGS, ids=["ftp", "hsi"])
def test_a_gzip_file_gives_the_same_dict(cls: type, text: str, tmp_path: Path) -> None:
    path = tmp_path / "log.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert_same(cls.from_file(str(path)), cls.from_str(text))


@pytest.mark.parametrize(
    ("cls", "text", "bad"),
    [
        (FtpLog, FTP_TEXT, "Mon Dec 31 00:06:48 2018 x.5 h 0 /p b o RETR_Cmd r ftp u\n"),
        (HsiLog, HSI_TEXT, "Sat Aug 10 00:05:28 2019 h hsi 1 2\tLH\t0\tfast\t1\t0.0\t0\ts\td\t1\n"),
    ],
    ids=["ftp", "hsi"],
)
def test_a_bad_line_is_named_by_its_line_in_the_whole_file(
    cls: type, text: str, bad: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = text * 150
    path = tmp_path / "log.txt"
    path.write_text(before + bad + text * 50)
    monkeypatch.setattr(hpss, "_RANGE", 1000)
    log = cls()
    with pytest.raises(ParseError) as caught:
        log.load_cache(str(path))
    assert caught.value.line_number == before.count("\n") + 1
    assert caught.value.source == str(path)
    assert caught.value.text == bad.rstrip("\n")
    assert_same(log, cls.from_str(before))  # what came before the bad line is kept
    quiet = cls(cache_file=str(path), silent_errors=True)
    assert_same(quiet, cls.from_str(before))


def test_end_times_use_the_time_zone_of_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.txt"
    path.write_text(FTP_TEXT * 200)
    monkeypatch.setattr(hpss, "_RANGE", 2000)
    FtpLog.from_file(str(path))  # the worker processes run now, in another zone
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    record = FtpLog.from_file(str(path))["pftp"][0]
    # Mon Dec 31 00:06:46 2018 in Tokyo (UTC+9)
    assert record["end_timestamp"] == calendar.timegm((2018, 12, 31, 0, 6, 46)) - 9 * 3600
    assert record["start_timestamp"] == record["end_timestamp"] - 0.01


def outcome(parser: Any, data: bytes) -> tuple[list[Any], Any]:
    """The records of ``data``, and the line and message of its error if any."""
    try:
        return parse_all(parser, data, chunk_size=1 << 20), None
    except ParseError as error:
        return error.records, (error.line_number, error.message, error.text)


EDGES = {
    "ftp": [
        FTP_SPACED,
        "Mon Dec 31 00:06:48 2018 0.430 h 1_000 /p b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 +0.43 h 10 /p b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 0.43 h -10 /p b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 25:06:48 2018 0.43 h 10 /p b o RETR_Cmd r ftp u\n",
        "Mon Dec 32 00:06:48 2018 0.43 h 10 /p b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 0.43 h 10 /p b o RETR_Cmd r ftp\n",
        "Mon Dec 31 00:06:48 2018 0.43 h 10 /p\u00e9 b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 0.43 h 10 /p\x0bq b o RETR_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 0.43 h 10 /p b o LIST_Cmd r ftp u\n",
        "Mon Dec 31 00:06:48 2018 1e3 h 10 /p b o RETR_Cmd r ftp u\n",
        "\n",
    ],
    "hsi": [
        "Sat Aug 10 00:05:28 2019 h hsi 1 2\tLH\t0\t0.5\t1\t0.0\t0\ts\td\n",
        "Sat Aug 10 00:05:28 2019 h htar 1 2\tcreate\tLH\t0\t1\t1.0\t1.0\tp\n",
        "Sat Aug 10 00:05:28 2019  h hsi 1 2\tLH\t0\t0.5\t1\t0.0\t0\ts\td\t1\n",
        "Sat Aug 10 00:05:28 2019 h hsi 1 2 \tLH\t0\t0.5\t1\t0.0\t0\ts\td\t1\n",
        "Sat Aug 10 00:05:28 2019 h hsi 1 2\tLH\t+0\t0.5\t1\t0.0\t0\ts\td\t1\n",
        "Sat Aug 10 00:05:28 2019 h hsi 1 2\tLH\t0\t0.5\t1\t0.0\t0\ts\td\t1\textra\n",
        "Sat Aug 31 00:05:28 2019 h hsi 1 2\tLH\t0\t-0.5\t1\t1e2\t0\ts\td\t1\n",
        "Sat Sep 31 00:05:28 2019 h hsi 1 2\tLH\t0\t0.5\t1\t0.0\t0\ts\td\t1\n",
        "Sat Aug 10 00:05:28 2019 h hsi 1 2\tLH\t0\t0.5\t1\t0.0\t0\ts\u00e9\td\t1\n",
        "Sat Aug 10 00:05:28 2019 h hsi 1 2\n",
        "\n",
    ],
}


@pytest.mark.parametrize(("log", "edge"), [(log, line) for log in EDGES for line in EDGES[log]])
def test_the_byte_path_gives_what_the_line_path_gives(
    log: str, edge: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser, text = (FtpLogParser, FTP_TEXT) if log == "ftp" else (HsiLogParser, HSI_TEXT)
    data = (text * 3 + edge + text * 2).encode()
    fast = outcome(parser(), data)
    for name in ("ftp_block", "hsi_block"):
        monkeypatch.setattr(hpss_bytes, name, lambda text: None)
    assert fast == outcome(parser(), data)


@pytest.mark.parametrize("parser", [FtpLogParser, HsiLogParser])
def test_the_byte_path_is_taken_for_plain_blocks(
    parser: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[bool] = []
    for name in ("ftp_block", "hsi_block"):
        read = getattr(hpss_bytes, name)
        monkeypatch.setattr(
            hpss_bytes, name, lambda text, read=read: taken.append(read(text) is not None)
        )
    text = FTP_TEXT if parser is FtpLogParser else HSI_TEXT
    parse_all(parser(), text.encode() * 10)
    assert taken and all(taken)


@pytest.mark.parametrize(("cls", "text"), LOGS, ids=["ftp", "hsi"])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_async_form_gives_the_same_dict(
    cls: type, text: str, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.txt"
    path.write_text(text)
    monkeypatch.setattr(hpss, "_RANGE", 1500)
    log = cls()
    anyio.run(log.aload_cache, str(path), backend=backend)
    assert_same(log, cls.from_str(text))
    made = anyio.run(cls.afrom_file, str(path), backend=backend)
    assert type(made) is cls and made.cache_file == str(path)
    assert_same(made, cls.from_file(str(path)))
