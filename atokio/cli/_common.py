"""Conventions shared by the command-line tools (docs/cli.md#conventions).

* JSON to stdout: 4-space indent, sorted keys, newline at the end; JSON to a
  file: compact, insertion order, no newline (:func:`write_json`).
* ``-o FILE`` makes the ``cache_*`` tools print ``Caching to FILE`` first.
* Exit status: 0 success, 2 usage error (argparse), 1 any other failure:
  :func:`run_main` turns an uncaught exception into a one-line message on
  stderr (the traceback too when ``ATOKIO_TRACEBACK`` is set) and status 1.
* Warnings from the library go to stderr through :mod:`logging`
  (:func:`setup_logging`).
* The Elasticsearch tools (``archive_collectdes``, ``cache_collectdes``,
  ``cache_nersc_globuslogs``): ``-h`` is ``--host``, the help is a long-only
  ``--help``, and ``--h`` still abbreviates ``--host``
  (:func:`es_parser`, :func:`add_es_options`, :func:`parse_es_args`,
  :func:`es_connector`).
* ``cache_*`` tools that write CSV print it to stdout or write it to the
  ``-o`` file (:func:`write_csv`); default output names take the first
  unused number (:func:`first_unused`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gzip
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

from atokio.common import JSONEncoder

__all__ = [
    "add_dump_arguments",
    "add_es_options",
    "announce_output",
    "es_connector",
    "es_parser",
    "first_unused",
    "parse_date",
    "parse_es_args",
    "require_input",
    "parse_datetime",
    "run_main",
    "as_program",
    "setup_logging",
    "text_output",
    "write_csv",
    "write_json",
]

_Connector = TypeVar("_Connector")

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


def announce_output(output_file: str) -> None:
    """Print ``Caching to FILE`` at once (before a long run fills FILE)."""
    print(f"Caching to {output_file}")
    sys.stdout.flush()


def require_input(input_file: str) -> None:
    """``FileNotFoundError`` unless ``input_file`` (an ``-i``/``--input`` file) exists."""
    if not os.path.isfile(input_file):
        raise FileNotFoundError(f"input file {input_file!r} does not exist")


def write_csv(frame: Any, output_file: str | None = None, *, announce: bool = False) -> None:
    """Write a DataFrame as CSV to ``output_file``, or print it to stdout."""
    if output_file is None:
        print(frame.to_csv())
        return
    if announce:
        print(f"Caching to {output_file}")
    frame.to_csv(output_file)


def first_unused(template: str) -> str:
    """``template`` formatted with the first number from 0 that names no existing file."""
    number = 0
    while os.path.exists(template.format(number)):
        number += 1
    return template.format(number)


def parse_date(text: str) -> datetime.datetime:
    """A ``YYYY-MM-DD`` argument as a naive local datetime."""
    return datetime.datetime.strptime(text, DATE_FMT)


def parse_datetime(text: str) -> datetime.datetime:
    """A ``YYYY-MM-DDTHH:MM:SS`` argument as a naive local datetime."""
    return datetime.datetime.strptime(text, DATETIME_FMT)


def run_main(body: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None) -> int:
    """Run a tool's body: as a program when ``argv`` is None, as a function otherwise.

    Called as a program (``python -m atokio.cli.<tool>``, the console
    scripts: ``argv`` is None, the arguments come from ``sys.argv``), a
    failure becomes one line on stderr and exit status 1 (:func:`as_program`).
    Called from Python with an argument list (``main([...])``, as scripts
    and pytokio's own tests do), an exception propagates to the caller, as
    with pytokio, whose tools never catch them.  Usage errors are
    ``SystemExit(2)`` either way.
    """
    if argv is None:
        return as_program(body, None)
    status = body(argv)
    return 0 if status is None else int(status)


def as_program(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """``main(argv)`` with the conventions of a program: the exit status it should end with.

    0 on success (or the status the tool returns); 1 for a failure, reported
    as ``<tool>: error: <Type>: <message>`` on stderr (the traceback too when
    ``ATOKIO_TRACEBACK`` is set); 130 when interrupted; a closed stdout
    (``| head``) is not an error.  ``SystemExit`` (usage errors, ``--help``)
    passes through.
    """
    try:
        status = main(argv)
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


# -- the Elasticsearch tools -------------------------------------------------------------------


def add_dump_arguments(parser: argparse.ArgumentParser, input_help: str) -> None:
    """What the Elasticsearch dump tools share: the window, ``--debug``, ``--timeout``, ``--input``, ``-o``."""
    parser.add_argument("query_start", type=str, help="start time of query (YYYY-MM-DDTHH:MM:SS)")
    parser.add_argument(
        "query_end", type=str, help="end time of query, exclusive (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument("--debug", action="store_true", help="progress messages on stderr")
    parser.add_argument(
        "--timeout", type=int, default=30, help="Elasticsearch timeout in seconds (default: 30)"
    )
    parser.add_argument("--input", type=str, default=None, help=input_help)
    parser.add_argument(
        "-o", "--output", type=str, default=None, help="output file (default: stdout)"
    )


@contextlib.contextmanager
def text_output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or ``path`` (gzip when it ends in ``.gz``) written under a temporary name.

    The file gets its name only once complete, so a run that fails midway
    leaves no partial output behind.
    """
    if path is None:
        yield sys.stdout
        return
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        if path.endswith(".gz"):
            with gzip.open(temporary, "wt") as handle:
                yield handle
        else:
            with open(temporary, "w") as handle:
                yield handle
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def es_parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """An argument parser whose help is the long-only ``--help`` (``-h`` is left for ``--host``)."""
    parser = argparse.ArgumentParser(
        prog=prog, add_help=False, description=description, epilog=epilog
    )
    parser.add_argument("--help", action="help", help="show this help message and exit")
    return parser


def add_es_options(
    parser: argparse.ArgumentParser,
    default_index: str,
    index_help: str = "Elasticsearch index pattern",
) -> None:
    """``-h/--host``, ``-p/--port`` and ``-i/--index`` of an Elasticsearch tool."""
    parser.add_argument(
        "-h",
        "--host",
        type=str,
        default="localhost",
        help="Elasticsearch host (default: localhost)",
    )
    parser.add_argument(
        "-p", "--port", type=int, default=9200, help="Elasticsearch port (default: 9200)"
    )
    parser.add_argument(
        "-i",
        "--index",
        type=str,
        default=default_index,
        help=f"{index_help} (default: {default_index})",
    )


def _host_prefix(argv: Sequence[str]) -> list[str]:
    """``--h`` means ``--host`` (as in pytokio, which has no ``--help``), not an ambiguous prefix."""
    out: list[str] = []
    for position, token in enumerate(argv):
        if token == "--":
            out.extend(argv[position:])
            break
        if token == "--h" or token.startswith("--h="):
            token = "--host" + token[3:]
        out.append(token)
    return out


def parse_es_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """The arguments of an Elasticsearch tool (``argv``, else ``sys.argv[1:]``), ``--h`` as ``--host``."""
    return parser.parse_args(_host_prefix(sys.argv[1:] if argv is None else argv))


def es_connector(
    connector: Callable[..., _Connector], args: argparse.Namespace, **options: Any
) -> _Connector:
    """``connector(host, port, index=, timeout=, **options)`` of the command line's options."""
    return connector(args.host, args.port, index=args.index, timeout=args.timeout, **options)
