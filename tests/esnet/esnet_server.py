"""A small ESnet SNMP REST server on loopback, serving recorded (or generated) rates.

It speaks the subset of the API that atokio uses (FORMATS.md 9.1, 9.2):
``GET /<endpoint>/interface/<interface>/<direction>?begin=..&end=..``
(both bounds inclusive), optionally with ``calc_func`` and ``calc``, which it
echoes as the real service does (without them it answers ``agg``/``cf``).
The points come from a dict shaped like an ``EsnetSnmp`` cache with int
epoch keys, e.g. the corpus cache, so a client that fetches a window gets
exactly what the cache holds for it.

Faults can be injected per request (``endpoint:interface:direction``, or
``*`` for all): latency, a sequence of error statuses for the next tries, a
permanent status, connections dropped before any answer, and bodies cut
short.  Every request is counted, and the largest number of requests in
flight at once is recorded.  HTTP/1.1 with keep-alive, a thread per
connection (``ThreadingHTTPServer``); bodies are sent in a few pieces so
that clients really stream them.
"""

from __future__ import annotations

import gzip
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

Data = dict[str, dict[str, dict[str, Any]]]


def load_cache(path: Path) -> Data:
    """An EsnetSnmp JSON cache (plain or gzip) with its epoch keys as ints."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    return {
        endpoint: {
            interface: {
                key: ({int(t): v for t, v in value.items()} if isinstance(value, dict) else value)
                for key, value in entry.items()
            }
            for interface, entry in interfaces.items()
        }
        for endpoint, interfaces in data.items()
    }


def make_data(
    start: int, points: int, interfaces: dict[str, list[str]], step: int = 30, seed: int = 7
) -> Data:
    """Generated rates shaped like a cache (in, units, out per interface), reproducible."""
    rng = random.Random(seed)
    data: Data = {}
    for endpoint, names in interfaces.items():
        for name in names:
            entry: dict[str, Any] = {}
            for direction in ("in", "out"):
                entry[direction] = {
                    start + i * step: rng.random() * 10 ** rng.randint(2, 10) for i in range(points)
                }
                entry.setdefault("units", "bytes/sec")
            data.setdefault(endpoint, {})[name] = entry
    return data


@dataclass
class Fault:
    """What to do to requests of one key."""

    latency: float = 0.0
    #: statuses to answer to the next tries, one per try (then normal answers)
    statuses: list[int] = field(default_factory=list)
    #: a status answered to every try
    status: int | None = None
    #: the next N tries: close the connection without answering
    drop: int = 0
    #: the next N tries: send the headers and half the body, then close
    truncate: int = 0
    #: the answer holds no points (as when the service throttles)
    empty: bool = False


class EsnetServer:
    """The server (use :func:`serve`)."""

    def __init__(self, data: Data, agg: str = "30") -> None:
        self.data = data
        self.agg = agg
        self.faults: dict[str, Fault] = {}
        self.counts: Counter[str] = Counter()
        self.queries: list[tuple[str, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # bodies go out in pieces: no 40 ms stalls

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                try:
                    server._handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that time out and go away are part of the tests

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def fault(self, key: str, **kwargs: Any) -> Fault:
        """Set the fault of ``endpoint:interface:direction`` (or ``*``)."""
        self.faults[key] = Fault(**kwargs)
        return self.faults[key]

    def _fault_for(self, key: str) -> Fault | None:
        return self.faults.get(key) or self.faults.get("*")

    def answer(self, key: str, query: dict[str, str]) -> dict[str, Any] | None:
        """The JSON answer to a query, or None when the interface is unknown."""
        endpoint, interface, direction = key.split(":")
        entry = self.data.get(endpoint, {}).get(interface)
        if entry is None or direction not in ("in", "out"):
            return None
        begin, end = int(query["begin"]), int(query["end"])
        series = entry.get(direction, {})
        points = [[t, series[t]] for t in sorted(series) if begin <= t <= end]
        answer: dict[str, Any] = {}
        if "calc" in query or "calc_func" in query:
            answer["calc"] = query.get("calc", self.agg)
            answer["calc_func"] = query.get("calc_func", "average")
        else:
            answer["agg"] = self.agg
        answer["begin_time"] = begin
        answer["end_time"] = end
        if "calc" not in answer:
            answer["cf"] = "average"
        answer["data"] = points
        return answer

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) != 4 or segments[1] != "interface":
            self._send(handler, 404, b'{"error": "not found"}')
            return
        key = f"{segments[0]}:{segments[2]}:{segments[3]}"
        with self._lock:
            self.counts[key] += 1
            self.queries.append((key, query))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fault = self._fault_for(key)
            action = None
            if fault is not None:
                if fault.drop > 0:
                    fault.drop -= 1
                    action = "drop"
                elif fault.statuses:
                    action = fault.statuses.pop(0)
                elif fault.status is not None:
                    action = fault.status
                elif fault.truncate > 0:
                    fault.truncate -= 1
                    action = "truncate"
        try:
            if fault is not None and fault.latency:
                time.sleep(fault.latency)
            if action == "drop":
                handler.close_connection = True
                return
            if isinstance(action, int):
                self._send(handler, action, b"<html>Service Unavailable</html>")
                return
            answer = self.answer(key, query)
            if answer is None:
                self._send(handler, 404, b'{"error": "no such interface"}')
                return
            if fault is not None and fault.empty:
                answer["data"] = []
            body = json.dumps(answer).encode()
            if action == "truncate":
                self._send(handler, 200, body, cut=len(body) // 2)
                return
            self._send(handler, 200, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, cut: int | None = None
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        sent = body if cut is None else body[:cut]
        piece = max(1, len(sent) // 3)
        for start in range(0, len(sent), piece):
            handler.wfile.write(sent[start : start + piece])
            handler.wfile.flush()
        if cut is not None:
            handler.close_connection = True

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve(data: Data, agg: str = "30") -> Iterator[EsnetServer]:
    """Run an :class:`EsnetServer` on a free loopback port for the duration of the block."""
    server = EsnetServer(data, agg)
    server.start()
    try:
        yield server
    finally:
        server.stop()
