"""collectd measurements kept in Elasticsearch (``tokio.connectors.collectd_es``).

:class:`CollectdEs` is an :class:`atokio.connectors.es.EsConnection` with
collectd's queries and defaults (docs/formats.md#collectd-documents): every query
matches hosts whose name starts with ``bb`` (the Cori burst-buffer nodes)
in ``[start, end)``; ``query_cpu``, ``query_disk`` and ``query_memory`` add
the plugin's conditions.  Hits keep only the :data:`SOURCE_FIELDS` of their
``_source``, and only the list of hits of each page is kept in
``scroll_pages`` (the default filter function).

The index defaults to ``cori-collectd-*`` when none is given.  Turning the
documents into TOKIO Time Series cells is the sans-IO parser
:mod:`atokio.parsers.collectd`.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable, Sequence
from typing import Any

import pandas

from atokio.connectors.es import EsConnection, build_timeseries_query, mutate_query
from atokio.parsers.collectd import SOURCE_FIELDS as _FIELDS

__all__ = [
    "BASE_QUERY",
    "DEFAULT_INDEX",
    "PLUGINS",
    "SOURCE_FIELDS",
    "CollectdEs",
    "plugin_query",
]

#: The index pattern searched when none is given.
DEFAULT_INDEX = "cori-collectd-*"

#: The ``_source`` fields returned (also the columns of :meth:`CollectdEs.to_dataframe`).
SOURCE_FIELDS: list[str] = list(_FIELDS)

#: Every collectd query: a ``@timestamp`` range and burst-buffer hosts only.
BASE_QUERY: dict[str, Any] = {
    "query": {
        "constant_score": {
            "filter": {
                "bool": {
                    "must": [
                        {"range": {"@timestamp": {}}},
                        {"prefix": {"hostname": "bb"}},
                    ]
                }
            }
        }
    }
}

#: The conditions each plugin query adds: ``(term type, field, value)``.
PLUGINS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cpu": (
        ("term", "plugin", "cpu"),
        ("regexp", "type_instance", "(idle|user|system)"),
    ),
    "disk": (
        ("term", "plugin", "disk"),
        ("prefix", "plugin_instance", "nvme"),
        ("regexp", "collectd_type", "disk_(octets|ops)"),
    ),
    "memory": (("term", "plugin", "memory"),),
}


def plugin_query(plugin: str, start: datetime.datetime, end: datetime.datetime) -> dict[str, Any]:
    """The query of one plugin (``cpu``, ``disk`` or ``memory``) over ``[start, end)``."""
    try:
        conditions = PLUGINS[plugin]
    except KeyError:
        raise ValueError(f"unknown collectd plugin {plugin!r}: use {', '.join(PLUGINS)}") from None
    query = copy.deepcopy(BASE_QUERY)
    for term, field, value in conditions:
        mutate_query(query, field, value, term=term)
    return build_timeseries_query(query, start, end)


def hits_only(page: dict[str, Any]) -> list[Any]:
    """The default filter function: keep only the list of hits of a page."""
    return list(page["hits"]["hits"])


def no_flush(connection: Any) -> Any:
    """The default flush function: do nothing."""
    return connection


class CollectdEs(EsConnection):
    """collectd-Elasticsearch connection handler (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) < 3 and kwargs.get("index") is None:
            kwargs["index"] = DEFAULT_INDEX
        super().__init__(*args, **kwargs)
        self.default_source_filter: list[str] = list(SOURCE_FIELDS)
        self.default_filter_function: Callable[[Any], Any] = hits_only
        self.default_flush_every: int = 50000
        self.default_flush_function: Callable[[Any], Any] = no_flush

    @classmethod
    def from_cache(cls, *args: Any, **kwargs: Any) -> CollectdEs:
        """Initializes a CollectdEs object from a cache file (``cache_file``: a JSON list of pages).

        Meant for tests and offline work; see
        :meth:`atokio.connectors.es.EsConnection.from_cache`.
        """
        cache_file = kwargs.pop("cache_file", None)
        if cache_file is None:
            if not args:
                raise TypeError("from_cache() needs a cache_file")
            cache_file, args = args[0], args[1:]
        if args or kwargs:
            raise TypeError("from_cache() takes only cache_file")
        instance = cls(host=None, port=None)
        instance.load_cache(cache_file)
        return instance

    def _defaults(
        self,
        source_filter: bool | Sequence[str] | None,
        filter_function: Callable[[Any], Any] | None,
        flush_every: int | None,
        flush_function: Callable[[Any], Any] | None,
    ) -> tuple[Any, Any, Any, Any]:
        return (
            self.default_source_filter if source_filter is None else source_filter,
            self.default_filter_function if filter_function is None else filter_function,
            self.default_flush_every if flush_every is None else flush_every,
            self.default_flush_function if flush_function is None else flush_function,
        )

    def query_timeseries(
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        source_filter: bool | Sequence[str] | None = None,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """Map connection-wide attributes to ``EsConnection.query_timeseries`` arguments.

        Any argument left ``None`` takes this connector's default: the
        collectd source fields, keep only the hits of each page, flush every
        50,000 hits, a flush that does nothing.
        """
        super().query_timeseries(
            query_template,
            start,
            end,
            *self._defaults(source_filter, filter_function, flush_every, flush_function),
        )

    async def aquery_timeseries(
        self,
        query_template: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        source_filter: bool | Sequence[str] | None = None,
        filter_function: Callable[[Any], Any] | None = None,
        flush_every: int | None = None,
        flush_function: Callable[[Any], Any] | None = None,
    ) -> None:
        """The async form of :meth:`query_timeseries`."""
        await super().aquery_timeseries(
            query_template,
            start,
            end,
            *self._defaults(source_filter, filter_function, flush_every, flush_function),
        )

    def _query_plugin(self, plugin: str, start: datetime.datetime, end: datetime.datetime) -> None:
        query = copy.deepcopy(BASE_QUERY)
        for term, field, value in PLUGINS[plugin]:
            mutate_query(query, field, value, term=term)
        self.query_timeseries(query, start, end)

    def query_cpu(self, start: datetime.datetime, end: datetime.datetime) -> None:
        """Query Elasticsearch for collectd cpu plugin data in ``[start, end)``."""
        self._query_plugin("cpu", start, end)

    def query_disk(self, start: datetime.datetime, end: datetime.datetime) -> None:
        """Query Elasticsearch for collectd disk plugin data in ``[start, end)``."""
        self._query_plugin("disk", start, end)

    def query_memory(self, start: datetime.datetime, end: datetime.datetime) -> None:
        """Query Elasticsearch for collectd memory plugin data in ``[start, end)``."""
        self._query_plugin("memory", start, end)

    def to_dataframe(self) -> pandas.DataFrame:  # type: ignore[override]
        """Converts ``scroll_pages`` to a DataFrame: one row per hit, the 20 source fields as columns."""
        return self.hits_frame(SOURCE_FIELDS)
