"""The sans-IO sacct parser: records, chunk invariance, errors."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slurm_data import NODES, OTHER_JOB, SAMPLE_JOB, sacct_text

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.sacct import SacctParser, build_sacct_dict

P2 = sacct_text(SAMPLE_JOB).encode()
P1 = sacct_text(SAMPLE_JOB, parsable2=False).encode()


def _dt(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")


def test_reconstructed_sample_text_shape() -> None:
    lines = P1.decode().splitlines()
    assert lines[0] == "JobIDRaw|Start|End|NodeList|"
    assert "4478544.batch|2017-03-20T01:59:02|2017-03-20T02:11:38|nid05301|" in lines
    assert "4478544|2017-03-20T01:59:02|2017-03-20T02:11:38|nid0[5301-5428]|" in lines


@pytest.mark.parametrize("text", [P1, P2], ids=["parsable", "parsable2"])
def test_exact_records(text: bytes) -> None:
    records = parse_all(SacctParser(), text)
    assert [r["jobidraw"] for r in records] == list(SAMPLE_JOB)
    for record in records:
        expected = SAMPLE_JOB[record["jobidraw"]]
        assert list(record) == ["jobidraw", "start", "end", "nodelist"]
        assert record["start"] == _dt(str(expected["start"]))
        assert record["end"] == _dt(str(expected["end"]))
        assert record["nodelist"] == set(expected["nodelist"])  # type: ignore[arg-type]
        assert isinstance(record["nodelist"], set)
    batch = build_sacct_dict(records)["4478544.batch"]
    assert batch["nodelist"] == {"nid05301"}


def test_raw_records_keep_the_text() -> None:
    records = parse_all(SacctParser(recast=False), P1)
    assert records[6] == {
        "jobidraw": "4478544",
        "start": "2017-03-20T01:59:02",
        "end": "2017-03-20T02:11:38",
        "nodelist": "nid0[5301-5428]",
    }


def test_unknown_times_and_unassigned_nodes() -> None:
    text = (
        b"JobIDRaw|Start|End|NodeList|State\n"
        b"7|2017-03-20T01:00:00|Unknown|nid[01-02]|RUNNING\n"
        b"8|Unknown|Unknown|None assigned|PENDING\n"
        b"9|None|None||CANCELLED\n"
    )
    first, second, third = parse_all(SacctParser(), text)
    assert first == {"jobidraw": "7", "start": _dt("2017-03-20T01:00:00"), "end": None,
                     "nodelist": {"nid01", "nid02"}, "state": "RUNNING"}  # fmt: skip
    assert second["start"] is None and second["nodelist"] == set()
    assert third["end"] is None and third["nodelist"] == set()


def test_blank_lines_crlf_and_repeated_header_are_skipped() -> None:
    text = b"\r\n" + P2.replace(b"\n", b"\r\n") + b"\n\n" + P2
    records = parse_all(SacctParser(), text)
    assert len(records) == 2 * len(SAMPLE_JOB)


def test_no_trailing_newline_and_empty_input() -> None:
    assert len(parse_all(SacctParser(), P2.rstrip(b"\n"))) == len(SAMPLE_JOB)
    assert parse_all(SacctParser(), b"") == []
    assert parse_all(SacctParser(), b"JobIDRaw|Start|End|NodeList\n") == []


def test_field_count_error_names_source_and_line() -> None:
    parser = SacctParser(source="jobs.txt")
    good = parser.feed(P2)
    assert len(good) == len(SAMPLE_JOB)
    with pytest.raises(ParseError) as caught:
        parser.feed(b"4478544.9|2017-03-20T02:00:00\n")
    error = caught.value
    assert (error.source, error.line_number, error.text) == (
        "jobs.txt",
        13,
        "4478544.9|2017-03-20T02:00:00",
    )
    assert str(error).startswith("jobs.txt:13: expected 4 '|'-separated fields")


def test_error_keeps_the_records_before_the_bad_line() -> None:
    text = P2 + b"bad|line\n"
    parser = SacctParser(source="s")
    with pytest.raises(ParseError) as caught:
        parser.feed(text)
    assert [r["jobidraw"] for r in caught.value.records] == list(SAMPLE_JOB)  # type: ignore[index]
    assert caught.value.records[0]["nodelist"] == set(NODES)  # type: ignore[index]


def test_bad_time_and_bad_nodelist_name_the_line() -> None:
    text = b"JobIDRaw|Start|End|NodeList\n1|2017-03-20T01:00:00|2017-03-20T02:00:00|n1\n" \
           b"\n2|yesterday|2017-03-20T02:00:00|n2\n"  # fmt: skip
    with pytest.raises(ParseError, match=r"^t:4: bad start value: 'yesterday'") as caught:
        parse_all(SacctParser(source="t"), text)
    assert [r["jobidraw"] for r in caught.value.records] == ["1"]  # type: ignore[index]
    text = b"JobIDRaw|NodeList\n1|n1\n2|nid[3-1]\n"
    with pytest.raises(ParseError, match=r"^t:3: bad nodelist value: descending range"):
        parse_all(SacctParser(source="t"), text)


def test_truncated_last_line_fails_at_close() -> None:
    parser = SacctParser(source="cut")
    parser.feed(P2[:-30])
    with pytest.raises(ParseError, match=r"^cut:12: expected 4"):
        parser.close()


def test_bad_header() -> None:
    with pytest.raises(ParseError, match="repeats a field"):
        parse_all(SacctParser(), b"JobIDRaw|Start|start\n")


def test_repeated_key_warns_and_later_wins(caplog: pytest.LogCaptureFixture) -> None:
    text = b"JobIDRaw|State\n5|RUNNING\n5|COMPLETED\n"
    data = build_sacct_dict(parse_all(SacctParser(recast=False), text), source="dup")
    assert data == {"5": {"jobidraw": "5", "state": "COMPLETED"}}
    assert "dup: job/step 5 appears more than once" in caplog.text


def test_empty_header_column_in_the_middle() -> None:
    records = parse_all(SacctParser(recast=False), b"JobIDRaw||State\n1|x|RUNNING\n")
    assert records == [{"jobidraw": "1", "state": "RUNNING"}]


BIG = sacct_text({**SAMPLE_JOB, **OTHER_JOB}, ("jobidraw", "start", "end", "nodelist", "jobname"),
                 parsable2=False).encode() * 3  # fmt: skip
BIG_RECORDS = parse_all(SacctParser(), BIG)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(BIG)), max_size=40), st.booleans())
def test_any_chunking_gives_the_same_records(cuts: list[int], recast: bool) -> None:
    points = sorted(set(cuts))
    parser = SacctParser(recast=recast)
    records = []
    previous = 0
    for point in [*points, len(BIG)]:
        records.extend(parser.feed(BIG[previous:point]))
        previous = point
    records.extend(parser.close())
    expected = BIG_RECORDS if recast else parse_all(SacctParser(recast=False), BIG)
    assert records == expected


def test_byte_by_byte() -> None:
    parser = SacctParser()
    records = []
    for index in range(len(P1)):
        records.extend(parser.feed(P1[index : index + 1]))
    records.extend(parser.close())
    assert records == parse_all(SacctParser(), P1)
