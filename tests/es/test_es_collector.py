"""The Elasticsearch collector against the loopback server, under asyncio and trio.

Pages must equal what the server holds; the scroll context / point in time
must be released at the end, when the consumer raises, on cancellation and
when the server fails mid-way.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.serializer import JsonSerializer
from es_server import generated, running

from atokio.collectors.elasticsearch import EsClient, iter_pages

pytestmark = pytest.mark.anyio

MATCH_ALL = {"query": {"match_all": {}}}


def expected_pages(docs: Any, size: int) -> list[list[dict[str, Any]]]:
    hits = [docs[i] for i in range(len(docs))]
    return [hits[i : i + size] for i in range(0, len(hits), size)]


async def fetch(url: str, paging: str, size: int, **options: Any) -> tuple[list[Any], Any]:
    async with EsClient([url]).connect() as client:
        async with iter_pages(
            client, "cori-collectd-*", MATCH_ALL, paging=paging, size=size, **options
        ) as stream:  # type: ignore[arg-type]
            pages = [page["hits"]["hits"] async for page in stream]
    return pages, stream


@pytest.mark.parametrize("paging", ["scroll", "pit", "auto"])
async def test_pages_equal_the_corpus_pages(
    anyio_backend: str, paging: str, full_pages: list[Any]
) -> None:
    hits = [h for page in full_pages for h in page]
    with running(hits) as server:
        pages, stream = await fetch(server.url, paging, 5000)
        assert server.log.open_contexts() == []
    assert pages == full_pages
    assert stream.released and stream.pages == 2 and stream.hits == 7038
    assert stream.paging == ("scroll" if paging == "scroll" else "pit")
    assert stream.total == {"value": 7038, "relation": "eq"}


@pytest.mark.parametrize("paging", ["scroll", "pit"])
async def test_generated_documents_paged_exactly(anyio_backend: str, paging: str) -> None:
    docs = generated(2345, nodes=4)
    with running(docs) as server:
        pages, stream = await fetch(server.url, paging, 500)
        log = server.log
        assert log.open_contexts() == []
    assert pages == expected_pages(docs, 500)
    if paging == "scroll":
        # search, 4 scrolls with hits, one empty scroll, release
        assert [r[1] for r in log.requests] == [
            "/cori-collectd-*/_search",
            *["/_search/scroll"] * 5,
            "/_search/scroll",
        ]
        assert log.requests[-1][0] == "DELETE"
        assert log.scrolls_released == log.scrolls_opened and len(log.scrolls_opened) == 1
        assert log.bodies[0]["size"] == 500
    else:
        assert log.pits_closed == log.pits_opened and len(log.pits_opened) == 1


async def test_next_scroll_request_is_sent_before_the_page_is_decoded(anyio_backend: str) -> None:
    docs = generated(2345, nodes=4)
    with running(docs) as server:
        log = server.log
        decoded: list[tuple[int, int]] = []  # (page number, requests the server had seen by then)

        class Recording(JsonSerializer):
            """The client's JSON serializer, noting how far the server got when a page is decoded."""

            def loads(self, data: bytes) -> Any:
                page = super().loads(data)
                if isinstance(page, dict) and (page.get("hits") or {}).get("hits"):
                    number = len(decoded) + 1
                    # the request for the next page should be on its way: wait for the server to see it
                    deadline = time.monotonic() + 2
                    while len(log.requests) <= number and time.monotonic() < deadline:
                        time.sleep(0.001)
                    decoded.append((number, len(log.requests)))
                return page

        options = {"serializers": {"application/json": Recording()}}
        async with EsClient([server.url], options=options).connect() as client:
            async with iter_pages(client, "x", MATCH_ALL, size=500) as stream:
                pages = [page["hits"]["hits"] async for page in stream]
        assert log.open_contexts() == []
    assert pages == expected_pages(docs, 500)
    # page n was decoded once the server had seen the search, n - 1 scrolls and the scroll for n + 1
    assert decoded == [(n, n + 1) for n in range(1, 6)]
    assert stream.released and stream.total == {"value": 2345, "relation": "eq"}


async def test_scroll_with_a_client_of_its_own(anyio_backend: str) -> None:
    """A client not opened by EsClient decodes each page before asking for the next: same pages."""
    docs = generated(1234, nodes=4)
    with running(docs) as server:
        client = AsyncElasticsearch([server.url], node_class="httpxasync")
        try:
            async with iter_pages(client, "x", MATCH_ALL, size=500) as stream:
                pages = [page["hits"]["hits"] async for page in stream]
        finally:
            await client.close()
        assert server.log.open_contexts() == []
        assert [r[1] for r in server.log.requests].count("/_search/scroll") == 4
    assert pages == expected_pages(docs, 500)
    assert stream.released and stream.pages == 3 and stream.hits == 1234


