"""Dump Elasticsearch pages to a writer (the jobs of ``cache_collectdes`` and ``cache_nersc_globuslogs``).

Each page is reduced to its list of hits (:func:`atokio.parsers.collectd.page_hits`)
and handed to ``write`` as it arrives, so that a dump of any size is held one
page at a time:

* :func:`adump_collectd` / :func:`dump_collectd`: the cpu, disk and memory
  queries of :class:`~atokio.connectors.collectd_es.CollectdEs`, in that order,
  over one client;
* :func:`adump_globus` / :func:`dump_globus`: one query of
  :class:`~atokio.connectors.nersc_globuslogs.NerscGlobusLogs`;
* :func:`cached_pages`: the pages of a dump written earlier (a JSON list of
  pages, plain or gzip), read and decoded incrementally.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator
from typing import Any

from atokio.collectors.files import open_binary
from atokio.collectors.sync import run_sync
from atokio.connectors.collectd_es import PLUGINS, CollectdEs, plugin_query
from atokio.connectors.nersc_globuslogs import NerscGlobusLogs
from atokio.parsers.collectd import PageParser, page_hits

__all__ = ["adump_collectd", "adump_globus", "cached_pages", "dump_collectd", "dump_globus"]

logger = logging.getLogger(__name__)

#: Bytes read from a cached dump per parse step.
_CHUNK = 1 << 20

Write = Callable[[list[Any]], Any]


async def adump_collectd(
    es: CollectdEs, start: datetime.datetime, end: datetime.datetime, write: Write
) -> int:
    """Hand the hits of every page of the cpu, disk and memory queries to ``write``; pages written."""
    pages = 0
    async with es.open_client() as client:
        for plugin in PLUGINS:
            query = plugin_query(plugin, start, end)
            async with es.page_stream(query, es.default_source_filter, client=client) as stream:
                async for page in stream:
                    write(page_hits(page))
                    pages += 1
    return pages


def dump_collectd(
    es: CollectdEs, start: datetime.datetime, end: datetime.datetime, write: Write
) -> int:
    """:func:`adump_collectd` from sync code."""
    return run_sync(adump_collectd, es, start, end, write)


async def adump_globus(es: NerscGlobusLogs, query: dict[str, Any], write: Write) -> int:
    """Hand the hits of every page of ``query`` to ``write`` as they arrive; pages written."""
    pages = 0
    async with es.page_stream(query, es.default_source_filter) as stream:
        async for page in stream:
            hits = page_hits(page)
            logger.debug("page of %d hits", len(hits))
            write(hits)
            pages += 1
    return pages


def dump_globus(es: NerscGlobusLogs, query: dict[str, Any], write: Write) -> int:
    """:func:`adump_globus` from sync code."""
    return run_sync(adump_globus, es, query, write)


def cached_pages(path: str) -> Iterator[list[Any]]:
    """The pages of a dump (each reduced to its hits), read and decoded incrementally."""
    parser = PageParser(source=path)
    with open_binary(path) as handle:
        while chunk := handle.read(_CHUNK):
            for page in parser.feed(chunk):
                yield page_hits(page)
    for page in parser.close():
        yield page_hits(page)
