"""The sans-IO collectd parser: hits -> records, and the incremental JSON page reader."""

from __future__ import annotations

import datetime
import json
from typing import Any

import numpy as np
import pytest
from es_server import collectd_hit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError
from atokio.parsers.collectd import (
    DATASETS,
    CollectdParser,
    PageParser,
    Records,
    epoch_seconds,
    hits_to_records,
    page_hits,
)


def hit(**source: Any) -> dict[str, Any]:
    return {"_id": "x", "_index": "i", "_score": 1.0, "_type": "doc", "_source": source}


T = "2017-12-13T08:26:20.677Z"
EPOCH = datetime.datetime(2017, 12, 13, 8, 26, 20, 677000, tzinfo=datetime.UTC).timestamp()


def as_list(records: Records) -> list[tuple[str, float, str, float]]:
    return [
        (DATASETS[d], e, c, v)
        for d, e, c, v in zip(
            records.datasets.tolist(),
            records.epochs.tolist(),
            records.columns.tolist(),
            records.values.tolist(),
            strict=True,
        )
    ]


def test_each_plugin_maps_to_its_datasets() -> None:
    hits = [
        hit(**{"@timestamp": T}, plugin="disk", collectd_type="disk_octets", hostname="bb4",
            plugin_instance="nvme2n1", read=0.0, write=22579.1),
        hit(**{"@timestamp": T}, plugin="disk", collectd_type="disk_ops", hostname="bb4",
            plugin_instance="nvme0n1", read=3.0, write=4.5),
        hit(**{"@timestamp": T}, plugin="cpu", type_instance="idle", hostname="bb1", value=93.5),
        hit(**{"@timestamp": T}, plugin="cpu", type_instance="user", hostname="bb1", value=5.0),
        hit(**{"@timestamp": T}, plugin="cpu", type_instance="system", hostname="bb1", value=1.5),
        hit(**{"@timestamp": T}, plugin="cpu", type_instance="nice", hostname="bb1", value=1.5),
        hit(**{"@timestamp": T}, plugin="memory", type_instance="slab_unrecl", hostname="bb2", value=7.0),
        hit(**{"@timestamp": T}, plugin="memory", type_instance="cached", hostname="bb2", value=8.0),
        hit(**{"@timestamp": T}, plugin="load", hostname="bb2", shortterm=1.0),
    ]  # fmt: skip
    records = hits_to_records(hits)
    assert as_list(records) == [
        ("datatargets/readrates", EPOCH, "bb4:nvme2n1", 0.0),
        ("datatargets/writerates", EPOCH, "bb4:nvme2n1", 22579.1),
        ("datatargets/readoprates", EPOCH, "bb4:nvme0n1", 3.0),
        ("datatargets/writeoprates", EPOCH, "bb4:nvme0n1", 4.5),
        ("dataservers/cpuload", EPOCH, "bb1", 6.5),
        ("dataservers/cpuuser", EPOCH, "bb1", 5.0),
        ("dataservers/cpusys", EPOCH, "bb1", 1.5),
        ("dataservers/memslab_unrecl", EPOCH, "bb2", 7.0),
        ("dataservers/memcached", EPOCH, "bb2", 8.0),
    ]
    assert records.hit_index.tolist() == [0, 0, 1, 1, 2, 3, 4, 6, 7]
    assert (records.hits, records.no_source, records.incomplete, records.bad_timestamp) == (
        9,
        0,
        0,
        0,
    )


def test_incomplete_and_bad_hits_are_counted_and_skipped() -> None:
    hits = [
        {"_id": "no-source"},
        hit(**{"@timestamp": T}, plugin="disk", collectd_type="disk_octets", hostname="bb1",
            plugin_instance="nvme0n1", read=1.0),
        hit(**{"@timestamp": T}, plugin="cpu", type_instance="idle", hostname="bb1"),
        hit(**{"@timestamp": "yesterday"}, plugin="memory", type_instance="used", hostname="bb1", value=1.0),
        hit(**{"@timestamp": T}, plugin="memory", type_instance="used", hostname="bb1", value=2.0),
    ]  # fmt: skip
    records = hits_to_records(hits)
    assert as_list(records) == [("dataservers/memused", EPOCH, "bb1", 2.0)]
    assert (records.no_source, records.incomplete, records.bad_timestamp) == (1, 2, 1)
    assert records.hit_index.tolist() == [4]


