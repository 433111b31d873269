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
size of the result.

A scroll also overlaps the decoding of a page with the server's work on
the next one.  The request for page *n*+1 needs page *n*'s ``_scroll_id``,
which a client normally has only once it has decoded the whole body of
page *n*.  A client opened by :meth:`EsClient.open` reads that id from the
first bytes of the body instead (:class:`ScrollPageSerializer`, a wrapper
of the client's JSON serializer that leaves scroll pages undecoded, only in
the producer task of a scroll), sends the request for page *n*+1, waits
until httpx has written it, and only then decodes page *n* with the
client's own serializer — so the pages are the same dicts as without the
overlap.  A page whose first bytes do not show its scroll id and whether
it has hits is decoded first, as is every page of any other client.
Point-in-time paging cannot overlap in this way (its next request needs
the sort values of the page's last hit).

The scroll context or point in time is **always released** — at the end,
when the consumer leaves the block early or raises, on errors and on
cancellation (the release request is shielded from the cancellation and
bounded by ``release_timeout`` seconds).  The stream
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
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Literal

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.serializer import Serializer

from atokio.collectors.secrets import guard_library_logs, redact_options, redact_url

__all__ = [
    "EsClient",
    "PageStream",
    "Paging",
    "RawScrollPage",
    "ScrollPageSerializer",
    "iter_pages",
]

logger = logging.getLogger(__name__)
guard_library_logs()  # the client library logs request URLs, credentials included

Paging = Literal["scroll", "pit", "auto"]

#: HTTP statuses with which a server without point-in-time support answers ``_pit``.
NO_PIT_STATUSES = (400, 404, 405)

#: The JSON mimetypes whose serializers :meth:`EsClient.open` wraps in :class:`ScrollPageSerializer`.
JSON_MIMETYPES = ("application/json", "application/vnd.elasticsearch+json")

#: True in the producer task of a scroll: its scroll pages arrive undecoded.
_RAW_SCROLL_PAGES: ContextVar[bool] = ContextVar("atokio_raw_scroll_pages", default=False)
#: Set in a task that requests a page ahead: called once httpx has written the request.
_ON_SENT: ContextVar[Callable[[], None] | None] = ContextVar("atokio_on_sent", default=None)

#: A scroll page starts with its scroll id (a base64 string, no escapes)...
_SCROLL_HEAD = re.compile(rb'\s*\{\s*"_scroll_id"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]+)"')
#: ... and its first array under a ``hits`` key is ``hits.hits`` (``]`` right away: no hits).
_HITS_ARRAY = re.compile(rb'"hits"\s*:\s*\[\s*(\]?)')
#: The httpcore trace events after which a request is on the wire.
_SENT_EVENTS = (".send_request_body.complete", ".receive_response_headers.started")


class RawScrollPage:
    """A scroll page not decoded yet: its scroll id and whether it has hits, read from its first bytes.

    :meth:`decode` gives the page that ``serializer`` (the client's own JSON
    serializer) makes of the body.
    """

    __slots__ = ("data", "has_hits", "scroll_id", "serializer")

    def __init__(self, data: bytes, scroll_id: str, has_hits: bool, serializer: Serializer) -> None:
        self.data = data
        self.scroll_id = scroll_id
        self.has_hits = has_hits
        self.serializer = serializer

    def decode(self) -> dict[str, Any]:
        page = self.serializer.loads(self.data)
        if not isinstance(page, dict):
            raise TypeError(f"a scroll page is a JSON object, not {type(page).__name__}")
        return page

    def __repr__(self) -> str:
        return f"RawScrollPage({len(self.data)} bytes, scroll_id={self.scroll_id!r})"


class ScrollPageSerializer(Serializer):
    """The client's JSON serializer, leaving scroll pages undecoded in the producer task of a scroll.

    Everywhere else (other tasks, other responses, bodies whose first
    bytes do not show the scroll id and the start of the hits) it is
    ``inner`` itself.  ``dumps`` is always ``inner.dumps``.
    """

    mimetype: ClassVar[str] = "application/json"

    def __init__(self, inner: Serializer) -> None:
        self.inner = inner

    def loads(self, data: bytes) -> Any:
        if _RAW_SCROLL_PAGES.get() and isinstance(data, bytes):
            head = _SCROLL_HEAD.match(data)
            if head is not None:
                hits = _HITS_ARRAY.search(data, head.end())
                if hits is not None:
                    scroll_id = head.group(1).decode("ascii")
                    return RawScrollPage(data, scroll_id, not hits.group(1), self.inner)
        return self.inner.loads(data)

    def dumps(self, data: Any) -> bytes:
        return self.inner.dumps(data)


async def _trace_sent(request: httpx.Request) -> None:
    """An httpx request hook: in a task that requests a page ahead, tell it when the request is sent."""
    on_sent = _ON_SENT.get()
    if on_sent is None:
        return

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        if event.endswith(_SENT_EVENTS):
            on_sent()

    request.extensions = {**request.extensions, "trace": trace}


def _overlap_scroll_pages(client: AsyncElasticsearch) -> None:
    """Let ``client`` read a scroll page's id before decoding it and report requests sent.

    Where the transport does not look as expected (another elastic-transport
    layout, another node class), the client stays as it is: pages are then
    decoded before the next one is asked for.
    """
    serializers = getattr(getattr(client.transport, "serializers", None), "serializers", None)
    if not isinstance(serializers, dict):
        return
    for mimetype in JSON_MIMETYPES:
        inner = serializers.get(mimetype)
        if inner is not None and not isinstance(inner, ScrollPageSerializer):
            serializers[mimetype] = ScrollPageSerializer(inner)
    for node in client.transport.node_pool.all():
        http = getattr(node, "client", None)
        if isinstance(http, httpx.AsyncClient):
            hooks = http.event_hooks
            if _trace_sent not in hooks["request"]:
                http.event_hooks = {**hooks, "request": [*hooks["request"], _trace_sent]}


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

    def __repr__(self) -> str:  # credentials in hosts or options stay out of logs
        hosts = [redact_url(host) for host in self.hosts]
        options = redact_options(self.options)
        return f"EsClient(hosts={hosts!r}, timeout={self.timeout!r}, options={options!r})"

    def open(self) -> AsyncElasticsearch:
        """A new ``AsyncElasticsearch`` (the caller closes it; prefer :meth:`connect`)."""
        kwargs: dict[str, Any] = {"request_timeout": self.timeout, "node_class": "httpxasync"}
        kwargs.update(self.options)
        client = AsyncElasticsearch(self.hosts, **kwargs)
        _overlap_scroll_pages(client)
        return client

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
    room: anyio.Semaphore
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
        self.room.release()
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


async def _hand_over(
    stream: PageStream, send: MemoryObjectSendStream[dict[str, Any]], page: dict[str, Any]
) -> None:
    """Count ``page`` and send it (room for it is already taken)."""
    stream.pages += 1
    stream.hits += len(_hits(page))
    await send.send(page)


class _Ahead:
    """The body of the next scroll page, requested in its own task while this one is decoded."""

    def __init__(self) -> None:
        #: set once the request is on the wire (or once it has failed or finished)
        self.sent = anyio.Event()
        self.done = anyio.Event()
        self.body: Any = None
        self.error: Exception | None = None

    async def fetch(self, request: Callable[[], Awaitable[Any]]) -> None:
        on_sent = _ON_SENT.set(self.sent.set)
        try:
            self.body = (await request()).body
        except Exception as error:  # raised by result(), in the producer
            self.error = error
        finally:
            _ON_SENT.reset(on_sent)
            self.sent.set()
            self.done.set()

    async def result(self) -> Any:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.body


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
    raw_pages = _RAW_SCROLL_PAGES.set(True)
    try:
        response = await client.search(
            index=index, body=_source_body(body, size, source), scroll=keep_alive
        )
        current: Any = response.body
        no_retry = client.options(max_retries=0)
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            try:
                while True:
                    ahead: _Ahead | None = None
                    if isinstance(current, RawScrollPage) and current.has_hits:
                        # room for this page first, so that no more pages are in memory than
                        # without the overlap; then ask for the next one and decode this one
                        # while the server works on it
                        await stream.room.acquire()
                        scroll_id = stream.context_id = current.scroll_id
                        ahead = _Ahead()
                        group.start_soon(
                            ahead.fetch,
                            partial(no_retry.scroll, scroll_id=scroll_id, scroll=keep_alive),
                        )
                        await ahead.sent.wait()
                    if isinstance(current, RawScrollPage):
                        page = current.decode()
                    else:
                        page = dict(current)
                    if stream.pages == 0:  # the first page
                        stream.total = (page.get("hits") or {}).get("total")
                    scroll_id = page.get("_scroll_id") or scroll_id
                    stream.context_id = scroll_id
                    if not _hits(page):
                        break
                    if ahead is None:
                        await stream.room.acquire()
                    await _hand_over(stream, send, page)
                    if scroll_id is None:
                        break  # the server did not open a scroll context: one page only
                    if ahead is not None:
                        current = await ahead.result()
                    else:
                        response = await no_retry.scroll(scroll_id=scroll_id, scroll=keep_alive)
                        current = response.body
            except Exception as error:  # raised below, not wrapped in an exception group
                failure = error
            finally:
                group.cancel_scope.cancel()  # a request ahead that is no longer needed
        if failure is not None:
            raise failure
    finally:
        _RAW_SCROLL_PAGES.reset(raw_pages)
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
            await stream.room.acquire()
            await _hand_over(stream, send, page)
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
    # room for ``prefetch`` pages in the channel: taken by the producer, given back by the consumer
    stream = PageStream(receive, anyio.Semaphore(prefetch), paging="scroll")
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
