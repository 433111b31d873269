"""ESnet's SNMP REST API: per-interface traffic rates (``tokio.connectors.esnet_snmp``).

:class:`EsnetSnmp` is a dict (a :class:`~atokio.connectors.common.CacheableDict`)::

    {endpoint: {interface: {"in":  {epoch: bytes_per_sec, ...},
                            "out": {epoch: bytes_per_sec, ...},
                            "units": "bytes/sec"}}}

filled from the REST service or from a JSON cache written by
:meth:`~atokio.connectors.common.CacheableDict.save_cache` (epoch keys are
strings in the file and ints in memory).  Values are rates: total bytes are
``sum(values) * esnetsnmp.timestep``.

Requests (docs/formats.md#esnet-snmp): ``GET <base>/<endpoint>/interface/<interface>/<direction>``
with ``begin``/``end`` (epoch seconds, **both inclusive**), and ``calc_func``
and ``calc`` when an aggregation function or interval is asked for (atokio
sends them; pytokio master dropped them on the way).  The base URL is the
``esnet_snmp_url`` configuration key (``esnet_snmp_uri``, its older
spelling, and ``PYTOKIO_ESNET_SNMP_URI`` work too), or ``url=``.

Many interfaces at once: :meth:`EsnetSnmp.get_counters` (or its async form
:meth:`EsnetSnmp.aget_counters`) sends every (endpoint, interface,
direction) request concurrently through :mod:`atokio.collectors.http` (a
capacity limit, per-operation timeouts, retries with backoff on 5xx answers,
dropped connections and timeouts).  A request that fails for good does not
spoil the others: it is logged, recorded in :attr:`EsnetSnmp.failures`
(which request, and why) and the rest of the data is kept.
:meth:`EsnetSnmp.get_interface_counters`, the documented one-request form,
raises instead.  The answers are parsed as they stream in by
:class:`atokio.parsers.esnet_snmp.EsnetSnmpParser`.

The sync methods work in plain scripts and inside a running event loop
(Jupyter), see :func:`atokio.collectors.sync.run_sync`; services use the
async methods in their own trio or asyncio loop.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import numpy
import pandas

from atokio import config
from atokio.collectors.fanout import FanoutResult, SourceFailure
from atokio.collectors.files import open_binary
from atokio.collectors.http import (
    DEFAULT_LIMIT,
    DEFAULT_TIMEOUT,
    HttpRequest,
    RetryPolicy,
    fetch_many,
)
from atokio.collectors.sync import run_sync
from atokio.common import ConfigError, to_epoch
from atokio.connectors.common import CacheableDict
from atokio.parsers.esnet_snmp import EsnetSnmpParser, Field, Point, interval_of

__all__ = [
    "AGG_FUNCS",
    "DIRECTIONS",
    "UNITS",
    "EsnetSnmp",
    "base_url",
    "parse_endpoints",
    "query_name",
]

logger = logging.getLogger(__name__)

#: The two directions: ``in`` is into ESnet (from the site), ``out`` out of ESnet.
DIRECTIONS = ("in", "out")
#: The aggregation functions the service knows (``calc_func``).
AGG_FUNCS = ("average", "min", "max")
#: The units of every value.
UNITS = "bytes/sec"
#: How requests are retried unless told otherwise (see :class:`RetryPolicy`).
DEFAULT_RETRY = RetryPolicy()
#: Request options that ``get_interface_counters(**kwargs)`` understands.
REQUEST_OPTIONS = ("timeout", "headers", "auth", "verify")

Query = tuple[str, str, str]


def base_url() -> str:
    """The REST base URL from the configuration (``esnet_snmp_url``, else ``esnet_snmp_uri``)."""
    url = config.CONFIG.get("esnet_snmp_url") or config.CONFIG.get("esnet_snmp_uri")
    if not url:
        raise ConfigError(
            "no esnet_snmp_url configured: set esnet_snmp_url in the site configuration "
            "or PYTOKIO_ESNET_SNMP_URI in the environment"
        )
    return str(url).rstrip("/")


def query_name(endpoint: str, interface: str, direction: str) -> str:
    """The name of one request in results and failure reports: ``endpoint:interface:direction``."""
    return f"{endpoint}:{interface}:{direction}"


def _get_interval_result(result: Mapping[str, Any]) -> int | None:
    """The timestep of a raw REST answer: ``agg`` (a string such as ``"30"``), else ``calc``."""
    return interval_of(result)


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")


def _check_agg_func(agg_func: str | None) -> None:
    if agg_func is not None and agg_func not in AGG_FUNCS:
        raise ValueError(
            f"agg_func must be one of {', '.join(AGG_FUNCS)} or None, not {agg_func!r}"
        )


def _endpoint_help(sites: Sequence[str]) -> str:
    lines = ["Invalid endpoint specification."]
    if sites:
        lines.append(f"Valid endpoints: {sites[0]}")
        lines.extend(f"  {site}" for site in sites[1:])
    else:
        lines.append("Valid endpoints: (none: esnet_snmp_interfaces is not configured)")
    lines.append("Or give endpoint:interface[,endpoint:interface...]")
    return "\n".join(lines)


def parse_endpoints(
    spec: str, interfaces: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> list[tuple[str, str]]:
    """The ``(endpoint, interface)`` pairs named by an ``endpoints`` argument of the CLIs.

    ``spec`` is a site name of ``esnet_snmp_interfaces`` (``interfaces``, by
    default from the configuration), whose endpoints and interfaces are
    taken in the order of the site entry; or, when it holds a colon, a
    comma-separated list of ``endpoint:interface`` pairs, each split at its
    first colon (an endpoint may be repeated to collect several interfaces;
    a pair given twice counts once).  An empty, unknown or malformed
    specification raises ``ValueError`` whose message lists the valid site
    names.
    """
    sites = interfaces if interfaces is not None else config.CONFIG.get("esnet_snmp_interfaces")
    sites = sites if isinstance(sites, Mapping) else {}
    pairs: list[tuple[str, str]] = []
    text = spec.strip()
    if ":" in text:
        for item in text.split(","):
            endpoint, _, interface = item.strip().partition(":")
            if not endpoint or not interface:
                raise ValueError(_endpoint_help(list(sites)))
            pairs.append((endpoint, interface))
    elif text in sites:
        for endpoint, names in sites[text].items():
            if isinstance(names, str):
                names = [names]
            pairs.extend((endpoint, str(name)) for name in names)
    if not pairs:
        raise ValueError(_endpoint_help(list(sites)))
    return list(dict.fromkeys(pairs))


def _split_request_options(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``get_interface_counters(**kwargs)`` into (request options, client options)."""
    unknown = sorted(set(kwargs) - set(REQUEST_OPTIONS))
    if unknown:
        raise TypeError(
            f"unsupported request option(s) {', '.join(unknown)}; use {', '.join(REQUEST_OPTIONS)}"
        )
    client = {key: kwargs[key] for key in ("auth", "verify") if key in kwargs}
    request = {key: kwargs[key] for key in ("timeout", "headers") if key in kwargs}
    return request, client


class EsnetSnmp(CacheableDict):
    """Container for ESnet SNMP counters (see the module docstring for its layout).

    ``start`` and ``end`` (naive local datetimes) bound every query, **both
    inclusive** — a whole day is ``[day, day + 1 day - 1 s]`` — and should not
    change afterwards.  When ``endpoint``, ``interface`` and ``direction`` are
    all given, that one query runs at once.  ``agg_func`` (``"average"``,
    ``"min"`` or ``"max"``) and ``interval`` (seconds) ask the service for a
    reduction and a resolution; ``None`` leaves the service's default.
    ``kwargs`` go to :class:`~atokio.connectors.common.CacheableDict`
    (``input_file=`` loads a JSON cache instead of querying).

    atokio additions (keyword only): ``url`` (the REST base URL; default from
    the configuration, read when the first query is made), ``timeout``
    (seconds per connect/read/write), ``retry`` (a
    :class:`~atokio.collectors.http.RetryPolicy`), ``limit`` (requests in
    flight at once).

    Attributes: ``start``, ``end``; ``start_epoch``, ``end_epoch`` (int
    epoch seconds, ``None`` without a time); ``timestep`` (seconds between
    points, from the latest answer's ``agg``/``calc``; after loading a cache,
    which does not store it, the smallest spacing of its time stamps);
    ``last_response`` (the raw JSON of the latest answer); ``failures``
    (``SourceFailure`` per request that failed for good, named
    ``endpoint:interface:direction``); ``attempts`` (tries each successful
    request took, by the same names).
    """

    def __init__(
        self,
        start: datetime.datetime | None,
        end: datetime.datetime | None,
        endpoint: str | None = None,
        interface: str | None = None,
        direction: str | None = None,
        agg_func: str | None = None,
        interval: int | None = None,
        *,
        url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        limit: int = DEFAULT_LIMIT,
        **kwargs: Any,
    ) -> None:
        if start is not None and end is not None and start > end:
            raise ValueError(f"start ({start}) is after end ({end})")
        self.start = start
        self.end = end
        self.start_epoch: int | None = int(to_epoch(start)) if start is not None else None
        self.end_epoch: int | None = int(to_epoch(end)) if end is not None else None
        self.timestep: int | None = None
        self.last_response: dict[str, Any] | None = None
        self.failures: list[SourceFailure] = []
        self.attempts: dict[str, int] = {}
        self.url = url
        self.timeout = timeout
        self.retry = retry
        self.limit = limit
        super().__init__(**kwargs)
        if endpoint is not None and interface is not None and direction is not None:
            self.get_interface_counters(endpoint, interface, direction, agg_func, interval)

    # -- requests ------------------------------------------------------------------------
    def _base(self) -> str:
        return self.url.rstrip("/") if self.url else base_url()

    def _window(self) -> tuple[int, int]:
        if self.start_epoch is None or self.end_epoch is None:
            raise ValueError("EsnetSnmp needs start and end to query the REST API")
        return self.start_epoch, self.end_epoch

    def _request(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        agg_func: str | None,
        interval: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        _check_direction(direction)
        _check_agg_func(agg_func)
        begin, end = self._window()
        path = "/".join(
            [
                self._base(),
                quote(endpoint, safe=""),
                "interface",
                quote(interface, safe=""),
                direction,
            ]
        )
        params: list[tuple[str, str | int]] = [("begin", begin), ("end", end)]
        if agg_func is not None:
            params.append(("calc_func", agg_func))
        if interval is not None:
            params.append(("calc", int(interval)))
        return HttpRequest(path, params, headers)

    def gen_url(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        agg_func: str | None = None,
        interval: int | None = None,
    ) -> dict[str, Any]:
        """One query as the keyword arguments of an HTTP GET (``requests.get(**...)``).

        ``{"url": <base>/<endpoint>/interface/<interface>/<direction>,
        "params": {"begin": epoch, "end": epoch, "calc_func": agg_func,
        "calc": interval}}``; ``calc_func`` and ``calc`` are ``None`` when not
        given (HTTP clients leave such parameters out).  The reference text
        does not describe this method; the shape is pytokio's, which returns
        the request in this form rather than a URL string.
        :meth:`gen_full_url` gives the URL with its query string.
        """
        request = self._request(endpoint, interface, direction, agg_func, interval)
        params = dict(request.params or ())
        return {
            "url": request.url,
            "params": {
                "begin": params["begin"],
                "end": params["end"],
                "calc_func": agg_func,
                "calc": None if interval is None else int(interval),
            },
        }

    def gen_full_url(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        agg_func: str | None = None,
        interval: int | None = None,
    ) -> str:
        """The full URL of one query (``?begin=..&end=..[&calc_func=..][&calc=..]``)."""
        return self._request(endpoint, interface, direction, agg_func, interval).full_url()

    async def _fetch(
        self,
        queries: Iterable[Sequence[str]],
        agg_func: str | None,
        interval: int | None,
        client: httpx.AsyncClient | None,
        kwargs: Mapping[str, Any],
    ) -> tuple[list[Query], FanoutResult[dict[str, Any]]]:
        request_options, client_options = _split_request_options(kwargs)
        timeout = request_options.get("timeout", self.timeout)
        wanted: list[Query] = []
        for query in queries:
            if len(query) == 2:
                wanted.extend((query[0], query[1], d) for d in DIRECTIONS)
            elif len(query) == 3:
                wanted.append((query[0], query[1], query[2]))
            else:
                raise ValueError(f"a query is (endpoint, interface[, direction]), not {query!r}")
        wanted = list(dict.fromkeys(wanted))
        requests = {
            query_name(*query): self._request(
                *query, agg_func, interval, request_options.get("headers")
            )
            for query in wanted
        }
        fetched = await fetch_many(
            requests,
            limit=self.limit,
            timeout=timeout,
            retry=self.retry or DEFAULT_RETRY,
            parser_factory=EsnetSnmpParser,
            client=client,
            **client_options,
        )
        answers: FanoutResult[dict[str, Any]] = FanoutResult(failures=fetched.failures)
        for query in wanted:
            name = query_name(*query)
            done = fetched.results.get(name)
            if done is None:
                continue
            self.attempts[name] = done.attempts
            answers.results[name] = self._insert_records(*query, done.records or [])
        return wanted, answers

    async def aget_counters(
        self,
        queries: Iterable[Sequence[str]],
        agg_func: str | None = None,
        interval: int | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> FanoutResult[dict[str, Any]]:
        """Run many queries concurrently and add their data to self (async).

        ``queries`` are ``(endpoint, interface, direction)`` or ``(endpoint,
        interface)`` for both directions (``in`` then ``out``).  Returns the
        raw answers by ``endpoint:interface:direction`` (in the order asked)
        and the failures, which are also logged and appended to
        :attr:`failures`; data of the queries that succeeded is in self
        whatever happened to the others.  ``client`` reuses an
        ``httpx.AsyncClient``; ``kwargs`` are request options (``timeout``,
        ``headers``, ``auth``, ``verify``).
        """
        _, answers = await self._fetch(queries, agg_func, interval, client, kwargs)
        self.failures.extend(answers.failures)
        return answers

    def get_counters(
        self,
        queries: Iterable[Sequence[str]],
        agg_func: str | None = None,
        interval: int | None = None,
        **kwargs: Any,
    ) -> FanoutResult[dict[str, Any]]:
        """:meth:`aget_counters` from sync code (scripts, notebooks)."""
        return run_sync(self.aget_counters, list(queries), agg_func, interval, **kwargs)

    async def aget_interface_counters(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        agg_func: str | None = None,
        interval: int | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:meth:`get_interface_counters` for async code."""
        _, answers = await self._fetch(
            [(endpoint, interface, direction)], agg_func, interval, client, kwargs
        )
        answers.raise_first()
        return answers.results[query_name(endpoint, interface, direction)]

    #: The names of :meth:`aget_counters` and :meth:`aget_interface_counters`
    #: before the naming rule of :mod:`atokio.pipelines` (still awaitable).
    fetch_counters = aget_counters
    fetch_interface_counters = aget_interface_counters

    def get_interface_counters(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        agg_func: str | None = None,
        interval: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Retrieve the data rates of one interface in one direction, and add them to self.

        ``direction`` is ``"in"`` (into ESnet) or ``"out"``; ``agg_func`` and
        ``interval`` as for the constructor (they are sent to the service).
        ``kwargs`` are request options: ``timeout``, ``headers``, ``auth``,
        ``verify``.  Returns the raw JSON answer of the REST API.  Raises
        :class:`~atokio.collectors.http.HttpError` when the request fails
        (after the retries of :attr:`retry`), ``ParseError`` for an answer
        that is not valid JSON of the documented shape, ``ValueError`` for a
        bad direction or aggregation function.
        """
        return run_sync(
            self.aget_interface_counters,
            endpoint,
            interface,
            direction,
            agg_func,
            interval,
            **kwargs,
        )

    # -- filling self --------------------------------------------------------------------
    def _insert_points(
        self,
        endpoint: str,
        interface: str,
        direction: str,
        points: Iterable[tuple[int, Any]],
    ) -> int:
        """Add ``(epoch, value)`` points to one direction of one interface; return how many."""
        values = {int(stamp): value for stamp, value in points}
        if not values:
            logger.warning(
                "%s: no data in the answer (no data, or API throttling)",
                query_name(endpoint, interface, direction),
            )
            return 0
        entry = self.setdefault(endpoint, {}).setdefault(interface, {})
        entry.setdefault(direction, {}).update(values)
        entry["units"] = UNITS
        return len(values)

    def _note_timestep(self, fields: Mapping[str, Any]) -> None:
        timestep = interval_of(fields)
        if timestep is None:
            return
        if self.timestep is not None and timestep != self.timestep:
            logger.warning(
                "answers with different timesteps: %s s and %s s", self.timestep, timestep
            )
        self.timestep = timestep

    def _insert_records(
        self, endpoint: str, interface: str, direction: str, records: Sequence[Point | Field]
    ) -> dict[str, Any]:
        """Add one parsed answer to self; return it as the raw JSON object."""
        raw: dict[str, Any] = {}
        data: list[list[Any]] = []
        for record in records:
            if isinstance(record, Point):
                raw.setdefault("data", data)
                data.append([record.timestamp, record.value])
            else:
                raw[record.name] = record.value
        raw.setdefault("data", data)
        self._note_timestep(raw)
        self._insert_points(endpoint, interface, direction, ((t, v) for t, v in data))
        self.last_response = raw
        return raw

    def _insert_result(
        self,
        result: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        interface: str | None = None,
        direction: str | None = None,
    ) -> bool:
        """Parse a raw REST answer (default :attr:`last_response`) into self.

        ``endpoint``, ``interface`` and ``direction`` say where it belongs.
        Returns True when data was inserted, False when the answer held none.
        """
        result = self.last_response if result is None else result
        if result is None or endpoint is None or interface is None or direction is None:
            raise ValueError(
                "_insert_result needs an answer, an endpoint, an interface and a direction"
            )
        _check_direction(direction)
        self._note_timestep(result)
        data = result.get("data") or []
        return self._insert_points(endpoint, interface, direction, ((p[0], p[1]) for p in data)) > 0

    # -- caches --------------------------------------------------------------------------
    def load_json(self, input_file: str | None = None, **kwargs: Any) -> None:
        """Load a JSON cache (plain or gzip), turning its epoch keys back into ints.

        ``kwargs`` go to :func:`json.loads`.
        """
        path = input_file or self.input_file
        if path is None:
            raise ValueError("no input file given")
        with open_binary(path) as handle:
            loaded = json.loads(handle.read(), **kwargs)
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: an EsnetSnmp cache is a JSON object")
        for endpoint, interfaces in loaded.items():
            target = self.setdefault(endpoint, {})
            for interface, entry in interfaces.items():
                into = target.setdefault(interface, {})
                for key, value in entry.items():
                    if isinstance(value, dict):
                        into.setdefault(key, {}).update({int(t): v for t, v in value.items()})
                    else:
                        into[key] = value
        if self.timestep is None:
            self.timestep = self._inferred_timestep()

    def load_native(self, input_file: str | None = None) -> None:
        """There is no native format besides the JSON cache: a clear error."""
        path = input_file or self.input_file
        raise ValueError(f"{path}: not an EsnetSnmp JSON cache (as written by save_cache)")

    def _inferred_timestep(self) -> int | None:
        smallest: int | None = None
        for interfaces in self.values():
            for entry in interfaces.values():
                for direction in DIRECTIONS:
                    stamps = sorted(entry.get(direction, {}))
                    steps = numpy.diff(numpy.asarray(stamps, dtype=numpy.int64))
                    steps = steps[steps > 0]
                    if steps.size:
                        step = int(steps.min())
                        smallest = step if smallest is None else min(smallest, step)
        return smallest

    # -- views ---------------------------------------------------------------------------
    def to_dataframe(self, multiindex: bool = False) -> pandas.DataFrame:
        """The data as a DataFrame, one row per point.

        Columns ``endpoint, interface, direction, timestamp`` (naive local
        datetime), ``data_rate`` (float; NaN where the service sent null),
        in the order of self, with a RangeIndex.  With ``multiindex=True`` it
        is indexed by ``(timestamp, endpoint, interface, direction)``
        instead, sorted, with the one column ``data_rate``.
        """
        from atokio.connectors.hdf5 import local_index

        endpoints: list[str] = []
        interfaces: list[str] = []
        directions: list[str] = []
        stamps: list[int] = []
        rates: list[float] = []
        for endpoint, entries in self.items():
            for interface, entry in entries.items():
                for direction, points in entry.items():
                    if not isinstance(points, dict):
                        continue  # "units"
                    count = len(points)
                    endpoints.extend([endpoint] * count)
                    interfaces.extend([interface] * count)
                    directions.extend([direction] * count)
                    stamps.extend(points.keys())
                    rates.extend(numpy.nan if v is None else v for v in points.values())
        frame = pandas.DataFrame(
            {
                "endpoint": pandas.Series(endpoints, dtype=object),
                "interface": pandas.Series(interfaces, dtype=object),
                "direction": pandas.Series(directions, dtype=object),
                "timestamp": pandas.Series(local_index(stamps)),
                "data_rate": pandas.Series(rates, dtype=numpy.float64),
            }
        )
        if multiindex:
            frame = frame.set_index(
                ["timestamp", "endpoint", "interface", "direction"]
            ).sort_index()
        return frame
