"""Retrieve Globus transfer logs from NERSC's Elasticsearch infrastructure (``tokio.connectors.nersc_globuslogs``).

Connects to NERSC's OMNI service and retrieves Globus transfer logs
(docs/formats.md#globus-records-in-elasticsearch and docs/formats.md#elasticsearch).  :class:`NerscGlobusLogs` is an
:class:`atokio.connectors.es.EsConnection` whose queries select the
transfers that **overlap** ``[start, end)``: a transfer is returned when it
started before ``end`` (``start_date`` < end) and ended at or after
``start`` (``end_date`` >= start).  Times are naive local datetimes, turned
into epoch seconds as local time.

In scrolling mode (the default) the hits keep only the :data:`SOURCE_FIELDS`
of their ``_source``, each page is reduced to its list of hits before it is
appended to ``scroll_pages`` and the flush function (called every 50,000
hits) does nothing.  ``query_user`` and ``query_type`` add an exact ``term``
condition on ``USER`` / ``TYPE``; the match is case-sensitive (``"stor"``
finds nothing, ``"STOR"`` finds uploads).

Choices where the reference leaves things open:

* The index defaults to ``dtn-dtn-log*`` when none is given.
* ``scroll=False`` issues a single, non-scrolling search of at most
  ``page_size`` hits: no scroll context is opened, the source filter, the
  filter function and the flush callbacks are not used (so each hit has its
  whole ``_source``), and the page's list of hits is appended to
  ``scroll_pages`` like a scrolled page, so that :meth:`NerscGlobusLogs.to_dataframe`
  and ``save_cache`` see it.  Read ``page`` for the whole response.
* As with every :class:`~atokio.connectors.es.EsConnection`, queries append
  to ``scroll_pages`` (clear it between queries to keep only the last one),
  and an object made by :meth:`NerscGlobusLogs.from_cache` replays every
  cached page for any query: neither the time range nor the user/type
  conditions are applied to cached data.
* ``must`` may also be a single condition (a dict); it is never modified.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas

from atokio.collectors.sync import run_sync
from atokio.connectors.es import EsConnection, build_timeseries_query
from atokio.parsers.collectd import page_hits

__all__ = [
    "BASE_QUERY",
    "DEFAULT_INDEX",
    "FLUSH_EVERY",
    "SOURCE_FIELDS",
    "NerscGlobusLogs",
    "globus_query",
    "overlap_query",
]

#: The index pattern searched when none is given.
DEFAULT_INDEX = "dtn-dtn-log*"

#: The ``_source`` fields returned, in this order (also the columns of
#: :meth:`NerscGlobusLogs.to_dataframe`).
SOURCE_FIELDS: list[str] = [
    "@timestamp",
    "BLOCK",
    "BUFFER",
    "CODE",
    "DATE",
    "DEST",
    "DESTIP",
    "FILE",
    "HOST",
    "NBYTES",
    "START",
    "STREAMS",
    "STRIPES",
    "TASKID",
    "TYPE",
    "USER",
    "VOLUME",
    "bandwidth_mbps",
    "duration",
    "start_date",
    "end_date",
    "host",
]

#: Hits after which the (no-op) flush function is called in scrolling mode.
FLUSH_EVERY = 50000

#: Every Globus query: the transfer's start and end; the ranges are filled in by
#: :func:`atokio.connectors.es.build_timeseries_query` (``start_key="start_date"``,
#: ``end_key="end_date"``).
BASE_QUERY: dict[str, Any] = {
    "query": {
        "constant_score": {
            "filter": {
                "bool": {
                    "must": [
                        {"range": {"start_date": {}}},
                        {"range": {"end_date": {}}},
                    ]
                }
            }
        }
    }
}


def _with_must(must: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of :data:`BASE_QUERY` with the extra conditions appended to its ``must`` list."""
    query = copy.deepcopy(BASE_QUERY)
    if must is None:
        return query
    extra = [must] if isinstance(must, Mapping) else list(must)
    query["query"]["constant_score"]["filter"]["bool"]["must"].extend(copy.deepcopy(extra))
    return query


def overlap_query(
    query_template: dict[str, Any], start: datetime.datetime, end: datetime.datetime
) -> dict[str, Any]:
    """``query_template`` bounded to the records that overlap ``[start, end)``.

    Every ``start_date`` key gets ``{"lt": <end>, "format": "epoch_second"}``
    and every ``end_date`` key ``{"gte": <start>, "format": "epoch_second"}``;
    ``RuntimeError`` when either key is missing from the template.
    """
    return build_timeseries_query(
        query_template, start, end, start_key="start_date", end_key="end_date"
    )


