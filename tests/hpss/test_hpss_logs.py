"""The sans-IO HPSS FTP and HSI/HTAR log parsers: exact records, chunk invariance, errors."""

from __future__ import annotations

import pytest
from hpss_data import FTP_RECORDS, FTP_TEXT, HSI_TEXT, chunked, feed_all
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.hpss import FtpLogParser, HsiLogParser, _resolutions, get_ascii_resolution

FTP = FTP_TEXT.encode()
HSI = HSI_TEXT.encode()

HSI_RECORDS = [
    (
        "hsi",
        {
            "client_pid": 1035,
            "opname": "LH",
            "return_code": -1,
            "access_latency_sec": 0.03,
            "access_latency_sec_resolution": 0.01,
            "bytes": 0,
            "bytes_sec": 0.0,
            "bytes_sec_resolution": 100.0,
            "cos_id": 0,
            "source_path": "s6c0.out.20190727_041006.1",
            "dest_path": "/home/c/glock/s6_data/ao/s6c0/2019/s6c0.out.20190727_041006.1",
            "account_id": 35136,
            "hpss_uid": 35136,
            "remote_host": "oogabooga.edu",
            "end_timestamp": 1565334301.0,
        },
    ),
    (
        "htar",
        {
            "client_pid": 14301,
            "htar_op": "create",
            "opname": "LH",
            "return_code": 0,
            "bytes": 58178668032,
            "duration_sec": 397.2,
            "duration_sec_resolution": 0.01,
            "bytes_sec": 146472.0,
            "bytes_sec_resolution": 0.1,
            "hpss_path": "/nersc/projects/ptf/ztf/ce7fb38bcb0847f4bb668c8dde847f10.tar",
            "cos_id": 5,
            "account_id": 58888,
            "hpss_uid": 58888,
            "remote_host": "cori02-224.nersc.gov",
            "end_timestamp": 1565420728.0,
            "remote_ftp_host": "",
        },
    ),
    (
        "hsi",
        {
            "client_pid": 12059,
            "opname": "HL",
            "return_code": 0,
            "access_latency_sec": 0.0,
            "access_latency_sec_resolution": 0.01,
            "bytes": 3665510098,
            "bytes_sec": 68638.4 * 1000.0,
            "bytes_sec_resolution": 100.0,
            "cos_id": 0,
            "source_path": "<stdout>",
            "dest_path": "/home/projects/fungal/archive/Coprinus_phaeopunctatus.Copph2.08092019.tar.gz",
            "account_id": 60004,
            "hpss_uid": 60004,
            "remote_host": "dtn01.nersc.gov",
            "end_timestamp": 1565421160.0,
        },
    ),
    (
        "hsi",
        {
            "client_pid": 2204,
            "opname": "FU",
            "return_code": 0,
            "access_latency_sec": 0.0,
            "access_latency_sec_resolution": 0.01,
            "bytes": 215328,
            "bytes_sec": 0.0,
            "bytes_sec_resolution": 100.0,
            "cos_id": 0,
            "source_path": "/home/n/ngeetrop/ngeet_archive/backups/v1.3.0-201907070000-archives.tar.idx",
            "hpss_uid": 72820,
            "remote_host": "dtn03.nersc.gov",
            "end_timestamp": 1565507114.0,
        },
    ),
    (
        "hsi",
        {
            "client_pid": 19323,
            "opname": "FR",
            "return_code": 0,
            "access_latency_sec": 0.0,
            "access_latency_sec_resolution": 0.01,
            "bytes": 0,
            "bytes_sec": 0.0,
            "bytes_sec_resolution": 100.0,
            "cos_id": 0,
            "source_path": "/home/d/du/QC_pub.tgz",
            "dest_path": "/home/d/du/before 08082919/./QC_pub.tgz",
            "hpss_uid": 72185,
            "remote_host": "cori04-224.nersc.gov",
            "end_timestamp": 1565634681.0,
        },
    ),
]


