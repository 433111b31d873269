"""Stream files (plain or gzip) into parsers, in this process or on every core.

Compression is recognised by the name (``.gz``, as pytokio does) or by the
gzip magic bytes, so a renamed file still works.  Files are read in chunks;
the async readers do the reading in a worker thread so an event loop is never
blocked.  :func:`aconsume_file_ranges` hands line-aligned byte ranges of a large
plain file to worker processes, which read them themselves (nothing is
shipped to them but the path and the offsets).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, BinaryIO, TypeVar

import anyio

from atokio.parsers.base import ParseError, Parser

__all__ = [
    "RANGE",
    "iter_file",
    "aconsume_file_ranges",
    "line_ranges",
    "open_binary",
    "parse_file",
    "parse_range",
    "read_file",
    "read_range",
]

R = TypeVar("R")
T = TypeVar("T")
P = TypeVar("P", bound=Parser[Any])

GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for binary reading, decompressing gzip (by suffix or magic)."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{os.fspath(path)}: no such file") from error
    magic = handle.read(2)
    if magic == GZIP_MAGIC or os.fspath(path).endswith(".gz"):
        handle.close()
        # opened by name, the gzip file owns its file: closing it closes both
        return gzip.open(path, "rb")  # type: ignore[return-value]
    handle.seek(0)
    return handle


def parse_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> list[R]:
    """All records of a file (synchronous; for worker processes and scripts)."""
    records: list[R] = []
    with open_binary(path) as handle:
        while chunk := handle.read(chunk_size):
            records.extend(parser.feed(chunk))
    records.extend(parser.close())
    return records


async def iter_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> AsyncIterator[list[R]]:
    """Record batches of a file as they complete (reads in a worker thread)."""
    handle = await anyio.to_thread.run_sync(open_binary, path)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(handle.read, chunk_size)
            if not chunk:
                break
            records = parser.feed(chunk)
            if records:
                yield records
        records = parser.close()
        if records:
            yield records
    finally:
        handle.close()


async def read_file(
    path: str | os.PathLike[str], parser: Parser[R], *, chunk_size: int = 1 << 20
) -> list[R]:
    """All records of a file, read without blocking the event loop."""
    records: list[R] = []
    async for batch in iter_file(path, parser, chunk_size=chunk_size):
        records.extend(batch)
    return records


# -- byte ranges of a file on every core -----------------------------------------

#: Bytes per range handed to a worker by :func:`aconsume_file_ranges`.
RANGE = 8 << 20


def line_ranges(path: str | os.PathLike[str], size: int, piece: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering a plain file of ``size`` bytes, each range about
    ``piece`` bytes long and ending just after a line break (the last at the end)."""
    ranges: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as handle:
        while start < size:
            target = start + piece
            if target >= size:
                ranges.append((start, size))
                break
            handle.seek(target)
            stop = target
            while True:  # the first line break at or after the target
                block = handle.read(1 << 16)
                if not block:
                    stop = size
                    break
                found = block.find(b"\n")
                if found >= 0:
                    stop += found + 1
                    break
                stop += len(block)
            ranges.append((start, stop))
            start = stop
    return ranges


def read_range(
    path: str | os.PathLike[str], start: int, stop: int, chunk: int = 1 << 20
) -> Iterator[bytes]:
    """The bytes ``[start, stop)`` of ``path`` in chunks of up to ``chunk`` bytes
    (``stop=-1``: to the end, decompressing a gzip file)."""
    if stop < 0:
        with open_binary(path) as whole:
            while data := whole.read(chunk):
                yield data
        return
    with open(path, "rb") as handle:
        handle.seek(start)
        left = stop - start
        while left > 0:
            data = handle.read(min(chunk, left))
            if not data:
                return
            left -= len(data)
            yield data


def parse_range(
    path: str | os.PathLike[str],
    start: int,
    stop: int,
    make_parser: Callable[[], P],
    chunk: int = 1 << 18,
) -> tuple[list[Any], P, ParseError | None]:
    """Bytes ``[start, stop)`` of ``path`` fed to a new parser (``stop=-1``: the whole file,
    gzip too): ``(records, parser, error)``, for :func:`aconsume_file_ranges`.

    ``make_parser`` makes the parser (a class or a ``functools.partial`` of
    one, so that it can be sent to a worker process).

    The parser comes back closed, so its counters (``line_number``: the lines
    of the range) can be read; a :class:`ParseError` is returned rather than
    raised, ``records`` then holding those before the bad line, whose number
    counts from ``start``.
    """
    records: list[Any] = []
    parser = make_parser()
    try:
        for data in read_range(path, start, stop, chunk):
            records += parser.feed(data)
        records += parser.close()
    except ParseError as error:
        records += error.records
        error.records = []
        return records, parser, error
    return records, parser, None


