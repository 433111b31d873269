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

:func:`call_isolated` is for code that untrusted input may crash or exhaust
(libdarshan-util on a corrupt log): it runs a call in a child process of its
own, under a memory limit (``RLIMIT_AS``) and a time limit, and turns an
abort, a crash, a signal or a limit into :class:`IsolatedCallError` saying
which.  Those children are plain subprocesses (the caller's script is never
imported again), kept for later calls; :func:`in_worker_process` tells code
running in a pool worker that it may do such work in place.
"""

from __future__ import annotations

import atexit
import functools
import logging
import multiprocessing
import os
import re
import select
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from atokio.common import process_running

__all__ = [
    "IsolatedCallError",
    "call_isolated",
    "close_isolated",
    "default_workers",
    "discard_pool",
    "in_worker_process",
    "machine_busy",
    "map_in_workers",
    "process_pool",
    "pool_started",
    "processes_can_start",
    "run_in_worker",
    "start_pool",
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


#: Modules the worker processes start with: what nearly every use needs and
#: is slow to import.  The fork server imports them before it can start any
#: worker, so a module that only some uses need is imported by the workers
#: that need it.  Measured: without ``atokio.collectors.darshanlog`` (the
#: direct Darshan reader, which only the index uses; it warms its workers up
#: with it anyway) two workers were ready 25-30 ms sooner, and the 500-log
#: index took as long; without ``atokio.parsers.darshan`` the index finished
#: 40-50 ms sooner.  Not ``darshan.backend.cffi_backend``: it imports pandas,
#: which costs more start-up than a 500-log index run spends reading, and the
#: direct reader loads libdarshan-util without it (only as a fallback).
#: :mod:`atokio.collectors._workerenv` comes first: it limits the numeric
#: libraries to one thread per worker before numpy is imported.
PRELOAD = [
    "atokio.collectors._workerenv",
    "atokio.collectors.files",
    "numpy",
]

_MAIN_GUARD = re.compile(rb"""^\s*if\s+__name__\s*==\s*['"]__main__['"]\s*:""", re.MULTILINE)


def machine_busy(workers: int) -> bool:
    """Whether other work keeps the cores busy: a 1-minute load average of at least
    ``workers - 0.5`` (``False`` where the system has none).

    Worker processes cost more CPU time in all than one process does (their
    start, the results sent back); that pays off only with cores to spare, so
    callers that can do the same work in one process do it there when this is
    true.
    """
    try:
        return os.getloadavg()[0] >= workers - 0.5
    except OSError:
        return False


