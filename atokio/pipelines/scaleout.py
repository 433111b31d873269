"""Running pipeline work on a Dask cluster: the scheduler, the client, the task loop.

The pipelines (indexing Darshan logs, archiving days of telemetry) split their
work into independent, picklable tasks: a top-level function and plain
arguments.  This module runs such tasks on Dask workers and hands the results
back to the one process that writes them:

* :func:`resolve_scheduler` reads ``--scheduler`` (or ``$ATOKIO_DASK_SCHEDULER``):
  ``tcp://host:port`` (any Dask address) of a running scheduler, or
  ``local[:N]`` for a ``LocalCluster`` of N worker processes on this machine
  (one thread each; N defaults to the usable cores);
* :func:`dask_client` opens a ``distributed.Client`` for it (and starts and
  stops the ``LocalCluster``), or passes through a client the caller made;
* :func:`run_tasks` / :func:`arun_tasks` submit ``function(*arguments)`` per
  task, keep at most ``max_in_flight`` of them submitted, and stream the
  outcomes back as they complete (``distributed.as_completed``), each either
  a value or the error of that task alone.  With ``ordered=True`` outcomes come
  back in submission order (held until the earlier ones are in), so that the
  writer sees the same sequence as a local run and writes the same rows.

Dask reruns the tasks of a worker that dies (up to the scheduler's
``allowed-failures``) and ``retries`` reruns a task whose function raised;
every task's outcome is delivered exactly once, whichever run of it won.

``dask.distributed`` comes with the ``dask`` extra (``pip install
'atokio[dask]'``); it is imported only when a scheduler is used.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import anyio

__all__ = [
    "SCHEDULER_ENV",
    "SchedulerSpec",
    "TaskOutcome",
    "adask_client",
    "arun_tasks",
    "dask_client",
    "resolve_scheduler",
    "run_tasks",
    "total_threads",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The environment variable naming the scheduler when ``--scheduler`` is not given.
SCHEDULER_ENV = "ATOKIO_DASK_SCHEDULER"

#: Address schemes of ``distributed``'s communication layers.
_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")
_LOCAL = re.compile(r"^local(?::(\d+))?$")
#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True)
class SchedulerSpec:
    """Where tasks run: a running scheduler's ``address``, or a ``LocalCluster`` of ``workers``."""

    address: str | None = None
    workers: int | None = None

    @property
    def is_local(self) -> bool:
        """True for a ``LocalCluster`` started (and stopped) by this process."""
        return self.address is None

    def __str__(self) -> str:
        return self.address if self.address is not None else f"local:{self.workers}"


def resolve_scheduler(
    value: str | None = None, *, environ: Mapping[str, str] | None = None
) -> SchedulerSpec | None:
    """The scheduler of ``value``, else of ``$ATOKIO_DASK_SCHEDULER``; None to run locally.

    Accepted: ``local`` (a LocalCluster with one worker process per usable
    core), ``local:N`` (N worker processes), or the address of a running
    scheduler with its scheme (``tcp://10.0.0.5:8786``).  An empty value means
    no scheduler.  Anything else raises ``ValueError`` saying what is expected.
    """
    if value is None:
        value = (os.environ if environ is None else environ).get(SCHEDULER_ENV)
        where = f"${SCHEDULER_ENV}"
    else:
        where = "--scheduler"
    if value is None or not value.strip():
        return None
    text = value.strip()
    local = _LOCAL.match(text)
    if local is not None:
        if local.group(1) is None:
            from atokio.collectors.workers import default_workers

            return SchedulerSpec(workers=default_workers())
        workers = int(local.group(1))
        if workers < 1:
            raise ValueError(f"{where} {text!r}: a local cluster needs at least 1 worker")
        return SchedulerSpec(workers=workers)
    scheme, sep, rest = text.partition("://")
    if sep and scheme in _SCHEMES and rest:
        return SchedulerSpec(address=text)
    raise ValueError(
        f"{where} {text!r} is not a Dask scheduler: give its address with the scheme "
        f"(tcp://host:8786) or local[:N] for N worker processes on this machine"
    )


def _as_spec(scheduler: str | SchedulerSpec) -> SchedulerSpec:
    if isinstance(scheduler, SchedulerSpec):
        return scheduler
    spec = resolve_scheduler(scheduler)
    if spec is None:
        raise ValueError("no Dask scheduler given (empty --scheduler)")
    return spec