async def aconsume_file_ranges(
    path: str | os.PathLike[str],
    fn: Callable[..., T],
    consume: Callable[[int, T], None],
    *args: Any,
    piece: int | None = None,
    workers: int | None = None,
    here_until_ready: bool = False,
) -> None:
    """``consume(start, fn(path, start, stop, *args))`` for line-aligned ranges of a file,
    in file order.

    ``fn`` runs in worker processes (a top-level function, so that it can be
    sent to them), a few ranges per worker at a time; ``consume`` runs here as
    each result is next in order, while later ranges are still being read, so
    the two overlap and memory stays bounded.  A gzip file (which cannot be
    read from the middle), a file of at most one range, one worker, or a script
    that cannot start worker processes
    (:func:`~atokio.collectors.workers.processes_can_start`) gives one call
    ``fn(path, 0, -1, *args)`` over the whole file (``-1``: to its end, see
    :func:`read_range`), made in a thread.  An exception raised by ``fn`` is
    raised here, after the ranges before it were consumed; one raised by
    ``consume`` ends the reading and is raised here as itself.

    ``here_until_ready=True`` has this process compute the next ranges too (in
    a thread), in turn with the workers, until the worker pool has started:
    starting it takes a good part of a second, much more on a busy machine,
    during which this process would otherwise wait idle; the workers are given
    ranges only once they can start on them at once.
    """
    from atokio.collectors.workers import default_workers, processes_can_start, run_in_worker

    name = os.fspath(path)
    workers = workers or default_workers()
    with open_binary(name) as handle:
        plain = not isinstance(handle, gzip.GzipFile)
    size = os.path.getsize(name)
    piece = piece or RANGE
    if not plain or size <= piece or workers <= 1 or not processes_can_start():
        consume(0, await anyio.to_thread.run_sync(fn, name, 0, -1, *args))
        return
    ranges = await anyio.to_thread.run_sync(line_ranges, name, size, piece)
    done: dict[int, tuple[bool, Any]] = {}
    changed = anyio.Event()  # set when a range is computed or consumed
    taken = consumed = 0
    ready = not here_until_ready  # whether the pool has started

    def notify() -> None:
        nonlocal changed
        changed.set()
        changed = anyio.Event()

    async def take() -> int | None:
        """The next range to compute, once few enough are ahead of the consumed ones."""
        nonlocal taken
        while taken < len(ranges) and taken - consumed >= 3 * workers:
            await changed.wait()
        if taken >= len(ranges):
            return None
        taken += 1
        return taken - 1

    async def compute(number: int, here: bool) -> None:
        start, stop = ranges[number]
        try:
            if here:
                result = await anyio.to_thread.run_sync(fn, name, start, stop, *args)
            else:
                result = await run_in_worker(fn, name, start, stop, *args)
            done[number] = (True, result)
        except Exception as error:
            done[number] = (False, error)
        notify()

    async def in_workers() -> None:  # one range at a time: one running, one queued per worker
        nonlocal ready
        if not ready:
            await run_in_worker(os.getpid)  # returns once the pool has started
            ready = True
        while (number := await take()) is not None:
            await compute(number, False)

    async def here() -> None:
        while not ready and (number := await take()) is not None:
            await compute(number, True)

    failure: BaseException | None = None
    async with anyio.create_task_group() as group:
        for _ in range(2 * workers):
            group.start_soon(in_workers)
        if here_until_ready:
            group.start_soon(here)
        for number in range(len(ranges)):
            while number not in done:
                await changed.wait()
            ok, value = done.pop(number)
            if ok:
                try:
                    consume(ranges[number][0], value)
                except Exception as error:
                    ok, value = False, error
            if not ok:
                failure = value
                group.cancel_scope.cancel()
                break
            consumed = number + 1
            notify()
    if failure is not None:
        raise failure  # as itself, not in an exception group
