#!/usr/bin/env python3
"""Benchmark: scrolling 1,000,000 collectd documents out of Elasticsearch.

The server is the loopback Elasticsearch subset of the tests
(``tests/es/es_server.py``), run in its own process so that client and
server each have a core; it generates the documents on the fly (collectd
disk/cpu/memory samples) and serialises each page as a real server does.
Pages hold 10,000 hits, the size archive_collectdes asks for.

Measured, each in a fresh process (so that its peak RSS is its own):

* **raw**: the server's own rate — the same scroll requests sent with plain
  httpx, the answers read as bytes and not decoded.  This is the most any
  client can get from this server;
* **collector**: :func:`atokio.collectors.elasticsearch.iter_pages` through
  the real ``AsyncElasticsearch`` client (httpx node class), every page
  decoded, next page prefetched;
* **records**: the same plus :func:`atokio.parsers.collectd.hits_to_records`
  on every page (what archive_collectdes does per page).

Targets: the client is not the bottleneck — the collector's capacity
(documents per second of its own CPU time) is at least 1.5 times the raw
server rate, so the client waits for the server, not the reverse (the wall
rate / raw is printed beside it: the collector reads page *n*'s scroll id
from the first bytes of its body and sends the request for page *n*+1
before it decodes page *n*, so decoding and the server's work on the next
page overlap) — and its peak RSS is bounded by the page size: the run
over 1,000,000 documents peaks within 10 % of a run over 200,000.

    python bench/bench_es_scroll.py [--docs 1000000] [--page 10000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "es"))

CAPACITY_TARGET = 1.5
RSS_GROWTH_TARGET = 1.10


def serve(docs: int) -> None:
    """Run the loopback server with ``docs`` generated documents; print its port."""
    from es_server import EsHttpServer, EsState, generated

    server = EsHttpServer(EsState(generated(docs, nodes=288), apply_query=False))
    print(server.port, flush=True)
    server.serve_forever()


def measure(mode: str, port: int, page: int) -> None:
    """One measurement in this process; prints a JSON line."""
    import anyio

    body = {"query": {"match_all": {}}}
    url = f"http://127.0.0.1:{port}"

    async def raw() -> int:
        import httpx

        hits = 0
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            response = await client.post(
                "/cori-collectd-*/_search", params={"scroll": "1m"}, json={**body, "size": page}
            )
            data = response.content
            scroll_id = json.loads(data[: data.index(b",")] + b"}")["_scroll_id"]
            while True:
                count = data.count(b'"_id"')
                if not count:
                    break
                hits += count
                response = await client.post(
                    "/_search/scroll", json={"scroll_id": scroll_id, "scroll": "1m"}
                )
                data = response.content
            await client.request("DELETE", "/_search/scroll", json={"scroll_id": scroll_id})
        return hits

    async def collector(records: bool) -> int:
        from atokio.collectors.elasticsearch import EsClient, iter_pages
        from atokio.parsers.collectd import hits_to_records

        hits = 0
        async with EsClient([url], timeout=60).connect() as client:
            async with iter_pages(client, "cori-collectd-*", body, size=page) as stream:
                async for one in stream:
                    if records:
                        hits_to_records(one["hits"]["hits"])
                    hits += len(one["hits"]["hits"])
        return hits

    start = time.perf_counter()
    cpu = time.process_time()
    if mode == "raw":
        hits = anyio.run(raw)
    else:
        hits = anyio.run(collector, mode == "records")
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"hits": hits, "seconds": elapsed, "cpu": cpu, "rss_mib": rss}))


def run(mode: str, docs: int, page: int) -> dict[str, float]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(docs)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        out = subprocess.run(
            [sys.executable, __file__, "--measure", mode, "--port", str(port), "--page", str(page)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()
    if result["hits"] != docs:
        raise SystemExit(f"{mode}: got {result['hits']} documents, expected {docs}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=10_000)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    if args.measure is not None:
        measure(args.measure, args.port, args.page)
        return

    small = max(args.page * 4, args.docs // 5)
    results = {mode: run(mode, args.docs, args.page) for mode in ("raw", "collector", "records")}
    baseline = run("collector", small, args.page)
    rate = {mode: r["hits"] / r["seconds"] for mode, r in results.items()}
    print(f"scroll of {args.docs:,} documents, pages of {args.page:,} (server in its own process)")
    for mode in ("raw", "collector", "records"):
        busy = results[mode]["cpu"] / results[mode]["seconds"]
        print(
            f"  {mode:<10} {rate[mode]:>10,.0f} docs/s   client CPU {100 * busy:3.0f} % of wall"
            f"   peak RSS {results[mode]['rss_mib']:7.1f} MiB"
        )
    for mode in ("collector", "records"):
        capacity = results[mode]["hits"] / results[mode]["cpu"] / rate["raw"]
        print(
            f"{mode} capacity / raw server rate: {capacity:.2f}   target >= {CAPACITY_TARGET:.2f}   "
            f"{'met' if capacity >= CAPACITY_TARGET else 'NOT met'}"
            f"   (wall rate / raw: {rate[mode] / rate['raw']:.2f})"
        )
    growth = results["collector"]["rss_mib"] / baseline["rss_mib"]
    print(
        f"peak RSS {args.docs:,} docs / {small:,} docs: {results['collector']['rss_mib']:.1f} / "
        f"{baseline['rss_mib']:.1f} MiB = {growth:.2f}   target <= {RSS_GROWTH_TARGET:.2f}   "
        f"{'met' if growth <= RSS_GROWTH_TARGET else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