@contextmanager
def dask_client(
    scheduler: Any,
    *,
    threads_per_worker: int = 1,
    timeout: float = CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """A ``distributed.Client`` for ``scheduler``, closed (with its local cluster) on exit.

    ``scheduler`` is a string or :class:`SchedulerSpec` (see
    :func:`resolve_scheduler`), or a ``Client`` of the caller's, which is used
    as it is and left open.  A local cluster has ``threads_per_worker`` threads
    in each worker process, its dashboard on a free loopback port, and workers without a
    memory limit (the tasks are small; the writer holds little).
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as error:  # pragma: no cover - the dask extra is a test dependency
        raise RuntimeError(
            f"running on Dask needs the dask extra: pip install 'atokio[dask]' ({error})"
        ) from error
    if isinstance(scheduler, Client):
        yield scheduler
        return
    spec = _as_spec(scheduler)
    # closed explicitly rather than as context managers: entering and leaving may happen in
    # different threads (adask_client), where a client's context variable cannot be reset
    cluster = None
    if spec.is_local:
        logger.info("starting a local Dask cluster of %d worker process(es)", spec.workers)
        cluster = LocalCluster(
            n_workers=spec.workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            dashboard_address="127.0.0.1:0",  # any free port: never clash with others
            memory_limit=0,
            host="127.0.0.1",
        )
        address = cluster.scheduler_address
    else:
        assert spec.address is not None
        address = spec.address
    try:
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except OSError as error:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {address} within {timeout:g} s: {error} "
                f"(is `dask scheduler` running there, and the address right?)"
            ) from error
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


@asynccontextmanager
async def adask_client(scheduler: Any, **options: Any) -> AsyncIterator[Any]:
    """:func:`dask_client` for async code: connecting (or starting a local cluster) and
    closing run in a worker thread, so the event loop is never blocked.
    """
    stack = ExitStack()
    client = await anyio.to_thread.run_sync(stack.enter_context, dask_client(scheduler, **options))
    try:
        yield client
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stack.close)


def total_threads(client: Any) -> int:
    """Worker threads the scheduler knows of now (at least 1)."""
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


@dataclass
class TaskOutcome(Generic[T]):
    """What one task gave: ``value``, or the ``error`` it raised (``value`` is then None).

    ``label`` is the caller's name for the task (its index when none was given).
    """

    label: Hashable
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when the task returned a value."""
        return self.error is None

    def describe_error(self) -> str:
        """The error as one line: its type and message."""
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"


def _error_of(result: Any) -> BaseException:
    """The exception in a failed future's ``(type, exception, traceback)`` result."""
    if isinstance(result, BaseException):
        return result
    if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
        return result[1]
    return RuntimeError(f"the task failed: {result!r}")


@contextmanager
def run_tasks(
    function: Callable[..., T],
    arguments: Iterable[tuple[Any, ...]],
    *,
    scheduler: Any,
    labels: Iterable[Hashable] | None = None,
    retries: int = 2,
    max_in_flight: int | None = None,
    ordered: bool = False,
    name: str | None = None,
) -> Iterator[Iterator[TaskOutcome[T]]]:
    """Run ``function(*args)`` for each ``args`` of ``arguments`` on Dask; stream the outcomes.

    Use it as a context manager whose value is an iterator of
    :class:`TaskOutcome`, one per task, in completion order (submission order
    with ``ordered``)::

        with run_tasks(summarize_batch, batches, scheduler="local:2") as outcomes:
            for outcome in outcomes:
                if not outcome.ok:
                    logger.warning("%s failed: %s", outcome.label, outcome.describe_error())

    ``arguments`` is read lazily: at most ``max_in_flight`` tasks are submitted
    and not yet handed back (default: four per worker thread, at least 8), so
    memory stays bounded however many tasks there are.  ``retries`` reruns a
    task whose function raised; a task whose worker died is rerun by the
    scheduler.  ``function`` and the arguments must be picklable (a top-level
    function, plain data).  Leaving the block early cancels the tasks still
    pending.  ``scheduler`` is as in :func:`dask_client`.
    """
    with dask_client(scheduler) as client:
        loop: _TaskLoop[T] = _TaskLoop(
            client, function, arguments, labels, retries, max_in_flight, name, ordered
        )
        try:
            yield loop
        finally:
            loop.cancel()


class _TaskLoop(Generic[T]):
    """The submit / as_completed loop of :func:`run_tasks`: an iterator of outcomes.

    One thread iterates; :meth:`cancel` may be called from another one.
    """

    def __init__(
        self,
        client: Any,
        function: Callable[..., T],
        arguments: Iterable[tuple[Any, ...]],
        labels: Iterable[Hashable] | None,
        retries: int,
        max_in_flight: int | None,
        name: str | None,
        ordered: bool,
    ) -> None:
        from distributed import as_completed

        if retries < 0:
            raise ValueError(f"retries must be 0 or more, not {retries}")
        self.client = client
        self.function = function
        self.arguments = iter(arguments)
        self.labels = iter(labels) if labels is not None else None
        self.retries = retries
        limit = max_in_flight if max_in_flight is not None else max(8, 4 * total_threads(client))
        if limit < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {limit}")
        self.limit = limit
        self.prefix = f"{name or getattr(function, '__name__', 'task')}-{uuid.uuid4().hex[:8]}"
        self.index = 0
        self.lock = threading.Lock()
        self.pending: dict[Any, tuple[int, Hashable, Any]] = {}
        self.done = as_completed([], loop=client.loop, with_results=True, raise_errors=False)
        self.exhausted = False
        self.cancelled = False
        self.held = 0  # outcomes received but not handed back yet (ordered mode)
        self.outcomes = self._ordered() if ordered else self._completed()

    def __iter__(self) -> Iterator[TaskOutcome[T]]:
        return self

    def __next__(self) -> TaskOutcome[T]:
        return next(self.outcomes)

    def _fill(self) -> None:
        while not self.exhausted and len(self.pending) + self.held < self.limit:
            try:
                args = next(self.arguments)
            except StopIteration:
                self.exhausted = True
                return
            label: Hashable = self.index
            if self.labels is not None:
                label = next(self.labels)
            with self.lock:
                if self.cancelled:
                    return
                future = self.client.submit(
                    self.function,
                    *args,
                    key=f"{self.prefix}-{self.index}",
                    retries=self.retries,
                    pure=False,
                )
                self.pending[future.key] = (self.index, label, future)
            self.index += 1
            self.done.add(future)

    def _next(self) -> tuple[int, TaskOutcome[T]] | None:
        """The next completed task as ``(index, outcome)``, or None when all are done."""
        self._fill()
        if not self.pending or self.cancelled:
            return None
        try:
            future, result = next(self.done)
        except StopIteration:  # cleared by cancel()
            return None
        with self.lock:
            found = self.pending.pop(future.key, None)
        if found is None:
            return None
        index, label, _future = found
        if future.status in ("error", "cancelled"):
            outcome: TaskOutcome[T] = TaskOutcome(label, error=_error_of(result))
        else:
            outcome = TaskOutcome(label, value=result)
        future.release()
        return index, outcome

    def _completed(self) -> Iterator[TaskOutcome[T]]:
        while True:
            found = self._next()
            if found is None:
                return
            yield found[1]

    def _ordered(self) -> Iterator[TaskOutcome[T]]:
        waiting: dict[int, TaskOutcome[T]] = {}
        wanted = 0
        while True:
            while wanted in waiting:
                self.held -= 1
                yield waiting.pop(wanted)
                wanted += 1
            found = self._next()
            if found is None:
                return
            waiting[found[0]] = found[1]
            self.held += 1

    def cancel(self) -> None:
        """Cancel the tasks not handed back yet; the iteration then ends."""
        with self.lock:
            self.cancelled = True
            self.exhausted = True
            futures = [future for _index, _label, future in self.pending.values()]
            self.pending.clear()
        self.done.clear()
        if futures:
            try:
                self.client.cancel(futures)
            except Exception as error:  # the cluster may be gone already
                logger.debug("cancelling %d pending task(s) failed: %s", len(futures), error)


def _only_error(group: BaseExceptionGroup) -> BaseException:
    """The one error inside (nested) task-group wrappers, or the group when there are several."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error


@asynccontextmanager
async def arun_tasks(
    function: Callable[..., T],
    arguments: Iterable[tuple[Any, ...]],
    *,
    scheduler: Any,
    labels: Iterable[Hashable] | None = None,
    retries: int = 2,
    max_in_flight: int | None = None,
    ordered: bool = False,
    name: str | None = None,
    buffer: int = 16,
) -> AsyncIterator[AsyncIterator[TaskOutcome[T]]]:
    """:func:`run_tasks` for async code (asyncio or trio): ``async with ... as outcomes``.

    The Dask client runs in a worker thread, which hands each outcome to the
    event loop through a channel of ``buffer`` places, so the event loop never
    blocks; leaving the block early (or being cancelled) cancels the tasks
    still pending and waits for the thread.  The arguments are as in
    :func:`run_tasks`; an error of the client itself (an unreachable
    scheduler) is raised here.
    """
    send, receive = anyio.create_memory_object_stream[TaskOutcome[T]](buffer)
    running: list[_TaskLoop[T]] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            produce_into_channel()
        finally:  # closed from the event loop's thread: trio wakes the receiver there
            anyio.from_thread.run_sync(send.close)

    def produce_into_channel() -> None:
        with (
            run_tasks(
                function,
                arguments,
                scheduler=scheduler,
                labels=labels,
                retries=retries,
                max_in_flight=max_in_flight,
                ordered=ordered,
                name=name,
            ) as outcomes,
        ):
            assert isinstance(outcomes, _TaskLoop)
            running.append(outcomes)
            if stop.is_set():
                return
            for outcome in outcomes:
                try:
                    anyio.from_thread.run(send.send, outcome)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return

    async def received() -> AsyncIterator[TaskOutcome[T]]:
        async for outcome in receive:
            yield outcome

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(partial(anyio.to_thread.run_sync, produce))
            try:
                with receive:
                    yield received()
            finally:
                stop.set()
                for loop in running:
                    loop.cancel()
    except BaseExceptionGroup as group_error:
        raise _only_error(group_error) from None
