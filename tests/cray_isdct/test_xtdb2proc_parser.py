"""The sans-IO ``xtdb2proc -f -`` parser: exact records, any chunking, errors."""

from __future__ import annotations

import gzip

import pytest
from cray_isdct_data import SMALL_TABLE, corpus_input, processor, xtdb2proc_line, xtdb2proc_text
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.xtdb2proc import Xtdb2procParser, format_value, parse_value

REAL_LINE = (
    "cpu=0,slot=2,cage=0,cabinet=null,cab_position=2,cab_row=3,x_coord=13,y_coord=0,z_coord=2,"
    "process_slots=4,process_slots_free=4,processor_status='up',processor_type='compute',"
    "alloc_mode='interactive',processor_id=5000,od_allocator_id=0,next_red_black_switch=null,"
    "processor_spec=null"
)


def parse(text: str | bytes, source: str = "t.txt") -> list[dict]:
    data = text.encode() if isinstance(text, str) else text
    return parse_all(Xtdb2procParser(source=source), data)


def test_real_line_gives_typed_record_in_field_order() -> None:
    [record] = parse(REAL_LINE + "\n")
    assert record == {
        "cpu": 0, "slot": 2, "cage": 0, "cabinet": None, "cab_position": 2, "cab_row": 3,
        "x_coord": 13, "y_coord": 0, "z_coord": 2, "process_slots": 4, "process_slots_free": 4,
        "processor_status": "up", "processor_type": "compute", "alloc_mode": "interactive",
        "processor_id": 5000, "od_allocator_id": 0, "next_red_black_switch": None,
        "processor_spec": None,
    }  # fmt: skip
    assert list(record)[:3] == ["cpu", "slot", "cage"]
    assert list(record)[-1] == "processor_spec"


def test_comments_and_blank_lines_are_skipped_and_last_line_needs_no_newline() -> None:
    text = xtdb2proc_text(SMALL_TABLE) + "\n   \n" + xtdb2proc_line(processor(99, 1, 2, 3))
    records = parse(text)
    assert [r["processor_id"] for r in records] == [10, 11, 12, 13, 20, 21, 99]
    assert records[-1]["x_coord"] == 1 and records[-1]["z_coord"] == 3
    assert records[5]["processor_type"] == "service"


def test_crlf_line_ends() -> None:
    [record] = parse(REAL_LINE + "\r\n")
    assert record["processor_spec"] is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("'up'", "up"), ("''", ""), ("null", None), ("13", 13), ("-2", -2), ("0", 0),
     ("abc", "abc"), ("1.5", "1.5"), ("'a=b'", "a=b"), ("", "")],
)  # fmt: skip
def test_parse_value(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


@pytest.mark.parametrize("value", ["up", "", None, 13, -2, 0])
def test_format_value_inverts_parse_value(value: object) -> None:
    assert parse_value(format_value(value)) == value  # type: ignore[arg-type]


def test_value_split_at_first_equals() -> None:
    [record] = parse("processor_id=7,processor_spec='k=v'\n")
    assert record == {"processor_id": 7, "processor_spec": "k=v"}


def test_pair_without_equals_is_an_error_with_source_and_line() -> None:
    text = "# c\n" + REAL_LINE + "\nprocessor_id=5,broken\n"
    with pytest.raises(ParseError) as caught:
        parse(text, source="sdb.txt")
    error = caught.value
    assert (error.source, error.line_number) == ("sdb.txt", 3)
    assert error.text == "processor_id=5,broken"
    assert str(error).startswith("sdb.txt:3: expected key=value")
    assert [r["processor_id"] for r in error.records] == [5000]  # what came before is kept


def test_record_without_processor_id_is_an_error() -> None:
    with pytest.raises(ParseError, match=r"x:1: record has no processor_id"):
        parse("cpu=0,slot=2\n", source="x")


def test_long_bad_line_is_cut_short_in_the_message() -> None:
    with pytest.raises(ParseError) as caught:
        parse("a" * 500 + "\n")
    assert len(str(caught.value)) < 200
    assert "..." in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_chunking_gives_the_same_records(data: st.DataObject) -> None:
    text = (xtdb2proc_text(SMALL_TABLE) + REAL_LINE + "\r\n" + REAL_LINE).encode()
    expected = parse(text)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=12)))
    parser = Xtdb2procParser()
    records: list[dict] = []
    start = 0
    for cut in [*cuts, len(text)]:
        records.extend(parser.feed(text[start:cut]))
        start = cut
    records.extend(parser.close())
    assert records == expected
    assert len(records) == len(SMALL_TABLE) + 2


def test_byte_by_byte_equals_one_chunk() -> None:
    text = xtdb2proc_text(SMALL_TABLE).encode()
    parser = Xtdb2procParser()
    records = [r for i in range(len(text)) for r in parser.feed(text[i : i + 1])]
    records += parser.close()
    assert records == parse(text)


def test_corpus_sample_has_499_records() -> None:
    data = gzip.decompress(corpus_input("sample.xtdb2proc.gz").read_bytes())
    records = parse(data)
    assert len(records) == 499
    assert records[0]["processor_id"] == 5000
    assert (records[0]["x_coord"], records[0]["y_coord"], records[0]["z_coord"]) == (13, 0, 2)
    assert records[-1]["processor_id"] == 2261
    assert sum(r["processor_type"] == "service" for r in records) == 2
