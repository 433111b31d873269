"""Run the async core from synchronous code: scripts and notebooks alike.

:func:`run_sync` runs a coroutine function to completion.  In a plain script
(no event loop running in this thread) it uses ``anyio.run`` on asyncio, or on
trio when ``ATOKIO_BACKEND=trio``.  Inside a running event loop — a Jupyter
cell, or sync code called from async code — a second loop cannot run in the
same thread, so the coroutine runs on a fresh event loop in a helper thread
while this thread waits for it.  Exceptions propagate unchanged.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import anyio

__all__ = ["backend", "run_sync"]

T = TypeVar("T")


def backend() -> str:
    """The event-loop backend for sync calls: ``$ATOKIO_BACKEND`` or ``asyncio``."""
    name = os.environ.get("ATOKIO_BACKEND", "asyncio").strip().lower() or "asyncio"
    if name not in ("asyncio", "trio"):
        raise ValueError(f"ATOKIO_BACKEND must be asyncio or trio, not {name!r}")
    return name


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        pass
    try:
        import sniffio

        sniffio.current_async_library()
        return True
    except Exception:
        return False


def run_sync(async_fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """Run ``async_fn(*args, **kwargs)`` to completion and return its result."""
    call = partial(async_fn, *args, **kwargs) if kwargs else async_fn
    if not _loop_running():
        return anyio.run(call, *([] if kwargs else args), backend=backend())

    outcome: dict[str, Any] = {}

    def in_thread() -> None:
        try:
            outcome["value"] = anyio.run(call, *([] if kwargs else args), backend=backend())
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    thread = threading.Thread(target=in_thread, name="atokio-run-sync", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _import_asyncio_backend() -> None:
    """Import anyio's asyncio backend (and ``anyio.to_thread``, which the collectors
    hand blocking work to) with this module rather than in the first call.

    anyio imports them lazily, when a loop first runs; every synchronous
    call runs one, so the (tens of milliseconds of) import belongs with the
    other imports of a program, not inside its first call.  Trio's backend
    is left to be imported when ``ATOKIO_BACKEND=trio`` asks for it.
    """
    import anyio.to_thread

    try:
        import anyio._backends._asyncio  # noqa: F401  (where anyio keeps the backend)
    except ImportError:  # another anyio layout: it is imported on first use instead
        pass


_import_asyncio_backend()
