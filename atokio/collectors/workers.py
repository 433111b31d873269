"""CPU-bound work on all cores: worker processes driven from the event loop.

Parsing many logs must not serialise on one core, so parse work runs in
worker processes while the event loop keeps subprocess and file I/O going.
The processes form one pool per interpreter, started on first use (through a
fork server that has atokio's parsers imported already) and kept for later
calls, also across the event loops that :func:`atokio.collectors.sync.run_sync`
starts.  Functions and their arguments and results must be picklable
(top-level functions).

:func:`map_in_workers` is an async context manager::

    async with map_in_workers(parse_one, paths, workers=4) as results:
        async for path, outcome in results:       # completion order
            if isinstance(outcome, BaseException): ...

An item whose function raises yields its exception; the others go on.  With
``workers=1`` the function runs in one worker thread of this process instead
(no pickling, no process start-up), unless ``isolate=True``.

Worker processes start by importing the caller's main module again (as
``__mp_main__``; the fork server works like spawn there).  A plain script
that calls atokio at its top level, with no ``if __name__ == "__main__":``
guard -- the way many analysis scripts are written -- would then run again
in every worker.  :func:`processes_can_start` tells whether that is safe:
interactive sessions and notebooks (no main file) and main files with such a
guard (every installed console script has one) get worker processes; any
other caller gets the same work in threads of its own process (C code such
as libdarshan-util still runs in parallel there, the Python part does not).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = [
    "default_workers",
    "map_in_workers",
    "process_pool",
    "processes_can_start",
    "run_in_worker",
    "warm_up",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: Modules the worker processes start with (those that are slow to import).
#: Not ``darshan.backend.cffi_backend``: it imports pandas, which costs more
#: start-up than a 500-log index run spends reading, and the direct reader
#: loads libdarshan-util without it (it imports it only as a fallback).
PRELOAD = [
    "atokio.parsers.darshan",
    "atokio.collectors.files",
    "atokio.collectors.darshanlog",
    "numpy",
]

_MAIN_GUARD = re.compile(rb"""^\s*if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.MULTILINE)


def processes_can_start() -> bool:
    """Whether worker processes can start without running the caller's script again.

    True in an interactive session or notebook (the main module has no
    file), and when the main file has an ``if __name__ == "__main__":``
    guard; False for a script without one (see the module docstring) and
    for a main "file" that cannot be read again (a script piped to
    ``python -``).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return True
    return _file_has_main_guard(os.path.abspath(path))


@functools.cache
def _file_has_main_guard(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            guarded = _MAIN_GUARD.search(handle.read()) is not None
    except OSError:  # e.g. "<stdin>": the workers would fail to run it again
        logger.debug("main file %s cannot be read: parallel work runs in threads", path)
        return False
    if not guarded:
        logger.debug("%s has no __main__ guard: parallel work runs in threads", path)
    return guarded


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def process_pool() -> ProcessPoolExecutor:
    """The interpreter's worker-process pool (one process per usable core)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            context = multiprocessing.get_context("forkserver")
            # imported once in the fork server, inherited by every worker
            context.set_forkserver_preload(PRELOAD)
            _POOL = ProcessPoolExecutor(max_workers=default_workers(), mp_context=context)
        return _POOL


def warm_up(workers: int | None = None) -> None:
    """Start ``workers`` worker processes now, without waiting (they start on demand otherwise)."""
    if not processes_can_start():
        return
    pool = process_pool()
    for _ in range(workers or default_workers()):
        pool.submit(os.getpid)


async def run_in_worker(
    fn: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None
) -> T:
    """``fn(*args)`` computed in a worker process (at most ``limiter`` at once).

    On cancellation the call is abandoned: a call not started yet is
    withdrawn, a running one finishes in its worker and its result is dropped.
    """
    if limiter is not None:
        async with limiter:
            return await _in_pool(fn, *args)
    return await _in_pool(fn, *args)


async def _in_pool(fn: Callable[..., T], *args: Any) -> T:
    if not processes_can_start():
        return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    pool = process_pool()
    future = pool.submit(fn, *args)
    try:
        return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
    except BrokenProcessPool:
        _discard_pool(pool)  # a worker died (e.g. a C library crashed): start afresh next time
        raise
    finally:
        future.cancel()


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is pool:
            _POOL = None
    pool.shutdown(wait=False, cancel_futures=True)


@asynccontextmanager
async def map_in_workers(
    fn: Callable[[I], T],
    items: Iterable[I],
    *,
    workers: int | None = None,
    buffer: int = 64,
    isolate: bool = False,
) -> AsyncIterator[MemoryObjectReceiveStream[tuple[I, T | BaseException]]]:
    """Apply ``fn`` to every item on ``workers`` cores; results in completion order.

    Results wait in a bounded buffer (``buffer`` items): a slow consumer holds
    the workers back instead of piling results up in memory.  ``isolate=True``
    uses a worker process even for one worker, so that a crash inside ``fn``
    (say, in a C library) cannot take this process down: the item yields a
    ``BrokenProcessPool`` error and the pool is restarted.
    """
    workers = workers or default_workers()
    send, receive = anyio.create_memory_object_stream[tuple[I, T | BaseException]](buffer)
    source = iter(items)

    async def call(item: I) -> T:
        if workers == 1 and not isolate:
            return await anyio.to_thread.run_sync(fn, item, abandon_on_cancel=True)
        return await run_in_worker(fn, item)

    async def worker(out: MemoryObjectSendStream[tuple[I, T | BaseException]]) -> None:
        async with out:
            for item in source:  # the shared iterator hands each item to one worker
                try:
                    result: T | BaseException = await call(item)
                except Exception as error:
                    result = error
                await out.send((item, result))

    async with anyio.create_task_group() as group:
        async with send:
            for _ in range(workers):
                group.start_soon(worker, send.clone())
        try:
            yield receive
        finally:
            # a consumer that stopped early leaves work undone: cancel it
            group.cancel_scope.cancel()
            await receive.aclose()
