"""Async MySQL/MariaDB access: a small connection pool, streaming cursors, time chunks.

Built on asyncmy.  :class:`MySQLPool` keeps a few connections to one database
(at most ``size`` per event loop) and offers:

* :meth:`MySQLPool.query` — a small buffered query (a list of row tuples);
* :meth:`MySQLPool.stream` — one query read through an **unbuffered
  server-side cursor** (asyncmy's ``SSCursor``), yielding lists of at most
  ``batch_rows`` row tuples as they arrive, so a large result is never held
  whole on either side;
* :meth:`MySQLPool.stream_many` — several queries (typically the time chunks
  of one long range, see :func:`time_chunks`) run **concurrently** over the
  pool; their batches come out of one bounded channel, tagged with the index
  of the query they belong to (backpressure: producers wait when the consumer
  falls behind).

A connection that fails, or whose streamed result was abandoned half-read, is
closed instead of being returned to the pool, so a server outage costs only
the failed call and the next call reconnects.

**Event loops.**  asyncmy is asyncio-only, and a connection belongs to the
loop that opened it.  A pool keeps connections per event loop:

* called from asyncio, it runs natively in the caller's loop;
* called from **trio**, it is **bridged**: the work runs on an asyncio event
  loop in a helper thread (:class:`AsyncioThread`, one per process, shared by
  all pools) and the trio task waits for it without blocking its own loop
  (woken through trio's thread-safe token); streamed batches wait in a
  bounded channel on the helper loop and cross over one at a time, and
  cancelling the trio side cancels the work on the helper loop;
* called from synchronous code (the ``*_sync`` methods: plain scripts,
  notebooks whose loop is already running, the sync connectors), it is
  bridged the same way, so connections persist between calls.

``bridge=True`` forces the helper loop under asyncio too.

**Deadlines.**  Every query has one: the time spent waiting for the server
(connecting, executing, fetching; not the time a consumer of a stream takes)
is bounded by :attr:`MySQLParams.query_timeout`, else by
``ATOKIO_MYSQL_DEADLINE`` (default 3600 s).  Past it the connection is
dropped and :class:`QueryTimeout` (a ``TimeoutError``) names the server and
the bound, so a frozen server ends a run instead of hanging it.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import weakref
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import sniffio

from atokio.collectors.asyncio_bridge import _HELPER, AsyncioThread, helper_thread, wait_future

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "PARAMSTYLE",
    "AsyncioThread",
    "MySQLParams",
    "MySQLPool",
    "QueryTimeout",
    "Row",
    "helper_thread",
    "time_chunks",
    "wait_future",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Row = tuple[Any, ...]

#: Rows per batch read from a streaming cursor.
DEFAULT_BATCH_ROWS = 16384

#: The DB-API paramstyle of asyncmy (placeholders are ``%s``).
PARAMSTYLE = "pyformat"


# --------------------------------------------------------------------------------------
# connection parameters and time chunks


class QueryTimeout(TimeoutError):
    """A query whose server did not answer within its deadline (the connection was dropped)."""


@dataclass(frozen=True)
class MySQLParams:
    """Where and how to connect.

    ``host`` may be ``name``, ``name:port`` or the path of a Unix socket
    (anything starting with ``/``); an explicit ``port`` or ``unix_socket``
    wins over what ``host`` spells.  ``query_timeout`` bounds each query's
    waits on the server (None: ``ATOKIO_MYSQL_DEADLINE``).  The password never
    appears in the repr.
    """

    host: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    port: int | None = None
    unix_socket: str | None = None
    connect_timeout: float = 10.0
    charset: str = "utf8mb4"
    query_timeout: float | None = None

    def deadline(self) -> tuple[float | None, str]:
        """(seconds a query may wait on the server, where that bound comes from)."""
        if self.query_timeout is not None:
            return (self.query_timeout if self.query_timeout > 0 else None), "query_timeout"
        from atokio.collectors.limits import setting_duration

        return setting_duration("MYSQL_DEADLINE"), "ATOKIO_MYSQL_DEADLINE"

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`asyncmy.connect`."""
        host = self.host or "localhost"
        port = self.port
        socket = self.unix_socket
        if socket is None and host.startswith("/"):
            socket = host
            host = "localhost"
        elif ":" in host and not host.startswith("["):
            name, _, number = host.rpartition(":")
            if number.isdigit():
                host = name
                port = port or int(number)
        kwargs: dict[str, Any] = {
            "host": host,
            "port": port or 3306,
            "user": self.user,
            "password": self.password or "",
            "database": self.database,
            "charset": self.charset,
            "connect_timeout": max(1, int(self.connect_timeout)),
            "autocommit": True,
        }
        if socket is not None:
            kwargs["unix_socket"] = socket
        return kwargs

    def describe(self) -> str:
        """``user@host/database`` for log messages (never the password)."""
        where = self.unix_socket or self.host or "localhost"
        if self.port and not where.startswith("/"):
            where = f"{where}:{self.port}"
        return f"{self.user or ''}@{where}/{self.database or ''}"


