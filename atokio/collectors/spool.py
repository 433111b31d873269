"""Run a command whose stdout goes straight to a scratch file that grows while it runs.

For commands with a large output that is parsed on several cores (darshan-parser
printing hundreds of MB): worker processes read byte ranges of the file
themselves, so this process never copies the output through a pipe, never
holds it and never ships it to the workers.  The command writes to the file
directly (its stdout *is* the file); :meth:`SpooledCommand.grown` reports the
bytes written so far, polling the size while the command runs.  Reads of a
range that has been written always see the same bytes: the file only grows.

As with :func:`atokio.collectors.subprocess.iter_command`, the command is
killed and reaped on exit, error, cancellation or when ``timeout`` (default
``ATOKIO_COMMAND_DEADLINE``) passes, which raises
:class:`~atokio.collectors.subprocess.CommandTimeout`; stderr is collected
concurrently (its last :data:`~atokio.collectors.subprocess.STDERR_KEEP` bytes).
The scratch file lives in the temporary folder (``TMPDIR``), is readable only
by its owner and is removed when the context ends (a large one is closed, which
frees its pages, in the background).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import anyio
from anyio.abc import Process

from atokio.collectors.subprocess import CommandTimeout, _deadline, _kill, _open, _Tail

__all__ = ["SpooledCommand", "spool_command"]

#: Seconds between two looks at the size of the file while the command runs.
POLL = 0.004


class SpooledCommand:
    """A running command writing its stdout to :attr:`path`.

    ``await grown()`` until :attr:`finished`; then :attr:`returncode` and
    :attr:`stderr` are set and :attr:`size` is the whole output.
    """

    def __init__(self, argv: Sequence[str], path: str, fd: int) -> None:
        self.argv = list(argv)
        #: The scratch file holding the output (removed when the context ends).
        self.path = path
        #: Bytes of output seen so far.
        self.size = 0
        self.returncode: int | None = None
        self._fd = fd
        self._stderr = _Tail()
        self._exited = anyio.Event()

    @property
    def stderr(self) -> str:
        """The end of the command's stderr (all of it once :attr:`finished`)."""
        return self._stderr.text()

    @property
    def finished(self) -> bool:
        """Whether the command has exited and :attr:`size` is final."""
        return self.returncode is not None

    async def grown(self) -> int:
        """Wait until the output grows or the command exits; the new :attr:`size`."""
        while True:
            exited = self._exited.is_set()  # before the size: no byte is missed
            size = os.fstat(self._fd).st_size
            if size > self.size or exited:
                self.size = size
                if exited:
                    self.returncode = self._returncode
                return size
            with anyio.move_on_after(POLL):
                await self._exited.wait()

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of the output from ``offset`` (fewer at its end)."""
        return os.pread(self._fd, length, offset)

    _returncode: int | None = None

    async def _watch(self, process: Process) -> None:
        """Collect stderr to its end, then the exit status (so both are whole when it is set)."""
        assert process.stderr is not None
        async for chunk in process.stderr:
            self._stderr.add(chunk)
        self._returncode = await process.wait()
        self._exited.set()


def _scratch_file() -> tuple[int, str]:
    """A new scratch file in the temporary folder, else in ``/dev/shm``."""
    try:
        return tempfile.mkstemp(prefix="atokio-spool-", suffix=".out")
    except OSError as error:
        if os.path.isdir("/dev/shm"):
            try:
                return tempfile.mkstemp(prefix="atokio-spool-", suffix=".out", dir="/dev/shm")
            except OSError:
                pass
        raise OSError(
            error.errno,
            f"cannot create a scratch file for a command's output in {tempfile.gettempdir()} "
            f"({error.strerror}): set TMPDIR to a writable folder",
        ) from error


@asynccontextmanager
async def spool_command(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> AsyncIterator[SpooledCommand]:
    """Run ``argv`` with its stdout in a scratch file; yields a :class:`SpooledCommand`::

        async with spool_command(["darshan-parser", "--base", "--", log]) as run:
            while not run.finished:
                size = await run.grown()
                ...  # bytes [0, size) of run.path can be read
        run.returncode, run.stderr

    A missing program raises ``FileNotFoundError("<prog>: command not found")``.
    """
    if not argv:
        raise ValueError("empty command")
    seconds, where = _deadline(timeout)
    fd, path = _scratch_file()
    try:
        with anyio.move_on_after(seconds) as scope:
            process = await _open(argv, env, cwd, stdout=fd)
            run = SpooledCommand(argv, path, fd)
            try:
                async with anyio.create_task_group() as group:
                    group.start_soon(run._watch, process)
                    yield run
                    if not run.finished:  # the body stopped early
                        process.kill()
            finally:
                await _kill(process)
        if scope.cancelled_caught:
            assert seconds is not None
            raise CommandTimeout(argv, seconds, where)
    finally:
        try:
            os.unlink(path)
        finally:
            _close_soon(fd)


#: Scratch files at least this large are closed in the background.
_CLOSE_IN_BACKGROUND = 16 << 20


def _close_soon(fd: int) -> None:
    """Close the (unlinked) scratch file: closing it frees its pages, which takes tens of
    milliseconds for hundreds of MB, so a large one is closed in a thread of its own
    while the caller goes on with the output."""
    try:
        large = os.fstat(fd).st_size >= _CLOSE_IN_BACKGROUND
    except OSError:
        large = False
    if not large:
        os.close(fd)
        return
    threading.Thread(target=os.close, args=(fd,), name="atokio-spool-close", daemon=True).start()
