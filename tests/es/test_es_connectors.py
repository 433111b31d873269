"""The documented connectors: ``atokio.connectors.es`` and ``atokio.connectors.collectd_es``."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path
from typing import Any

import anyio
import pandas
import pytest
from es_corpus import CPULOADS, FULL, need
from es_server import generated, running

from atokio.connectors.collectd_es import SOURCE_FIELDS, CollectdEs, plugin_query
from atokio.connectors.es import EsConnection, build_timeseries_query, mutate_query

START = datetime.datetime(2017, 12, 13, 0, 0, 0)  # local (Pacific) = 08:00Z
END = datetime.datetime(2017, 12, 13, 1, 0, 0)


def test_build_timeseries_query_bounds_every_key() -> None:
    template = {
        "query": {"bool": {"must": [{"range": {"@timestamp": {}}}, {"x": [{"@timestamp": 1}]}]}}
    }
    query = build_timeseries_query(template, START, END)
    bound = {"gte": 1513152000, "lt": 1513155600, "format": "epoch_second"}
    assert query == {
        "query": {
            "bool": {"must": [{"range": {"@timestamp": bound}}, {"x": [{"@timestamp": bound}]}]}
        }
    }
    assert template["query"]["bool"]["must"][0] == {"range": {"@timestamp": {}}}  # not changed
    overlap = build_timeseries_query(
        {"q": [{"range": {"start_date": {}}}, {"range": {"end_date": {}}}]},
        START, END, start_key="start_date", end_key="end_date",
    )  # fmt: skip
    assert overlap == {
        "q": [
            {"range": {"start_date": {"lt": 1513155600, "format": "epoch_second"}}},
            {"range": {"end_date": {"gte": 1513152000, "format": "epoch_second"}}},
        ]
    }
    with pytest.raises(RuntimeError):
        build_timeseries_query({"query": {}}, START, END)


def test_mutate_query_appends_in_place() -> None:
    query: dict[str, Any] = {"query": {"constant_score": {"filter": {"bool": {"must": []}}}}}
    assert mutate_query(query, "plugin", "disk") is None
    mutate_query(query, "hostname", "bb", term="prefix")
    assert query["query"]["constant_score"]["filter"]["bool"]["must"] == [
        {"term": {"plugin": "disk"}},
        {"prefix": {"hostname": "bb"}},
    ]


def test_plugin_queries() -> None:
    must = plugin_query("disk", START, END)["query"]["constant_score"]["filter"]["bool"]["must"]
    assert must == [
        {"range": {"@timestamp": {"gte": 1513152000, "lt": 1513155600, "format": "epoch_second"}}},
        {"prefix": {"hostname": "bb"}},
        {"term": {"plugin": "disk"}},
        {"prefix": {"plugin_instance": "nvme"}},
        {"regexp": {"collectd_type": "disk_(octets|ops)"}},
    ]
    with pytest.raises(ValueError):
        plugin_query("gpu", START, END)


def test_query_and_scroll_with_callbacks() -> None:
    docs = generated(1050)
    flushed: list[int] = []
    with running(docs) as server:
        es = EsConnection("127.0.0.1", server.port, index="cori-collectd-*", page_size=100)
        es.query_and_scroll(
            {"query": {"match_all": {}}},
            filter_function=lambda page: [h["_id"] for h in page["hits"]["hits"]],
            flush_every=300,
            flush_function=lambda conn: flushed.append(len(conn.scroll_pages)),
        )
        assert server.log.open_contexts() == []
    assert es.scroll_pages == [
        [docs[i]["_id"] for i in range(k, min(k + 100, 1050))] for k in range(0, 1050, 100)
    ]
    assert flushed == [3, 6, 9]  # every 300 hits
    assert es.scroll_id is None  # released


def test_query_then_scroll_by_hand_and_close() -> None:
    docs = generated(25)
    with running(docs) as server:
        es = EsConnection("127.0.0.1", server.port, index="x", page_size=10)
        page = es.query({"query": {"match_all": {}}})
        assert es.scroll_id == page["_scroll_id"]
        got = page["hits"]["hits"]
        while True:
            page = es.scroll()
            if not page["hits"]["hits"]:
                break
            got += page["hits"]["hits"]
        assert got == [docs[i] for i in range(25)]
        assert server.log.open_contexts() == [es.scroll_id]
        es.close()
        assert server.log.open_contexts() == []


def test_sync_api_inside_a_running_event_loop() -> None:
    docs = generated(40)

    async def notebook_cell() -> list[Any]:
        es = EsConnection("127.0.0.1", server.port, index="x", page_size=15)
        es.query_and_scroll({"query": {"match_all": {}}})  # sync call while a loop runs
        return es.scroll_pages

    with running(docs) as server:
        pages = anyio.run(notebook_cell)
    assert [h for p in pages for h in p["hits"]["hits"]] == [docs[i] for i in range(40)]


def test_collectd_queries_select_their_plugin(cpuload_pages: list[Any]) -> None:
    hits = [h for page in cpuload_pages for h in page]
    start, end = datetime.datetime(2017, 12, 12, 16), datetime.datetime(2017, 12, 14)
    with running(hits) as server:
        es = CollectdEs("127.0.0.1", server.port)
        assert es.index == "cori-collectd-*"
        es.query_cpu(start, end)
        cpu = list(es.scroll_pages)
        es.scroll_pages = []
        es.query_disk(start, end)
        disk = list(es.scroll_pages)
        es.scroll_pages = []
        es.query_memory(start, end)
        memory = list(es.scroll_pages)
        assert server.log.open_contexts() == []
        assert all(
            body.get("_source") == SOURCE_FIELDS for body in server.log.bodies if "query" in body
        )

    def want(test: Any) -> list[Any]:
        return [
            {**h, "_source": {k: v for k, v in h["_source"].items() if k in SOURCE_FIELDS}}
            for h in hits
            if h["_source"]["hostname"].startswith("bb") and test(h["_source"])
        ]

    assert [h for p in cpu for h in p] == want(
        lambda s: s["plugin"] == "cpu" and s.get("type_instance") in ("idle", "user", "system")
    )
    assert [h for p in disk for h in p] == want(
        lambda s: s["plugin"] == "disk" and s["plugin_instance"].startswith("nvme")
        and s["collectd_type"] in ("disk_octets", "disk_ops")
    )  # fmt: skip
    assert [h for p in memory for h in p] == want(lambda s: s["plugin"] == "memory")
    assert cpu and disk and memory


def test_cache_round_trip(tmp_path: Path, full_pages: list[Any]) -> None:
    es = CollectdEs.from_cache(str(need(FULL)))
    assert es.local_mode
    assert len(es.fake_pages) == 3 and es.fake_pages[-1]["hits"]["hits"] == []
    assert es.fake_pages[0] == {"_scroll_id": "0", "hits": {"hits": full_pages[0]}}
    es.query_disk(START, END)  # replays the cache, whatever the query
    assert es.scroll_pages == full_pages
    for name in ("cache.json", "cache.json.gz"):
        es.save_cache(str(tmp_path / name))
        again = CollectdEs.from_cache(cache_file=str(tmp_path / name))
        again.query_cpu(START, END)
        assert again.scroll_pages == full_pages
    text = (tmp_path / "cache.json").read_text()
    assert text == json.dumps(full_pages)
    assert json.loads(gzip.decompress((tmp_path / "cache.json.gz").read_bytes())) == full_pages


def test_save_cache_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    es = EsConnection(None, None)
    es.scroll_pages = [[{"_id": "b", "_source": {"z": 1, "a": 2}}]]
    es.save_cache()
    assert capsys.readouterr().out == json.dumps(es.scroll_pages, indent=4) + "\n"


def test_to_dataframe(cpuload_pages: list[Any]) -> None:
    es = CollectdEs.from_cache(str(need(CPULOADS)))
    es.query_memory(START, END)
    frame = es.to_dataframe()
    hits = [h for page in cpuload_pages for h in page]
    assert list(frame.columns) == SOURCE_FIELDS
    assert isinstance(frame.index, pandas.RangeIndex) and len(frame) == len(hits) == 300
    assert frame["@timestamp"].tolist() == [h["_source"]["@timestamp"] for h in hits]
    assert frame["hostname"].tolist() == [h["_source"]["hostname"] for h in hits]
    generic = EsConnection.hits_frame(es, ["plugin", "nothing"])
    assert generic["plugin"].tolist() == [h["_source"]["plugin"] for h in hits]
    assert generic["nothing"].isna().all()
    csv = EsConnection.to_dataframe(es, ["plugin", "nothing"])
    assert csv.splitlines()[:2] == [",plugin,nothing", f"0,{hits[0]['_source']['plugin']},"]
    assert len(csv.splitlines()) == 1 + len(hits)


def test_errors_are_clear() -> None:
    es = EsConnection(None, None)
    with pytest.raises(RuntimeError, match="not connected"):
        es.query({"query": {}})
    with pytest.raises(FileNotFoundError):
        CollectdEs.from_cache("/nonexistent/cache.json")