def test_time_stamp_forms() -> None:
    stamps = [
        "2017-12-13T08:00:00Z",
        "2017-12-13T08:00:00.5Z",
        "2017-12-13T00:00:00-08:00",
        "2017-12-13T08:00:00",  # no zone: UTC, as Elasticsearch stores it
        1513152000250,  # epoch milliseconds
        "garbage",
        None,
    ]
    got = epoch_seconds(stamps)
    base = 1513152000.0
    assert got[:5].tolist() == [base, base + 0.5, base, base, base + 0.25]
    assert np.isnan(got[5:]).all()
    # the fast path gives exactly what the general one does
    zulu = ["2017-12-13T08:26:20.677Z", "2020-02-29T23:59:59.999999Z"]
    fast = epoch_seconds(zulu)
    slow = [datetime.datetime.fromisoformat(s).timestamp() for s in zulu]
    assert fast.tolist() == pytest.approx(slow, abs=1e-6)


def test_page_hits_accepts_lists_and_responses() -> None:
    hits = [hit(plugin="x")]
    assert page_hits(hits) is hits
    assert page_hits({"_scroll_id": "0", "hits": {"hits": hits}}) == hits
    assert page_hits({"hits": {"hits": []}}) == []
    with pytest.raises(TypeError):
        page_hits("page")


def encode(pages: list[Any]) -> bytes:
    return json.dumps(pages).encode()


def test_page_parser_reads_pages_as_they_close() -> None:
    pages = [[hit(a=1)], {"hits": {"hits": [hit(b="ü")]}}, []]
    data = b"  \n" + encode(pages) + b"\n"
    parser = PageParser("t")
    first = parser.feed(data[: data.index(b"]") + 1])  # the first page is complete
    assert first == [pages[0]]
    assert first + parser.feed(data[data.index(b"]") + 1 :]) + parser.close() == pages


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty input"),
        (b"[[1], [2]", "truncated input"),
        (b"[[1], [2", "bad JSON"),
        (b'{"a": 1}', "expected a JSON list of pages"),
        (b"[[1] [2]]", "expected ',' or ']'"),
        (b"[[1], 5]", "a page must be a list"),
        (b"[[1]] x", "unexpected data"),
    ],
)
def test_page_parser_errors(data: bytes, message: str) -> None:
    parser = PageParser("cache.json")
    with pytest.raises(ParseError, match=message) as caught:
        parser.feed(data)
        parser.close()
    assert caught.value.source == "cache.json"


def test_page_parser_error_names_the_line() -> None:
    parser = PageParser("cache.json")
    parser.feed(b'[\n[1],\n[2],\n[{"a": tru}]\n]')
    with pytest.raises(ParseError) as caught:
        parser.close()
    assert caught.value.line_number == 4


# -- chunk and page invariance -------------------------------------------------------------


def variant_hits(positions: list[int]) -> list[dict[str, Any]]:
    """Generated documents plus a few broken ones, deterministic in the positions."""
    hits = []
    for position in positions:
        h = collectd_hit(position, nodes=3)
        if position % 17 == 0:
            h = {"_id": h["_id"]}  # no _source
        elif position % 13 == 0:
            h["_source"].pop("read", None)
            h["_source"].pop("value", None)
        hits.append(h)
    return hits


def same_records(a: Records, b: Records) -> bool:
    return (
        a.datasets.tolist() == b.datasets.tolist()
        and a.epochs.tolist() == b.epochs.tolist()
        and a.columns.tolist() == b.columns.tolist()
        and a.values.tolist() == b.values.tolist()
        and (a.hits, a.no_source, a.incomplete, a.bad_timestamp)
        == (b.hits, b.no_source, b.incomplete, b.bad_timestamp)
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    positions=st.lists(st.integers(0, 5000), max_size=80),
    cuts=st.lists(st.integers(0, 80), max_size=10),
    chunk=st.integers(1, 400),
)
def test_any_split_into_pages_and_chunks_gives_the_same_records(
    positions: list[int], cuts: list[int], chunk: int
) -> None:
    hits = variant_hits(positions)
    whole = hits_to_records(hits)
    bounds = sorted({0, len(hits), *(c for c in cuts if c <= len(hits))})
    pages = [hits[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    by_page = Records.concat([hits_to_records(p) for p in pages])
    assert same_records(by_page, whole)

    data = encode(pages)
    parser = CollectdParser("generated")
    parts: list[Records] = []
    for start in range(0, len(data), chunk):
        parts.extend(parser.feed(data[start : start + chunk]))
    parts.extend(parser.close())
    assert len(parts) == len(pages)
    assert same_records(Records.concat(parts), whole)


def test_corpus_cache_byte_by_byte(full_pages: list[Any]) -> None:
    data = encode(full_pages)
    parser = PageParser("full")
    pages = []
    step = 997
    for start in range(0, len(data), step):
        pages.extend(parser.feed(data[start : start + step]))
    pages.extend(parser.close())
    assert pages == full_pages
    records = hits_to_records(page_hits(pages[0]))
    assert len(records) == 2 * 5000
    assert records.present() == ["datatargets/readrates", "datatargets/writerates"]
