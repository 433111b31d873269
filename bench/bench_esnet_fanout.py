#!/usr/bin/env python3
"""Benchmark: ESnet SNMP fan-out, 64 requests that each take 100 ms at the server.

The loopback ESnet server of the tests (``tests/esnet/esnet_server.py``, a
real ``ThreadingHTTPServer``) holds 8 endpoints x 4 interfaces of 30-second
rates for one hour and waits 100 ms before every answer.  Measured, best of
``--repeats``: ``EsnetSnmp.get_counters`` for all 32 interfaces in both
directions (64 GETs, each answer streamed through the parser), from sync
code, client set-up included.  Sequentially that is at least 6.4 s; the
target is < 0.5 s, i.e. the requests really run at once.  The data fetched
is checked against what the server holds.

    python bench/bench_esnet_fanout.py [--repeats 3] [--backend asyncio|trio]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "esnet"))

from esnet_server import make_data, serve  # noqa: E402  (the test server)

from atokio.common import to_epoch  # noqa: E402
from atokio.connectors.esnet_snmp import EsnetSnmp  # noqa: E402

REQUESTS = 64
LATENCY = 0.1
TARGET = 0.5
START = datetime.datetime(2019, 2, 11, 1, 0)
END = datetime.datetime(2019, 2, 11, 2, 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    os.environ["ATOKIO_BACKEND"] = args.backend

    layout = {f"router{r}-cr5": [f"to_site_ip-{c}" for c in "abcd"] for r in range(8)}
    pairs = [(endpoint, name) for endpoint, names in layout.items() for name in names]
    assert 2 * len(pairs) == REQUESTS
    data = make_data(to_epoch(START), 121, layout)  # 01:00:00 .. 02:00:00, every 30 s
    times = []
    with serve(data) as server:
        server.fault("*", latency=LATENCY)
        for _ in range(args.repeats):
            esnet = EsnetSnmp(START, END, url=server.url, limit=REQUESTS)
            began = time.perf_counter()
            result = esnet.get_counters(pairs)
            times.append(time.perf_counter() - began)
            if result.failures or esnet != data:
                print(f"wrong result: {result.failures}", file=sys.stderr)
                return 1
        concurrent = server.max_in_flight
    best = min(times)
    print(
        f"esnet fan-out, {REQUESTS} GETs x {LATENCY * 1000:.0f} ms ({args.backend}): "
        f"{best:.3f} s (target < {TARGET} s; sequential >= {REQUESTS * LATENCY:.1f} s); "
        f"up to {concurrent} requests in flight at the server"
    )
    return 0 if best < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
