"""Pages of Elasticsearch search results, streamed: scroll, or point-in-time + search_after.

Built on the official async client, ``elasticsearch.AsyncElasticsearch``.
The client's default HTTP layer (aiohttp) runs only under asyncio, so
:class:`EsClient` opens it with the httpx node class
(``node_class="httpxasync"``): httpx runs on anyio, so the same code runs
under **trio and asyncio**.  (Pass another ``node_class`` only if you run
asyncio alone.)  That needs client 9.x (elastic-transport 9): the 8.x
async transport calls asyncio directly and fails under trio.  A 9.x client
asks for REST compatibility with 9, which servers of 8.x and before refuse.
A client belongs to the event loop it was opened in; open one per loop with
:meth:`EsClient.connect`.

:func:`iter_pages` is an async context manager that yields a
:class:`PageStream` of the non-empty pages (whole response bodies, dicts
with ``hits.hits``) of one query:

* ``paging="scroll"`` (the default, what pytokio does): ``search`` with
  ``scroll=keep_alive`` and ``size``, then ``scroll`` until a page without
  hits; the scroll context is released with ``DELETE _search/scroll``.
* ``paging="pit"``: a point in time (``POST <index>/_pit``) and ``search``
  with ``pit`` + ``search_after``, sorted by ``_shard_doc`` when the query
  has no ``sort`` of its own (the per-hit ``sort`` values that this adds are
  removed again, and ``track_scores`` keeps ``_score``, so the pages look
  like scroll pages); closed with ``DELETE _pit``.
* ``paging="auto"``: point in time where the server supports it (it
  answers ``_pit`` with 400, 404 or 405 where it does not, e.g. before
  7.10), else scroll.

The next page is fetched while the consumer works on the current one: a
producer task keeps up to ``prefetch`` pages ready in a bounded memory
channel, so memory stays bounded by ``prefetch + 2`` pages whatever the
size of the result.  The scroll context or point in time is **always
released** — at the end, when the consumer leaves the block early or raises,
on errors and on cancellation (the release request is shielded from the
cancellation and bounded by ``release_timeout`` seconds).  The stream
records what it did (:attr:`PageStream.released`, :attr:`PageStream.pages`,
...), which the tests check against the server.

Retries: the transport may retry the first ``search`` and point-in-time
searches (they are idempotent), but never a ``scroll`` continuation — a
retried scroll after a lost answer would skip a page silently — so scroll
requests go out with ``max_retries=0`` and a failure there fails the query.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from elasticsearch import ApiError, AsyncElasticsearch

__all__ = ["EsClient", "PageStream", "Paging", "iter_pages"]

logger = logging.getLogger(__name__)

Paging = Literal["scroll", "pit", "auto"]

#: HTTP statuses with which a server without point-in-time support answers ``_pit``.
NO_PIT_STATUSES = (400, 404, 405)


@dataclass
class EsClient:
    """How to reach an Elasticsearch endpoint; opens a client on the running event loop.

    ``hosts`` are URLs (``http://host:9200``); ``timeout`` is the request
    timeout in seconds; ``options`` go to ``AsyncElasticsearch`` (for
    example ``basic_auth=(user, password)``, ``headers``).  The node class
    defaults to httpx so that the client runs under trio as well as asyncio.
    """

    hosts: list[str]
    timeout: float = 30.0
    options: dict[str, Any] = field(default_factory=dict)

    def open(self) -> AsyncElasticsearch:
        """A new ``AsyncElasticsearch`` (the caller closes it; prefer :meth:`connect`)."""
        kwargs: dict[str, Any] = {"request_timeout": self.timeout, "node_class": "httpxasync"}
        kwargs.update(self.options)
        return AsyncElasticsearch(self.hosts, **kwargs)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncElasticsearch]:
        """A client for the duration of the block, closed afterwards (also on cancellation)."""
        client = self.open()
        try:
            yield client
        finally:
            with anyio.CancelScope(shield=True):
                await client.close()


@dataclass
class PageStream:
    """The pages of one query, in order (iterate with ``async for``).

    Attributes tell what happened: ``paging`` (``"scroll"`` or ``"pit"``, as
    chosen), ``pages`` and ``hits`` delivered, ``context_id`` (the last
    scroll id or point-in-time id), ``released`` (the context was released
    successfully) and ``total`` (``hits.total`` of the first page, if any).
    """

    receive: MemoryObjectReceiveStream[dict[str, Any]]
    paging: str = "scroll"
    pages: int = 0
    hits: int = 0
    context_id: str | None = None
    released: bool = False
    total: Any = None
    error: BaseException | None = None

    def __aiter__(self) -> PageStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            page = await self.receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self.error is not None:
                error, self.error = self.error, None
                raise error from None
            raise StopAsyncIteration from None
        return page


def _hits(page: Mapping[str, Any]) -> list[Any]:
    hits = page.get("hits") or {}
    return list(hits.get("hits") or [])


def _source_body(
    body: Mapping[str, Any], size: int, source: bool | Sequence[str]
) -> dict[str, Any]:
    request = copy.deepcopy(dict(body))
    request["size"] = size
    if source is not True:
        request["_source"] = list(source) if not isinstance(source, bool) else source
    return request


async def _release(
    stream: PageStream,
    release: Callable[[], Awaitable[Any]],
    release_timeout: float,
    what: str,
) -> None:
    """Free a server-side search context, shielded from cancellation, within ``release_timeout``.

    A failure is logged as ``could not <what>: <error>``; ``stream.released`` is set on success.
    """
    with anyio.CancelScope(shield=True), anyio.move_on_after(release_timeout):
        try:
            await release()
            stream.released = True
        except Exception as error:
            logger.warning("could not %s: %s", what, error)


async def _scroll(
    client: AsyncElasticsearch,
    index: str | None,
    body: Mapping[str, Any],
    stream: PageStream,
    send: MemoryObjectSendStream[dict[str, Any]],
    *,
    keep_alive: str,
    size: int,
    source: bool | Sequence[str],
    release_timeout: float,
) -> None:
    scroll_id: str | None = None
    try:
        response = await client.search(
            index=index, body=_source_body(body, size, source), scroll=keep_alive
        )
        page = dict(response.body)
        stream.total = (page.get("hits") or {}).get("total")
        no_retry = client.options(max_retries=0)
        while True:
            scroll_id = page.get("_scroll_id") or scroll_id
            stream.context_id = scroll_id
            hits = _hits(page)
            if not hits:
                break
            stream.pages += 1
            stream.hits += len(hits)
            await send.send(page)
            if scroll_id is None:
                break  # the server did not open a scroll context: one page only
            response = await no_retry.scroll(scroll_id=scroll_id, scroll=keep_alive)
            page = dict(response.body)
    finally:
        if scroll_id is not None:
            await _release(
                stream,
                partial(client.clear_scroll, scroll_id=scroll_id),
                release_timeout,
                f"release scroll context {scroll_id}",
            )


async def _open_pit(client: AsyncElasticsearch, index: str | None, keep_alive: str) -> str:
    response = await client.open_point_in_time(index=index or "_all", keep_alive=keep_alive)
    return str(response.body["id"])


async def _pit(
    client: AsyncElasticsearch,
    pit_id: str,
    body: Mapping[str, Any],
    stream: PageStream,
    send: MemoryObjectSendStream[dict[str, Any]],
    *,
    keep_alive: str,
    size: int,
    source: bool | Sequence[str],
    release_timeout: float,
) -> None:
    stream.paging = "pit"
    stream.context_id = pit_id
    try:
        request = _source_body(body, size, source)
        own_sort = "sort" not in request
        if own_sort:
            request["sort"] = [{"_shard_doc": "asc"}]
            request.setdefault("track_scores", True)
        while True:
            request["pit"] = {"id": pit_id, "keep_alive": keep_alive}
            response = await client.search(body=request)
            page = dict(response.body)
            pit_id = str(page.get("pit_id") or pit_id)
            stream.context_id = pit_id
            if stream.total is None:
                stream.total = (page.get("hits") or {}).get("total")
            hits = _hits(page)
            if not hits:
                break
            request["search_after"] = hits[-1].get("sort")
            if request["search_after"] is None:
                raise RuntimeError("point-in-time page without sort values: cannot page on")
            if own_sort:
                for hit in hits:
                    hit.pop("sort", None)
            stream.pages += 1
            stream.hits += len(hits)
            await send.send(page)
            if len(hits) < size:
                break  # a short page of a sorted search is the last one
    finally:
        await _release(
            stream,
            partial(client.close_point_in_time, id=pit_id),
            release_timeout,
            f"close point in time {pit_id}",
        )


@asynccontextmanager
async def iter_pages(
    client: AsyncElasticsearch,
    index: str | None,
    body: Mapping[str, Any],
    *,
    paging: Paging = "scroll",
    keep_alive: str = "1m",
    size: int = 10000,
    source: bool | Sequence[str] = True,
    prefetch: int = 1,
    release_timeout: float = 10.0,
) -> AsyncIterator[PageStream]:
    """The non-empty pages of ``body`` on ``index``, fetched ahead (see the module docstring).

    ``source`` is ``True`` (whole ``_source``) or the list of fields to
    return; ``keep_alive`` is how long the server keeps the scroll context
    or point in time between two requests; ``prefetch`` (at least 1) is how
    many pages may wait ahead of the consumer.  Errors of the server or the
    connection are raised from the iteration.
    """
    if prefetch < 1:
        raise ValueError(f"prefetch must be at least 1, not {prefetch}")
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    if paging not in ("scroll", "pit", "auto"):
        raise ValueError(f"paging must be scroll, pit or auto, not {paging!r}")
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](prefetch)
    stream = PageStream(receive, paging="scroll")
    options = {
        "keep_alive": keep_alive,
        "size": size,
        "source": source,
        "release_timeout": release_timeout,
    }

    async def produce() -> None:
        async with send:
            try:
                pit_id: str | None = None
                if paging in ("pit", "auto"):
                    try:
                        pit_id = await _open_pit(client, index, keep_alive)
                    except ApiError as error:
                        if paging == "pit" or error.meta.status not in NO_PIT_STATUSES:
                            raise
                        logger.info(
                            "no point-in-time support (HTTP %s): scrolling instead",
                            error.meta.status,
                        )
                if pit_id is not None:
                    await _pit(client, pit_id, body, stream, send, **options)  # type: ignore[arg-type]
                else:
                    await _scroll(client, index, body, stream, send, **options)  # type: ignore[arg-type]
            except anyio.get_cancelled_exc_class():
                raise
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the consumer left early
            except Exception as error:  # handed to the consumer, raised from its iteration
                stream.error = error

    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(produce)
        try:
            async with receive:
                yield stream
        except Exception as error:  # raised below, not wrapped in an exception group
            failure = error
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
