"""The ASGI application of the job I/O report service (``atokio.service:app``).

:func:`create_app` builds a Starlette application from
:class:`~atokio.service.settings.ServiceSettings`: the JSON API under
``/api/v1`` (:mod:`atokio.service.api`) and the HTML pages
(:mod:`atokio.service.pages`), behind one ASGI middleware that logs every
request, checks the bearer token and turns away bodies declared larger than
the limit.

The event loop only moves bytes.  Reading logs and drawing plots runs in
worker processes, reading HDF5 files and asking job databases in worker
threads, each source behind its own capacity limit
(:meth:`ServiceState.run`), so a burst of uploads queues up instead of
starving the health check.  A request whose client goes away has its work
cancelled (:func:`until_disconnected`).
"""

from __future__ import annotations

import hmac
import json
import logging
import multiprocessing
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atokio.collectors.workers import processes_can_start, run_in_worker, warm_up
from atokio.service.settings import SOURCES, ServiceSettings

__all__ = [
    "ClientDisconnected",
    "Report",
    "ServiceError",
    "ServiceState",
    "create_app",
    "state_of",
    "until_disconnected",
]

logger = logging.getLogger("atokio.service")
access_logger = logging.getLogger("atokio.service.access")

T = TypeVar("T")

#: Sources whose work is CPU-bound Python: run in worker processes (threads otherwise).
PROCESS_SOURCES = frozenset({"darshan", "plots"})

#: The status logged for a request whose client went away before the answer.
DISCONNECTED = 499


#: How much lower than the server's the CPU priority of the service's worker processes is.
WORKER_NICENESS = 10

_niced = False