def globus_query(
    start: datetime.datetime,
    end: datetime.datetime,
    must: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The search body of :meth:`NerscGlobusLogs.query`: transfers overlapping ``[start, end)``.

    ``must`` holds extra term-level conditions, appended after the two ranges.
    """
    return overlap_query(_with_must(must), start, end)


def hits_only(page: dict[str, Any]) -> list[Any]:
    """The filter function of scrolling queries: keep only the list of hits of a page."""
    return list(page["hits"]["hits"])


def no_flush(connection: Any) -> Any:
    """The flush function of scrolling queries: do nothing."""
    return connection


class NerscGlobusLogs(EsConnection):
    """Connection handler for NERSC Globus transfer logs (see the module docstring).

    Takes the arguments of :class:`atokio.connectors.es.EsConnection`
    (``host, port, index=None, scroll_size='1m', page_size=10000,
    timeout=30, **kwargs``); ``index`` defaults to :data:`DEFAULT_INDEX`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) < 3 and kwargs.get("index") is None:
            kwargs["index"] = DEFAULT_INDEX
        super().__init__(*args, **kwargs)
        self.default_source_filter: list[str] = list(SOURCE_FIELDS)
        self.default_filter_function: Callable[[Any], Any] = hits_only
        self.default_flush_every: int = FLUSH_EVERY
        self.default_flush_function: Callable[[Any], Any] = no_flush

    @classmethod
    def from_cache(cls, *args: Any, **kwargs: Any) -> NerscGlobusLogs:
        """A connector that serves its queries from the pages of a cache file.

        Meant for tests and offline work.  ``cache_file`` (the only
        argument) names a JSON list of pages
        (``.gz`` allowed); every query then replays those pages.
        """
        instance = super().from_cache(*args, **kwargs)
        assert isinstance(instance, NerscGlobusLogs)
        return instance

    # -- queries -------------------------------------------------------------------------------

    def query(  # type: ignore[override]
        self,
        start: datetime.datetime,
        end: datetime.datetime,
        must: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        scroll: bool = True,
    ) -> None:
        """The Globus transfers that overlap ``[start, end)``.

        ``must`` adds conditions (Elasticsearch query clauses) that every
        transfer must also meet.  For example
        ``[{"term": {"TASKID": "none"}}, {"term": {"TYPE": "STOR"}}]``
        returns only the transfers that have no associated TASKID and were
        storing data.  With ``scroll=False`` a single page is fetched and
        source_filter/filter_function/flush_every/flush_function are ignored
        (see the module docstring).
        """
        run_sync(self.aquery, start, end, must, scroll)

    async def aquery(
        self,
        start: datetime.datetime,
        end: datetime.datetime,
        must: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        scroll: bool = True,
    ) -> None:
        """The async form of :meth:`query`."""
        await self.aquery_timeseries(_with_must(must), start, end, scroll)

    def query_timeseries(  # type: ignore[override]
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        scroll: bool = True,
    ) -> None:
        """Craft and issue a query that returns all overlapping records.

        ``query_template`` must contain ``start_date`` and ``end_date`` keys
        (as :data:`BASE_QUERY` does); they are bounded so that the records
        overlapping ``[start, end)`` are returned.  ``scroll`` as in
        :meth:`query`.
        """
        run_sync(self.aquery_timeseries, query_template, start, end, scroll)

    async def aquery_timeseries(  # type: ignore[override]
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        scroll: bool = True,
    ) -> None:
        """The async form of :meth:`query_timeseries`."""
        query = overlap_query(query_template, start, end)
        if scroll:
            await self.aquery_and_scroll(
                query,
                source_filter=self.default_source_filter,
                filter_function=self.default_filter_function,
                flush_every=self.default_flush_every,
                flush_function=self.default_flush_function,
            )
        else:
            await self._asearch_once(query)

    async def _asearch_once(self, query: dict[str, Any]) -> None:
        """One search without a scroll context; its hits are appended to ``scroll_pages``."""
        self.source_filter = True
        self.filter_function = None
        self.flush_every = None
        self.flush_function = None
        if self.local_mode:
            page = next(
                (page for page in self.fake_pages if page_hits(page)),
                {"_scroll_id": "0", "hits": {"hits": []}},
            )
        else:
            body = copy.deepcopy(query)
            body["size"] = self.page_size
            if self.sort_by:
                body.setdefault("sort", [self.sort_by])
            async with self.open_client() as client:
                response = await client.search(index=self.index, body=body)
            page = dict(response.body)
        self.page = page
        self.scroll_id = None
        hits = page_hits(page)
        if hits:
            self.scroll_pages.append(list(hits))

    def query_user(self, start: datetime.datetime, end: datetime.datetime, user: str) -> None:
        """Wraps query() with a user restriction (an exact ``term`` on ``USER``).

        The transfers of one user only; ``start`` is inclusive, ``end``
        exclusive.
        """
        self.query(start, end, must=[{"term": {"USER": user}}])

    async def aquery_user(
        self, start: datetime.datetime, end: datetime.datetime, user: str
    ) -> None:
        """The async form of :meth:`query_user`."""
        await self.aquery(start, end, must=[{"term": {"USER": user}}])

    def query_type(self, start: datetime.datetime, end: datetime.datetime, xfer_type: str) -> None:
        """Wraps query() with a type restriction (an exact ``term`` on ``TYPE``).

        The transfers of one type only (STOR, RETR, ...).  Matched as given:
        the type is not upper-cased.
        """
        self.query(start, end, must=[{"term": {"TYPE": xfer_type}}])

    async def aquery_type(
        self, start: datetime.datetime, end: datetime.datetime, xfer_type: str
    ) -> None:
        """The async form of :meth:`query_type`."""
        await self.aquery(start, end, must=[{"term": {"TYPE": xfer_type}}])

    # -- shaping -------------------------------------------------------------------------------

    def to_dataframe(self) -> pandas.DataFrame:  # type: ignore[override]
        """Converts ``self.scroll_pages`` to a DataFrame.

        Returns the contents of the pages (the last query's, when
        ``scroll_pages`` was cleared before it): one row per hit, the 22
        :data:`SOURCE_FIELDS` as columns in that order, a RangeIndex, values
        as stored (time stamps stay strings; a missing field is ``None``).
        """
        return self.hits_frame(SOURCE_FIELDS)
