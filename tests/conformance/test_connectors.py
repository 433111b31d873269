"""Connector behaviours pytokio scripts rely on: request arguments, query forms, columns, encoders."""

from __future__ import annotations

import datetime
import json

from atokio.common import JSONEncoder, to_epoch
from atokio.connectors import es, hpss
from atokio.connectors.esnet_snmp import EsnetSnmp
from atokio.connectors.slurm import SlurmEncoder

START = datetime.datetime(2019, 2, 11, 1, 0, 0)
END = datetime.datetime(2019, 2, 11, 1, 5, 0)


def test_gen_url_gives_request_arguments() -> None:
    esnet = EsnetSnmp(START, END, url="https://graphite.es.net/snmp/west")
    assert esnet.gen_url("sunn-cr5", "to_nersc_ip-b", "in", "average", 30) == {
        "url": "https://graphite.es.net/snmp/west/sunn-cr5/interface/to_nersc_ip-b/in",
        "params": {
            "begin": int(to_epoch(START)),
            "end": int(to_epoch(END)),
            "calc_func": "average",
            "calc": 30,
        },
    }
    bare = esnet.gen_url("sacr-cr5", "to_nersc_ip-e", "out")
    assert bare["params"]["calc_func"] is None and bare["params"]["calc"] is None
    assert esnet.gen_full_url("sacr-cr5", "to_nersc_ip-e", "out") == (
        "https://graphite.es.net/snmp/west/sacr-cr5/interface/to_nersc_ip-e/out"
        f"?begin={int(to_epoch(START))}&end={int(to_epoch(END))}"
    )


QUERY = {
    "query": {
        "bool": {
            "must": {"query_string": {"query": "hostname:bb*"}},
            "filter": {"range": {"@timestamp": {}}},
        }
    }
}


def test_build_timeseries_query_with_the_same_start_and_end_key() -> None:
    one_key = es.build_timeseries_query(QUERY, START, END)
    both = es.build_timeseries_query(
        QUERY, START, END, start_key="@timestamp", end_key="@timestamp"
    )
    assert both == one_key
    assert one_key["query"]["bool"]["filter"]["range"]["@timestamp"] == {
        "gte": int(to_epoch(START)),
        "lt": int(to_epoch(END)),
        "format": "epoch_second",
    }
    assert QUERY["query"]["bool"]["filter"]["range"]["@timestamp"] == {}  # the template is kept


def test_find_columns_gives_start_and_length() -> None:
    separator = "===============  =====  ========="
    row = "heart               53   148740.6"
    strict = hpss._find_columns(separator, strict=True)
    assert strict == [(0, 15), (17, 5), (24, 9)]
    assert [separator[s : s + n] for s, n in strict] == ["=" * 15, "=" * 5, "=" * 9]
    loose = hpss._find_columns(separator)
    assert loose == [(0, 15), (15, 7), (22, 11)]
    assert [row[s : s + n].strip() for s, n in loose] == ["heart", "53", "148740.6"]


def test_encoders_take_the_documented_signature() -> None:
    data = {"b": {3, 1, 2}, "a": datetime.datetime(2019, 1, 2, 3, 4, 5)}
    for encoder in (JSONEncoder, SlurmEncoder):
        positional = encoder(False, True, True, True, True, None, (",", ":"), "utf-8", None)
        assert positional.encode(data) == '{"a":"2019-01-02T03:04:05","b":[1,2,3]}'
        assert json.dumps(data, cls=encoder, sort_keys=True, encoding="utf-8") == (
            '{"a": "2019-01-02T03:04:05", "b": [1, 2, 3]}'
        )
