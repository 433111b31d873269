"""darshan-parser text into the documented dict, on every core: a command's output or a saved file.

Both readers cut the text into pieces of a few MB at record boundaries
(:func:`atokio.parsers.darshan.record_boundary_after`), parse each piece in a
worker process with :class:`~atokio.parsers.darshan.DarshanParser`
(:func:`atokio.collectors.darshanrange.parse_text_range`) and merge the pieces'
dicts in order (:func:`~atokio.parsers.darshan.merge_darshan_dicts`), so the
result equals a one-core parse of the whole.  While the worker pool starts,
this process parses the first pieces itself; once the whole output is known,
the last pieces are cut smaller, so that the workers finish together.

* :func:`aparse_command_text` runs ``darshan-parser`` with its stdout in a
  scratch file (:func:`atokio.collectors.spool.spool_command`) and hands each
  piece to a worker as soon as it has been written; the workers read their byte
  range from the file themselves, so this process neither copies the text nor
  ships it to them (it reads only a small window where it looks for a cut);
* :func:`parse_text_file` does the same with a saved (uncompressed) output
  file, cut once into one piece per worker
  (:func:`~atokio.parsers.darshan.split_points` over an ``mmap`` of it).

A bad line ends the parsing at its piece (what the pieces before it and the
lines before it gave is kept) and is reported as a
:class:`~atokio.parsers.base.ParseError` naming the line in the whole text.
On a machine with one core, or from a script that cannot start worker processes
(:func:`~atokio.collectors.workers.processes_can_start`), pieces are parsed in
threads.
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from atokio.collectors.darshanrange import FEED, parse_text_range
from atokio.collectors.files import parse_file, read_range, shifted
from atokio.collectors.spool import spool_command
from atokio.collectors.sync import run_sync
from atokio.collectors.workers import (
    default_workers,
    pool_started,
    processes_can_start,
    run_in_worker,
    start_pool,
)
from atokio.parsers.base import ParseError
from atokio.parsers.darshan import (
    DarshanParser,
    build_darshan_dict,
    merge_darshan_dicts,
    record_boundary_after,
    split_points,
)

__all__ = [
    "PIECE",
    "CommandText",
    "aparse_command_text",
    "parse_text_file",
    "parse_text_range",
]

#: Bytes of text per piece handed to a worker process.  Measured on 214 MB of
#: ``--base`` text on two cores: 8 MB pieces finished 10% sooner than 4 MB
#: ones (fewer results to send back and merge), 2 MB ones 5% later.
PIECE = 8 << 20

#: Bytes read around a place where a piece could end, to find a record boundary.
WINDOW = 1 << 20

#: A piece: ``(start, stop, module)``, the module of its first record (``None`` at the start).
Piece = tuple[int, int, "str | None"]

#: Where a parsing task takes its pieces from: ``(number, piece)``.
Pieces = MemoryObjectReceiveStream[tuple[int, Piece]]


def lines_before(path: str, offset: int) -> int:
    """The number of lines of ``path`` before byte ``offset``."""
    return sum(chunk.count(b"\n") for chunk in read_range(path, 0, offset))


def _located(error: ParseError, path: str, start: int) -> ParseError:
    """``error`` of a piece starting at ``start``, with its line numbered in the whole text."""
    if error.line_number is None or not start:
        return error
    return shifted(error, lines_before(path, start))


class _Cutter:
    """Where the pieces of a growing text end: one piece per :data:`PIECE` bytes or so."""

    def __init__(self, read: Callable[[int, int], bytes], piece: int) -> None:
        self.read = read
        self.piece = piece
        self.start = 0
        self.module: str | None = None
        self.target = piece  # the next piece ends at the first boundary after this offset
        self.size: int | None = None  # the whole output's, once known

    def _length(self, start: int) -> int:
        """The length of a piece starting at ``start``: :attr:`piece`, but once the whole
        output is known, a quarter of what is left when that is less (at least an eighth
        of a piece), so that the last pieces are small and the workers finish together."""
        if self.size is None:
            return self.piece
        return min(self.piece, max(self.piece // 8, (self.size - start) // 4))

    def cuts(self, size: int, final: bool) -> list[Piece]:
        """The pieces that end within the first ``size`` bytes (all of them when ``final``)."""
        pieces: list[Piece] = []
        if final and self.size is None:
            self.size = size
            self.target = min(self.target, self.start + self._length(self.start))
        while self.target < size:
            if size - self.target < WINDOW and not final:
                break  # look when a whole window has been written
            window = self.read(self.target, min(WINDOW, size - self.target))
            found = record_boundary_after(window, 0)
            if found is None:  # no boundary near here (--total, --perf, a huge record)
                self.target += self.piece
                continue
            stop = self.target + found[0]
            pieces.append((self.start, stop, self.module))
            self.start, self.module = stop, found[1]
            self.target = stop + self._length(stop)
        if final and size > self.start:
            pieces.append((self.start, size, self.module))
            self.start = size
        return pieces


@dataclass
class CommandText:
    """What :func:`aparse_command_text` gives: the dict, the exit status, stderr, a bad line."""

    #: Not in the repr: event loops repr the results of their tasks, and this may be large.
    data: dict[str, Any] = field(repr=False)
    returncode: int
    stderr: str
    error: ParseError | None


class _Merger:
    """Parses pieces (in workers or threads) and merges their dicts in order as they come.

    Pieces sent with :meth:`submit` wait in a queue that :meth:`start` has a few
    tasks per worker take from.  While the worker pool is starting (a good part
    of a second the first time), this process parses the next pieces itself, in
    a thread, instead of waiting idle (see
    :func:`atokio.collectors.files.aconsume_file_ranges`).
    """

    def __init__(self, path: str, source: str, workers: int, parallel: bool, *filters: Any):
        self.path, self.source, self.parallel, self.filters = path, source, parallel, filters
        self.workers = workers
        self.result: dict[str, Any] = {}
        self.error: ParseError | None = None
        self.sent = 0
        self.merged = 0
        #: Pieces parsed in this process while the workers started.
        self.parsed_here = 0
        self._starts: dict[int, int] = {}
        self._done: dict[int, tuple[dict[str, Any], ParseError | None]] = {}
        self._send: MemoryObjectSendStream[tuple[int, Piece]] | None = None
        self._ready = anyio.Event()  # set once the workers have started
        self._group: TaskGroup | None = None
        if not parallel or pool_started():
            self._ready.set()

    def start(self, group: TaskGroup) -> None:
        """Parse the pieces :meth:`submit` queues in tasks of ``group`` (until :meth:`close`).

        The tasks start with the first piece: an output parsed by
        :meth:`parse_here` alone (most logs) starts none, nor the workers.
        """
        self._group = group

    def submit(self, piece: Piece) -> None:
        """Queue a piece (after :meth:`start`); it is merged after those sent before it."""
        if self._send is None:
            self._open()
        assert self._send is not None
        self._send.send_nowait((self._number(piece), piece))

    def close(self) -> None:
        """No more pieces: the tasks of :meth:`start` end once the queue is empty."""
        if self._send is not None:
            self._send.close()

    def _open(self) -> None:
        group = self._group
        assert group is not None, "start() first"
        self._send, receive = anyio.create_memory_object_stream[tuple[int, Piece]](math.inf)
        with receive:  # each task takes pieces through a clone of its own
            if not self.parallel:
                group.start_soon(self._take, receive.clone(), self._in_thread)
                return
            for _ in range(2 * self.workers):  # one piece parsed, one queued per worker
                group.start_soon(self._take, receive.clone(), self._in_worker)
            if not self._ready.is_set():
                group.start_soon(self._start_workers)
                group.start_soon(self._here_until_ready, receive.clone())

    async def parse_here(self, piece: Piece) -> None:
        """Parse a piece in this process (a small output: no worker needed); in a thread
        unless it is tiny, so that the event loop does not stand still."""
        number = self._number(piece)
        if piece[1] - piece[0] <= FEED:
            self._done[number] = parse_text_range(*self._args(piece))
        else:
            self._done[number] = await self._in_thread(piece)
        self._merge_ready()

    def _number(self, piece: Piece) -> int:
        number = self.sent
        self.sent += 1
        self._starts[number] = piece[0]
        return number

    def _args(self, piece: Piece) -> tuple[Any, ...]:
        return (self.path, *piece, self.source, *self.filters)

    async def _in_thread(self, piece: Piece) -> tuple[dict[str, Any], ParseError | None]:
        return await anyio.to_thread.run_sync(parse_text_range, *self._args(piece))

    async def _in_worker(self, piece: Piece) -> tuple[dict[str, Any], ParseError | None]:
        return await run_in_worker(parse_text_range, *self._args(piece))

    async def _start_workers(self) -> None:
        await start_pool()
        self._ready.set()

    async def _take(self, receive: Pieces, parse: Callable[[Piece], Any]) -> None:
        async with receive:
            await self._ready.wait()  # until then, _here_until_ready takes the pieces
            async for number, piece in receive:
                await self._parse(number, piece, parse)

    async def _here_until_ready(self, receive: Pieces) -> None:
        async with receive:
            while not self._ready.is_set():
                try:
                    number, piece = await receive.receive()
                except anyio.EndOfStream:
                    return
                await self._parse(number, piece, self._in_thread)
                self.parsed_here += 1

    async def _parse(self, number: int, piece: Piece, parse: Callable[[Piece], Any]) -> None:
        if self.error is None:  # after a bad line, the pieces still queued are dropped
            self._done[number] = await parse(piece)
            self._merge_ready()

    async def room(self) -> None:
        """Wait while a few pieces per worker are in flight (memory stays bounded)."""
        while self.sent - self.merged > 3 * self.workers and self.error is None:
            await anyio.sleep(0.002)

    def _merge_ready(self) -> None:
        while self.error is None and self.merged in self._done:  # in order, as soon as possible
            part, error = self._done.pop(self.merged)
            merge_darshan_dicts(self.result, part)
            if error is not None:
                self.error = _located(error, self.path, self._starts[self.merged])
            self.merged += 1


async def aparse_command_text(
    argv: Sequence[str],
    *,
    source: str,
    modules: Iterable[str] | None = None,
    counters: Iterable[str] | None = None,
    timeout: float | None = None,
    piece: int | None = None,
) -> CommandText:
    """Run ``argv`` (a darshan-parser command) and parse its output while it is written.

    ``source`` names the text in errors; ``modules``/``counters`` filter the
    base records; ``timeout`` bounds the run (see
    :func:`~atokio.collectors.spool.spool_command`); ``piece`` is the bytes per
    piece (default :data:`PIECE`).  After a bad line the command still runs to
    its end (its exit status is reported), and nothing after that line is parsed.
    """
    filters = (
        frozenset(modules) if modules is not None else None,
        frozenset(counters) if counters is not None else None,
    )
    parallel = default_workers() > 1 and processes_can_start()
    workers = default_workers() if parallel else 1
    async with spool_command(argv, timeout=timeout) as run:
        merger = _Merger(run.path, source, workers, parallel, *filters)
        cutter = _Cutter(run.read, piece or PIECE)
        async with anyio.create_task_group() as group:
            merger.start(group)
            try:
                while not run.finished:
                    size = await run.grown()
                    if merger.error is not None:
                        continue  # the command runs to its end; nothing more is parsed
                    for part in cutter.cuts(size, run.finished):
                        if run.finished and part == (0, size, None):
                            await merger.parse_here(part)  # the whole output in one piece
                            continue
                        await merger.room()
                        if merger.error is not None:
                            break
                        merger.submit(part)
            finally:
                merger.close()
        assert run.returncode is not None
        return CommandText(merger.result, run.returncode, run.stderr, merger.error)


def parse_text_file(path: str, workers: int | None = None) -> dict[str, Any]:
    """The dict of a saved (uncompressed) darshan-parser output file, parsed on all cores.

    Cut into one piece per worker; ``workers=1``, a file under 1 MB or a
    gzip file is parsed in this process.  A bad line raises its
    :class:`ParseError`, numbered in the whole file.
    """
    workers = workers or default_workers()
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
        size = os.fstat(handle.fileno()).st_size
    if gzipped or workers <= 1 or size < (1 << 20):
        return build_darshan_dict(parse_file(path, DarshanParser(source=path)))
    parallel = workers > 1 and processes_can_start()

    async def run() -> dict[str, Any]:
        with (
            open(path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view,
        ):
            cuts = split_points(view, workers, count_lines=False)
        stops = [offset for offset, _, _ in cuts[1:]] + [size]
        pieces = [
            (offset, stop, module) for (offset, module, _), stop in zip(cuts, stops, strict=True)
        ]
        merger = _Merger(path, path, workers, parallel, None, None)
        if not parallel or len(pieces) <= 1:
            for part in pieces:
                await merger.parse_here(part)
        else:
            async with anyio.create_task_group() as group:
                merger.start(group)
                for part in pieces:
                    merger.submit(part)
                merger.close()
        if merger.error is not None:
            raise merger.error
        return merger.result

    return run_sync(run)
