"""The sans-IO parser of ESnet SNMP REST answers: exact records, any chunking, clear errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from esnet_data import T0
from esnet_server import Data, EsnetServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError
from atokio.parsers.esnet_snmp import EsnetSnmpParser, Field, Point, interval_of, parse_response


def answer_of(data: Data, key: str = "sunn-cr5:to_nersc_ip-b:in", **query: str) -> dict[str, Any]:
    """The JSON answer the loopback server gives for the 01:00-01:05 window."""
    got = EsnetServer(data).answer(key, {"begin": str(T0), "end": str(T0 + 300), **query})
    assert got is not None
    return got


def expected_records(answer: dict[str, Any]) -> list[Field | Point]:
    out: list[Field | Point] = []
    for key, value in answer.items():
        if key == "data":
            out.extend(Point(t, v) for t, v in value)
        else:
            out.append(Field(key, value))
    return out


def feed_in_pieces(body: bytes, cuts: list[int]) -> list[Field | Point]:
    parser = EsnetSnmpParser("test")
    records: list[Field | Point] = []
    last = 0
    for cut in sorted(set(cuts)):
        records.extend(parser.feed(body[last:cut]))
        last = cut
    records.extend(parser.feed(body[last:]))
    records.extend(parser.close())
    return records


def test_records_of_an_answer(data: Data) -> None:
    answer = answer_of(data)
    records = parse_response(json.dumps(answer).encode())
    assert records == expected_records(answer)
    assert [r.name for r in records if isinstance(r, Field)] == [
        "agg",
        "begin_time",
        "end_time",
        "cf",
    ]
    points = [r for r in records if isinstance(r, Point)]
    assert len(points) == 11
    assert points[0].timestamp == T0 and points[-1].timestamp == T0 + 300
    series = data["sunn-cr5"]["to_nersc_ip-b"]["in"]
    assert [p.value for p in points] == [series[t] for t in sorted(series)]  # exact floats


def test_calc_answer_and_interval() -> None:
    from esnet_data import generated

    answer = answer_of(generated(), calc="60", calc_func="max")
    records = parse_response(json.dumps(answer).encode())
    assert Field("calc", "60") in records and Field("calc_func", "max") in records
    assert interval_of(records) == 60
    assert interval_of({"agg": "30", "calc": 60}) == 30
    assert interval_of({"calc": 120}) == 120
    assert interval_of({"begin_time": 1}) is None


BODY = (
    b'{"agg": "30", "note": {"text": "d\xc3\xa9bit \xe2\x86\x92 ESnet", "list": [1, 2.5, null]},\n'
    b' "data": [[1549875600, 130809025.03333333], [1549875630, null], [1549875660, 7],\n'
    b'          [1549875690.0, 1e-05]], "cf": "average"}'
)
BODY_RECORDS = [
    Field("agg", "30"),
    Field("note", {"text": "débit → ESnet", "list": [1, 2.5, None]}),
    Point(1549875600, 130809025.03333333),
    Point(1549875630, None),
    Point(1549875660, 7),
    Point(1549875690, 1e-05),
    Field("cf", "average"),
]


def test_nulls_ints_nested_members_and_unicode() -> None:
    assert parse_response(BODY) == BODY_RECORDS
    assert isinstance(parse_response(BODY)[4].value, int)  # an int stays an int, as json.loads


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(BODY)), max_size=40))
def test_any_chunking_gives_the_same_records(cuts: list[int]) -> None:
    assert feed_in_pieces(BODY, cuts) == BODY_RECORDS


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_any_chunking_of_a_served_answer(draw: st.DataObject) -> None:
    from esnet_data import generated

    answer = answer_of(generated())
    body = json.dumps(answer, indent=draw.draw(st.sampled_from([None, 2]))).encode()
    cuts = draw.draw(st.lists(st.integers(min_value=0, max_value=len(body)), max_size=30))
    assert feed_in_pieces(body, cuts) == expected_records(answer)


def test_byte_by_byte() -> None:
    assert feed_in_pieces(BODY, list(range(len(BODY)))) == BODY_RECORDS


def test_every_truncation_is_an_error() -> None:
    """No prefix of an answer passes for a whole one (nothing is lost silently)."""
    for end in range(len(BODY)):
        parser = EsnetSnmpParser("cut")
        records = parser.feed(BODY[:end])
        with pytest.raises(ParseError) as caught:
            records += parser.close()
        assert str(caught.value).startswith("cut:1: ")
        got = records + list(caught.value.records)  # type: ignore[arg-type]
        assert got == BODY_RECORDS[: len(got)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "src:1: empty answer"),
        (b"  \n", "src:1: empty answer"),
        (b"[1, 2]", "src:1: the answer is not a JSON object"),
        (b"42", "src:1: the answer is not a JSON object"),
        (b'{"data": 5}', "src:1: 'data' must be a list of [epoch, value] pairs"),
        (b'{"data": [[1]]}', "src:1: a point must be [epoch, value], not [1]"),
        (b'{"data": [[1, 2, 3]]}', "src:1: a point must be [epoch, value]"),
        (b'{"data": [5]}', "src:1: a point must be a [epoch, value] list"),
        (b'{"data": [[1, "x"]]}', "src:1: a point must hold two numbers, not string"),
        (b'{"data": [[null, 1]]}', "src:1: a point must be [epoch, value]"),
        (b'{"agg": tru}', "src:1: invalid JSON"),
        (b"{} {}", "src:1: invalid JSON"),
        (b'{"data": [[1, 2]', "src:1: truncated answer"),
    ],
)
def test_bad_answers(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        parse_response(body, "src")


def test_records_before_an_error_are_kept() -> None:
    parser = EsnetSnmpParser("src")
    with pytest.raises(ParseError) as caught:
        parser.feed(b'{"agg": "30", "data": [[1, 2], [3, 4], [5, "x"]]}')
    assert caught.value.records == [Field("agg", "30"), Point(1, 2), Point(3, 4)]


def test_data_null_is_an_answer_without_points() -> None:
    assert parse_response(b'{"agg": "30", "data": null}') == [Field("agg", "30")]
    assert parse_response(b'{"agg": "30", "data": []}') == [Field("agg", "30")]


def test_feed_after_close() -> None:
    parser = EsnetSnmpParser()
    parser.feed(b"{}")
    parser.close()
    assert parser.close() == []
    with pytest.raises(RuntimeError, match="feed"):
        parser.feed(b"{}")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.data())
def test_an_error_is_the_same_at_any_chunking(draw: st.DataObject) -> None:
    # issue 13 items 7 and 8: errors had no line and an offset relative to the chunk
    from esnet_data import generated

    answer = answer_of(generated())
    good = json.dumps(answer, indent=2).encode()
    where = draw.draw(st.integers(min_value=1, max_value=len(good) - 1))
    bad = good[:where] + draw.draw(st.sampled_from([b"x", b"}", b"[[", b"\x00", b"9" * 5000]))
    bad += good[where:]

    def outcome(cuts: list[int]) -> tuple[list, str]:
        parser = EsnetSnmpParser("body")
        got: list = []
        edges = [0, *sorted(set(cuts)), len(bad)]
        try:
            for start, stop in zip(edges, edges[1:], strict=False):
                got += parser.feed(bad[start:stop])
            got += parser.close()
        except ParseError as error:
            assert error.line_number is not None
            return got + list(error.records), str(error)
        return got, ""

    whole = outcome([])
    assert outcome(list(range(len(bad)))) == whole
    cuts = draw.draw(st.lists(st.integers(min_value=0, max_value=len(bad)), max_size=20))
    assert outcome(cuts) == whole
