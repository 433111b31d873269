"""Data for the NERSC Globus-in-Elasticsearch tests: generated hits, the corpus page, the server.

* :func:`globus_hit` makes a transfer document shaped like the corpus ones
  (FORMATS.md 6.2), deterministic in its position, with two extra source
  fields (``PROG``, ``@version``) that the source filter must drop;
* :func:`overlapping` computes, independently of atokio, which hits a query
  over ``[start, end)`` must select (started before the end, ended at or
  after the start);
* ``running`` is the loopback Elasticsearch-subset server of ``tests/es``.

The test modules import the fixtures ``pacific_time`` (every test runs with
``TZ=America/Los_Angeles``, the zone of the corpus) and ``anyio_backend``
(async tests run under asyncio and trio) from :mod:`fixtures_common`.
"""

from __future__ import annotations

import datetime
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from corpus import INPUTS

_ES_TESTS = Path(__file__).resolve().parents[1] / "es"
if str(_ES_TESTS) not in sys.path:
    sys.path.append(str(_ES_TESTS))

from es_server import Documents, running  # noqa: E402

__all__ = [
    "CORPUS_CACHE",
    "END",
    "FIELDS",
    "START",
    "Documents",
    "corpus_pages",
    "filtered",
    "globus_hit",
    "globus_hits",
    "overlapping",
    "running",
    "write_cache",
]

#: The corpus cache: 1 page of 3 transfers of 2019-01-29 (users fusera and useroll).
CORPUS_CACHE = INPUTS / "globuslogs.json.gz"

#: The window the corpus was dumped for: 2019-01-29 00:00-00:10 PST (naive local times).
START = datetime.datetime(2019, 1, 29, 0, 0, 0)
END = datetime.datetime(2019, 1, 29, 0, 10, 0)
#: The same window in epoch seconds.
T_START, T_END = 1548748800, 1548749400

#: The 22 source fields, in the documented order (written out here, not imported).
FIELDS = (
    "@timestamp BLOCK BUFFER CODE DATE DEST DESTIP FILE HOST NBYTES START STREAMS STRIPES "
    "TASKID TYPE USER VOLUME bandwidth_mbps duration start_date end_date host"
).split()


_USERS = ("fusera", "useroll", "glock")
_TYPES = ("RETR", "STOR", "STOR", "NLST")


def _iso(epoch: float) -> str:
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _gridftp(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y%m%d%H%M%S.%f")


def globus_hit(
    position: int,
    *,
    t0: int = T_START - 600,
    begin: float | None = None,
    finish: float | None = None,
) -> dict[str, Any]:
    """A Globus transfer document; transfers start every 20 s from ``t0`` and last 0-400 s.

    ``begin`` and ``finish`` (epoch seconds) override the generated times.
    """
    if begin is None:
        begin = t0 + 20 * position + 0.25
    if finish is None:
        finish = begin + (position * 131) % 400 + 0.125
    duration = round(finish - begin, 3)
    nbytes = 1000 + (position * 7919) % 10_000_000
    kind = _TYPES[position % len(_TYPES)]
    host = f"dtn{9 + position % 3:02d}.nersc.gov"
    ip = f"192.168.{position % 250}.{(position * 7) % 250}"
    source: dict[str, Any] = {
        "@timestamp": _iso(finish + 0.5),
        "@version": "1",
        "BLOCK": 4194304,
        "BUFFER": 235104 + position,
        "CODE": "226",
        "DATE": _gridftp(finish),
        "DEST": ip,
        "DESTIP": ip,
        "FILE": f"/global/project/dir {position}/file={position}.dat",
        "HOST": host,
        "NBYTES": nbytes,
        "PROG": "globus-gridftp-server",
        "START": _gridftp(begin),
        "STREAMS": 4,
        "STRIPES": "1",
        "TASKID": "none" if position % 5 == 0 else f"{position:08x}-2020-11e9-9835-0262a1f2f698",
        "TYPE": kind,
        "USER": _USERS[position % len(_USERS)],
        "VOLUME": "/",
        "bandwidth_mbps": round(nbytes * 8 / duration / 1e6, 2),
        "duration": duration,
        "end_date": _iso(finish),
        "host": host,
        "start_date": _iso(begin),
    }
    if position % 7 == 3:
        del source["DESTIP"]  # absent from some documents: an empty CSV cell, None in frames
    return {
        "_id": f"globus{position:05d}",
        "_index": "dtn-dtn-log-2019.01",
        "_score": 1.0,
        "_source": source,
        "_type": "doc",
    }


def globus_hits(count: int = 75) -> list[dict[str, Any]]:
    """``count`` generated hits, then two on the edges of [00:00, 00:10) of 2019-01-29 PST.

    The 75 generated transfers start from 2019-01-28 23:50 to 2019-01-29
    00:14:40 PST; of the two last hits, one ends exactly at 00:00 (selected:
    it ended at the start) and one starts exactly at 00:10 (not selected).
    """
    hits = [globus_hit(i) for i in range(count)]
    hits.append(globus_hit(count, begin=T_START - 30.0, finish=float(T_START)))
    hits.append(globus_hit(count + 1, begin=float(T_END), finish=T_END + 5.0))
    return hits


def _epoch(stamp: str) -> float:
    return (
        datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


def overlapping(
    hits: list[dict[str, Any]], start: datetime.datetime, end: datetime.datetime
) -> list[dict[str, Any]]:
    """The hits whose transfer overlaps ``[start, end)`` (naive local times), in order."""
    lo, hi = time.mktime(start.timetuple()), time.mktime(end.timetuple())
    return [
        hit
        for hit in hits
        if _epoch(hit["_source"]["start_date"]) < hi and _epoch(hit["_source"]["end_date"]) >= lo
    ]


def filtered(hit: dict[str, Any]) -> dict[str, Any]:
    """``hit`` with its ``_source`` reduced to the 22 documented fields."""
    return {**hit, "_source": {k: v for k, v in hit["_source"].items() if k in FIELDS}}


def corpus_pages() -> list[list[dict[str, Any]]]:
    """The corpus cache's pages, or skip the calling test when the corpus is absent."""
    if not CORPUS_CACHE.exists():
        pytest.skip(
            f"corpus file {CORPUS_CACHE} not found (the corpus lives beside the repository)"
        )
    return list(json.loads(gzip.decompress(CORPUS_CACHE.read_bytes())))


def write_cache(path: Path, pages: list[list[dict[str, Any]]]) -> Path:
    """Write ``pages`` as a cache file (gzip when the name ends in ``.gz``)."""
    text = json.dumps(pages).encode()
    path.write_bytes(gzip.compress(text) if path.name.endswith(".gz") else text)
    return path
