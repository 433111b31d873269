"""The sans-IO GridFTP transfer-log parser: exact records, chunk invariance, errors."""

from __future__ import annotations

import pytest
from hpss_data import GLOBUS_TEXT, chunked, feed_all
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.connectors.globuslogs import _listify_ips
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.globus import GlobusLogParser, gridftp_time

GLOBUS = GLOBUS_TEXT.encode()

FIRST = {
    "DATE": 1564558244.992375,  # 2019-07-31T07:30:44.992375Z
    "HOST": "dtn11.nersc.gov",
    "PROG": "globus-gridftp-server",
    "NL.EVNT": "FTP_INFO",
    "START": 1564558230.432241,
    "USER": "glock",
    "FILE": "/home/c/glock/pic/constance/forecast/Global/complete/wrf2019051000/"
    "wrfout_d01_2019-05-10_00:00:00",
    "BUFFER": 87040,
    "BLOCK": 262144,
    "NBYTES": 2753284040,
    "VOLUME": "/",
    "STREAMS": 1,
    "STRIPES": 1,
    "DEST": ["192.101.102.150"],
    "TYPE": "STOR",
    "CODE": "226",
}


def test_exact_record_keys_in_log_order() -> None:
    records = parse_all(GlobusLogParser(source="gridftp.log"), GLOBUS)
    assert records[0] == FIRST
    assert list(records[0]) == list(FIRST)
    assert isinstance(records[0]["CODE"], str)


def test_file_names_with_spaces_and_equals_stay_whole() -> None:
    records = parse_all(GlobusLogParser(), GLOBUS)
    assert [r["FILE"] for r in records[1:]] == [
        "/home/c/glock/NCAR/wrfdetail/wrf1hr_d03_2015 04-25_00:00:00",
        "/home/c/glock/NCAR/wrfdetail/wrf1hr=d03_2015 05-03_00:00:00",
    ]
    assert [r["BUFFER"] for r in records[1:]] == [235104, 235104]
    assert [len(r) for r in records] == [16, 16, 16]


def test_local_time_as_the_reference() -> None:
    (record, *_) = parse_all(GlobusLogParser(localtime=True), GLOBUS)
    # FORMATS.md section 6.1, computed with TZ=America/Los_Angeles
    assert record["DATE"] == 1564583444.992375
    assert record["START"] == 1564583430.432241


def test_time_stamps() -> None:
    assert gridftp_time("20190731073044.992375") == 1564558244.992375
    assert gridftp_time("20190731073044") == 1564558244.0
    assert gridftp_time("20190731073044.5") == 1564558244.5
    with pytest.raises(ValueError):
        gridftp_time("2019073107304")
    with pytest.raises(ValueError):
        gridftp_time("20191331073044.0")


def test_separators_and_odd_values() -> None:
    text = (
        b"  DATE=20190731073044.992375\tHOST=a   FILE=/x y  z KEY=v DEST=10.0.0.1 CODE=5\r\n"
        b"\n"
        b"TYPE=NLST DEST=[a, b ,c] EMPTY= LAST=the rest =of it  \n"
        b"DEST=[] CODE=226 CODE=550\n"
    )
    records = parse_all(GlobusLogParser(), text)
    assert records == [
        {
            "DATE": 1564558244.992375,
            "HOST": "a",
            "FILE": "/x y  z",
            "KEY": "v",
            "DEST": ["10.0.0.1"],
            "CODE": "5",
        },
        {"TYPE": "NLST", "DEST": ["a", "b", "c"], "EMPTY": "", "LAST": "the rest =of it"},
        {"DEST": [], "CODE": "550"},
    ]


def test_listify_ips() -> None:
    assert _listify_ips("[0.0.0.0]") == ["0.0.0.0"]
    assert _listify_ips("[1.2.3.4, 5.6.7.8]") == ["1.2.3.4", "5.6.7.8"]
    assert _listify_ips("1.2.3.4") == ["1.2.3.4"]
    assert _listify_ips("[]") == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("date=20190731073044.992375 HOST=x", "expected KEY=value pairs"),
        ("DATE=20190731073044.99237x HOST=x", "time stamp"),
        ("DATE=20190731073044.992375 NBYTES=12MB", "invalid literal"),
        ("DATE=20190731076044.992375", "time stamp"),
    ],
)
def test_bad_lines_name_source_and_line(line: str, message: str) -> None:
    lines = GLOBUS_TEXT.splitlines()
    data = "\n".join([*lines[:2], line, *lines[2:]]).encode()
    with pytest.raises(ParseError) as caught:
        parse_all(GlobusLogParser(source="gridftp.log"), data)
    error = caught.value
    assert (error.source, error.line_number) == ("gridftp.log", 3)
    assert message in error.message
    assert error.text == line
    assert error.records == parse_all(GlobusLogParser(), GLOBUS)[:2]


_MIXED = (
    GLOBUS_TEXT
    + "\nTYPE=NLST DEST=[a, b ,c] EMPTY= LAST=the rest =of it\n"
    + GLOBUS_TEXT.replace(" USER", "\tUSER", 1)
    + GLOBUS_TEXT.replace("2019", "2020").replace(" HOST", "  HOST")
    + "DEST=[] CODE=226 CODE=550\n"
    + GLOBUS_TEXT.replace("TYPE=", "X.Y_1=2 TYPE=")
).encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(_MIXED)), max_size=25))
def test_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    whole = parse_all(GlobusLogParser(), _MIXED)
    assert len(whole) == 14
    assert feed_all(GlobusLogParser(), chunked(_MIXED, cuts)) == whole


def test_line_by_line_equals_batches() -> None:
    lines = _MIXED.split(b"\n")
    one_by_one = [r for line in lines for r in parse_all(GlobusLogParser(), line)]
    assert one_by_one == parse_all(GlobusLogParser(), _MIXED)
