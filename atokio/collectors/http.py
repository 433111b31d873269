"""HTTP GETs with a capacity limit, timeouts and retries with backoff (httpx, anyio).

This collector fetches bodies; it knows nothing of what they mean.  A request
either returns its body as bytes (:attr:`HttpResult.content`) or streams it
into a sans-IO parser (``parser_factory``) as the chunks arrive, returning the
parser's records (:attr:`HttpResult.records`).

* :func:`afetch` — one GET on a given ``httpx.AsyncClient``, retried under a
  :class:`RetryPolicy`;
* :func:`afetch_many` — many GETs at once (at most ``limit`` in flight) over
  one shared client; a request that fails is reported as a
  :class:`~atokio.collectors.fanout.SourceFailure` (which request, and why)
  while the others complete (:func:`atokio.collectors.fanout.gather`);
* :func:`open_client` — an ``httpx.AsyncClient`` sized for a fan-out.

What is retried (``GET`` is idempotent, so a retry is always safe): a 5xx
answer and 429 (throttling), a connection that cannot be made or that drops
before the whole body has arrived, and a timeout.  Waits grow exponentially
from :attr:`RetryPolicy.backoff` up to :attr:`RetryPolicy.backoff_max`, with
some random jitter so that a fan-out does not hammer a recovering server in
step; a numeric ``Retry-After`` header is honoured within the same cap.  A
4xx answer (other than 429) and a body the parser rejects
(:class:`~atokio.parsers.base.ParseError`) are not retried.  When every try
has failed, :class:`HttpError` says which URL, how many tries and why.

``timeout`` is httpx's per-operation timeout in seconds: connecting, each
read and each write must finish within it (as ``requests``' ``timeout``,
which pytokio used).  A number ``timeout`` also bounds each try as a whole,
body included, so that a server trickling bytes cannot hold a request open:
``deadline`` (default: ``ATOKIO_HTTP_DEADLINE``, 300 s) is that overall bound
when no smaller ``timeout`` is given; an explicit ``deadline`` wins.  ``max_body`` (default
``ATOKIO_HTTP_MAX_BODY``, 1 GiB) caps the bytes of a body; a longer one
fails the request without a retry.  The whole fan-out runs under anyio, so it
works under asyncio and trio alike.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import httpx

from atokio.collectors.fanout import FanoutResult, gather
from atokio.collectors.limits import format_size, setting_duration, setting_size
from atokio.collectors.secrets import guard_library_logs, redact_text, redact_url
from atokio.parsers.base import Parser

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "HttpError",
    "HttpRequest",
    "HttpResult",
    "RetryPolicy",
    "afetch",
    "afetch_many",
    "fetch",
    "fetch_many",
    "open_client",
]

logger = logging.getLogger(__name__)
guard_library_logs()  # the client library logs request URLs, credentials included

R = TypeVar("R")

#: Requests in flight at once in :func:`fetch_many` unless told otherwise.
DEFAULT_LIMIT = 16
#: Seconds allowed per connect / read / write unless told otherwise.
DEFAULT_TIMEOUT = 30.0
#: Characters of an error body quoted in an :class:`HttpError`.
BODY_EXCERPT = 200

ParamValue = str | int | float
Params = Mapping[str, ParamValue] | Sequence[tuple[str, ParamValue]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is retried.

    ``retries`` is the number of tries after the first (``0`` = never
    retry).  The wait before retry *n* (1-based) is ``backoff * 2**(n-1)``,
    capped at ``backoff_max`` and then shortened by up to ``jitter`` (a
    fraction) at random.
    """

    retries: int = 3
    backoff: float = 0.5
    backoff_max: float = 10.0
    jitter: float = 0.25
    #: statuses answered by a server that may do better on a later try
    retry_statuses: frozenset[int] = field(
        default_factory=lambda: frozenset({429, *range(500, 600)})
    )

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, not {self.retries}")
        if self.backoff < 0 or self.backoff_max < 0:
            raise ValueError("backoff and backoff_max must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        wait = min(self.backoff * (2 ** (retry - 1)), self.backoff_max)
        if retry_after is not None:
            wait = min(max(wait, retry_after), self.backoff_max)
        return wait * (1 - self.jitter * random.random())


@dataclass(frozen=True)
class HttpRequest:
    """A GET: the URL and its query parameters (kept in the order given)."""

    url: str
    params: Params | None = None
    headers: Mapping[str, str] | None = None

    def full_url(self) -> str:
        """The URL with its query string, as it is sent."""
        if self.params is None:  # keep a query written into the URL itself
            return str(httpx.URL(self.url))
        return str(httpx.URL(self.url, params=_param_list(self.params)))


@dataclass
class HttpResult(Generic[R]):
    """What one successful request gave.

    ``content`` is the body (``None`` when it was parsed instead), ``records``
    what the parser made of it (``None`` without a parser), ``attempts`` the
    number of tries it took (1 = no retry), ``elapsed`` the seconds from the
    first try to the end of the body.
    """

    url: str
    status: int
    headers: httpx.Headers
    content: bytes | None
    records: list[R] | None
    attempts: int
    elapsed: float

    def json(self) -> Any:
        """The body decoded as JSON (only when it was not given to a parser)."""
        if self.content is None:
            raise ValueError(f"{self.url}: the body went to a parser; use .records")
        return json.loads(self.content)


class HttpError(Exception):
    """A request that failed for good: after its last try, or at once for a 4xx answer.

    ``status`` is the HTTP status of the last answer (``None`` when no answer
    came: connection error or timeout), ``attempts`` the tries made, and
    ``__cause__`` the last underlying exception, if any.
    """

    def __init__(
        self, url: str, reason: str, *, status: int | None = None, attempts: int = 1
    ) -> None:
        self.url = redact_url(url)  # a password or token in the URL stays out of messages
        self.reason = reason
        self.status = status
        self.attempts = attempts
        tries = "1 try" if attempts == 1 else f"{attempts} tries"
        super().__init__(f"GET {self.url}: {reason} (after {tries})")


class _Failure(Exception):
    """A failed try (internal): worth another one, or final."""

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


def _param_list(params: Params | None) -> list[tuple[str, ParamValue]] | None:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


async def _body_excerpt(response: httpx.Response) -> str:
    try:
        await response.aread()
        text = response.text.strip()
    except (httpx.HTTPError, UnicodeDecodeError):
        return ""
    return text[:BODY_EXCERPT] + ("..." if len(text) > BODY_EXCERPT else "")


def _bounds(
    timeout: float | httpx.Timeout | None, deadline: float | None, max_body: int | None
) -> tuple[float | None, str, int | None]:
    """(overall seconds of a try, the setting that gave them, body cap) for a request."""
    where = "deadline"
    if deadline is None:
        deadline, where = setting_duration("HTTP_DEADLINE"), "ATOKIO_HTTP_DEADLINE"
        number = isinstance(timeout, int | float) and timeout > 0
        if number and (deadline is None or float(timeout) < deadline):  # type: ignore[arg-type]
            deadline, where = float(timeout), "timeout"  # type: ignore[arg-type]
    if max_body is None:
        max_body = setting_size("HTTP_MAX_BODY")
    return deadline, where, max_body


async def _try_once(
    client: httpx.AsyncClient,
    request: HttpRequest,
    parser_factory: Callable[[str], Parser[R]] | None,
    timeout: float | httpx.Timeout | None,
    policy: RetryPolicy,
    deadline: float | None = None,
    max_body: int | None = None,
) -> tuple[httpx.Response, bytes | None, list[R] | None]:
    """One try, within its overall deadline: the response, and its body or its records."""
    seconds, where, cap = _bounds(timeout, deadline, max_body)
    with anyio.move_on_after(seconds):
        return await _exchange(client, request, parser_factory, timeout, policy, cap)
    raise _Failure(f"no complete answer within {seconds:g} s (the {where})", retryable=True)


async def _body(response: httpx.Response, cap: int | None) -> AsyncGenerator[bytes, None]:
    """The body's chunks; a :class:`_Failure` once it passes ``cap`` bytes."""
    too_long = _Failure(
        f"the body exceeds {format_size(cap or 0)} (ATOKIO_HTTP_MAX_BODY)", retryable=False
    )
    declared = response.headers.get("Content-Length", "")
    if cap is not None and declared.isdigit() and int(declared) > cap:
        raise too_long
    seen = 0
    async for chunk in response.aiter_bytes():
        seen += len(chunk)
        if cap is not None and seen > cap:
            raise too_long
        yield chunk


async def _exchange(
    client: httpx.AsyncClient,
    request: HttpRequest,
    parser_factory: Callable[[str], Parser[R]] | None,
    timeout: float | httpx.Timeout | None,
    policy: RetryPolicy,
    cap: int | None,
) -> tuple[httpx.Response, bytes | None, list[R] | None]:
    options: dict[str, Any] = {"params": _param_list(request.params), "headers": request.headers}
    if timeout is not None:
        options["timeout"] = timeout
    try:
        async with client.stream("GET", request.url, **options) as response:
            if not response.is_success:
                excerpt = redact_text(await _body_excerpt(response))
                raise _Failure(
                    f"HTTP {response.status_code} {response.reason_phrase}"
                    + (f": {excerpt}" if excerpt else ""),
                    retryable=response.status_code in policy.retry_statuses,
                    status=response.status_code,
                    retry_after=_retry_after(response),
                )
            body = _body(response, cap)
            try:
                if parser_factory is None:
                    chunks = [chunk async for chunk in body]
                    return response, b"".join(chunks), None
                parser = parser_factory(redact_url(str(response.request.url)))
                records: list[R] = []
                async for chunk in body:
                    records.extend(parser.feed(chunk))
                records.extend(parser.close())
                return response, None, records
            finally:
                await body.aclose()
    except httpx.TimeoutException as error:
        raise _Failure(f"timed out ({type(error).__name__})", retryable=True) from error
    except httpx.TransportError as error:  # connect errors, dropped connections, bad framing
        reason = redact_text(str(error)) if str(error) else "connection failed"
        raise _Failure(f"{type(error).__name__}: {reason}", retryable=True) from error


async def afetch(
    client: httpx.AsyncClient,
    request: HttpRequest,
    *,
    parser_factory: Callable[[str], Parser[R]] | None = None,
    timeout: float | httpx.Timeout | None = None,
    retry: RetryPolicy | None = None,
    deadline: float | None = None,
    max_body: int | None = None,
) -> HttpResult[R]:
    """GET ``request`` on ``client``, retrying what is worth retrying (see the module docstring).

    With ``parser_factory`` (called with the URL as the parser's source
    name) the body is streamed into a fresh parser on every try and its
    records are returned; otherwise the body is returned as bytes.
    ``timeout`` overrides the client's; ``deadline`` and ``max_body`` bound
    each try as a whole and its body (see the module docstring).  Raises
    :class:`HttpError` when the request fails for good, or the parser's
    ``ParseError`` for a bad body.
    """
    policy = retry or RetryPolicy()
    url = request.full_url()
    began = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            response, content, records = await _try_once(
                client,
                request,
                parser_factory,
                timeout if timeout is not None else client.timeout.read,
                policy,
                deadline,
                max_body,
            )
        except _Failure as failure:
            if not failure.retryable or attempt > policy.retries:
                raise HttpError(
                    url, failure.reason, status=failure.status, attempts=attempt
                ) from failure.__cause__
            wait = policy.delay(attempt, failure.retry_after)
            logger.info(
                "GET %s: %s; retry %d of %d in %.2f s",
                redact_url(url),
                failure.reason,
                attempt,
                policy.retries,
                wait,
            )
            await anyio.sleep(wait)
            continue
        return HttpResult(
            url=str(response.request.url),
            status=response.status_code,
            headers=response.headers,
            content=content,
            records=records,
            attempts=attempt,
            elapsed=time.monotonic() - began,
        )


@asynccontextmanager
async def open_client(
    *,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    limit: int = DEFAULT_LIMIT,
    **client_options: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` that keeps up to ``limit`` connections open.

    Redirects are followed.  ``client_options`` go to ``httpx.AsyncClient``
    (``headers``, ``auth``, ``verify``, ...).
    """
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    client_options.setdefault("follow_redirects", True)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, **client_options) as client:
        yield client


async def afetch_many(
    requests: Mapping[str, HttpRequest] | Iterable[tuple[str, HttpRequest]],
    *,
    limit: int = DEFAULT_LIMIT,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    parser_factory: Callable[[str], Parser[R]] | None = None,
    client: httpx.AsyncClient | None = None,
    deadline: float | None = None,
    max_body: int | None = None,
    **client_options: Any,
) -> FanoutResult[HttpResult[R]]:
    """Run every request concurrently, at most ``limit`` at once; keep every success.

    ``requests`` maps a name (used in results and failure reports) to a
    request.  Results come back in the order given; a request that failed
    for good is a ``SourceFailure`` whose ``error`` is the
    :class:`HttpError` (or ``ParseError``), logged at warning level.  Uses
    ``client`` when given, else a fresh one from :func:`open_client`
    (``client_options`` go to it).
    """
    named = dict(requests.items() if isinstance(requests, Mapping) else requests)
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")

    async def run(http: httpx.AsyncClient) -> FanoutResult[HttpResult[R]]:
        def job(request: HttpRequest) -> Callable[[], Any]:
            async def go() -> HttpResult[R]:
                return await afetch(
                    http,
                    request,
                    parser_factory=parser_factory,
                    timeout=timeout,
                    retry=retry,
                    deadline=deadline,
                    max_body=max_body,
                )

            return go

        result: FanoutResult[HttpResult[R]] = await gather(
            {name: job(request) for name, request in named.items()}, limit=limit
        )
        for failure in result.failures:
            logger.warning("%s", failure)
        return result

    if client is not None:
        return await run(client)
    async with open_client(timeout=timeout, limit=limit, **client_options) as own:
        return await run(own)


#: The names of :func:`afetch` and :func:`afetch_many` before the naming rule
#: of :mod:`atokio.pipelines` (the ``a`` prefix marks an async function).
fetch = afetch
fetch_many = afetch_many