# -- FTP -------------------------------------------------------------------------


def test_ftp_exact_records_and_skipped_popn() -> None:
    parser = FtpLogParser(source="ftp.log")
    records = parse_all(parser, FTP)
    assert records == FTP_RECORDS
    assert [list(r) for _, r in records][0] == list(FTP_RECORDS[0][1])
    assert parser.skipped == 1  # the POPN_Cmd line
    assert parser.line_number == 6


def test_ftp_local_time_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    records = parse_all(FtpLogParser(), FTP)
    assert records[0][1]["end_timestamp"] == 1546243606.0 - 8 * 3600


def test_ftp_day_padding_blank_lines_and_other_commands() -> None:
    text = (
        b"\n"
        b"Mon Feb  4 16:45:04 2019 0.000 host.gov 1000 /p... b o LIST_Cmd r ftp alice\n"
        b"   \n"
        b"Mon Feb  4 16:45:05 2019 1.5 host.gov 10 /p... b i STOR_Cmd r ftp bob fd 0\n"
        b"Mon Feb  4 16:45:05 2019 1 host.gov 10 /p... b i LFSTO_Cmd r ftp bob\n"
        b"not a transfer line at all\n"
    )
    parser = FtpLogParser()
    records = parse_all(parser, text)
    assert [bucket for bucket, _ in records] == ["ftp", "ftp", "pftp"]
    listing = records[0][1]
    assert "opname" not in listing
    assert listing["end_timestamp"] == 1549327504.0
    assert listing["duration_sec"] == 0.0
    # a 0.000 s transfer gets the rate bound of the duration's resolution
    assert listing["bytes_sec"] == 1000 / 0.001
    assert records[1][1]["opname"] == "LH"
    assert records[1][1]["duration_sec_resolution"] == 0.1
    assert records[2][1]["opname"] == "LH"
    assert records[2][1]["duration_sec_resolution"] == 1.0
    assert parser.skipped == 1


def test_ftp_path_with_spaces_is_recovered() -> None:
    text = b"Mon Jul 29 15:44:22 2019 0.800 dtn02.nersc.gov 8 /home/n/my file... b o PRTR_Cmd r ftp nickb fd 0\n"
    ((bucket, record),) = parse_all(FtpLogParser(), text)
    assert bucket == "pftp"
    assert record["hpss_path"] == "/home/n/my file..."
    assert record["hpss_uid"] == "nickb"
    assert record["bytes"] == 8


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "Mon Dec 31 00:06:48 2018 0.430 host 12x /p... b o RETR_Cmd r ftp u",
            "bad FTP transfer record",
        ),
        ("Mon Dec 32 00:06:48 2018 0.430 host 1 /p... b o RETR_Cmd r ftp u", "bad FTP transfer"),
        ("Mon Dec 31 0:06:48 2018 0.430 host 1 /p... b o RETR_Cmd r ftp u", "bad FTP transfer"),
        ("Mon Dec 31 00:06:48 2018 0.430 host 1 /p... b o RETR_Cmd r ftp", "without a user"),
    ],
)
def test_ftp_bad_record_names_source_and_line(line: str, message: str) -> None:
    lines = FTP_TEXT.splitlines()
    data = "\n".join([*lines[:3], line, *lines[3:]]).encode()
    with pytest.raises(ParseError) as caught:
        parse_all(FtpLogParser(source="ftp.log"), data)
    error = caught.value
    assert error.source == "ftp.log"
    assert error.line_number == 4
    assert message in error.message
    assert str(error).startswith("ftp.log:4: ")
    assert error.text == line
    assert error.records == FTP_RECORDS[:2]


# -- HSI / HTAR --------------------------------------------------------------------------


def test_hsi_exact_records() -> None:
    records = parse_all(HsiLogParser(source="hsi.log"), HSI)
    assert records == HSI_RECORDS
    assert [list(r) for _, r in records] == [list(r) for _, r in HSI_RECORDS]