def time_chunks(
    start: datetime.datetime, end: datetime.datetime, width: datetime.timedelta
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """Split ``[start, end)`` into consecutive half-open windows at most ``width`` wide."""
    if width <= datetime.timedelta(0):
        raise ValueError(f"chunk width must be positive, not {width}")
    chunks = []
    lo = start
    while lo < end:
        hi = min(lo + width, end)
        chunks.append((lo, hi))
        lo = hi
    return chunks


# --------------------------------------------------------------------------------------
# the pool


@dataclass
class _StreamState:
    """Shared by the producers of one :meth:`MySQLPool.stream_many` call."""

    error: BaseException | None = None
    rows: int = 0


class _Slot:
    """The connections of one pool on one event loop.

    When that loop shuts down (``asyncio.run``/``anyio.run`` ending), its idle
    connections are closed: a suspended async generator is the hook, since
    the loop closes every async generator it has seen before it stops.
    """

    def __init__(self, size: int) -> None:
        self.idle: list[Any] = []
        self.sem = asyncio.Semaphore(size)
        self.keeper: AsyncGenerator[None, None] | None = None

    async def watch_loop_end(self) -> None:
        """Arrange for the idle connections to be closed when the running loop ends."""
        self.keeper = self._keeper()
        await self.keeper.asend(None)

    async def _keeper(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            idle, self.idle = self.idle, []
            for conn in idle:
                _discard(conn)


class _Deadline:
    """The time a query has left to wait on the server (asyncio side)."""

    def __init__(self, params: MySQLParams, sql: str) -> None:
        self.params = params
        self.sql = sql
        self.seconds, self.where = params.deadline()
        self.left = self.seconds

    async def wait(self, awaitable: Awaitable[T]) -> T:
        """``await awaitable`` within what is left; :class:`QueryTimeout` when it runs out."""
        if self.left is None:
            return await awaitable
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(max(self.left, 0.0)):
                return await awaitable
        except TimeoutError:
            query = " ".join(self.sql.split())
            query = query if len(query) <= 80 else query[:77] + "..."
            raise QueryTimeout(
                f"{self.params.describe()}: no answer within {self.seconds:g} s "
                f"({self.where}) to: {query}; is the database server up and responsive?"
            ) from None
        finally:
            self.left -= loop.time() - began


class MySQLPool:
    """Pooled asyncmy connections to one database: at most ``size`` per event loop.

    See the module docstring for the event-loop rules: native under asyncio,
    bridged through the helper loop under trio and from synchronous code.
    Connections belong to the loop that opened them, so one pool can serve
    an asyncio application and synchronous callers at the same time.  Use as
    an async context manager, or call :meth:`aclose` / :meth:`close_sync`.
    """

    def __init__(
        self,
        params: MySQLParams,
        *,
        size: int = 4,
        bridge: bool = False,
        helper: AsyncioThread | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, not {size}")
        self.params = params
        self.size = size
        self._force_bridge = bridge
        self._helper = helper or _HELPER
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slot] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False

    # -- routing -------------------------------------------------------------------

    def bridged(self) -> bool:
        """Whether a call made from the current context goes through the helper loop."""
        return self._route(sync=not _in_async_context())

    def _route(self, *, sync: bool) -> bool:
        """True when the call must be handed to the helper loop."""
        if self._closed:
            raise RuntimeError("this MySQL pool is closed")
        if self._helper.in_thread():
            return False  # already on the helper loop
        if sync or self._force_bridge:
            return True
        return sniffio.current_async_library() != "asyncio"

    # -- connections (always on the loop that runs the call) -----------------------------

    async def _connect(self) -> Any:
        import asyncmy

        logger.debug("connecting to %s", self.params.describe())
        return await asyncmy.connect(**self.params.connect_kwargs())

    async def _slot(self) -> _Slot:
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is None:
            slot = self._slots[loop] = _Slot(self.size)
            await slot.watch_loop_end()
        return slot

    @asynccontextmanager
    async def _connection(self, deadline: _Deadline | None = None) -> AsyncIterator[Any]:
        """A pooled connection; closed instead of returned if the body fails."""
        slot = await self._slot()
        async with slot.sem:
            conn = slot.idle.pop() if slot.idle else None
            if conn is not None and not _usable(conn):
                _discard(conn)
                conn = None
            if conn is None:
                deadline = deadline or _Deadline(self.params, "(connecting)")
                conn = await deadline.wait(self._connect())
            healthy = False
            try:
                yield conn
                healthy = True
            finally:
                if healthy and not self._closed and _usable(conn):
                    slot.idle.append(conn)
                else:
                    _discard(conn)

    async def _query_here(self, sql: str, args: Sequence[Any]) -> list[Row]:
        deadline = _Deadline(self.params, sql)
        async with self._connection(deadline) as conn:
            cursor = conn.cursor()
            await deadline.wait(cursor.execute(sql, tuple(args) if args else None))
            rows = list(await deadline.wait(cursor.fetchall()))
            await cursor.close()
            return rows

    async def _ping_here(self) -> None:
        async with self._connection():
            pass

    async def _stream_here(
        self,
        sql: str,
        args: Sequence[Any],
        batch_rows: int,
        deliver: Callable[[list[Row]], Awaitable[None]],
    ) -> int:
        """Stream one query through a server-side cursor into ``deliver``; return rows."""
        from asyncmy.cursors import SSCursor

        count = 0
        deadline = _Deadline(self.params, sql)
        async with self._connection(deadline) as conn:
            cursor = conn.cursor(SSCursor)
            await deadline.wait(cursor.execute(sql, tuple(args) if args else None))
            while True:
                rows = await deadline.wait(cursor.fetchmany(batch_rows))
                if not rows:
                    break
                count += len(rows)
                await deliver(rows)
            await deadline.wait(cursor.close())
        return count

    async def _produce(
        self,
        queries: Sequence[tuple[str, Sequence[Any]]],
        send: Any,
        batch_rows: int,
        concurrency: int,
        state: _StreamState,
    ) -> None:
        """Run every query (at most ``concurrency`` at once) into the ``send`` stream."""
        limiter = anyio.CapacityLimiter(concurrency)

        async def one(index: int, sql: str, args: Sequence[Any], scope: anyio.CancelScope) -> None:
            async def deliver(rows: list[Row]) -> None:
                await send.send((index, rows))

            async with limiter:
                try:
                    state.rows += await self._stream_here(sql, args, batch_rows, deliver)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    scope.cancel()  # the consumer went away: stop quietly
                except Exception as error:
                    if state.error is None:
                        state.error = error
                    scope.cancel()

        async with send:
            async with anyio.create_task_group() as group:
                for index, (sql, args) in enumerate(queries):
                    group.start_soon(one, index, sql, args, group.cancel_scope)

    async def _close_here(self) -> None:
        slot = self._slots.get(asyncio.get_running_loop())
        if slot is None:
            return
        idle, slot.idle = slot.idle, []
        for conn in idle:
            try:
                await conn.ensure_closed()
            except Exception:
                _discard(conn)

    # -- public async API ----------------------------------------------------------

    async def connect_check(self) -> None:
        """Open (or reuse) one connection, raising if the server cannot be reached."""
        if self._route(sync=False):
            await self._helper.run(self._ping_here())
        else:
            await self._ping_here()

    async def query(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all its rows (for small results)."""
        if self._route(sync=False):
            return await self._helper.run(self._query_here(sql, args))
        return await self._query_here(sql, args)

    async def stream(
        self, sql: str, args: Sequence[Any] = (), *, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> AsyncIterator[list[Row]]:
        """Yield the rows of one query in batches, read through a streaming cursor.

        Stopping early (``break``, or closing the generator) discards the
        connection, since its result is only half read.
        """
        if self._route(sync=False):
            async with self.stream_many(
                [(sql, args)], batch_rows=batch_rows, concurrency=1
            ) as batches:
                async for _index, rows in batches:
                    yield rows
            return
        from asyncmy.cursors import SSCursor

        deadline = _Deadline(self.params, sql)
        async with self._connection(deadline) as conn:
            cursor = conn.cursor(SSCursor)
            await deadline.wait(cursor.execute(sql, tuple(args) if args else None))
            while True:
                rows = await deadline.wait(cursor.fetchmany(batch_rows))
                if not rows:
                    break
                yield rows
            await deadline.wait(cursor.close())

    @asynccontextmanager
    async def stream_many(
        self,
        queries: Sequence[tuple[str, Sequence[Any]]],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        concurrency: int | None = None,
        buffer: int | None = None,
    ) -> AsyncIterator[AsyncIterator[tuple[int, list[Row]]]]:
        """Run ``queries`` concurrently; the body iterates ``(query index, rows)`` batches.

        At most ``concurrency`` queries (default: the pool size) run at once,
        each on its own connection with a streaming cursor.  Batches of one
        query arrive in order; batches of different queries interleave.  The
        first failing query cancels the others and its exception is raised
        from the iteration.  Leaving the body early cancels the producers.
        """
        limit = max(1, min(concurrency or self.size, self.size, max(1, len(queries))))
        depth = buffer if buffer is not None else 2 * limit
        state = _StreamState()
        if not self._route(sync=False):
            send, receive = anyio.create_memory_object_stream[tuple[int, list[Row]]](depth)
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(self._produce, queries, send, batch_rows, limit, state)
                    async with receive:
                        batches = _iterate_native(receive, state)
                        try:
                            yield batches
                        finally:
                            await batches.aclose()  # never left to the garbage collector
                    group.cancel_scope.cancel()
            except BaseExceptionGroup as errors:
                # the producers never raise: this is the body's own exception, wrapped
                if len(errors.exceptions) == 1:
                    raise errors.exceptions[0] from None
                raise
            return

        bridge = _BridgedStream(self, queries, batch_rows, limit, depth)
        await self._helper.run(bridge.start())
        batches = bridge.iterate()
        try:
            yield batches
        finally:
            with anyio.CancelScope(shield=True):
                await batches.aclose()
                await self._helper.run(bridge.stop())

    async def aclose(self) -> None:
        """Close the idle connections; the pool cannot be used afterwards."""
        if self._closed:
            return
        self._closed = True
        helper_loop = self._helper.current_loop()
        if helper_loop is not None and helper_loop in self._slots and not self._helper.in_thread():
            await self._helper.run(self._close_here())
        if sniffio.current_async_library() == "asyncio":
            await self._close_here()

    async def __aenter__(self) -> MySQLPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- public sync API -----------------------------------------------------------

    def connect_check_sync(self) -> None:
        """:meth:`connect_check` for synchronous callers."""
        self._route(sync=True)
        self._helper.run_blocking(self._ping_here())

    def query_sync(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        """:meth:`query` for synchronous callers (scripts, notebooks, sync connectors)."""
        self._route(sync=True)
        return self._helper.run_blocking(self._query_here(sql, args))

    def run_sync(self, fn: Callable[[MySQLPool], Awaitable[T]]) -> T:
        """Run ``await fn(self)`` on the helper loop and wait (synchronous callers).

        ``fn`` may use every async method of the pool (they run natively
        there), e.g. to consume :meth:`stream_many`.
        """
        self._route(sync=True)

        async def call() -> T:
            return await fn(self)

        return self._helper.run_blocking(call())

    def stream_sync(
        self, sql: str, args: Sequence[Any] = (), *, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[list[Row]]:
        """:meth:`stream` for synchronous callers: a generator of row batches.

        The query runs on the helper loop; batches are handed over one at a
        time.  Close the generator (or exhaust it) to release the connection.
        """
        for _index, rows in self.stream_many_sync([(sql, args)], batch_rows=batch_rows):
            yield rows

    def stream_many_sync(
        self,
        queries: Sequence[tuple[str, Sequence[Any]]],
        *,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        concurrency: int | None = None,
    ) -> Iterator[tuple[int, list[Row]]]:
        """:meth:`stream_many` for synchronous callers: a generator of ``(index, rows)``."""
        self._route(sync=True)
        limit = max(1, min(concurrency or self.size, self.size, max(1, len(queries))))
        bridge = _BridgedStream(self, queries, batch_rows, limit, 2 * limit)
        self._helper.run_blocking(bridge.start())
        try:
            yield from bridge.iterate_sync()
        finally:
            self._helper.run_blocking(bridge.stop())

    def close_sync(self) -> None:
        """Close the connections opened for synchronous and bridged callers."""
        if self._closed:
            return
        self._closed = True
        helper_loop = self._helper.current_loop()
        if helper_loop is not None and helper_loop in self._slots:
            self._helper.run_blocking(self._close_here())


def _in_async_context() -> bool:
    try:
        sniffio.current_async_library()
        return True
    except sniffio.AsyncLibraryNotFoundError:
        return False


async def _iterate_native(
    receive: Any, state: _StreamState
) -> AsyncGenerator[tuple[int, list[Row]], None]:
    async for item in receive:
        yield item
    if state.error is not None:
        raise state.error


class _BridgedStream:
    """The producers of one bridged :meth:`MySQLPool.stream_many` call, on the helper loop.

    :meth:`start`, :meth:`next_item` and :meth:`stop` are coroutines run on
    the helper loop (each handed over by the caller); the batches wait in a
    bounded memory channel there until the caller takes them.
    """

    def __init__(
        self,
        pool: MySQLPool,
        queries: Sequence[tuple[str, Sequence[Any]]],
        batch_rows: int,
        limit: int,
        depth: int,
    ) -> None:
        self.pool = pool
        self.queries = queries
        self.batch_rows = batch_rows
        self.limit = limit
        self.depth = depth
        self.state = _StreamState()
        self.receive: Any = None
        self.task: asyncio.Future[None] | None = None

    async def start(self) -> None:
        send, self.receive = anyio.create_memory_object_stream[tuple[int, list[Row]]](self.depth)
        self.task = asyncio.ensure_future(
            self.pool._produce(self.queries, send, self.batch_rows, self.limit, self.state)
        )

    async def next_item(self) -> tuple[int, list[Row]] | None:
        try:
            item: tuple[int, list[Row]] = await self.receive.receive()
            return item
        except anyio.EndOfStream:
            return None

    async def stop(self) -> None:
        if self.receive is not None:
            await self.receive.aclose()
        task = self.task
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except BaseException:
                pass

    async def iterate(self) -> AsyncGenerator[tuple[int, list[Row]], None]:
        """The batches, for an async caller on another loop or backend."""
        helper = self.pool._helper
        while True:
            item = await helper.run(self.next_item())
            if item is None:
                break
            yield item
        if self.state.error is not None:
            raise self.state.error

    def iterate_sync(self) -> Iterator[tuple[int, list[Row]]]:
        """The batches, for a synchronous caller."""
        helper = self.pool._helper
        while True:
            item = helper.run_blocking(self.next_item())
            if item is None:
                break
            yield item
        if self.state.error is not None:
            raise self.state.error


def _usable(conn: Any) -> bool:
    try:
        return bool(conn.connected)
    except Exception:
        return False


def _discard(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass
