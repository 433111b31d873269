"""EsnetSnmp against the loopback server: exact data, fan-out, failures, caches, DataFrames."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from esnet_data import CACHE, CACHE_2, NERSC, SITES, T0, need_cache
from esnet_server import Data, EsnetServer, load_cache, serve

from atokio import config
from atokio.collectors.http import HttpError, RetryPolicy
from atokio.common import ConfigError
from atokio.connectors import esnet_snmp
from atokio.connectors.esnet_snmp import EsnetSnmp, parse_endpoints

FAST = RetryPolicy(retries=2, backoff=0.005, backoff_max=0.01)
START = datetime.datetime(2019, 2, 11, 1, 0, 0)
END = datetime.datetime(2019, 2, 11, 1, 5, 0)
PAIRS = [(e, i) for e, names in NERSC.items() for i in names]


def connector(
    server: EsnetServer, start: datetime.datetime = START, end: datetime.datetime = END
) -> EsnetSnmp:
    return EsnetSnmp(start, end, url=server.url, retry=FAST)


def test_fetches_exactly_the_recorded_data(server: EsnetServer, data: Data) -> None:
    esnet = connector(server)
    result = esnet.get_counters(PAIRS)
    assert not result.failures and not esnet.failures
    assert esnet == data  # values, int keys, and the order of every level
    assert json.dumps(esnet) == json.dumps(data)
    assert list(result.results) == [f"{e}:{i}:{d}" for e, i in PAIRS for d in ("in", "out")]
    assert esnet.timestep == 30
    assert esnet.start_epoch == T0 and esnet.end_epoch == T0 + 300
    assert esnet.last_response == server.answer(
        "sacr-cr5:to_nersc_ip-e:out", {"begin": str(T0), "end": str(T0 + 300)}
    )
    assert set(esnet.attempts.values()) == {1}


def test_the_corpus_caches_come_back_byte_for_byte(tmp_path: Path) -> None:
    """Fetching the corpus windows from a server of the corpus data gives the corpus files."""
    recorded = load_cache(need_cache(CACHE))
    with serve(recorded) as server:
        for cache, start, end in (
            (CACHE, START, END),
            (CACHE_2, START.replace(minute=1), END.replace(minute=4)),
        ):
            esnet = connector(server, start, end)
            esnet.get_counters(PAIRS)
            out = tmp_path / "cache.json"
            esnet.save_cache(str(out))
            assert out.read_bytes() == gzip.decompress(need_cache(cache).read_bytes())


def test_queries_in_then_out_concurrently(site: EsnetServer) -> None:
    site.fault("*", latency=0.05)
    esnet = EsnetSnmp(START, END, retry=FAST)  # the URL from the configuration
    esnet.get_counters(PAIRS, agg_func="average", interval=30)
    assert site.max_in_flight > 1
    asked = [(key, query) for key, query in site.queries]
    assert sorted(k for k, _ in asked) == sorted(
        f"{e}:{i}:{d}" for e, i in PAIRS for d in ("in", "out")
    )
    assert all(
        q == {"begin": str(T0), "end": str(T0 + 300), "calc_func": "average", "calc": "30"}
        for _, q in asked
    )


def test_get_interface_counters(server: EsnetServer, data: Data) -> None:
    esnet = connector(server)
    raw = esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in")
    assert raw == server.answer(
        "sunn-cr5:to_nersc_ip-b:in", {"begin": str(T0), "end": str(T0 + 300)}
    )
    assert esnet.last_response == raw and esnet.timestep == 30
    assert esnet == {
        "sunn-cr5": {
            "to_nersc_ip-b": {"in": data["sunn-cr5"]["to_nersc_ip-b"]["in"], "units": "bytes/sec"}
        }
    }
    assert server.queries[-1][1] == {
        "begin": str(T0),
        "end": str(T0 + 300),
    }  # no calc asked: none sent
    esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "out", agg_func="max", interval=60)
    assert server.queries[-1][1]["calc_func"] == "max" and server.queries[-1][1]["calc"] == "60"
    assert esnet.timestep == 60  # the interval the service echoed
    assert list(esnet["sunn-cr5"]["to_nersc_ip-b"]) == ["in", "units", "out"]


def test_query_at_init(server: EsnetServer, data: Data) -> None:
    esnet = EsnetSnmp(START, END, "sacr-cr5", "to_nersc_ip-e", "out", url=server.url)
    assert esnet["sacr-cr5"]["to_nersc_ip-e"]["out"] == data["sacr-cr5"]["to_nersc_ip-e"]["out"]
    assert server.counts == {"sacr-cr5:to_nersc_ip-e:out": 1}


def test_gen_url(server: EsnetServer) -> None:
    esnet = EsnetSnmp(START, END, url="https://graphite.es.net/snmp/west/")
    assert esnet.gen_full_url("sunn-cr5", "to_nersc_ip-b", "in", "average", 30) == (
        "https://graphite.es.net/snmp/west/sunn-cr5/interface/to_nersc_ip-b/in"
        "?begin=1549875600&end=1549875900&calc_func=average&calc=30"
    )
    assert esnet.gen_full_url("sunn-cr5", "a/b", "out").endswith(
        "/sunn-cr5/interface/a%2Fb/out?begin=1549875600&end=1549875900"
    )


def test_bad_arguments(server: EsnetServer, monkeypatch: pytest.MonkeyPatch) -> None:
    esnet = connector(server)
    with pytest.raises(ValueError, match="direction must be 'in' or 'out', not 'up'"):
        esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "up")
    with pytest.raises(ValueError, match="agg_func must be one of average, min, max"):
        esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in", agg_func="sum")
    with pytest.raises(TypeError, match="unsupported request option"):
        esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in", proxies={})
    with pytest.raises(ValueError, match="after end"):
        EsnetSnmp(END, START)
    with pytest.raises(ValueError, match="needs start and end"):
        EsnetSnmp(None, None, url=server.url).get_interface_counters("a", "b", "in")
    monkeypatch.delitem(config.CONFIG, "esnet_snmp_url", raising=False)
    monkeypatch.delitem(config.CONFIG, "esnet_snmp_uri", raising=False)
    with pytest.raises(ConfigError, match="no esnet_snmp_url configured"):
        EsnetSnmp(START, END).get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in")
    monkeypatch.setitem(config.CONFIG, "esnet_snmp_uri", server.url)  # the 0.13.0 spelling
    assert EsnetSnmp(START, END).get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in")["data"]


def test_a_failing_interface_does_not_spoil_the_others(
    server: EsnetServer, data: Data, caplog: pytest.LogCaptureFixture
) -> None:
    server.fault("sunn-cr5:to_nersc_ip-b:out", status=500)
    server.fault("sunn-cr5:to_nersc_ip-d_v6:in", statuses=[503, 502])
    server.fault("sacr-cr5:to_nersc_ip-e:in", drop=1)
    esnet = connector(server)
    result = esnet.get_counters(PAIRS)
    assert [f.source for f in esnet.failures] == ["sunn-cr5:to_nersc_ip-b:out"]
    assert result.failures == esnet.failures
    error = esnet.failures[0].error
    assert isinstance(error, HttpError) and error.status == 500 and error.attempts == 3
    assert server.counts["sunn-cr5:to_nersc_ip-b:out"] == 3
    assert esnet.attempts["sunn-cr5:to_nersc_ip-d_v6:in"] == 3
    assert esnet.attempts["sacr-cr5:to_nersc_ip-e:in"] == 2
    wanted = json.loads(json.dumps(data))
    del wanted["sunn-cr5"]["to_nersc_ip-b"]["out"]
    assert json.loads(json.dumps(esnet)) == wanted
    assert "sunn-cr5:to_nersc_ip-b:out: HttpError: GET " in caplog.text
    # the one-request form raises instead
    with pytest.raises(HttpError, match="HTTP 500"):
        connector(server).get_interface_counters("sunn-cr5", "to_nersc_ip-b", "out")


def test_an_empty_answer_inserts_nothing(
    server: EsnetServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fault("sunn-cr5:to_nersc_ip-b:in", empty=True)
    esnet = connector(server)
    raw = esnet.get_interface_counters("sunn-cr5", "to_nersc_ip-b", "in")
    assert raw["data"] == [] and esnet == {}
    assert "no data in the answer" in caplog.text
    assert esnet._insert_result(raw, "sunn-cr5", "to_nersc_ip-b", "in") is False
    assert esnet._insert_result({"agg": "30", "data": [[T0, 1.5]]}, "e", "i", "out") is True
    assert esnet == {"e": {"i": {"out": {T0: 1.5}, "units": "bytes/sec"}}}


def test_null_values(tmp_path: Path) -> None:
    with serve({"e": {"i": {"in": {T0: None, T0 + 30: 2.0}, "out": {T0: 1.0}}}}) as server:
        esnet = connector(server)
        esnet.get_counters([("e", "i")])
    assert esnet["e"]["i"]["in"] == {T0: None, T0 + 30: 2.0}
    frame = esnet.to_dataframe()
    assert frame["data_rate"].isna().tolist() == [True, False, False]
    esnet.save_cache(str(tmp_path / "c.json"))
    assert EsnetSnmp(None, None, input_file=str(tmp_path / "c.json")) == esnet


@pytest.mark.anyio
async def test_sync_api_inside_a_running_event_loop(
    server: EsnetServer, data: Data, anyio_backend: str
) -> None:
    esnet = connector(server)
    esnet.get_counters(PAIRS)  # a notebook cell: sync code while a loop runs
    assert esnet == data


@pytest.mark.anyio
async def test_async_api(server: EsnetServer, data: Data, anyio_backend: str) -> None:
    esnet = connector(server)
    result = await esnet.fetch_counters(PAIRS)
    assert esnet == data and len(result.results) == 10
    raw = await connector(server).fetch_interface_counters("sunn-cr5", "to_nersc_ip-b", "in")
    assert len(raw["data"]) == 11


def test_cache_round_trip(server: EsnetServer, data: Data, tmp_path: Path) -> None:
    esnet = connector(server)
    esnet.get_counters(PAIRS)
    path = tmp_path / "esnet.json"
    esnet.save_cache(str(path))
    assert path.read_text() == json.dumps(data)  # compact, insertion order, string epochs
    again = EsnetSnmp(START, END, input_file=str(path))
    assert again == data and again.timestep == 30
    assert all(isinstance(t, int) for t in again["sunn-cr5"]["to_nersc_ip-b"]["in"])
    gz = tmp_path / "esnet.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert EsnetSnmp(None, None, input_file=str(gz)) == data


def test_the_corpus_cache_loads() -> None:
    esnet = EsnetSnmp(START, END, input_file=str(need_cache()))
    assert esnet == load_cache(CACHE)
    assert esnet.timestep == 30
    assert sorted(esnet["sunn-cr5"]["to_nersc_ip-d_v4"]["in"])[0] == 1549875600
    assert esnet["sunn-cr5"]["to_nersc_ip-d_v4"]["in"][1549875600] == 130809025.03333333


def test_a_file_that_is_not_a_cache(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("not json at all\n")
    with pytest.raises(ValueError, match="not an EsnetSnmp JSON cache"):
        EsnetSnmp(None, None, input_file=str(bad))
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match="list.json: not an EsnetSnmp JSON cache"):
        EsnetSnmp(None, None, input_file=str(tmp_path / "list.json"))


def test_to_dataframe(server: EsnetServer, data: Data) -> None:
    esnet = connector(server)
    esnet.get_counters(PAIRS)
    frame = esnet.to_dataframe()
    assert list(frame.columns) == ["endpoint", "interface", "direction", "timestamp", "data_rate"]
    assert isinstance(frame.index, pd.RangeIndex) and len(frame) == 5 * 2 * 11
    assert frame["timestamp"].dtype.kind == "M"  # naive datetimes
    assert frame["data_rate"].dtype == np.float64
    rows = [
        (e, i, d, datetime.datetime.fromtimestamp(t), v)
        for e, interfaces in data.items()
        for i, entry in interfaces.items()
        for d in ("in", "out")
        for t, v in entry[d].items()
    ]
    got = [
        (r.endpoint, r.interface, r.direction, r.timestamp.to_pydatetime(), r.data_rate)
        for r in frame.itertuples()
    ]
    assert got == rows
    assert got[0][3] == datetime.datetime(2019, 2, 11, 1, 0, 0)  # local (Pacific) time

    indexed = esnet.to_dataframe(multiindex=True)
    assert list(indexed.index.names) == ["timestamp", "endpoint", "interface", "direction"]
    assert list(indexed.columns) == ["data_rate"] and indexed.index.is_monotonic_increasing
    key = (pd.Timestamp("2019-02-11 01:02:30"), "sacr-cr5", "to_nersc_ip-e", "out")
    assert indexed.loc[key, "data_rate"] == data["sacr-cr5"]["to_nersc_ip-e"]["out"][T0 + 150]
    assert EsnetSnmp(None, None).to_dataframe().shape == (0, 5)


def test_parse_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(config.CONFIG, "esnet_snmp_interfaces", SITES)
    assert parse_endpoints("nersc") == PAIRS
    assert parse_endpoints(
        "sunn-cr5:to_nersc_ip-b,sunn-cr5:to_nersc_ip-b_v6,sunn-cr5:to_nersc_ip-b"
    ) == [
        ("sunn-cr5", "to_nersc_ip-b"),
        ("sunn-cr5", "to_nersc_ip-b_v6"),
    ]
    assert parse_endpoints("r:a:b") == [("r", "a:b")]  # split at the first colon
    message = (
        "Invalid endpoint specification.\n"
        "Valid endpoints: nersc\n"
        "  alcf\n"
        "Or give endpoint:interface[,endpoint:interface...]"
    )
    for bad in ("", "bogus", "r:", ":i", "r:i,", "nersc,alcf"):
        with pytest.raises(ValueError) as caught:
            parse_endpoints(bad)
        assert str(caught.value) == message
    assert parse_endpoints("x", {"x": {"r": "only"}}) == [("r", "only")]
    assert esnet_snmp._get_interval_result({"agg": "30"}) == 30
