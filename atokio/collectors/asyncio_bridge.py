"""An asyncio event loop in a helper thread, usable from trio, asyncio and plain code.

Client libraries that only run on asyncio (asyncmy) are bridged through
:class:`AsyncioThread`: one loop per process (:func:`helper_thread`) running
forever in a daemon thread.  Coroutines are submitted to it from any thread;
:func:`wait_future` awaits the result from trio or asyncio without blocking
the caller's loop.  Moved here from :mod:`atokio.collectors.mysql`, which
re-exports these names.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
import sniffio

__all__ = ["AsyncioThread", "helper_thread", "wait_future"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class AsyncioThread:
    """An asyncio event loop running forever in a daemon thread.

    :meth:`submit` schedules a coroutine on it from any thread;
    :meth:`run_blocking` waits for one from synchronous code; :meth:`run`
    awaits one from any async backend (trio or another asyncio loop) without
    blocking the caller's loop, and cancels it if the caller is cancelled.
    """

    def __init__(self, name: str = "atokio-asyncio") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The helper loop, started on first use."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name=self.name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def current_loop(self) -> asyncio.AbstractEventLoop | None:
        """The helper loop if it is running (never starts it)."""
        return self._loop

    def in_thread(self) -> bool:
        """Whether the calling thread is the helper thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the helper loop; return a thread-safe future.

        The coroutine runs as an asyncio task in a fresh context, so nothing of
        the caller's context (e.g. the marker by which ``sniffio`` recognises
        trio) leaks into the helper loop.  Cancelling the future cancels the
        task.
        """
        loop = self.loop
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start() -> None:
            if future.cancelled():
                coro.close()
                return
            task = loop.create_task(coro, context=contextvars.Context())

            def finished(done: asyncio.Task[T]) -> None:
                try:
                    if done.cancelled():
                        future.cancel()
                    elif done.exception() is not None:
                        future.set_exception(done.exception())
                    else:
                        future.set_result(done.result())
                except concurrent.futures.InvalidStateError:
                    pass  # the caller cancelled the future meanwhile

            def cancelled(_: concurrent.futures.Future[T]) -> None:
                if future.cancelled() and not task.done():
                    loop.call_soon_threadsafe(task.cancel)

            task.add_done_callback(finished)
            future.add_done_callback(cancelled)

        loop.call_soon_threadsafe(start, context=contextvars.Context())
        return future

    def run_blocking(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the helper loop and wait for it (synchronous callers)."""
        if self.in_thread():
            coro.close()
            raise RuntimeError("run_blocking() called from the helper loop itself")
        return self.submit(coro).result()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the helper loop, from any async backend."""
        if self.in_thread():
            return await coro
        return await wait_future(self.submit(coro))

    def stop(self) -> None:
        """Cancel what still runs on the loop, stop it and join its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None and thread.is_alive():

            async def cancel_all() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout=5)
            except Exception:  # pragma: no cover - best effort
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()


_HELPER = AsyncioThread()


def helper_thread() -> AsyncioThread:
    """The process-wide helper loop that bridged pools use."""
    return _HELPER


def _threadsafe_setter(event: anyio.Event) -> Callable[[], None]:
    """A function any thread may call to set ``event`` in the current event loop."""
    library = sniffio.current_async_library()
    if library == "trio":
        import trio

        token = trio.lowlevel.current_trio_token()

        def fire_trio() -> None:
            try:
                token.run_sync_soon(event.set)
            except trio.RunFinishedError:
                pass

        return fire_trio
    loop = asyncio.get_running_loop()

    def fire_asyncio() -> None:
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass

    return fire_asyncio


async def wait_future(future: concurrent.futures.Future[T]) -> T:
    """Wait for a thread-safe future without blocking the running loop (any backend).

    If the waiting task is cancelled, the future is cancelled too (for a
    future from :meth:`AsyncioThread.submit`, that cancels the coroutine).
    """
    if not future.done():
        event = anyio.Event()
        fire = _threadsafe_setter(event)
        future.add_done_callback(lambda _f: fire())
        try:
            await event.wait()
        except BaseException:
            future.cancel()
            raise
    return future.result()