async def test_auto_falls_back_to_scroll_without_pit(anyio_backend: str) -> None:
    docs = generated(120)
    with running(docs, pit=False) as server:
        pages, stream = await fetch(server.url, "auto", 50)
        assert server.log.open_contexts() == []
        assert server.log.pits_opened == [] and len(server.log.scrolls_released) == 1
    assert stream.paging == "scroll"
    assert pages == expected_pages(docs, 50)


async def test_pit_mode_without_server_support_fails(anyio_backend: str) -> None:
    with running(generated(10), pit=False) as server:
        with pytest.raises(ApiError):
            await fetch(server.url, "pit", 5)


async def test_source_filter_is_sent_and_applied(anyio_backend: str) -> None:
    docs = generated(30)
    with running(docs) as server:
        async with EsClient([server.url]).connect() as client:
            async with iter_pages(
                client, "x", MATCH_ALL, size=100, source=["hostname", "plugin"]
            ) as stream:
                pages = [p async for p in stream]
        assert server.log.bodies[0]["_source"] == ["hostname", "plugin"]
    sources = [h["_source"] for h in pages[0]["hits"]["hits"]]
    assert sources == [
        {k: v for k, v in docs[i]["_source"].items() if k in ("hostname", "plugin")}
        for i in range(30)
    ]


class Boom(Exception):
    pass


@pytest.mark.parametrize("paging", ["scroll", "pit"])
async def test_released_when_the_consumer_raises(anyio_backend: str, paging: str) -> None:
    with running(generated(1000)) as server:
        async with EsClient([server.url]).connect() as client:
            with pytest.raises(Boom):
                async with iter_pages(client, "x", MATCH_ALL, paging=paging, size=100) as stream:  # type: ignore[arg-type]
                    async for _page in stream:
                        raise Boom
        assert stream.released
        assert server.log.open_contexts() == []
        assert len(server.log.scrolls_opened) + len(server.log.pits_opened) == 1


async def test_released_when_the_consumer_stops_early(anyio_backend: str) -> None:
    with running(generated(1000)) as server:
        async with EsClient([server.url]).connect() as client:
            async with iter_pages(client, "x", MATCH_ALL, size=100) as stream:
                async for _page in stream:
                    break
        assert server.log.open_contexts() == []
        # one page was consumed; at most one more was fetched ahead plus one in flight
        assert server.log.pages_served <= 3


@pytest.mark.parametrize("paging", ["scroll", "pit"])
async def test_released_on_cancellation(anyio_backend: str, paging: str) -> None:
    with running(generated(1000), delay=0.05) as server:
        async with EsClient([server.url]).connect() as client:
            got = 0
            with anyio.CancelScope() as scope:
                async with iter_pages(client, "x", MATCH_ALL, paging=paging, size=10) as stream:  # type: ignore[arg-type]
                    async for _page in stream:
                        got += 1
                        if got == 2:
                            scope.cancel()  # cancelled while the next page is in flight
                            await anyio.sleep(1)
            assert scope.cancelled_caught
        assert stream.released
        assert server.log.open_contexts() == []


@pytest.mark.parametrize("paging", ["scroll", "pit"])
async def test_server_error_mid_way_is_raised_and_released(anyio_backend: str, paging: str) -> None:
    docs = generated(500)
    with running(docs, fail_page=2) as server:
        seen = []
        with pytest.raises(ApiError) as caught:
            async with EsClient([server.url]).connect() as client:
                async with iter_pages(client, "x", MATCH_ALL, paging=paging, size=100) as stream:  # type: ignore[arg-type]
                    async for page in stream:
                        seen.append(page["hits"]["hits"])
        assert caught.value.meta.status == 500
        assert server.log.open_contexts() == []
        # the failed continuation was not retried: it would have skipped a page
        continuations = [r for r in server.log.requests if r[0] == "POST"][1:]
        assert len(continuations) == (3 if paging == "pit" else 2)
    assert seen == expected_pages(docs, 100)[:2]


async def test_prefetch_is_bounded(anyio_backend: str) -> None:
    with running(generated(2000)) as server:
        async with EsClient([server.url]).connect() as client:
            async with iter_pages(client, "x", MATCH_ALL, size=100, prefetch=2) as stream:
                first = await stream.__anext__()
                # give the producer every chance to run ahead
                for _ in range(50):
                    await anyio.sleep(0.005)
                served = server.log.pages_served
                rest = [p async for p in stream]
        assert first["hits"]["hits"][0]["_id"] == "doc000000000"
        # consumed 1, 2 waiting in the channel, 1 held by the blocked producer
        assert served <= 4
        assert len(rest) == 19
        assert server.log.open_contexts() == []


async def test_bad_arguments(anyio_backend: str) -> None:
    with running(generated(1)) as server:
        async with EsClient([server.url]).connect() as client:
            for kwargs in ({"prefetch": 0}, {"size": 0}, {"paging": "sideways"}):
                with pytest.raises(ValueError):
                    async with iter_pages(client, "x", MATCH_ALL, **kwargs):  # type: ignore[arg-type]
                        pass
