"""A loopback HTTP server that speaks the subset of the Elasticsearch REST API atokio uses.

Elasticsearch itself cannot be installed here, so the tests (and the
benchmark) drive the real ``elasticsearch`` client against this server over
real HTTP.  It serves a fixed list of hits (the corpus pages, or generated
collectd documents) and implements:

* ``POST /<index>/_search?scroll=1m`` (and ``/_search``): a query of the form
  ``{"query": {"constant_score": {"filter": {"bool": {"must": [...]}}}}}``
  (or ``match_all``) whose clauses may be ``range`` (``gte``/``gt``/``lt``/
  ``lte``, ``format: epoch_second`` on ISO time stamps), ``term``,
  ``prefix`` and ``regexp``; ``size``; ``_source`` as a field list;
* ``POST /_search/scroll`` (``scroll_id``) and ``DELETE /_search/scroll``;
* ``POST /<index>/_pit?keep_alive=1m``, ``POST /_search`` with ``pit``,
  ``sort`` and ``search_after``, and ``DELETE /_pit``.

Every answer carries ``X-Elastic-Product: Elasticsearch`` and the content
type the 8.x/9.x client asked for.  The server records what happened (scroll
contexts and points in time opened and released, requests seen) so that
tests can check that the client released what it opened.  Hits are served
in document order; ``index`` is ignored (every index holds the same hits).
"""

from __future__ import annotations

import datetime
import gzip
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Hit = dict[str, Any]


class Documents:
    """The hits a server serves: a list, or a generator function of the position."""

    def __init__(self, hits: Sequence[Hit] | None = None, *, count: int = 0,
                 make: Callable[[int], Hit] | None = None) -> None:  # fmt: skip
        self._hits = list(hits) if hits is not None else None
        self._count = len(self._hits) if self._hits is not None else count
        self._make = make

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, position: int) -> Hit:
        if self._hits is not None:
            return self._hits[position]
        assert self._make is not None
        return self._make(position)


def collectd_hit(position: int, *, start: int = 1513152000, nodes: int = 16) -> Hit:
    """A generated collectd document (disk, cpu or memory), deterministic in ``position``.

    Documents cycle over ``nodes`` hosts ``bb1..``; every 10 s each host sends
    disk_octets and disk_ops for 2 NVMe devices, cpu idle/user/system for 2
    cores and two memory values.
    """
    per_step = nodes * 12
    step, slot = divmod(position, per_step)
    host_index, kind = divmod(slot, 12)
    host = f"bb{host_index + 1}"
    epoch = start + 10 * step + (host_index % 10) * 0.5 + 0.125
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    source: dict[str, Any] = {"@timestamp": stamp[:-3] + "Z", "hostname": host}
    value = float((position * 7919) % 100003) + 0.25
    if kind < 4:
        source.update(
            plugin="disk",
            collectd_type="disk_octets" if kind % 2 == 0 else "disk_ops",
            plugin_instance=f"nvme{kind // 2}n1",
            read=value,
            write=value * 2,
        )
    elif kind < 10:
        core, which = divmod(kind - 4, 3)
        source.update(
            plugin="cpu",
            collectd_type="percent",
            plugin_instance=str(core),
            type_instance=("idle", "user", "system")[which],
            value=float(position % 97),
        )
    else:
        source.update(
            plugin="memory",
            collectd_type="memory",
            type_instance=("used", "free")[kind - 10],
            value=value * 1024,
        )
    day = stamp[:10].replace("-", ".")
    return {
        "_index": f"cori-collectd-{day}",
        "_type": "doc",
        "_id": f"doc{position:09d}",
        "_score": 1.0,
        "_source": source,
    }


def generated(count: int, **options: Any) -> Documents:
    """``count`` generated collectd documents (see :func:`collectd_hit`)."""
    return Documents(count=count, make=lambda i: collectd_hit(i, **options))


# -- query evaluation -------------------------------------------------------------------------


class QueryError(ValueError):
    """A query this server does not understand (answered with HTTP 400)."""


