"""Retrieve data stored in Elasticsearch (``tokio.connectors.es``).

A connection object over the Elasticsearch client that runs a query, pages
through all of its results and hands each page to callbacks (docs/formats.md#elasticsearch).

:class:`EsConnection` keeps pytokio's synchronous API — ``query()``,
``scroll()``, ``query_and_scroll()``, ``query_timeseries()``,
``save_cache()``, ``from_cache()``, ``to_dataframe()`` — and runs on the
async collector :mod:`atokio.collectors.elasticsearch` (``AsyncElasticsearch``
with the httpx node class, so trio and asyncio both work).  The sync methods
work from a plain script and from inside a running event loop (a notebook):
see :func:`atokio.collectors.sync.run_sync`.  Async code calls the ``a``
methods (:meth:`EsConnection.aquery_and_scroll`,
:meth:`EsConnection.aquery_timeseries`) or streams pages itself with
:meth:`EsConnection.page_stream`.

Choices where the reference leaves things open:

* ``client`` is an :class:`atokio.collectors.elasticsearch.EsClient` (the
  endpoint and client options); each operation opens an
  ``AsyncElasticsearch`` on its own event loop and closes it afterwards.
* ``paging`` (attribute, default ``"scroll"`` as in pytokio) may be set to
  ``"pit"`` or ``"auto"`` to page with a point in time and ``search_after``
  where the server supports it.  ``prefetch`` (default 1) is how many pages
  are fetched ahead while the current one is processed.
* ``flush_function`` is called with the connection object (``flush_function(self)``)
  whenever at least ``flush_every`` hits have been appended to
  ``scroll_pages`` since the previous flush, so it can consume and clear
  ``scroll_pages``.
* ``to_dataframe(fields)`` returns the hits as **CSV text**, as the reference
  documents despite the name; ``hits_frame(fields)`` gives the DataFrame.
* A cache replays all of its pages for **every** query issued on the object
  (the query's time range is not applied to cached data).
* ``save_cache()`` to stdout is indented by 4 (keys not sorted, newline at
  the end); to a file compact; a file name ending in ``.gz`` is written
  gzip-compressed.
"""

from __future__ import annotations

import copy
import datetime
import gzip
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import IO, Any

import anyio
import pandas

from atokio.collectors.elasticsearch import EsClient, PageStream, iter_pages
from atokio.collectors.files import open_binary
from atokio.collectors.sync import run_sync
from atokio.common import to_epoch
from atokio.parsers.collectd import PageParser, page_hits

__all__ = [
    "EsConnection",
    "PageWriter",
    "build_timeseries_query",
    "load_pages",
    "mutate_query",
    "write_pages",
]

logger = logging.getLogger(__name__)

#: Pages read from a cache file per parse step (bytes).
_CHUNK = 1 << 20


def _host_url(host: str, port: int | str | None) -> str:
    """``http://host:port`` (a scheme given in ``host`` is kept)."""
    scheme, _, name = host.rpartition("://")
    scheme = scheme or "http"
    name = name.rstrip("/")
    if port is None or (":" in name and not name.startswith("[")):
        return f"{scheme}://{name}"
    return f"{scheme}://{name}:{port}"


def load_pages(cache_file: str) -> list[Any]:
    """The pages of a JSON cache (plain or gzip), read incrementally."""
    parser = PageParser(source=str(cache_file))
    pages: list[Any] = []
    with open_binary(cache_file) as handle:
        while chunk := handle.read(_CHUNK):
            pages.extend(parser.feed(chunk))
    pages.extend(parser.close())
    return pages


class PageWriter:
    """Writes pages one at a time as one JSON list.

    The text is exactly ``json.dumps(pages, indent=indent)`` of the whole
    list, but only one page is held and serialised at a time.  Call
    :meth:`close` to end the list.
    """

    def __init__(self, output: IO[str], indent: int | None = None) -> None:
        self.output = output
        self.indent = indent
        self.pages = 0

    def write(self, page: Any) -> None:
        """Append one page."""
        if self.indent is None:
            self.output.write("[" if not self.pages else ", ")
            self.output.write(json.dumps(page))
        else:
            pad = " " * self.indent
            self.output.write("[\n" if not self.pages else ",\n")
            self.output.write(pad + json.dumps(page, indent=self.indent).replace("\n", "\n" + pad))
        self.pages += 1

    def close(self) -> None:
        """End the list (``[]`` when no page was written)."""
        if not self.pages:
            self.output.write("[]")
        else:
            self.output.write("]" if self.indent is None else "\n]")


