"""``atokio.connectors.nersc_globuslogs``: queries, paging, caches and DataFrames.

Live queries go through the real ``elasticsearch`` client to the loopback
Elasticsearch-subset server of ``tests/es`` over real HTTP; the expected
selections are computed independently (:func:`globus_es_data.overlapping`).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import anyio
import pandas
import pytest
from fixtures_common import anyio_backend, pacific_time
from globus_es_data import (
    CORPUS_CACHE,
    END,
    FIELDS,
    START,
    T_END,
    T_START,
    corpus_pages,
    filtered,
    globus_hits,
    overlapping,
    running,
    write_cache,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from atokio.connectors import nersc_globuslogs
from atokio.connectors.es import EsConnection
from atokio.connectors.nersc_globuslogs import (
    BASE_QUERY,
    SOURCE_FIELDS,
    NerscGlobusLogs,
    globus_query,
)
from atokio.parsers.base import ParseError

__all__ = ["anyio_backend", "pacific_time"]  # fixtures used by pytest

RANGES = [
    {"range": {"start_date": {"lt": 1548749400, "format": "epoch_second"}}},
    {"range": {"end_date": {"gte": 1548748800, "format": "epoch_second"}}},
]


def _must(query: dict[str, Any]) -> list[Any]:
    return list(query["query"]["constant_score"]["filter"]["bool"]["must"])


def _searches(server: Any) -> list[dict[str, Any]]:
    """The bodies of the initial search requests the server saw."""
    return [
        body
        for (method, path), body in zip(server.log.requests, server.log.bodies, strict=True)
        if method == "POST" and path.endswith("/_search")
    ]


def test_documented_constants() -> None:
    assert SOURCE_FIELDS == FIELDS and len(SOURCE_FIELDS) == 22
    assert nersc_globuslogs.DEFAULT_INDEX == "dtn-dtn-log*"
    assert NerscGlobusLogs(None, None).index == "dtn-dtn-log*"
    assert NerscGlobusLogs(None, None, index="other-*").index == "other-*"
    assert NerscGlobusLogs(None, None, "third-*").index == "third-*"
    assert issubclass(NerscGlobusLogs, EsConnection)


def test_query_body_is_the_documented_overlap_query() -> None:
    assert globus_query(START, END) == {
        "query": {"constant_score": {"filter": {"bool": {"must": RANGES}}}}
    }
    must = [{"term": {"TASKID": "none"}}, {"term": {"TYPE": "STOR"}}]
    query = globus_query(START, END, must=must)
    assert _must(query) == [*RANGES, *must]
    assert must == [{"term": {"TASKID": "none"}}, {"term": {"TYPE": "STOR"}}]  # not modified
    assert _must(globus_query(START, END, must={"term": {"USER": "x"}}))[2:] == [
        {"term": {"USER": "x"}}
    ]
    assert _must(BASE_QUERY) == [{"range": {"start_date": {}}}, {"range": {"end_date": {}}}]
    with pytest.raises(RuntimeError, match="end_date"):
        nersc_globuslogs.overlap_query({"query": {"range": {"start_date": {}}}}, START, END)


def test_query_scrolls_through_every_overlapping_transfer() -> None:
    hits = globus_hits()
    want = [filtered(h) for h in overlapping(hits, START, END)]
    assert len(want) == 42
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=10)
        es.query(START, END)
        assert server.log.open_contexts() == []
        searches = _searches(server)
    assert len(es.scroll_pages) == 5
    assert all(isinstance(page, list) and len(page) <= 10 for page in es.scroll_pages)
    assert [h for page in es.scroll_pages for h in page] == want
    assert "globus00075" in {h["_id"] for h in want}  # ended exactly at the start
    assert "globus00076" not in {h["_id"] for h in want}  # started exactly at the end
    assert searches[0]["query"] == globus_query(START, END)["query"]
    assert searches[0]["_source"] == SOURCE_FIELDS
    assert searches[0]["size"] == 10
    assert server.log.requests[0] == ("POST", "/dtn-dtn-log*/_search")
    assert es.scroll_id is None


def test_query_user_and_query_type_are_exact_and_case_sensitive() -> None:
    hits = globus_hits()
    window = overlapping(hits, START, END)
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=8)
        es.query_user(START, END, "glock")
        users = [h for page in es.scroll_pages for h in page]
        es.scroll_pages = []
        es.query_type(START, END, "STOR")
        stor = [h for page in es.scroll_pages for h in page]
        es.scroll_pages = []
        es.query_type(START, END, "stor")
        lower = list(es.scroll_pages)
        es.query(START, END, must=[{"term": {"TASKID": "none"}}, {"term": {"TYPE": "STOR"}}])
        both = [h for page in es.scroll_pages for h in page]
        searches = _searches(server)
    assert users == [filtered(h) for h in window if h["_source"]["USER"] == "glock"]
    assert stor == [filtered(h) for h in window if h["_source"]["TYPE"] == "STOR"]
    assert len(users) > 5 and len(stor) > 5
    assert lower == []
    assert both == [
        filtered(h)
        for h in window
        if h["_source"]["TYPE"] == "STOR" and h["_source"]["TASKID"] == "none"
    ]
    assert both
    assert [_must(s)[2:] for s in searches] == [
        [{"term": {"USER": "glock"}}],
        [{"term": {"TYPE": "STOR"}}],
        [{"term": {"TYPE": "stor"}}],
        [{"term": {"TASKID": "none"}}, {"term": {"TYPE": "STOR"}}],
    ]


def test_query_without_scroll_fetches_one_page_unfiltered() -> None:
    hits = globus_hits()
    window = overlapping(hits, START, END)
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=6)
        es.query(START, END, scroll=False)
        searches = _searches(server)
        assert server.log.scrolls_opened == []
        assert [method for method, _ in server.log.requests] == ["POST"]
    assert "_source" not in searches[0]
    assert es.scroll_pages == [window[:6]]  # whole _source: PROG and @version kept
    assert "PROG" in es.scroll_pages[0][0]["_source"]
    assert es.page is not None and es.page["hits"]["hits"] == window[:6]
    assert es.scroll_id is None
    frame = es.to_dataframe()
    assert list(frame.columns) == SOURCE_FIELDS and len(frame) == 6


def test_queries_append_to_scroll_pages_until_cleared() -> None:
    hits = globus_hits()
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port)
        es.query_user(START, END, "fusera")
        es.query_user(START, END, "fusera")
    first, second = es.scroll_pages
    assert first == second and len(first) > 0
    assert len(es.to_dataframe()) == 2 * len(first)


def test_flush_callback_runs_every_50000_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    hits = globus_hits()
    flushed: list[int] = []
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=10)
        assert es.default_flush_every == 50000
        es.default_flush_every = 20
        es.default_flush_function = lambda conn: flushed.append(len(conn.scroll_pages))
        es.query(START, END)
    assert flushed == [2, 4]  # 42 hits in pages of 10


@pytest.mark.anyio
async def test_async_queries_under_trio_and_asyncio() -> None:
    hits = globus_hits()
    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=7)
        await es.aquery_type(START, END, "RETR")
        retr = [h for page in es.scroll_pages for h in page]
        es.scroll_pages = []
        await es.aquery_user(START, END, "useroll")
        user = [h for page in es.scroll_pages for h in page]
        es.scroll_pages = []
        await es.aquery(START, END, scroll=False)
        single = es.scroll_pages
        assert server.log.open_contexts() == []
    window = overlapping(hits, START, END)
    assert retr == [filtered(h) for h in window if h["_source"]["TYPE"] == "RETR"]
    assert user == [filtered(h) for h in window if h["_source"]["USER"] == "useroll"]
    assert single == [window[:7]]  # one page of page_size hits


def test_sync_api_inside_a_running_event_loop() -> None:
    hits = globus_hits()

    async def notebook_cell(port: int) -> pandas.DataFrame:
        es = NerscGlobusLogs("127.0.0.1", port)
        es.query(START, END)  # the sync call while a loop runs
        return es.to_dataframe()

    with running(hits) as server:
        frame = anyio.run(notebook_cell, server.port)
    assert frame["start_date"].tolist() == [
        h["_source"]["start_date"] for h in overlapping(hits, START, END)
    ]


def test_to_dataframe_columns_values_and_missing_fields() -> None:
    hits = globus_hits(20)
    es = NerscGlobusLogs(None, None)
    es.scroll_pages = [hits[:9], {"hits": {"hits": hits[9:]}}]  # a list of hits or a response
    frame = es.to_dataframe()
    assert list(frame.columns) == SOURCE_FIELDS
    assert isinstance(frame.index, pandas.RangeIndex) and len(frame) == 22
    assert frame.loc[0, "START"] == hits[0]["_source"]["START"]
    assert frame.loc[0, "start_date"] == "2019-01-29T07:50:00.250Z"  # unconverted
    assert frame["NBYTES"].tolist() == [h["_source"]["NBYTES"] for h in hits]
    assert frame["STRIPES"].tolist() == ["1"] * 22
    # absent: None (NaN where pandas 3 infers its string dtype for the column)
    assert pandas.isna(frame.loc[3, "DESTIP"]) and frame.loc[4, "DESTIP"] == "192.168.4.28"
    assert frame["DESTIP"].isna().tolist() == [i % 7 == 3 for i in range(22)]
    assert "PROG" not in frame.columns
    assert NerscGlobusLogs(None, None).to_dataframe().shape == (0, 22)


def test_corpus_cache_replays_for_any_query(tmp_path: Path) -> None:
    pages = corpus_pages()
    es = NerscGlobusLogs.from_cache(cache_file=str(CORPUS_CACHE))
    assert isinstance(es, NerscGlobusLogs) and es.local_mode
    later = datetime.datetime(2020, 6, 1)
    es.query_user(later, later + datetime.timedelta(hours=1), "nobody")  # nothing applied
    assert es.scroll_pages == pages
    frame = es.to_dataframe()
    assert frame.to_dict("records")[0] == {
        "@timestamp": "2019-01-29T08:04:53.472Z",
        "BLOCK": 4194304,
        "BUFFER": 235104,
        "CODE": "226",
        "DATE": "20190129080453.142846",
        "DEST": "192.168.63.47",
        "DESTIP": "192.168.63.47",
        "FILE": "/global/homes/f/fusera/toolbox/workfunction_y.cpp",
        "HOST": "dtn09.nersc.gov",
        "NBYTES": 2597,
        "START": "20190129080452.993859",
        "STREAMS": 4,
        "STRIPES": "1",
        "TASKID": "98b5877c-2020-11e9-9835-0262a1f2f698",
        "TYPE": "RETR",
        "USER": "fusera",
        "VOLUME": "/",
        "bandwidth_mbps": 0.14,
        "duration": 0.149,
        "start_date": "2019-01-29T08:04:52.993Z",
        "end_date": "2019-01-29T08:04:53.142Z",
        "host": "dtn09.nersc.gov",
    }
    assert frame["USER"].tolist() == ["fusera", "useroll", "useroll"]
    assert frame["TYPE"].tolist() == ["RETR", "STOR", "STOR"]
    assert frame["NBYTES"].tolist() == [2597, 3610670, 3616802]
    # save_cache writes the pages back; loading that gives the same pages again
    out = tmp_path / "again.json"
    es.save_cache(str(out))
    assert json.loads(out.read_text()) == pages
    assert NerscGlobusLogs.from_cache(str(out)).fake_pages[0]["hits"]["hits"] == pages[0]


def test_generated_cache_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hits = [filtered(h) for h in globus_hits(30)]
    pages = [hits[:12], hits[12:24], hits[24:]]
    cache = write_cache(tmp_path / "dump.json.gz", pages)
    es = NerscGlobusLogs.from_cache(str(cache))
    es.query(START, END)
    assert es.scroll_pages == pages
    es.save_cache()
    assert capsys.readouterr().out == json.dumps(pages, indent=4) + "\n"
    es.scroll_pages = []
    es.query(START, END, scroll=False)  # one page only
    assert es.scroll_pages == [pages[0]]


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not connected"):
        NerscGlobusLogs(None, None).query(START, END)
    with pytest.raises(FileNotFoundError):
        NerscGlobusLogs.from_cache("/nonexistent/globus.json")
    bad = tmp_path / "bad.json"
    bad.write_text('[\n  [{"_id": "a"}],\n  [{"_id": oops}]\n]')
    with pytest.raises(ParseError) as caught:
        NerscGlobusLogs.from_cache(str(bad))
    assert caught.value.source == str(bad) and caught.value.line_number == 3
    with pytest.raises(RuntimeError, match="start_date"):
        NerscGlobusLogs(None, None).query_timeseries({"query": {}}, START, END)


def test_overlap_selection_for_any_window() -> None:
    """Property: for any window, the query returns exactly the transfers overlapping it."""
    hits = globus_hits()
    t_min = T_START - 900

    with running(hits) as server:
        es = NerscGlobusLogs("127.0.0.1", server.port, page_size=16)

        @settings(max_examples=25, deadline=None, database=None)
        @given(
            st.integers(min_value=0, max_value=1800),
            st.integers(min_value=1, max_value=1200),
            st.sampled_from([None, "STOR", "RETR"]),
        )
        def check(offset: int, length: int, kind: str | None) -> None:
            start = datetime.datetime.fromtimestamp(t_min + offset)
            end = datetime.datetime.fromtimestamp(t_min + offset + length)
            es.scroll_pages = []
            if kind is None:
                es.query(start, end)
            else:
                es.query_type(start, end, kind)
            got = [h["_id"] for page in es.scroll_pages for h in page]
            want = [
                h["_id"]
                for h in overlapping(hits, start, end)
                if kind is None or h["_source"]["TYPE"] == kind
            ]
            assert got == want

        check()
        assert server.log.open_contexts() == []
    assert T_END - T_START == 600