def _in_background(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker process whose CPU priority is below the server's.

    The event loop that answers requests then gets a core whenever it needs
    one, even while every worker is busy reading logs (on a machine with few
    cores the scheduler would otherwise share them evenly).
    """
    global _niced
    if not _niced:
        _niced = True
        if multiprocessing.parent_process() is not None:  # never the server itself
            try:
                os.nice(WORKER_NICENESS)
            except OSError:
                logger.debug("could not lower the priority of worker %d", os.getpid())
    return fn(*args)


class ServiceError(Exception):
    """An error answered as ``{"error": ..., "detail": ...}`` with an HTTP status."""

    def __init__(self, status: int, error: str, detail: str = "") -> None:
        super().__init__(f"{error}: {detail}" if detail else error)
        self.status = status
        self.error = error
        self.detail = detail


class ClientDisconnected(Exception):
    """The client closed its connection before the answer was ready."""


@dataclass
class Report:
    """One finished report shown by the pages: its records and what its plots need."""

    title: str
    #: (name, summary record) pairs: one per Darshan log, or the job's window record.
    records: list[tuple[str, dict[str, Any]]]
    file_system: str | None = None
    #: ``(start, end)`` naive local datetimes of the job, when known.
    window: tuple[Any, Any] | None = None
    failures: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)


class ServiceState:
    """What one running service holds: settings, per-source limits and recent reports."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.limiters: dict[str, anyio.CapacityLimiter] = {}
        self.reports: OrderedDict[str, Report] = OrderedDict()
        # not in a daemonic process (a worker of the hypercorn command), nor
        # under a main script that worker processes would run again
        self.processes = processes_can_start()

    def start(self) -> None:
        """Create the per-source limiters (inside the event loop that serves)."""
        self.limiters = {
            source: anyio.CapacityLimiter(self.settings.limits[source]) for source in SOURCES
        }

    async def run(self, source: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` off the event loop, at most ``limits[source]`` at once.

        CPU-bound sources (:data:`PROCESS_SOURCES`) use the worker processes
        of :mod:`atokio.collectors.workers` (threads when this process is a
        daemon, which cannot have children), the others worker threads.  On
        cancellation a call still waiting for its turn never starts.
        """
        limiter = self.limiters[source]
        if source in PROCESS_SOURCES and self.processes:
            return await run_in_worker(_in_background, fn, *args, limiter=limiter)
        async with limiter:
            return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)

    def keep(self, report: Report) -> str:
        """Store ``report`` (dropping the oldest past the limit); return its id."""
        report_id = secrets.token_urlsafe(9)
        self.reports[report_id] = report
        while len(self.reports) > self.settings.reports_kept:
            self.reports.popitem(last=False)
        return report_id


def state_of(request: Request) -> ServiceState:
    """The :class:`ServiceState` of the application serving ``request``."""
    state: ServiceState = request.app.state.service
    return state


async def until_disconnected(request: Request, fn: Callable[[], Awaitable[T]]) -> T:
    """Await ``fn()``, cancelling it if the client disconnects first.

    Call it once the request body has been read: it then listens for the
    server's ``http.disconnect`` message.  Raises :class:`ClientDisconnected`
    when the client left; errors of ``fn`` propagate unchanged.
    """
    outcome: dict[str, Any] = {}

    async with anyio.create_task_group() as group:

        async def work() -> None:
            try:
                outcome["value"] = await fn()
            except Exception as error:
                outcome["error"] = error
            group.cancel_scope.cancel()

        async def watch() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    outcome["gone"] = True
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        group.start_soon(work)
    if "error" in outcome:
        raise outcome["error"]
    if "value" in outcome:
        value: T = outcome["value"]
        return value
    raise ClientDisconnected(f"{request.method} {request.url.path}: the client disconnected")


def _error_body(status: int, error: str, detail: str) -> bytes:
    return json.dumps({"error": error, "detail": detail}).encode()


class ServiceMiddleware:
    """Request log, bearer token and declared body size, for every HTTP request."""

    def __init__(self, app: ASGIApp, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings

    async def _refuse(
        self, send: Send, status: int, error: str, detail: str, extra: list[Any] | None = None
    ) -> None:
        headers = [(b"content-type", b"application/json"), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": _error_body(status, error, detail)})

    def _refusal(self, scope: Scope) -> tuple[int, str, str, list[Any]] | None:
        headers = dict(scope.get("headers") or [])
        token = self.settings.token
        if token is not None:
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return (
                    401,
                    "unauthorized",
                    "this service needs 'Authorization: Bearer <token>' (ATOKIO_SERVICE_TOKEN)",
                    [(b"www-authenticate", b"Bearer")],
                )
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.settings.body_limit:
            return (
                413,
                "request body too large",
                f"the body has {int(length)} bytes; this service accepts at most "
                f"{self.settings.body_limit} (atokio serve --body-limit)",
                [],
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                await self._refuse(logged_send, *refusal)
            else:
                await self.app(scope, receive, logged_send)
        except Exception:
            if not status:  # answered 500 by the outermost error handler
                status.append(500)
            raise
        finally:
            client = scope.get("client") or ("-", 0)
            code = status[0] if status else DISCONNECTED
            access_logger.info(
                "%s %s %s %s %.1f ms",
                client[0],
                scope.get("method", "-"),
                scope.get("path", "-"),
                "disconnected" if code == DISCONNECTED else code,
                (time.perf_counter() - started) * 1000.0,
            )


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _error_response(request: Request, status: int, error: str, detail: str) -> Response:
    if _wants_html(request):
        from atokio.service.pages import error_page

        return HTMLResponse(error_page(status, error, detail), status_code=status)
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def _service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    return _error_response(request, exc.status, exc.error, exc.detail)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error_response(request, exc.status_code, str(exc.detail), "")


async def _disconnected(request: Request, exc: Exception) -> Response:
    logger.info("%s", exc)
    return Response(status_code=DISCONNECTED)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_response(
        request, 500, "internal error", f"{type(exc).__name__}: {exc} (see the service log)"
    )


def create_app(settings: ServiceSettings | None = None) -> Starlette:
    """A new service application (settings from the environment by default)."""
    from starlette.middleware import Middleware

    from atokio.service import api, pages

    state = ServiceState(settings or ServiceSettings.from_env())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.start()
        if state.processes:
            warm_up()  # start the worker processes now, not at the first upload
        logger.info(
            "atokio service ready (body limit %d bytes, token %s, limits %s)",
            state.settings.body_limit,
            "required" if state.settings.token else "not required",
            ", ".join(f"{k}={v}" for k, v in state.settings.limits.items()),
        )
        yield

    app = Starlette(
        routes=[*api.routes(), *pages.routes()],
        middleware=[Middleware(ServiceMiddleware, settings=state.settings)],
        exception_handlers={
            ServiceError: _service_error,
            HTTPException: _http_error,
            ClientDisconnected: _disconnected,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.service = state
    return app