def write_pages(pages: Iterable[Any], output: IO[str], indent: int | None = None) -> None:
    """Write ``pages`` as one JSON list, page by page (see :class:`PageWriter`)."""
    writer = PageWriter(output, indent)
    for page in pages:
        writer.write(page)
    writer.close()


def _walk_keys(obj: Any, key: str, value: Callable[[], Any]) -> int:
    """Set ``obj[...][key] = value()`` wherever ``key`` occurs (nested dicts and lists)."""
    found = 0
    if isinstance(obj, dict):
        for name in list(obj):
            if name == key:
                obj[name] = value()
                found += 1
            else:
                found += _walk_keys(obj[name], key, value)
    elif isinstance(obj, list):
        for item in obj:
            found += _walk_keys(item, key, value)
    return found


def build_timeseries_query(
    orig_query: dict[str, Any],
    start: datetime.datetime,
    end: datetime.datetime,
    start_key: str = "@timestamp",
    end_key: str | None = None,
) -> dict[str, Any]:
    """A copy of ``query_template`` with every ``@timestamp`` range set to ``[start, end)``.

    Returns a deep copy of ``orig_query`` in which every occurrence of
    ``start_key`` (searched through nested dicts and lists) is set to
    ``{"gte": <start>, "lt": <end>, "format": "epoch_second"}``: records
    in ``[start, end)``.  With ``end_key`` the records have a start and an
    end (e.g. transfers): ``start_key`` gets ``{"lt": <end>}`` and
    ``end_key`` gets ``{"gte": <start>}`` (both with ``format``), which
    selects every record that overlaps the interval.  Epochs come from
    naive local datetimes (:func:`atokio.common.to_epoch`).

    An ``end_key`` equal to ``start_key`` is the one-key form (both bounds
    on that key), as pytokio behaves when a caller passes
    ``start_key='@timestamp', end_key='@timestamp'``.

    Raises ``RuntimeError`` when ``start_key`` (or ``end_key``, when
    given) occurs nowhere in the query.
    """
    query = copy.deepcopy(orig_query)
    start_epoch, end_epoch = int(to_epoch(start)), int(to_epoch(end))
    if end_key is None or end_key == start_key:
        found = _walk_keys(
            query,
            start_key,
            lambda: {"gte": start_epoch, "lt": end_epoch, "format": "epoch_second"},
        )
        if not found:
            raise RuntimeError(f"unable to find a {start_key!r} key in the query")
        return query
    found = _walk_keys(query, start_key, lambda: {"lt": end_epoch, "format": "epoch_second"})
    if not found:
        raise RuntimeError(f"unable to find a {start_key!r} key in the query")
    found = _walk_keys(query, end_key, lambda: {"gte": start_epoch, "format": "epoch_second"})
    if not found:
        raise RuntimeError(f"unable to find a {end_key!r} key in the query")
    return query


def mutate_query(mutable_query: dict[str, Any], field: str, value: Any, term: str = "term") -> None:
    """Inserts a new condition into a query object.

    Appends ``{term: {field: value}}`` to
    ``mutable_query["query"]["constant_score"]["filter"]["bool"]["must"]``
    (creating the missing levels).  ``term`` is a term-level query type:
    term, terms, terms_set, range, exists, prefix, wildcard, regexp, fuzzy,
    type, ids.  Returns nothing: ``mutable_query`` is updated in place.
    """
    level = mutable_query
    for key in ("query", "constant_score", "filter", "bool"):
        level = level.setdefault(key, {})
    must = level.setdefault("must", [])
    if isinstance(must, dict):  # a single clause: make it a list
        must = level["must"] = [must]
    must.append({term: {field: value}})


def _identity(page: Any) -> Any:
    return page