def _epoch_of(stamp: Any) -> float:
    if isinstance(stamp, int | float):
        return float(stamp) / 1000.0
    text = str(stamp)
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _bound(value: Any, fmt: str | None) -> float:
    if fmt == "epoch_second":
        return float(value)
    if fmt == "epoch_millis" or isinstance(value, int | float):
        return float(value) / 1000.0
    return _epoch_of(value)


def _clause(clause: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    if len(clause) != 1:
        raise QueryError(f"a clause has one key, not {sorted(clause)}")
    kind, spec = next(iter(clause.items()))
    if kind == "match_all":
        return lambda source: True
    if not isinstance(spec, dict) or len(spec) != 1:
        raise QueryError(f"bad {kind} clause {spec!r}")
    name, arg = next(iter(spec.items()))
    if kind == "range":
        if not isinstance(arg, dict) or not arg:
            raise QueryError(f"empty range on {name}")
        fmt = arg.get("format")
        tests = []
        for op, compare in (
            ("gte", float.__ge__),
            ("gt", float.__gt__),
            ("lt", float.__lt__),
            ("lte", float.__le__),
        ):
            if op in arg:
                limit = _bound(arg[op], fmt)
                tests.append((compare, limit))
        if not tests:
            raise QueryError(f"range on {name} without bounds")

        def in_range(source: dict[str, Any]) -> bool:
            if source.get(name) is None:
                return False
            epoch = _epoch_of(source[name])
            return all(compare(epoch, limit) for compare, limit in tests)

        return in_range
    if isinstance(arg, dict):
        arg = arg.get("value")
    if kind == "term":
        return lambda source: source.get(name) == arg
    if kind == "prefix":
        return lambda source: isinstance(source.get(name), str) and source[name].startswith(arg)
    if kind == "regexp":
        pattern = re.compile(str(arg))
        return lambda source: (
            isinstance(source.get(name), str) and bool(pattern.fullmatch(source[name]))
        )
    raise QueryError(f"unsupported clause type {kind!r}")


def compile_query(body: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """A predicate on ``_source`` for the query of a search body."""
    query = body.get("query")
    if query is None or query == {"match_all": {}}:
        return lambda source: True
    try:
        must = query["constant_score"]["filter"]["bool"]["must"]
    except (KeyError, TypeError):
        raise QueryError(f"unsupported query {json.dumps(query)[:200]}") from None
    tests = [_clause(c) for c in (must if isinstance(must, list) else [must])]
    return lambda source: all(test(source) for test in tests)


def _filter_source(hit: Hit, fields: Any) -> Hit:
    if fields is None or fields is True:
        return hit
    if fields is False:
        return {k: v for k, v in hit.items() if k != "_source"}
    wanted = set(fields if isinstance(fields, list) else [fields])
    out = dict(hit)
    out["_source"] = {k: v for k, v in hit["_source"].items() if k in wanted}
    return out


# -- server state -----------------------------------------------------------------------------


@dataclass
class Context:
    """A scroll context or point in time: which positions match, how far the scroll got."""

    positions: Sequence[int]
    size: int = 10
    source: Any = None
    cursor: int = 0


@dataclass
class ServerLog:
    """What the server saw (read by the tests)."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[Any] = field(default_factory=list)
    scrolls_opened: list[str] = field(default_factory=list)
    scrolls_released: list[str] = field(default_factory=list)
    pits_opened: list[str] = field(default_factory=list)
    pits_closed: list[str] = field(default_factory=list)
    pages_served: int = 0
    hits_served: int = 0

    def open_contexts(self) -> list[str]:
        """Scroll ids and point-in-time ids still open."""
        scrolls = [s for s in self.scrolls_opened if s not in set(self.scrolls_released)]
        pits = [p for p in self.pits_opened if p not in set(self.pits_closed)]
        return scrolls + pits


class EsState:
    """The documents, the open contexts and the log; shared by the handler threads."""

    def __init__(
        self,
        documents: Documents | Sequence[Hit],
        *,
        pit: bool = True,
        apply_query: bool = True,
        delay: float = 0.0,
        fail_page: int | None = None,
    ) -> None:
        self.documents = documents if isinstance(documents, Documents) else Documents(documents)
        self.pit = pit
        self.apply_query = apply_query
        self.delay = delay
        self.fail_page = fail_page  #: answer HTTP 500 to this continuation request (1 = the first)
        self.down = False  #: answer HTTP 503 to every request (a source outage)
        self.down_for = 0  #: answer HTTP 503 to this many more requests
        self.lock = threading.Lock()
        self.contexts: dict[str, Context] = {}
        self.pits: dict[str, Sequence[int]] = {}
        self.log = ServerLog()
        self._ids = itertools.count(1)
        self._continuations = 0
        self.served = threading.Event()  #: set whenever a page has been served

    def matching(self, body: dict[str, Any]) -> Sequence[int]:
        if not self.apply_query:
            return range(len(self.documents))
        test = compile_query(body)
        return [i for i in range(len(self.documents)) if test(self.documents[i]["_source"])]

    def page(self, context: Context, start: int, *, pit_id: str | None = None) -> dict[str, Any]:
        chosen = context.positions[start : start + context.size]
        hits = []
        for offset, position in enumerate(chosen):
            hit = _filter_source(self.documents[position], context.source)
            if pit_id is not None:
                hit = dict(hit)
                hit["sort"] = [start + offset]
            hits.append(hit)
        with self.lock:
            self.log.pages_served += 1
            self.log.hits_served += len(hits)
        self.served.set()
        return {
            "took": 1,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": len(context.positions), "relation": "eq"},
                "max_score": 1.0 if hits else None,
                "hits": hits,
            },
        }

    def next_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def continuation(self) -> None:
        """Count a continuation request; fail it when asked to."""
        with self.lock:
            self._continuations += 1
            failing = self.fail_page is not None and self._continuations == self.fail_page
        if failing:
            raise ServerFailure("injected failure")
        if self.delay:
            time.sleep(self.delay)


class ServerFailure(RuntimeError):
    """Answered with HTTP 500."""


def _error(status: int, kind: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "reason": reason}, "status": status}


class Handler(BaseHTTPRequestHandler):
    """One request of the Elasticsearch subset (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    server: EsHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw) if raw else {}

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        accept = self.headers.get("Accept") or ""
        match = re.search(r"compatible-with=(\d+)", accept)
        ctype = (
            f"application/vnd.elasticsearch+json;compatible-with={match.group(1)}"
            if match
            else "application/json"
        )
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        try:
            body = self._body()
        except ValueError:
            self._send(*_error(400, "parse_exception", "request body is not JSON"))
            return
        with state.lock:
            state.log.requests.append((method, url.path))
            state.log.bodies.append(body)
        with state.lock:
            outage = state.down or state.down_for > 0
            state.down_for = max(0, state.down_for - 1)
        if outage:
            self._send(*_error(503, "unavailable_shards_exception", "the cluster is down"))
            return
        try:
            status, payload = self._route(state, method, parts, params, body)
        except QueryError as error:
            status, payload = _error(400, "parsing_exception", str(error))
        except ServerFailure as error:
            status, payload = _error(500, "internal_server_error", str(error))
        self._send(status, payload)

    def _route(
        self,
        state: EsState,
        method: str,
        parts: list[str],
        params: dict[str, str],
        body: dict[str, Any],
    ) -> tuple[int, dict[str, Any]]:
        if method == "GET" and not parts:
            return 200, {"version": {"number": "8.15.0"}, "tagline": "You Know, for Search"}
        if parts[-2:] == ["_search", "scroll"] or parts == ["_search", "scroll"]:
            if method == "DELETE":
                return self._clear_scroll(state, body)
            return self._scroll(state, body)
        if parts and parts[-1] == "_pit":
            if method == "DELETE":
                return self._close_pit(state, body)
            return self._open_pit(state, body)
        if parts and parts[-1] == "_search" and method in ("GET", "POST"):
            if "pit" in body:
                return self._pit_search(state, body)
            return self._search(state, params, body)
        return _error(
            400, "invalid_index_name_exception", f"no handler for {method} /{'/'.join(parts)}"
        )

    def _search(
        self, state: EsState, params: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        size = int(body.get("size", params.get("size", 10)))
        source = body.get("_source", params.get("_source"))
        if isinstance(source, str):
            source = source.split(",")
        context = Context(state.matching(body), size=size, source=source)
        page = state.page(context, 0)
        context.cursor = len(page["hits"]["hits"])
        if "scroll" in params:
            scroll_id = state.next_id("scroll")
            with state.lock:
                state.contexts[scroll_id] = context
                state.log.scrolls_opened.append(scroll_id)
            page = {"_scroll_id": scroll_id, **page}
        return 200, page

    def _scroll(self, state: EsState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        scroll_id = body.get("scroll_id")
        with state.lock:
            context = state.contexts.get(str(scroll_id))
        if context is None:
            return _error(
                404,
                "search_context_missing_exception",
                f"No search context found for id [{scroll_id}]",
            )
        state.continuation()
        page = state.page(context, context.cursor)
        context.cursor += len(page["hits"]["hits"])
        return 200, {"_scroll_id": scroll_id, **page}

    def _clear_scroll(self, state: EsState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = body.get("scroll_id") or []
        ids = [ids] if isinstance(ids, str) else list(ids)
        freed = 0
        with state.lock:
            for scroll_id in ids:
                if state.contexts.pop(scroll_id, None) is not None:
                    freed += 1
                    state.log.scrolls_released.append(scroll_id)
        if ids and not freed:
            return 404, {"succeeded": True, "num_freed": 0}
        return 200, {"succeeded": True, "num_freed": freed}

    def _open_pit(self, state: EsState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not state.pit:
            return _error(
                400,
                "illegal_argument_exception",
                "request [/_pit] contains unrecognized parameters",
            )
        pit_id = state.next_id("pit")
        with state.lock:
            state.pits[pit_id] = range(len(state.documents))
            state.log.pits_opened.append(pit_id)
        return 200, {"id": pit_id}

    def _pit_search(self, state: EsState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pit_id = str(body["pit"].get("id"))
        with state.lock:
            known = pit_id in state.pits
        if not known:
            return _error(
                404,
                "search_context_missing_exception",
                f"No search context found for id [{pit_id}]",
            )
        if body.get("sort") != [{"_shard_doc": "asc"}]:
            raise QueryError(f"this server sorts by _shard_doc only, not {body.get('sort')!r}")
        after = body.get("search_after")
        start = 0 if after is None else int(after[0]) + 1
        if after is not None:
            state.continuation()
        source = body.get("_source")
        context = Context(state.matching(body), size=int(body.get("size", 10)), source=source)
        page = state.page(context, start, pit_id=pit_id)
        return 200, {"pit_id": pit_id, **page}

    def _close_pit(self, state: EsState, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        pit_id = str(body.get("id"))
        with state.lock:
            found = state.pits.pop(pit_id, None) is not None
            if found:
                state.log.pits_closed.append(pit_id)
        return (200 if found else 404), {"succeeded": found, "num_freed": int(found)}

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class EsHttpServer(ThreadingHTTPServer):
    """The threading HTTP server, holding the :class:`EsState`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: EsState, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), Handler)
        self.state = state

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class running:
    """Run an :class:`EsHttpServer` in a thread for the duration of a ``with`` block."""

    def __init__(self, documents: Documents | Sequence[Hit], **options: Any) -> None:
        self.state = EsState(documents, **options)
        self.server = EsHttpServer(self.state)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> running:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def log(self) -> ServerLog:
        return self.state.log


def iter_corpus_hits(pages: Sequence[Sequence[Hit]]) -> Iterator[Hit]:
    """Every hit of a list of cached pages, in order."""
    for page in pages:
        yield from page
