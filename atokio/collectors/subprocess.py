"""Stream a command's stdout into a parser (anyio: runs under trio and asyncio).

:func:`run_command` starts the command, feeds its stdout to a sans-IO parser
chunk by chunk as it arrives (nothing is read whole), collects stderr
concurrently (keeping only its last :data:`STDERR_KEEP` bytes), and waits for
the exit status.  On timeout or cancellation the child is killed and reaped,
so no process outlives the call.  Every command has a deadline: ``timeout``
when given, else ``ATOKIO_COMMAND_DEADLINE`` (default 3600 s; ``0`` for none);
when it passes, :class:`CommandTimeout` (a ``TimeoutError``) names the
command and the bound.

A :class:`~atokio.parsers.base.ParseError` raised by the parser does not lose
what was parsed before it: the command is still waited for, and the result
carries the records delivered so far plus the error (``result.error``).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio
from anyio.abc import Process

from atokio.collectors.limits import setting_duration
from atokio.parsers.base import ParseError, Parser

__all__ = [
    "STDERR_KEEP",
    "CommandError",
    "CommandResult",
    "CommandTimeout",
    "iter_command",
    "run_command",
]

logger = logging.getLogger(__name__)

R = TypeVar("R")

#: How much of a command's stderr is kept (its end), in bytes.
STDERR_KEEP = 64 * 1024


class CommandError(RuntimeError):
    """A command exited with a non-zero status (raised when ``check=True``)."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-3:]
        detail = (": " + " / ".join(tail)) if tail else ""
        super().__init__(f"{' '.join(self.argv)} exited with status {returncode}{detail}")


class CommandTimeout(TimeoutError):
    """A command that did not finish within its deadline (it was killed)."""

    def __init__(self, argv: Sequence[str], seconds: float, where: str) -> None:
        self.argv = list(argv)
        self.seconds = seconds
        super().__init__(
            f"{' '.join(self.argv)}: did not finish within {seconds:g} s ({where}); it was killed"
        )


@dataclass
class CommandResult(Generic[R]):
    """What a command delivered: its records, exit status and (the end of) its stderr."""

    argv: list[str]
    returncode: int
    stderr: str
    records: list[R] = field(default_factory=list)
    #: A ParseError from the parser, if the output was bad or cut short.
    error: BaseException | None = None


class _Tail:
    """The last ``limit`` bytes of a stream."""

    def __init__(self, limit: int = STDERR_KEEP) -> None:
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        return bytes(self.data[-self.limit :]).decode("utf-8", errors="replace")


async def _open(
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    stdout: int = subprocess.PIPE,
) -> Process:
    """Start ``argv`` (stdin empty, stderr a pipe; ``stdout`` a pipe or a file descriptor)."""
    if not argv:
        raise ValueError("empty command")
    full_env = None if env is None else {**os.environ, **env}
    try:
        return await anyio.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=cwd,
        )
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{argv[0]}: command not found") from error
    except PermissionError as error:
        raise PermissionError(f"{argv[0]}: permission denied") from error


async def _kill(process: Process) -> None:
    """Kill and reap ``process``, even inside a cancelled scope."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            try:
                process.kill()
            except ProcessLookupError:
                pass
        await process.wait()
        await process.aclose()


class CommandStream(Generic[R]):
    """A running command whose stdout is being parsed: iterate to get record batches.

    After the iteration ends, :attr:`returncode`, :attr:`stderr` and
    :attr:`error` are set.
    """

    def __init__(self, argv: Sequence[str], process: Process, parser: Parser[R], chunk_size: int):
        self.argv = list(argv)
        self.process = process
        self.parser = parser
        self.chunk_size = chunk_size
        self.returncode: int | None = None
        self.error: BaseException | None = None
        self._stderr = _Tail()
        self._stage = "reading"  # then "closing", "waiting", "done"

    @property
    def stderr(self) -> str:
        return self._stderr.text()

    async def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        async for chunk in self.process.stderr:
            self._stderr.add(chunk)

    def __aiter__(self) -> CommandStream[R]:
        return self

    async def __anext__(self) -> list[R]:
        """The next batch of records (a plain iterator, not an async generator:
        a consumer that stops early leaves nothing to finalise)."""
        # No task group in here; stderr is drained by a task of iter_command's group.
        stdout = self.process.stdout
        assert stdout is not None
        while self._stage == "reading":
            try:
                chunk = await stdout.receive()
            except anyio.EndOfStream:
                self._stage = "closing"
                break
            if self.error is not None:
                continue  # keep draining so the child is not blocked on a full pipe
            try:
                records = self.parser.feed(chunk)
            except ParseError as error:
                self.error = error
                records = error.records  # type: ignore[assignment]  # completed before the bad line
            if records:
                return records
        if self._stage == "closing":
            self._stage = "waiting"
            if self.error is None:
                try:
                    records = self.parser.close()
                except ParseError as error:
                    self.error = error
                    records = error.records  # type: ignore[assignment]
                if records:
                    return records
        if self._stage == "waiting":
            self.returncode = await self.process.wait()
            self._stage = "done"
        raise StopAsyncIteration


@asynccontextmanager
async def iter_command(
    argv: Sequence[str],
    parser: Parser[R],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    chunk_size: int = 1 << 16,
) -> AsyncIterator[CommandStream[R]]:
    """Run a command; ``async for batch in stream`` gives record batches as they complete.

    An async context manager (so that the child is always killed and reaped on
    exit, error, timeout or cancellation)::

        async with iter_command(["sacct", ...], SacctParser()) as stream:
            async for batch in stream:
                ...
        stream.returncode, stream.stderr, stream.error

    ``timeout`` bounds the whole run (default ``ATOKIO_COMMAND_DEADLINE``):
    past it the child is killed and :class:`CommandTimeout` raised.
    """
    seconds, where = _deadline(timeout)
    with anyio.move_on_after(seconds) as scope:
        process = await _open(argv, env, cwd)
        stream = CommandStream(argv, process, parser, chunk_size)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(stream._drain_stderr)
                yield stream
                if stream.returncode is None:  # the body stopped early
                    process.kill()
        finally:
            await _kill(process)
    if scope.cancelled_caught:
        assert seconds is not None
        raise CommandTimeout(argv, seconds, where)


def _deadline(timeout: float | None) -> tuple[float | None, str]:
    if timeout is not None:
        if timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
        return timeout, "timeout"
    return setting_duration("COMMAND_DEADLINE"), "ATOKIO_COMMAND_DEADLINE"


async def run_command(
    argv: Sequence[str],
    parser: Parser[R],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = False,
    chunk_size: int = 1 << 16,
) -> CommandResult[R]:
    """Run a command to completion, parsing its stdout as it streams.

    Returns a :class:`CommandResult`; with ``check=True`` a non-zero exit
    raises :class:`CommandError` instead.  A missing program raises
    ``FileNotFoundError("<prog>: command not found")``; ``timeout`` (seconds,
    the whole run; default ``ATOKIO_COMMAND_DEADLINE``) raises
    :class:`CommandTimeout` (a ``TimeoutError``) after killing the child.
    """
    records: list[R] = []
    async with iter_command(
        argv, parser, timeout=timeout, env=env, cwd=cwd, chunk_size=chunk_size
    ) as stream:
        async for batch in stream:
            records.extend(batch)
    assert stream.returncode is not None
    result = CommandResult(list(argv), stream.returncode, stream.stderr, records, stream.error)
    if check and result.returncode != 0:
        raise CommandError(argv, result.returncode, result.stderr)
    return result