class EsConnection:
    """A connection to Elasticsearch that keeps the pages of its queries.

    It pages through results of any length for you and runs a filter and a
    flush callback on each page as it arrives.  See the module docstring for
    atokio's choices.

    Attributes: ``client``, ``page`` (last page retrieved), ``scroll_pages``
    (pages retrieved so far; consumers must clear it, queries append),
    ``index``, ``connect_host``, ``connect_port``, ``connect_timeout``,
    ``page_size``, ``scroll_size`` (how long the scroll context lives, e.g.
    ``"1m"``), ``scroll_id``, ``sort_by``, ``fake_pages`` and
    ``local_mode`` (serve queries from ``fake_pages``, as a cache does),
    ``paging`` and ``prefetch``.
    """

    def __init__(
        self,
        host: str | None,
        port: int | None,
        index: str | None = None,
        scroll_size: str = "1m",
        page_size: int = 10000,
        timeout: int = 30,
        **kwargs: Any,
    ) -> None:
        """Configure the connection to an Elasticsearch endpoint.

        ``kwargs`` go to ``elasticsearch.AsyncElasticsearch`` (pytokio's
        ``http_auth`` is accepted as ``basic_auth``).  No request is made
        until a query is issued.
        """
        self.client: EsClient | None = None
        self.page: dict[str, Any] | None = None
        self.scroll_pages: list[Any] = []
        self.index = index
        self.connect_host = host
        self.connect_port = port
        self.connect_timeout = timeout
        self.page_size = page_size
        self.scroll_size = scroll_size
        self.scroll_id: str | None = None
        self.sort_by = ""
        self.fake_pages: list[dict[str, Any]] = []
        self.local_mode = False
        self.paging = "scroll"
        self.prefetch = 1
        self.source_filter: bool | Sequence[str] = True
        self.filter_function: Callable[[Any], Any] | None = None
        self.flush_every: int | None = None
        self.flush_function: Callable[[Any], Any] | None = None
        self.num_flushes = 0
        self._hits_since_flush = 0
        self._fake_cursor = 0
        if host and port:
            self.connect(**kwargs)

    # -- connection ------------------------------------------------------------------------

    def connect(self, **kwargs: Any) -> None:
        """Open the client (``kwargs`` go to ``AsyncElasticsearch``) and keep it on self.

        ``kwargs`` go to ``AsyncElasticsearch`` whenever a client is opened.
        """
        if "http_auth" in kwargs:
            kwargs.setdefault("basic_auth", kwargs.pop("http_auth"))
        if "timeout" in kwargs:
            kwargs.setdefault("request_timeout", kwargs.pop("timeout"))
        if self.connect_host is None:
            raise ValueError("no Elasticsearch host given")
        self.client = EsClient(
            hosts=[_host_url(self.connect_host, self.connect_port)],
            timeout=float(self.connect_timeout),
            options=kwargs,
        )

    def close(self) -> None:
        """Close and invalidate the connection context (releasing an open scroll context)."""
        if self.scroll_id is not None and self.client is not None and not self.local_mode:
            try:
                run_sync(self._aclear_scroll, self.scroll_id)
            except Exception as error:
                logger.warning("could not release scroll context %s: %s", self.scroll_id, error)
        self.scroll_id = None
        self.client = None

    @asynccontextmanager
    async def open_client(self) -> AsyncIterator[Any]:
        """An ``AsyncElasticsearch`` on the running event loop for the block (``None`` in local mode).

        Pass it to :meth:`page_stream` to run several queries over one client.
        """
        if self.local_mode:
            yield None
            return
        async with self._need_client().connect() as client:
            yield client

    def _need_client(self) -> EsClient:
        if self.client is None:
            raise RuntimeError("not connected to Elasticsearch (no host and port given)")
        return self.client

    async def _aclear_scroll(self, scroll_id: str) -> None:
        async with self._need_client().connect() as client:
            await client.clear_scroll(scroll_id=scroll_id)

    # -- caches ----------------------------------------------------------------------------

    @classmethod
    def from_cache(cls, cache_file: str) -> EsConnection:
        """A connection that serves its queries from the pages of a cache file.

        Meant for tests and offline work.  ``cache_file`` is
        the JSON list of pages that :meth:`save_cache` writes (``.gz``
        allowed).  Each page becomes ``{"_scroll_id": "0", "hits": {"hits":
        page}}`` in ``fake_pages`` (an empty page ends them) and
        ``local_mode`` is set: every query then replays these pages.
        """
        instance = cls(host=None, port=None)
        instance.load_cache(cache_file)
        return instance

    def load_cache(self, cache_file: str) -> None:
        """Replace ``fake_pages`` by the pages of a cache file and switch to local mode."""
        pages = load_pages(cache_file)
        self.fake_pages = [
            page if isinstance(page, dict) else {"_scroll_id": "0", "hits": {"hits": page}}
            for page in pages
        ]
        self.fake_pages.append({"_scroll_id": "0", "hits": {"hits": []}})
        self.local_mode = True
        self._fake_cursor = 0

    def save_cache(self, output_file: str | None = None) -> None:
        """Write the pages of the last query as JSON (``None``: to stdout).

        It only saves the last query's results (``scroll_pages``, a JSON
        list of pages), no connection state.  ``None`` writes to stdout
        (indented by 4); a file is compact, gzip when its name ends in
        ``.gz``.
        """
        if output_file is None:
            write_pages(self.scroll_pages, sys.stdout, indent=4)
            sys.stdout.write("\n")
            return
        opener = gzip.open if str(output_file).endswith(".gz") else open
        with opener(output_file, "wt") as output:
            write_pages(self.scroll_pages, output)

    # -- single requests -----------------------------------------------------------------------

    def _search_body(self, query: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(query)
        body["size"] = self.page_size
        if self.source_filter is not True:
            body["_source"] = self.source_filter
        if self.sort_by:
            body.setdefault("sort", [self.sort_by])
        return body

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        """Run one search (no scroll) and return its response.

        Issues a scrolling search (``scroll=scroll_size``, ``size=page_size``)
        and returns the resulting page; sets ``scroll_id`` so that
        :meth:`scroll` can continue.
        """
        if self.local_mode:
            self._fake_cursor = 0
            page = self._next_fake_page()
        else:
            page = run_sync(self._aquery, query)
        self.page = page
        self.scroll_id = page.get("_scroll_id")
        return page

    async def _aquery(self, query: dict[str, Any]) -> dict[str, Any]:
        async with self._need_client().connect() as client:
            response = await client.search(
                index=self.index, body=self._search_body(query), scroll=self.scroll_size
            )
            return dict(response.body)

    def scroll(self) -> dict[str, Any]:
        """Fetch the page that follows the last one of the open scroll.

        Needs ``scroll_id`` (set by :meth:`query`).  Returns the next page.
        """
        if self.local_mode:
            page = self._next_fake_page()
        else:
            if self.scroll_id is None:
                raise RuntimeError("no scroll context: issue query() first")
            page = run_sync(self._ascroll, self.scroll_id)
        self.page = page
        self.scroll_id = page.get("_scroll_id", self.scroll_id)
        return page

    async def _ascroll(self, scroll_id: str) -> dict[str, Any]:
        async with self._need_client().connect() as client:
            no_retry = client.options(max_retries=0)
            response = await no_retry.scroll(scroll_id=scroll_id, scroll=self.scroll_size)
            return dict(response.body)

    def _next_fake_page(self) -> dict[str, Any]:
        if self._fake_cursor < len(self.fake_pages):
            page = self.fake_pages[self._fake_cursor]
            self._fake_cursor += 1
            return page
        return {"_scroll_id": "0", "hits": {"hits": []}}

    # -- scrolling through a whole result ------------------------------------------------------

    @asynccontextmanager
    async def page_stream(
        self,
        query: dict[str, Any],
        source_filter: bool | Sequence[str] = True,
        client: Any = None,
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """The non-empty pages of ``query``, fetched ahead while the caller works.

        In local mode the cached pages are replayed.  Otherwise the pages
        come from :func:`atokio.collectors.elasticsearch.iter_pages` (with
        ``paging``, ``prefetch``, ``scroll_size`` and ``page_size``), on
        ``client`` (an open ``AsyncElasticsearch``) or on a client opened for
        the block.  The scroll context or point in time is released when the
        block ends, however it ends.
        """
        if self.local_mode:
            yield self._replay()
            return
        if client is None:
            async with self._need_client().connect() as own:
                async with self._stream(own, query, source_filter) as pages:
                    yield pages
            return
        async with self._stream(client, query, source_filter) as pages:
            yield pages

    @asynccontextmanager
    async def _stream(
        self, client: Any, query: dict[str, Any], source_filter: bool | Sequence[str]
    ) -> AsyncIterator[PageStream]:
        body = copy.deepcopy(query)
        if self.sort_by:
            body.setdefault("sort", [self.sort_by])
        async with iter_pages(
            client,
            self.index,
            body,
            paging=self.paging,  # type: ignore[arg-type]
            keep_alive=self.scroll_size,
            size=self.page_size,
            source=source_filter,
            prefetch=self.prefetch,
        ) as pages:
            yield pages
            self.scroll_id = pages.context_id if not pages.released else None

    async def _replay(self) -> AsyncIterator[dict[str, Any]]:
        for page in self.fake_pages:
            if page_hits(page):
                yield page
            await anyio.lowlevel.checkpoint()

    def _process_page(self) -> bool:
        """Take in the page just received: bookkeeping, filter, append, flush when due.

        Takes the last received page (``self.page``), updates the scroll
        state and the hit counter, applies the filter function, appends the
        result to ``scroll_pages`` and calls the flush function when due.
        Returns whether hits were appended.
        """
        page = self.page or {}
        if isinstance(page, dict) and page.get("_scroll_id"):
            self.scroll_id = page["_scroll_id"]
        hits = page_hits(page)
        if not hits:
            return False
        keep = (self.filter_function or _identity)(page)
        self.scroll_pages.append(keep)
        self._hits_since_flush += len(hits)
        if (
            self.flush_every is not None
            and self.flush_function is not None
            and self._hits_since_flush >= self.flush_every
        ):
            self.flush_function(self)
            self.num_flushes += 1
            self._hits_since_flush = 0
        return True

    async def aquery_and_scroll(
        self,
        query: dict[str, Any],
        source_filter: bool | Sequence[str] = True,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """The async form of :meth:`query_and_scroll`."""
        self.source_filter = source_filter
        self.filter_function = filter_function
        self.flush_every = flush_every
        self.flush_function = flush_function
        self._hits_since_flush = 0
        async with self.page_stream(query, source_filter) as pages:
            async for page in pages:
                self.page = page
                self._process_page()

    def query_and_scroll(
        self,
        query: dict[str, Any],
        source_filter: bool | Sequence[str] = True,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """Run a query and append all of its pages to ``scroll_pages``.

        Scrolls through every resulting page, applying ``filter_function``
        (its return value is what is appended to ``scroll_pages``) and
        calling ``flush_function(self)`` whenever ``flush_every`` hits have
        accumulated.  ``scroll_pages`` is not cleared first: results of
        successive queries pile up until the caller clears it.
        ``source_filter`` is ``True`` (whole ``_source``) or a list of fields.
        """
        run_sync(
            self.aquery_and_scroll,
            query,
            source_filter,
            filter_function,
            flush_every,
            flush_function,
        )

    async def aquery_timeseries(
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        source_filter: bool | Sequence[str] = True,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """The async form of :meth:`query_timeseries`."""
        query = build_timeseries_query(query_template, start, end)
        await self.aquery_and_scroll(
            query, source_filter, filter_function, flush_every, flush_function
        )

    def query_timeseries(
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        source_filter: bool | Sequence[str] = True,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """Craft and issue a query bounded by time: ``@timestamp`` in ``[start, end)``.

        The other arguments are those of :meth:`query_and_scroll`.
        """
        run_sync(
            self.aquery_timeseries,
            query_template,
            start,
            end,
            source_filter,
            filter_function,
            flush_every,
            flush_function,
        )

    # -- shaping -------------------------------------------------------------------------------

    def iter_hits(self) -> Iterable[Any]:
        """Every hit of ``scroll_pages``, in order (pages may be hit lists or responses)."""
        for page in self.scroll_pages:
            yield from page_hits(page)

    def hits_frame(self, fields: Sequence[str]) -> pandas.DataFrame:
        """``scroll_pages`` as a DataFrame: one row per hit, columns ``fields``.

        RangeIndex, columns in the order given, values
        ``hit["_source"].get(field)`` (``None`` when absent), no type conversion.
        """
        columns = list(fields)
        rows = []
        for hit in self.iter_hits():
            source = hit.get("_source") or {}
            rows.append([source.get(field) for field in columns])
        return pandas.DataFrame(rows, columns=columns)

    def to_dataframe(self, fields: Sequence[str]) -> str:
        """Converts ``scroll_pages`` to CSV, as documented (despite the name).

        Returns the pages' hits as CSV text (pandas' default ``to_csv``: the
        unnamed index first, then ``fields``); :meth:`hits_frame` gives the
        DataFrame itself.  Subclasses such as
        :class:`atokio.connectors.collectd_es.CollectdEs` return DataFrames.
        """
        return str(self.hits_frame(fields).to_csv())
