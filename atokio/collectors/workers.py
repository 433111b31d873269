"""CPU-bound work on all cores: worker processes driven from the event loop.

Parsing many logs must not serialise on one core, so parse work runs in
worker processes (anyio's process pool: workers are started once and reused)
while the event loop keeps subprocess and file I/O going.  Functions and their
arguments and results must be picklable (top-level functions).

:func:`map_in_workers` is an async context manager::

    async with map_in_workers(parse_one, paths, workers=4) as results:
        async for path, outcome in results:       # completion order
            if isinstance(outcome, BaseException): ...

An item whose function raises yields its exception; the others go on.  With
``workers=1`` the function runs in one worker thread of this process instead
(no pickling, no process start-up).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["default_workers", "map_in_workers", "run_in_worker"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


async def run_in_worker(
    fn: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None
) -> T:
    """``fn(*args)`` computed in a worker process (cancellable)."""
    return await anyio.to_process.run_sync(fn, *args, cancellable=True, limiter=limiter)


@asynccontextmanager
async def map_in_workers(
    fn: Callable[[I], T], items: Iterable[I], *, workers: int | None = None, buffer: int = 64
) -> AsyncIterator[MemoryObjectReceiveStream[tuple[I, T | BaseException]]]:
    """Apply ``fn`` to every item on ``workers`` cores; results in completion order.

    Results wait in a bounded buffer (``buffer`` items): a slow consumer holds
    the workers back instead of piling results up in memory.
    """
    workers = workers or default_workers()
    send, receive = anyio.create_memory_object_stream[tuple[I, T | BaseException]](buffer)
    source = iter(items)
    limiter = anyio.CapacityLimiter(workers)

    async def call(item: I) -> T:
        if workers == 1:
            return await anyio.to_thread.run_sync(fn, item, abandon_on_cancel=True)
        return await anyio.to_process.run_sync(fn, item, cancellable=True, limiter=limiter)

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
