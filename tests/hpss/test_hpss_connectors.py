"""The connectors: FtpLog, HsiLog, HpssDailyReport and GlobusLog on files, strings and caches."""

from __future__ import annotations

import datetime
import gzip
import json
import logging
from pathlib import Path

import pytest
from corpus import INPUTS
from hpss_data import FTP_RECORDS, FTP_TEXT, GLOBUS_TEXT, HSI_TEXT, REPORT_TEXT

from atokio.connectors.common import SubprocessOutputDict, SubprocessOutputList
from atokio.connectors.globuslogs import GlobusLog
from atokio.connectors.hpss import FtpLog, HpssDailyReport, HsiLog
from atokio.parsers.base import ParseError


def corpus_file(name: str) -> str:
    path = INPUTS / name
    if not path.exists():
        pytest.skip(f"sample corpus not found at {INPUTS} (it lives beside the repository)")
    return str(path)


# -- the corpus samples ----------------------------------------------------------------


def test_ftplog_corpus() -> None:
    log = FtpLog.from_file(corpus_file("hpssftplog.txt.gz"))
    assert isinstance(log, SubprocessOutputDict)
    assert {k: len(v) for k, v in log.items()} == {"ftp": 2, "pftp": 3}
    assert log["pftp"][0] == FTP_RECORDS[0][1]
    assert [r["opname"] for r in log["pftp"]] == ["HL", "LH", "HL"]
    assert log["ftp"][0]["end_timestamp"] == 1546243608.0
    assert repr(log) == "<FtpLog ftp: 2, pftp: 3>"


def test_hsilog_corpus() -> None:
    log = HsiLog(cache_file=corpus_file("hsilog.txt.gz"))
    assert {k: len(v) for k, v in log.items()} == {"hsi": 61, "htar": 1}
    first = log["hsi"][0]
    assert first["end_timestamp"] == 1565334301.0
    assert (first["bytes_sec_resolution"], first["access_latency_sec_resolution"]) == (100.0, 0.01)
    htar = log["htar"][0]
    assert (htar["end_timestamp"], htar["bytes_sec"], htar["remote_ftp_host"]) == (
        1565420728.0,
        146472.0,
        "",
    )
    ops = [r["opname"] for r in log["hsi"]]
    assert (ops.count("LH"), ops.count("HL"), ops.count("FU"), ops.count("FR")) == (40, 1, 10, 10)
    assert all(
        "dest_path" not in r and "account_id" not in r for r in log["hsi"] if r["opname"] == "FU"
    )
    assert all(
        "account_id" not in r and "dest_path" in r for r in log["hsi"] if r["opname"] == "FR"
    )
    assert log["hsi"][-4]["dest_path"] == "/home/d/dglock/WRF_CLM_IRR_processed_files.tar"


def test_daily_report_corpus() -> None:
    report = HpssDailyReport.from_file(corpus_file("hpss_daily.txt"))
    assert report.date == datetime.datetime(2018, 8, 9)
    titles = [
        "io totals by hpss client gateway (ui) host",
        "io totals by client host",
        "io totals by client application",
        "largest users",
        "migration purge report",
        "tape drive report",
    ]
    assert {system: list(tables) for system, tables in report.items()} == {
        "archive": titles,
        "hpss": titles,
    }
    archive = report["archive"]
    assert archive["io totals by hpss client gateway (ui) host"]["heart"] == {
        "users": 53,
        "io_gb": 148740.6,
        "ops": 27991,
        "write_gb": 109266.6,
        "w_ops": 20172,
        "read_gb": 39474.0,
        "r_ops": 7819,
        "copy_gb": 0.0,
        "c_ops": 0,
    }
    assert archive["migration purge report"]["4"] == {
        "storage class": "small disk",
        "migfiles": 52681,
        "mig (gb)": 7040.0,
        "migtime": "0-05:20:07",
        "migtimesecs": 19207,
        "purfiles": 0,
        "purge(gb)": 0.0,
        "purgetime": "0-00:00:00",
        "purgetimesecs": 0,
    }
    assert archive["migration purge report"][""]["storage class"] == "total"
    assert archive["tape drive report"][0] == {
        "drivetyp": "t10kb",
        "count": 4,
        "cleans": 0,
        "locks": 0,
        "mounts": 0,
        "availtime": "4-00:00:00",
        "availtimesecs": 345600,
        "locktime": "0-00:00:00",
        "locktimesecs": 0,
        "lock%": 0.0,
        "mounttime": "0-00:00:00",
        "mounttimesecs": 0,
        "mnt%": "0.0",
    }
    users = archive["largest users"]
    assert len(users) == 44 and users[0]["user"] == "user001" and users[0]["app"] == "gftp"
    assert len(report["hpss"]["largest users"]) == 13
    assert list(report["hpss"]["io totals by client application"]) == [
        "ftp",
        "pftp",
        "hsi",
        "htar",
        "total",
    ]