def test_htar_without_remote_host_and_other_applications() -> None:
    text = (
        b"Sat Aug 10 00:05:28 2019 cori02 htar 58888 14301\textract\tHL\t0\t100\t2.00\t0.05\t/p.tar\t5\t58888\n"
        b"Sat Aug 10 00:05:29 2019 cori02 pftp 58888 14301\tLH\t0\n"
        b"\n"
    )
    parser = HsiLogParser()
    ((bucket, record),) = parse_all(parser, text)
    assert bucket == "htar"
    assert "remote_ftp_host" not in record
    assert record["htar_op"] == "extract"
    assert (record["cos_id"], record["account_id"]) == (5, 58888)
    assert record["bytes_sec"] == 0.05
    assert record["bytes_sec_resolution"] == 0.01
    assert parser.skipped == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Sat Aug 10 00:05:28 2019 host hsi", "expected 8 space-separated fields"),
        ("Sat Aug 10 00:05:28 2019 host hsi 1 2\tLH\t0\t0.0\t0\t0.0\t0\tsrc\tdst", "at least 18"),
        ("Sat Aug 10 00:05:28 2019 host hsi 1 2\tFR\t0\t0.0\t0\t0.0\t0\tsrc", "at least 17"),
        (
            "Sat Aug 10 00:05:28 2019 host htar 1 2\tcreate\tLH\t0\t1\t1.0\t1.0\tp\ta\tb\tc\td",
            "18 or 19",
        ),
        ("Sat Aug 10 00:05:28 2019 host hsi 1 2\tFU\t0\t0.0\tmany\t0.0\t0\tsrc\t", "bad HSI/HTAR"),
        ("Sat Aug 10 25:05:28 2019 host hsi 1 2\tFU\t0\t0.0\t1\t0.0\t0\tsrc\t", "bad HSI/HTAR"),
    ],
)
def test_hsi_bad_lines_name_source_and_line(line: str, message: str) -> None:
    lines = HSI_TEXT.splitlines()
    data = "\n".join([*lines[:2], line, *lines[2:]]).encode()
    with pytest.raises(ParseError) as caught:
        parse_all(HsiLogParser(source="hsi.log"), data)
    error = caught.value
    assert (error.source, error.line_number) == ("hsi.log", 3)
    assert message in error.message
    assert error.records == HSI_RECORDS[:2]


# -- any chunking, the same records ------------------------------------------------------

_MIXED_FTP = (
    FTP_TEXT
    + "\nMon Feb  4 16:45:04 2019 0.000 host.gov 1000 /p... b o LIST_Cmd r ftp alice\n"
    + "Mon Jul 29 15:44:22 2019 0.800 h 8 /home/n/my file... b o PRTR_Cmd r ftp nickb fd 0\r\n"
    + "garbage\n"
    + FTP_TEXT.replace("2019", "2020")
).encode()
_MIXED_HSI = (
    HSI_TEXT
    + "\nSat Aug 10 00:05:29 2019 cori02 pftp 58888 14301\tLH\t0\n"
    + "Sat Aug 10 00:05:28 2019 cori02 htar 1 2\textract\tHL\t0\t100\t2.00\t0.05\t/p.tar\t5\t3\r\n"
    + "Sat Aug 10 00:05:28 2019 c hsi 1 2\tLH\t0\t 0.5 \t1\t1.25\t0\ts\td\t7\n"
    + HSI_TEXT.replace("Aug", "Dec")
).encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(_MIXED_FTP)), max_size=25))
def test_ftp_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    whole = parse_all(FtpLogParser(), _MIXED_FTP)
    assert len(whole) == 12
    assert feed_all(FtpLogParser(), chunked(_MIXED_FTP, cuts)) == whole


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, len(_MIXED_HSI)), max_size=25))
def test_hsi_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    whole = parse_all(HsiLogParser(), _MIXED_HSI)
    assert len(whole) == 12
    assert feed_all(HsiLogParser(), chunked(_MIXED_HSI, cuts)) == whole


