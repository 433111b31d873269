"""The HPSS daily report: table helpers, the streaming parser and the corpus report."""

from __future__ import annotations

import datetime

import pytest
from corpus import INPUTS
from hpss_data import REPORT_TEXT, chunked, feed_all
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.connectors import hpss
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.hpss import HpssReportParser, ReportDate, build_report

REPORT = REPORT_TEXT.encode()

GATEWAY = {
    "system": "archive",
    "title": "io totals by hpss client gateway (ui) host",
    "records": [
        {"host": "heart", "users": 53, "io_gb": 148740.6, "ops": 27991},
        {"host": "total", "users": 58, "io_gb": 178279.2, "ops": 29685},
    ],
}
MIGRATION = {
    "system": "archive",
    "title": "migration purge report",
    "records": [
        {
            "storage class": "small disk",
            "sc": "4",
            "migfiles": 52681,
            "mig (gb)": 7040.0,
            "migtime": "0-05:20:07",
            "migtimesecs": 19207,
        },
        {
            "storage class": "total",
            "sc": "",
            "migfiles": 57860,
            "mig (gb)": 104707.9,
            "migtime": "bad-time",
            "migtimesecs": -1,
        },
    ],
}
TAPES = {
    "system": "hpss",
    "title": "tape drive report",
    "records": [
        {"drivetyp": "t10kb", "count": 4, "cleans": 0, "lock%": 0.0, "mnt%": "0.0"},
        {"drivetyp": "ibm3592", "count": 19, "cleans": "x", "lock%": 5.3, "mnt%": "54.7"},
    ],
}


def test_find_columns() -> None:
    line = "===============  =====  ========="
    assert hpss._find_columns(line) == [(0, 15), (15, 7), (22, 11)]
    assert hpss._find_columns(line, strict=True) == [(0, 15), (17, 5), (24, 9)]
    assert hpss._find_columns("--- --", sep="-") == [(0, 3), (3, 3)]
    assert hpss._find_columns("==== ==== + ====") == []
    assert hpss._find_columns("") == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0-05:20:07", 19207), ("4-00:00:00", 345600), ("19-00:00:00", 1641600), ("x", -1), ("", -1)],
)
def test_hpss_timedelta_to_secs(text: str, seconds: int) -> None:
    assert hpss._hpss_timedelta_to_secs(text) == seconds


def test_get_ascii_resolution() -> None:
    assert hpss._get_ascii_resolution("0.000") == 0.001
    assert hpss._get_ascii_resolution("146472.0") == 0.1
    assert hpss._get_ascii_resolution("7") == 1.0


def test_parse_section_returns_the_table_and_the_next_index() -> None:
    lines = REPORT_TEXT.splitlines()
    table, end = hpss._parse_section(lines, 2)
    assert table == GATEWAY
    assert lines[end] == "HPSS ACCOUNTING:         224962.6"
    assert end == 7
    assert hpss._parse_section(lines, 0) == ({}, 1)
    assert hpss._parse_section(lines, len(lines) - 1) == ({}, len(lines))


def test_rekey_table_removes_the_key_and_copies() -> None:
    keyed = hpss._rekey_table(GATEWAY, "host")
    assert keyed == {
        "system": "archive",
        "title": "io totals by hpss client gateway (ui) host",
        "records": {
            "heart": {"users": 53, "io_gb": 148740.6, "ops": 27991},
            "total": {"users": 58, "io_gb": 178279.2, "ops": 29685},
        },
    }
    assert GATEWAY["records"][0]["host"] == "heart"  # type: ignore[index]
    dup = {"records": [{"k": "a", "v": 1}, {"k": "a", "v": 2}]}
    assert hpss._rekey_table(dup, "k") == {"records": {"a": {"v": 2}}}


def test_streaming_parser_records() -> None:
    records = parse_all(HpssReportParser(source="report"), REPORT)
    assert records == [ReportDate(datetime.datetime(2018, 8, 9)), GATEWAY, MIGRATION, TAPES]


def test_build_report_shape() -> None:
    date, report = build_report(parse_all(HpssReportParser(), REPORT))
    assert date == datetime.datetime(2018, 8, 9)
    assert list(report) == ["archive", "hpss"]
    assert report["archive"]["migration purge report"] == {
        "4": {
            "storage class": "small disk",
            "migfiles": 52681,
            "mig (gb)": 7040.0,
            "migtime": "0-05:20:07",
            "migtimesecs": 19207,
        },
        "": {
            "storage class": "total",
            "migfiles": 57860,
            "mig (gb)": 104707.9,
            "migtime": "bad-time",
            "migtimesecs": -1,
        },
    }
    assert report["hpss"]["tape drive report"] == TAPES["records"]
    # a table seen twice is merged
    _, twice = build_report([GATEWAY, GATEWAY, TAPES, TAPES])
    assert list(twice["archive"]["io totals by hpss client gateway (ui) host"]) == [
        "heart",
        "total",
    ]
    assert len(twice["hpss"]["tape drive report"]) == 4


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(REPORT)), max_size=30))
def test_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    assert feed_all(HpssReportParser(), chunked(REPORT, cuts)) == parse_all(
        HpssReportParser(), REPORT
    )


def test_streaming_equals_a_parse_section_loop_on_the_corpus() -> None:
    path = INPUTS / "hpss_daily.txt"
    if not path.exists():
        pytest.skip(f"sample corpus not found at {INPUTS} (it lives beside the repository)")
    text = path.read_text()
    lines = text.splitlines()
    expected = []
    index = 1
    while index < len(lines):
        table, index = hpss._parse_section(lines, index)
        if table:
            expected.append(table)
    records = parse_all(HpssReportParser(), text.encode())
    assert records[1:] == expected
    assert len(expected) == 12


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Archive : x\nHost\n====\n", 1, "expected 'HPSS Report for Date YYYY-MM-DD'"),
        ("\n\nHPSS Report for Date 2018-02-30\n", 3, "bad report date"),
        ("", 0, "no 'HPSS Report for Date"),
        ("\n  \n", 2, "no 'HPSS Report for Date"),
    ],
)
def test_report_without_its_date_line_is_an_error(text: str, line: int, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_all(HpssReportParser(source="daily.txt"), text.encode())
    assert caught.value.source == "daily.txt"
    assert caught.value.line_number == line
    assert message in caught.value.message