def test_globuslog_corpus() -> None:
    log = GlobusLog.from_file(corpus_file("globuslogs.txt.gz"))
    assert isinstance(log, SubprocessOutputList)
    assert len(log) == 11
    assert log[0]["DATE"] == 1564558244.992375
    assert [r["TYPE"] for r in log].count("RETR") == 6
    assert {r["CODE"] for r in log} == {"226"}
    assert all(list(r)[:4] == ["DATE", "HOST", "PROG", "NL.EVNT"] for r in log)
    assert log[6]["FILE"].endswith("/wrf1hr=d03_2015 05-03_00:00:00")
    assert log[8]["DEST"] == ["0.0.0.0"]
    assert repr(log) == "<GlobusLog 11 transfers>"


# -- strings, plain and gzip files, JSON caches -----------------------------------------

#: Each connector with a small input of its format.
CONNECTORS_AND_TEXTS = [
    (FtpLog, FTP_TEXT),
    (HsiLog, HSI_TEXT),
    (GlobusLog, GLOBUS_TEXT),
    (HpssDailyReport, REPORT_TEXT),
]


@pytest.mark.parametrize(("cls", "text"), CONNECTORS_AND_TEXTS)
def test_string_plain_and_gzip_files_agree(cls: type, text: str, tmp_path: Path) -> None:
    plain = tmp_path / "log.txt"
    plain.write_text(text)
    packed = tmp_path / "log.txt.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    from_string = cls.from_str(text)
    assert from_string
    assert cls.from_file(str(plain)) == from_string
    assert cls(cache_file=str(packed)) == from_string
    later = cls()
    assert not later
    later.load_str(text)
    assert later == from_string


@pytest.mark.parametrize(("cls", "text"), CONNECTORS_AND_TEXTS)
def test_json_cache_round_trip(cls: type, text: str, tmp_path: Path) -> None:
    original = cls.from_str(text)
    cache = tmp_path / "cache.json"
    original.save_cache(str(cache))
    assert json.loads(cache.read_text()) == json.loads(json.dumps(original))
    assert cls.from_file(str(cache)) == original


def test_save_cache_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    GlobusLog.from_str(GLOBUS_TEXT).save_cache()
    assert json.loads(capsys.readouterr().out)[0]["USER"] == "glock"


def test_empty_input_gives_the_empty_buckets() -> None:
    assert FtpLog.from_str("") == {"ftp": [], "pftp": []}
    assert HsiLog.from_str("\n") == {"hsi": [], "htar": []}
    assert GlobusLog.from_str("") == []
    assert FtpLog() == {}


def test_daily_report_date_attribute() -> None:
    report = HpssDailyReport.from_str(REPORT_TEXT)
    assert report.date == datetime.datetime(2018, 8, 9)
    assert HpssDailyReport().date is None


# -- bad input ----------------------------------------------------------------------------


def test_bad_line_raises_after_keeping_what_came_before(tmp_path: Path) -> None:
    path = tmp_path / "hsi.log"
    lines = HSI_TEXT.splitlines()
    path.write_text("\n".join([*lines[:2], "Sat Aug 10 00:05:28 2019 host hsi", *lines[2:]]))
    log = HsiLog()
    with pytest.raises(ParseError) as caught:
        log.load_cache(str(path))
    assert caught.value.source == str(path)
    assert caught.value.line_number == 3
    assert {k: len(v) for k, v in log.items()} == {"hsi": 1, "htar": 1}


def test_silent_errors_logs_instead(caplog: pytest.LogCaptureFixture) -> None:
    text = GLOBUS_TEXT + "not a pair\n" + GLOBUS_TEXT
    with caplog.at_level(logging.DEBUG, logger="atokio.connectors.globuslogs"):
        log = GlobusLog(from_string=text, silent_errors=True)
    assert len(log) == 3
    assert "<string>:4: bad GridFTP transfer record (expected KEY=value pairs)" in caplog.text


def test_report_without_date_line_raises() -> None:
    with pytest.raises(ParseError, match="HPSS Report for Date"):
        HpssDailyReport.from_str("Archive : IO Totals\n")


def test_skipped_lines_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="atokio.connectors.hpss"):
        log = FtpLog.from_str(FTP_TEXT)
    assert sum(map(len, log.values())) == 5
    assert "<string>: skipped 1 lines that are not transfer records" in caplog.text