def test_ftp_batch_path_equals_the_grouped_path() -> None:
    """Times read from the line prefixes give what the split date fields give."""
    odd = "Mon  Feb  4 16:45:04 2019\t0.500 h 2 /p... b o RETR_Cmd r ftp bob\n"  # no ctime prefix
    for text in (_MIXED_FTP.decode(), _MIXED_FTP.decode() + odd):
        lines = text.splitlines()
        grouped = FtpLogParser()
        groups, failure = grouped.classify(lines)
        assert failure is None
        expected = grouped._convert(groups)
        batch = FtpLogParser()
        assert batch.parse_batch(lines) == expected
        assert batch.skipped == grouped.skipped == 3  # two POPN_Cmd lines and "garbage"
    assert expected[-1] == (
        "ftp",
        {
            "end_timestamp": expected[-1][1]["start_timestamp"] + 0.5,
            "opname": "HL",
            "duration_sec": 0.5,
            "duration_sec_resolution": 0.001,
            "remote_host": "h",
            "bytes": 2,
            "hpss_path": "/p...",
            "hpss_uid": "bob",
            "start_timestamp": expected[-1][1]["start_timestamp"],
            "bytes_sec": 4.0,
        },
    )


def test_ftp_batch_with_a_bad_line_declines_and_keeps_skipped() -> None:
    lines = [*FTP_TEXT.splitlines(), "Mon Dec 31 00:06:48 2018 0.4 h 1 /p... b o RETR_Cmd r ftp"]
    parser = FtpLogParser()
    assert parser.parse_batch(lines) is None
    assert parser.skipped == 0


def test_byte_by_byte_and_unterminated_last_line() -> None:
    data = HSI.rstrip(b"\n")
    parser = HsiLogParser()
    assert feed_all(parser, [data[i : i + 1] for i in range(len(data))]) == HSI_RECORDS
    assert parser.line_number == 5


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 7), st.lists(st.integers(0, 4000), max_size=12))
def test_errors_are_found_at_the_same_line_for_any_chunking(where: int, cuts: list[int]) -> None:
    lines = (FTP_TEXT * 2).splitlines()
    lines.insert(where, "Mon Dec 31 00:06:48 2018 0.4x0 host 1 /p... b o RETR_Cmd r ftp u")
    data = "\n".join(lines).encode()
    parser = FtpLogParser(source="x")
    records = []
    with pytest.raises(ParseError) as caught:
        for chunk in chunked(data, cuts):
            records.extend(parser.feed(chunk))
        records.extend(parser.close())
    records.extend(caught.value.records)  # type: ignore[arg-type]
    assert caught.value.line_number == where + 1
    assert records == parse_all(FtpLogParser(), "\n".join(lines[:where]).encode())


@pytest.mark.parametrize(
    ("text", "resolution"),
    [
        ("0.010", 0.001),
        ("0.000", 0.001),
        ("0.0", 0.1),
        ("397.20", 0.01),
        ("33", 1.0),
        (" 12.5 ", 0.1),
    ],
)
def test_ascii_resolution(text: str, resolution: float) -> None:
    assert get_ascii_resolution(text) == resolution


@pytest.mark.parametrize(
    "column",
    [
        ["0.010", "0.4", "397.20", ".5", "5.", "12.000000"],
        ["0.010", "33", "1.5"],  # a value without a dot
        ["0.010", " 12.5 ", "1.5"],  # blanks
        ["1.2.3", "4.5"],  # two dots
        ["1.25", "2.5\u00b5"],  # not ASCII
        ["0." + "0" * 400],  # more decimals than the table holds
    ],
)
def test_column_resolutions_equal_the_scalar_form(column: list[str]) -> None:
    assert _resolutions(column).tolist() == [get_ascii_resolution(text) for text in column]
