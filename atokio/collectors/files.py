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
    "aparse_file_ranges",
    "line_ranges",
    "open_binary",
    "parse_file",
    "parse_range",
    "read_file",
    "read_range",
    "shifted",
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


def line_ranges(
    path: str | os.PathLike[str], size: int, piece: int, boundary: bytes = b"\n"
) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering a plain file of ``size`` bytes, each range about
    ``piece`` bytes long and ending just after a line break (the last at the end).

    ``boundary`` (which starts with the line break) says where a range may end:
    ``b"\nBEGIN"`` ends ranges only before lines that start with ``BEGIN``.
    """
    if not boundary.startswith(b"\n"):
        raise ValueError(f"a range boundary must start with a line break, not {boundary!r}")
    keep = len(boundary) - 1
    ranges: list[tuple[int, int]] = []
    start = 0
    with open(path, "rb") as handle:
        while start < size:
            target = start + piece
            if target >= size:
                ranges.append((start, size))
                break
            handle.seek(target)
            stop = size
            offset = target  # of tail[0], then of data[0]
            tail = b""  # the end of the bytes searched, where a boundary may begin
            while block := handle.read(1 << 16):  # the first boundary at or after the target
                data = tail + block
                found = data.find(boundary)
                if found >= 0:
                    stop = offset + found + 1
                    break
                tail = data[max(0, len(data) - keep) :] if keep else b""
                offset += len(data) - len(tail)
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
    boundary: bytes = b"\n",
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
    ranges only once they can start on them at once.  ``boundary`` says where
    ranges may end (see :func:`line_ranges`).
    """
    from atokio.collectors.workers import (
        default_workers,
        processes_can_start,
        run_in_worker,
        start_pool,
    )

    name = os.fspath(path)
    workers = workers or default_workers()
    with open_binary(name) as handle:
        plain = not isinstance(handle, gzip.GzipFile)
    size = os.path.getsize(name)
    piece = piece or RANGE
    if not plain or size <= piece or workers <= 1 or not processes_can_start():
        consume(0, await anyio.to_thread.run_sync(fn, name, 0, -1, *args))
        return
    ranges = await anyio.to_thread.run_sync(line_ranges, name, size, piece, boundary)
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
            await start_pool()
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
            value = None  # consumed: not kept while the next range is awaited
            consumed = number + 1
            notify()
    if failure is not None:
        raise failure  # as itself, not in an exception group


async def aparse_file_ranges(
    path: str | os.PathLike[str],
    make_parser: Callable[[], Parser[R]],
    consume: Callable[[list[R], int], None],
    *,
    piece: int | None = None,
    workers: int | None = None,
    boundary: bytes = b"\n",
    chunk: int = 1 << 18,
    closed: Callable[[Any], None] | None = None,
) -> None:
    """``consume(records, lines_before)`` for the ranges of a file, in file order, each range
    parsed by a parser of its own (:func:`parse_range`, in a worker process; see
    :func:`aconsume_file_ranges`, whose ranges this process computes too until the
    workers have started).

    ``make_parser`` must be picklable (a class, or a ``functools.partial`` of
    one) and give a parser for text that starts at a line start (or, with
    ``boundary``, at such a boundary) whose ``line_number`` is, once closed,
    the number of lines it was given; ``lines_before`` is the number of lines
    of the file before the range, which the line numbers that the parser put
    into its records are relative to.  A :class:`ParseError` is raised with
    its line numbered in the whole file, after the records before it were
    consumed.  ``chunk`` is the bytes fed to a parser at once; ``closed``, when
    given, is called with each range's parser once it is closed (after its
    records were consumed), to read counters it keeps (such as lines skipped).
    """
    lines_before = 0

    def take(_start: int, result: tuple[list[R], Any, ParseError | None]) -> None:
        nonlocal lines_before
        records, parser, error = result
        consume(records, lines_before)
        if closed is not None:
            closed(parser)
        if error is not None:
            raise shifted(error, lines_before)
        lines_before += parser.line_number

    await aconsume_file_ranges(
        path,
        parse_range,
        take,
        make_parser,
        chunk,
        piece=piece,
        workers=workers,
        here_until_ready=True,
        boundary=boundary,
    )


def shifted(error: ParseError, lines: int) -> ParseError:
    """``error`` with its line number moved down by ``lines``."""
    if not lines or error.line_number is None:
        return error
    return ParseError(
        error.message, source=error.source, line_number=error.line_number + lines, text=error.text
    )
