"""The loop of an isolated child process (see :func:`atokio.collectors.workers.call_isolated`).

Started as ``python -m atokio.collectors._child MEMORY``: it limits its own
address space to ``MEMORY`` bytes (0: no limit), then serves calls until its
standard input ends.  A call arrives as a length-prefixed pickle of
``(function, args, kwargs, seconds, tz, cwd)`` (the caller's time zone
and working directory, which the child adopts); the answer goes back the same way as
``("ok", result)``, ``("error", exception)`` or ``("memory", detail)``.
``seconds`` arms a real-time timer whose signal (SIGALRM, default action)
ends the process even inside C code.  Only the framing is done here: this
module imports nothing of atokio, so that a child starts quickly.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import time
from typing import Any, BinaryIO

_LENGTH = struct.Struct("<Q")


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        piece = stream.read(size - len(data))
        if not piece:
            return None
        data += piece
    return bytes(data)


def _answer(out: BinaryIO, answer: tuple[str, Any]) -> None:
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        data = pickle.dumps(("memory", "while sending the result back"))
    except Exception as error:  # an unpicklable result or exception
        data = pickle.dumps(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


def main() -> None:
    """Serve calls on stdin/stdout until stdin ends."""
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if memory > 0:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            memory = min(memory, hard)
        resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
    # the answers use the original stdout; anything C code prints goes to stderr
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    incoming = sys.stdin.buffer
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    while True:
        head = _read_exactly(incoming, _LENGTH.size)
        if head is None:
            return
        payload = _read_exactly(incoming, _LENGTH.unpack(head)[0])
        if payload is None:
            return
        answer: tuple[str, Any]
        try:
            fn, args, kwargs, seconds, tz, cwd = pickle.loads(payload)
            if cwd is not None and cwd != os.getcwd():
                try:
                    os.chdir(cwd)  # relative paths mean what they mean to the caller
                except OSError:
                    pass
            if tz != os.environ.get("TZ"):
                if tz is None:
                    os.environ.pop("TZ", None)
                else:
                    os.environ["TZ"] = tz
                time.tzset()
            if seconds:
                signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                answer = ("ok", fn(*args, **kwargs))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except MemoryError as error:
            answer = ("memory", str(error))
        except Exception as error:
            answer = ("error", error)
        _answer(out, answer)
        del answer


if __name__ == "__main__":
    main()