def processes_can_start() -> bool:
    """Whether worker processes can start without running the caller's script again.

    True in an interactive session or notebook (the main module has no
    file), and when the main file has an ``if __name__ == "__main__":``
    guard; False for a script without one (see the module docstring) and
    for a main "file" that cannot be read again (a script piped to
    ``python -``), and inside a daemonic process (a worker of a server such
    as Hypercorn), which may not have children.
    """
    if multiprocessing.current_process().daemon:
        return False
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
            _POOL = ProcessPoolExecutor(
                max_workers=default_workers(),
                mp_context=context,
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return _POOL


_IN_WORKER = False


def _start_worker(owner: int) -> None:
    """Set up a worker process of the pool that process ``owner`` made."""
    global _IN_WORKER
    _IN_WORKER = True
    threading.Thread(target=_exit_with, args=(owner,), name="atokio-owner", daemon=True).start()


def _exit_with(owner: int) -> None:
    """End this worker process when process ``owner`` has ended, however it ended.

    A pool's workers hold both ends of their task pipe, and the fork server
    waits for its last worker: when the owner is killed (SIGKILL, the OOM
    killer) or leaves through ``os._exit``, nothing else would ever end them.
    """
    try:
        handle = os.pidfd_open(owner)
    except (AttributeError, OSError):  # not Linux 5.3+; or the owner is gone already
        handle = None
    if handle is not None:
        select.select([handle], [], [])  # readable once the owner has ended
    else:
        while process_running(owner):
            time.sleep(1.0)
    os._exit(0)


def in_worker_process() -> bool:
    """Whether this process is a worker of :func:`process_pool` (expendable: a crash restarts it)."""
    return _IN_WORKER


def warm_up(workers: int | None = None, prepare: Callable[[], Any] | None = None) -> None:
    """Start ``workers`` worker processes now, without waiting (they start on demand otherwise).

    ``prepare`` (picklable, no arguments) is called once per submitted start,
    so that what the coming calls need -- a module to import, a C library to
    load -- is ready in the workers before the first call instead of being
    paid inside it, one worker after another.
    """
    if not processes_can_start():
        return
    pool = process_pool()
    for _ in range(workers or default_workers()):
        pool.submit(prepare or os.getpid)


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


#: Pools whose worker processes have been started (by :func:`_started_pool`).
_STARTED: set[int] = set()


def _start_pool() -> ProcessPoolExecutor:
    pool = process_pool()
    pool.submit(os.getpid).result()  # starts the fork server and every worker
    _STARTED.add(id(pool))
    return pool


def pool_started() -> bool:
    """Whether the pool's worker processes have started (a call sent now starts at once)."""
    pool = _POOL
    return pool is not None and id(pool) in _STARTED


async def start_pool() -> None:
    """Return once the pool's worker processes have started (starting them if need be)."""
    await _started_pool()


async def _started_pool() -> ProcessPoolExecutor:
    """The pool, its workers started in a thread the first time: starting the fork
    server and the workers takes a fraction of a second, during which the event loop
    (and whatever this process does meanwhile) must not stand still."""
    pool = process_pool()
    if id(pool) in _STARTED:
        return pool
    return await anyio.to_thread.run_sync(_start_pool, abandon_on_cancel=True)


async def _in_pool(fn: Callable[..., T], *args: Any) -> T:
    if not processes_can_start():
        return await anyio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    pool = await _started_pool()
    future = pool.submit(fn, *args)
    try:
        return await anyio.to_thread.run_sync(future.result, abandon_on_cancel=True)
    except BrokenProcessPool:
        discard_pool(pool)  # a worker died (e.g. a C library crashed): start afresh next time
        raise
    finally:
        future.cancel()


def discard_pool(pool: ProcessPoolExecutor) -> None:
    """Forget ``pool`` and shut it down without waiting (a broken pool: the next call starts afresh)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is pool:
            _POOL = None
    _STARTED.discard(id(pool))
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


# -- isolated calls: a child process under limits -----------------------------------
#
# The pool above suits trusted work.  Code that may crash on untrusted input
# (libdarshan-util on a corrupt log) runs instead in children of its own: plain
# subprocesses (``python -m atokio.collectors._child``, so the caller's script
# is never imported again) with a memory limit set in the child and a time limit
# armed per call.  Their exit status says what ended them, which the pool cannot
# tell; idle children are kept for the next call (at most one per core).


class IsolatedCallError(RuntimeError):
    """A call in an isolated child ended without a result; the message says why."""


_SIGNAL_CAUSES = {
    "SIGABRT": "aborted",
    "SIGSEGV": "crashed (segmentation fault)",
    "SIGBUS": "crashed (bus error)",
    "SIGFPE": "crashed (arithmetic error)",
    "SIGILL": "crashed (illegal instruction)",
    "SIGKILL": "was killed (SIGKILL; out of memory?)",
}


class _Child:
    """One isolated child process and the file its standard error goes to."""

    def __init__(self, memory: int | None) -> None:
        import fcntl
        import subprocess
        import tempfile

        self.memory = memory
        self.stderr = tempfile.TemporaryFile()  # kept for the child's life
        flags = fcntl.fcntl(self.stderr.fileno(), fcntl.F_GETFL)
        fcntl.fcntl(self.stderr.fileno(), fcntl.F_SETFL, flags | os.O_APPEND)
        env = dict(os.environ)
        env.setdefault("OPENBLAS_NUM_THREADS", "1")  # no per-thread buffers in the address space
        env.setdefault("OMP_NUM_THREADS", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atokio.collectors._child", str(memory or 0)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
        )

    def close(self) -> None:
        """End the child (it exits when its input ends; killed if it does not)."""
        import subprocess

        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()

    def stderr_tail(self) -> str:
        """The last non-empty line the child wrote on stderr, and forget what it wrote."""
        try:
            self.stderr.seek(0)
            text = self.stderr.read()[-4096:].decode(errors="replace")
            self.stderr.truncate(0)
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def call(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seconds: float | None,
    ) -> T:
        """``fn(*args, **kwargs)`` in the child; raises IsolatedCallError if the child ends."""
        import pickle
        import struct

        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            cwd: str | None = os.getcwd()
        except OSError:  # the caller's directory was removed
            cwd = None
        payload = pickle.dumps(
            (fn, args, kwargs, seconds, os.environ.get("TZ"), cwd),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
        try:
            self.process.stdin.write(struct.pack("<Q", len(payload)) + payload)
            self.process.stdin.flush()
        except OSError:
            raise self._ended(seconds) from None
        # the child's own timer ends it at ``seconds``; this is the backstop
        deadline = None if seconds is None else time.monotonic() + seconds + 10.0
        fd = self.process.stdout.fileno()
        data = bytearray()
        wanted = 8
        length = None
        while len(data) < wanted:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                self.process.kill()
                self.process.wait()
                raise IsolatedCallError(f"exceeded the time limit of {seconds:g} s")
            piece = os.read(fd, max(1 << 16, wanted - len(data)))
            if not piece:
                raise self._ended(seconds)
            data += piece
            if length is None and len(data) >= 8:
                length = struct.unpack("<Q", data[:8])[0]
                wanted = 8 + length
        status, value = pickle.loads(bytes(data[8:wanted]))
        tail = self.stderr_tail()
        if tail:
            logger.debug("isolated %s: %s", getattr(fn, "__name__", fn), tail)
        if status == "ok":
            return value
        if status == "memory":
            limit = "" if self.memory is None else f" of {_size(self.memory)}"
            raise IsolatedCallError(f"exceeded the memory limit{limit}")
        raise value

    def _ended(self, seconds: float | None) -> IsolatedCallError:
        import signal

        code = self.process.wait()
        tail = self.stderr_tail()
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            if name == "SIGALRM":
                cause = f"exceeded the time limit of {seconds:g} s"
            elif name == "SIGXCPU":
                cause = "exceeded its CPU time limit"
            else:
                cause = _SIGNAL_CAUSES.get(name, f"was killed by {name}")
        else:
            cause = f"exited with status {code}"
        return IsolatedCallError(cause + (f": {tail}" if tail else ""))


def _size(size: int) -> str:
    from atokio.collectors.limits import format_size

    return format_size(size)


_IDLE: dict[int | None, list[_Child]] = {}
_IDLE_LOCK = threading.Lock()


def call_isolated(
    fn: Callable[..., T],
    *args: Any,
    memory_limit: int | None = None,
    time_limit: float | None = None,
    **kwargs: Any,
) -> T:
    """``fn(*args, **kwargs)`` in an isolated child process; blocks (run it in a thread from async code).

    ``memory_limit`` bounds the child's address space (bytes, ``RLIMIT_AS``),
    ``time_limit`` the call's wall-clock time (seconds); None is no bound.
    ``fn``, its arguments and its result must be picklable.  An exception
    ``fn`` raises is raised here; a child that dies (abort, crash, signal)
    or hits a limit raises :class:`IsolatedCallError` saying which, with the
    last line it wrote on stderr.  Safe to call from many threads at once.
    """
    with _IDLE_LOCK:
        idle = _IDLE.setdefault(memory_limit, [])
        child = idle.pop() if idle else None
    if child is None or child.process.poll() is not None:
        child = _Child(memory_limit)
    keep = False
    try:
        result = child.call(fn, args, kwargs, time_limit)
        keep = True
        return result
    except IsolatedCallError:
        raise
    except Exception:  # raised by ``fn``: the child is still good
        keep = child.process.poll() is None
        raise
    finally:
        with _IDLE_LOCK:
            idle = _IDLE.setdefault(memory_limit, [])
            if keep and len(idle) < default_workers():
                idle.append(child)
                child = None
        if child is not None:
            child.close()


def close_isolated() -> None:
    """End the idle isolated children (done at exit; they are started again when needed)."""
    with _IDLE_LOCK:
        children = [child for idle in _IDLE.values() for child in idle]
        _IDLE.clear()
    for child in children:
        child.close()


atexit.register(close_isolated)
