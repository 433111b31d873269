"""Issue 13, items 7 and 8: bad input gives records or a ParseError, the same at any chunking.

Every parser is fed mutated, truncated and CRLF versions of valid inputs
(generated here or in the test folders' data modules, and the corpus's when
it is present), whole, one byte at a time and at random cuts.  What it gives
must be records, or a ParseError with a line number -- no other exception --
and the same records and message whatever the chunking.  CRLF line ends must
give what LF line ends give.  A fixed seed and a bounded number of examples
keep the run short and repeatable.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atokio.parsers.base import ParseError
from atokio.parsers.collectd import CollectdParser
from atokio.parsers.darshan import DarshanParser
from atokio.parsers.esnet_snmp import EsnetSnmpParser
from atokio.parsers.isdct import IsdctParser
from atokio.parsers.sacct import SacctParser
from atokio.parsers.xtdb2proc import Xtdb2procParser

SETTINGS = settings(
    derandomize=True,  # a fixed seed: the same examples on every run
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- valid inputs -----------------------------------------------------------------------


def _sacct() -> bytes:
    lines = ["JobIDRaw|Start|End|NodeList|State"]
    for job in range(6):
        nodes = f"nid0[{5301 + job}-{5310 + job},{5400 + job}]"
        lines.append(f"{1000 + job}|2017-03-20T01:59:0{job}|2017-03-20T02:11:39|{nodes}|COMPLETED")
        lines.append(f"{1000 + job}.0|2017-03-20T02:00:00|Unknown|nid0{5301 + job}|RUNNING")
    return ("\n".join(lines) + "\n").encode()


def _xtdb2proc() -> bytes:
    head = "#\n# This file lists tables currently in the system database,\n#\n"
    lines = [
        f"cpu={nid % 4},slot={nid // 4 % 8},cabinet=null,x_coord={nid % 3},"
        f"processor_status='up',processor_type='compute',processor_id={nid},"
        f"next_red_black_switch=null"
        for nid in range(8, 20)
    ]
    return (head + "\n".join(lines) + "\n" + head).encode()


def _isdct() -> bytes:
    title = "\n- Intel SSD DC P3608 Series CVF85156007H -\n\n"
    drive = title + (
        "Bootloader : 8B1B0130\nDevicePath : /dev/nvme0n1\nDeviceStatus : Healthy\n"
        "EnduranceAnalyzer : 2628.15 years\nErrorString : \nIntel : True\n"
        "PhysicalSize : 1600319143936\nTemperature : 27 Celsius\n"
        "DataUnitsRead : 0x03443046\n\n"
    )
    smart = (
        "\n- SMART Attributes CVF85156007H -\n\n\n"
        "- C7 -\n\nAction : Pass\nDescription : CRC Error Count\nID : C7\nNormalized : 100\n"
        "Raw : 0\n\n- E2 -\n\nAction : Pass\nID : E2\nRaw : 14\n\n"
    )
    return (drive + smart).encode()


def _esnet() -> bytes:
    answer = {
        "agg": "30",
        "begin_time": 1517471100,
        "cf": "average",
        "data": [[1517471100 + 30 * i, 1e9 / (i + 1) if i % 5 else None] for i in range(40)],
        "end_time": 1517472300,
    }
    return json.dumps(answer, indent=1).encode()


def _collectd() -> bytes:
    def hit(i: int) -> dict[str, Any]:
        source = {
            "@timestamp": f"2017-03-20T09:0{i % 10}:00.000Z",
            "hostname": f"bb{i % 3:02d}",
            "plugin": ["disk", "cpu", "memory"][i % 3],
            "collectd_type": "disk_octets",
            "plugin_instance": "nvme0n1",
            "type_instance": ["", "idle", "used"][i % 3],
            "read": 1000 * i,
            "write": 2000 * i,
            "value": 12.5 * i,
        }
        return {"_source": source}

    pages = [[hit(i) for i in range(p, p + 4)] for p in range(0, 12, 4)]
    return json.dumps([*pages, {"hits": {"hits": [hit(20)]}}], indent=1).encode()


def _darshan() -> bytes:
    head = (
        "# darshan log version: 3.41\n# compression method: ZLIB\n# exe: /bin/app -x 7\n"
        "# uid: 1000\n# jobid: 42\n# start_time: 1490000867\n# end_time: 1490000983\n"
        "# nprocs: 4\n# run time: 117.0000\n# metadata: lib_ver = 3.4.6\n\n"
        "# mounted file systems (mount point and fs type)\n"
        "# mount entry:\t/scratch\tlustre\n# mount entry:\t/\trootfs\n\n"
        "# *******************************************************\n# POSIX module data\n"
        "# *******************************************************\n\n"
    )
    rows = [
        f"POSIX\t{rank}\t{11 + rank}\tPOSIX_{name}\t{value}\t/scratch/f{rank}\t/scratch\tlustre"
        for rank in range(-1, 3)
        for name, value in (
            ("OPENS", rank + 5),
            ("BYTES_READ", 1 << 20),
            ("F_READ_TIME", "1.500000"),
        )
    ]
    return (head + "\n".join(rows) + "\n\ntotal_POSIX_OPENS: 14\n").encode()


def _corpus_text(name: str, limit: int = 6000) -> bytes | None:
    """The head of a corpus input (cut at a line end), or None without the corpus."""
    from corpus import INPUTS

    path = INPUTS / name
    if not path.exists():
        return None
    if path.suffix == ".gz":
        with gzip.open(path) as handle:
            data = handle.read(limit)
    else:
        data = path.read_bytes()[:limit]
    return data[: data.rfind(b"\n") + 1]


#: parser name -> (a fresh parser, valid inputs)
PARSERS: dict[str, tuple[Callable[[], Any], Callable[[], list[bytes]]]] = {
    "sacct": (lambda: SacctParser("in"), lambda: [_sacct()]),
    "xtdb2proc": (lambda: Xtdb2procParser("in"), lambda: [_xtdb2proc()]),
    "isdct": (lambda: IsdctParser("in"), lambda: [_isdct()]),
    "esnet": (lambda: EsnetSnmpParser("in"), lambda: [_esnet()]),
    "collectd": (lambda: CollectdParser("in"), lambda: [_collectd()]),
    "darshan": (lambda: DarshanParser("in"), lambda: [_darshan()]),
}
LINE_PARSERS = ("darshan", "isdct", "sacct", "xtdb2proc")
#: Corpus inputs (their heads) used as well when the corpus is present.
CORPUS_INPUTS = {
    "darshan": "../darshan/noposix.base.txt",
    "xtdb2proc": "sample.xtdb2proc.gz",
}

# -- running a parser ----------------------------------------------------------------


def plain(value: Any) -> Any:
    """Records in a comparable form (arrays as lists, NaN as a string)."""
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, plain(dataclasses.astuple(value)))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(map(repr, value))
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def outcome(make: Callable[[], Any], data: bytes, cuts: list[int]) -> tuple[Any, str]:
    """(every record delivered, the error message or "") for ``data`` fed in pieces."""
    parser = make()
    records: list[Any] = []
    edges = [0, *sorted({c for c in cuts if 0 < c < len(data)}), len(data)]
    try:
        for start, stop in zip(edges, edges[1:], strict=False):
            records += parser.feed(data[start:stop])
        records += parser.close()
    except ParseError as error:  # anything else fails the test
        assert error.source == "in"
        return plain(records + list(error.records)), str(error)
    return plain(records), ""


def every_chunking_agrees(make: Callable[[], Any], data: bytes, cuts: list[int]) -> tuple[Any, str]:
    whole = outcome(make, data, [])
    assert outcome(make, data, list(range(len(data)))) == whole
    assert outcome(make, data, cuts) == whole
    return whole


# -- strategies ------------------------------------------------------------------------

NASTY = [
    b"\r\n",
    b"\r",
    b"\n",
    b"\xff\xfe",
    b"\x00",
    b"[",
    b"]",
    b"{",
    b"|",
    b",",
    b":",
    b"=",
    b"-",
    b"9" * 5000,
    b"1e999",
    b'"',
    b"null",
    b"[0-99999999]",
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with a few bytes replaced, inserted, deleted or repeated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(out)))
        kind = draw(st.sampled_from(["replace", "insert", "delete", "repeat"]))
        if kind == "replace" and at < len(out):
            out[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "insert":
            out[at:at] = draw(st.sampled_from(NASTY) | st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del out[at : at + draw(st.integers(min_value=1, max_value=20))]
        else:
            out[at:at] = out[max(0, at - 40) : at]
    return bytes(out)


def inputs(name: str) -> list[bytes]:
    found = PARSERS[name][1]()
    extra = _corpus_text(CORPUS_INPUTS[name]) if name in CORPUS_INPUTS else None
    return [*found, *([extra] if extra else [])]


# -- the properties ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_valid_inputs_parse(name: str) -> None:
    for data in inputs(name):
        records, error = every_chunking_agrees(PARSERS[name][0], data, [len(data) // 3])
        assert error == "" and records


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_mutations_give_records_or_a_parse_error(name: str, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(inputs(name)))
    bad = data.draw(mutated(source))
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(bad)), max_size=12))
    every_chunking_agrees(PARSERS[name][0], bad, cuts)


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_truncations_give_records_or_a_parse_error(name: str, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(inputs(name)))
    cut = source[: data.draw(st.integers(min_value=0, max_value=len(source)))]
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(cut)), max_size=12))
    every_chunking_agrees(PARSERS[name][0], cut, cuts)


@pytest.mark.parametrize("name", LINE_PARSERS)
@SETTINGS
@given(data=st.data())
def test_crlf_gives_what_lf_gives(name: str, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(inputs(name)))
    if data.draw(st.booleans()):
        source = data.draw(mutated(source))
    crlf = source.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lf = crlf.replace(b"\r\n", b"\n")
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(crlf)), max_size=12))
    assert every_chunking_agrees(PARSERS[name][0], crlf, cuts) == outcome(PARSERS[name][0], lf, [])


# -- the cases the issue found -----------------------------------------------------------


def test_collectd_bytes_that_are_not_utf8_are_read_as_replacement_characters() -> None:
    page = b'[[{"_source": {"hostname": "bb\xff01", "plugin": "cpu", "type_instance": "user",'
    page += b' "value": 3, "@timestamp": "2017-03-20T09:00:00Z"}}]]'
    (records,) = [r for r in outcome(lambda: CollectdParser("in"), page, [])[0]]
    assert every_chunking_agrees(lambda: CollectdParser("in"), page, [40, 41])[1] == ""
    assert "bb\ufffd01" in json.dumps(records, ensure_ascii=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[[" + b"9" * 5000 + b"]]", "in:1: bad JSON: an integer of more than 4300 digits: '["),
        (b"[" + b"[" * 100000, "in:1: bad JSON: nested too deeply: '[[[["),
        (
            b'[{"hits": {"hits": 5}}]',
            "in:1: expected a page of hits: a response's hits.hits is a list, not int",
        ),
    ],
)
def test_collectd_bad_json(data: bytes, message: str) -> None:
    records, error = every_chunking_agrees(lambda: CollectdParser("in"), data, [3])
    assert error.startswith(message)


def test_collectd_odd_shapes_are_skipped_not_crashes() -> None:
    odd = [[{"_source": {"plugin": ["disk"], "collectd_type": {"a": 1}, "hostname": "x"}},
            {"_source": {"plugin": "cpu", "type_instance": [1], "hostname": "x", "value": 1}},
            {"_source": {"plugin": "cpu", "type_instance": "user", "hostname": "x", "value": 10**400}},
            {"_source": {"plugin": "cpu", "type_instance": "user", "hostname": "x", "value": 1,
                         "@timestamp": 10**400}}]]  # fmt: skip
    (records,) = CollectdParser("in").feed(json.dumps(odd).encode())
    assert (records.hits, len(records), records.incomplete, records.bad_timestamp) == (4, 0, 1, 1)


def test_xtdb2proc_over_long_integers() -> None:
    data = b"processor_id=1,cpu=" + b"7" * 5000 + b"\n"
    records, error = every_chunking_agrees(lambda: Xtdb2procParser("in"), data, [10])
    assert error.startswith(
        "in:1: cpu: expected an integer of at most 4300 digits: 'processor_id=1,cpu=777"
    )


def test_sacct_crlf_node_lists() -> None:
    data = _sacct().replace(b"\n", b"\r\n")
    records, error = every_chunking_agrees(lambda: SacctParser("in"), data, [7])
    assert error == "" and all(not any("\r" in n for n in r["nodelist"]) for r in records)


def test_sacct_hostile_node_list_is_a_quick_parse_error() -> None:
    data = b"JobIDRaw|NodeList\n1|a[0-9999]b[0-9999]c[0-9]\n"
    records, error = every_chunking_agrees(lambda: SacctParser("in"), data, [20])
    assert error.startswith("in:2: ") and "expands to more than 500,000 names" in error
