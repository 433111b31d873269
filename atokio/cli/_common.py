"""Conventions shared by the command-line tools (CLI.md section 2).

* JSON to stdout: 4-space indent, sorted keys, newline at the end; JSON to a
  file: compact, insertion order, no newline (:func:`write_json`).
* ``-o FILE`` makes the ``cache_*`` tools print ``Caching to FILE`` first.
* Exit status: 0 success, 2 usage error (argparse), 1 any other failure:
  :func:`run_main` turns an uncaught exception into a one-line message on
  stderr (the traceback too when ``ATOKIO_TRACEBACK`` is set) and status 1.
* Warnings from the library go to stderr through :mod:`logging`
  (:func:`setup_logging`).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from atokio.common import JSONEncoder

__all__ = [
    "parse_date",
    "parse_datetime",
    "run_main",
    "setup_logging",
    "write_json",
]

DATE_FMT = "%Y-%m-%d"
DATETIME_FMT = "%Y-%m-%dT%H:%M:%S"


class _StderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is when a record is emitted.

    A tool's ``main()`` may run many times in one process (tests, notebooks,
    a caller that redirects ``sys.stderr`` between calls); binding the stream
    once would send later messages to a stream that is no longer wanted.
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(verbosity: int = 0) -> None:
    """Send atokio's log records to stderr (warnings by default, more with -v)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("atokio")
    if not any(getattr(h, "_atokio_cli", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._atokio_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)


def write_json(data: Any, output_file: str | None = None, *, announce: bool = False) -> None:
    """Write ``data`` as JSON to ``output_file`` (compact) or stdout (indented, sorted)."""
    if output_file is None:
        json.dump(data, sys.stdout, indent=4, sort_keys=True, cls=JSONEncoder)
        sys.stdout.write("\n")
        return
    if announce:
        print(f"Caching to {output_file}")
    with open(output_file, "w") as out:
        json.dump(data, out, cls=JSONEncoder)


def parse_date(text: str) -> datetime.datetime:
    """A ``YYYY-MM-DD`` argument as a naive local datetime."""
    return datetime.datetime.strptime(text, DATE_FMT)


def parse_datetime(text: str) -> datetime.datetime:
    """A ``YYYY-MM-DDTHH:MM:SS`` argument as a naive local datetime."""
    return datetime.datetime.strptime(text, DATETIME_FMT)


def run_main(body: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None) -> int:
    """Run a tool's body with the shared exit-status conventions."""
    try:
        status = body(argv)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our stdout went away (e.g. `| head`): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as error:
        if os.environ.get("ATOKIO_TRACEBACK"):
            traceback.print_exc()
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "atokio"
        print(f"{prog}: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)
