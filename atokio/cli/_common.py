"""Conventions shared by the command-line tools (docs/cli.md#conventions).

* JSON to stdout: 4-space indent, sorted keys, newline at the end; JSON to a
  file: compact, insertion order, no newline (:func:`write_json`).
* ``-o FILE`` makes the ``cache_*`` tools print ``Caching to FILE`` first.
* Exit status: 0 when every named input was read, 1 when some input failed
  (what could be read is written, never over an existing output, never as
  a partial file), 2 for a usage error (argparse, including bad option
  values: :func:`positive_int`, :func:`nonnegative_float`, :func:`date_arg`,
  :func:`datetime_arg`, :func:`output_path`).  :func:`as_program` turns an
  uncaught exception into one line on stderr, ``tool: what failed: the path
  or value: what to do`` (:func:`describe_error`), and status 1; ``--debug``
  (every tool has it, :func:`add_common_arguments`) or ``ATOKIO_TRACEBACK``
  adds the traceback.
* ``-o FILE`` is written under a temporary name in FILE's folder and renamed
  when complete (:func:`atokio.common.atomic_output`); a folder that does not
  exist is refused, never created.
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
import errno
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, TypeVar

from atokio.common import JSONEncoder, atomic_output, check_output_path

__all__ = [
    "InputFailed",
    "add_common_arguments",
    "add_dump_arguments",
    "date_arg",
    "datetime_arg",
    "describe_error",
    "nonnegative_float",
    "nonnegative_int",
    "keep_existing",
    "naming",
    "output_path",
    "partial_failure",
    "reading",
    "positive_float",
    "positive_int",
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


def write_json(
    data: Any, output_file: str | None = None, *, announce: bool = False, replace: bool = True
) -> None:
    """Write ``data`` as JSON to ``output_file`` (compact) or stdout (indented, sorted).

    The file is replaced only once complete (:func:`atokio.common.atomic_output`);
    with ``replace=False`` an existing file is kept (``FileExistsError``).
    """
    if output_file is None:
        json.dump(data, sys.stdout, indent=4, sort_keys=True, cls=JSONEncoder)
        sys.stdout.write("\n")
        return
    if announce:
        print(f"Caching to {output_file}")
    with atomic_output(output_file, replace=replace) as out:
        json.dump(data, out, cls=JSONEncoder)


def announce_output(output_file: str) -> None:
    """Print ``Caching to FILE`` at once (before a long run fills FILE)."""
    print(f"Caching to {output_file}")
    sys.stdout.flush()


def require_input(input_file: str) -> None:
    """``FileNotFoundError`` (naming it) unless the input file ``input_file`` exists."""
    if not os.path.isfile(input_file):
        raise FileNotFoundError(errno.ENOENT, "input file does not exist", input_file)


def write_csv(
    frame: Any, output_file: str | None = None, *, announce: bool = False, replace: bool = True
) -> None:
    """Write a DataFrame as CSV to ``output_file`` (replaced once complete), or print it to stdout."""
    if output_file is None:
        print(frame.to_csv())
        return
    if announce:
        print(f"Caching to {output_file}")
    with atomic_output(output_file, replace=replace) as out:
        frame.to_csv(out)


def first_unused(template: str) -> str:
    """``template`` formatted with the first number from 0 that names no existing file."""
    number = 0
    while os.path.exists(template.format(number)):
        number += 1
    return template.format(number)


def parse_date(text: str | datetime.datetime) -> datetime.datetime:
    """A ``YYYY-MM-DD`` argument as a naive local datetime (a datetime passes through)."""
    if isinstance(text, datetime.datetime):
        return text
    return datetime.datetime.strptime(text, DATE_FMT)


def parse_datetime(text: str | datetime.datetime) -> datetime.datetime:
    """A ``YYYY-MM-DDTHH:MM:SS`` argument as a naive local datetime (a datetime passes through)."""
    if isinstance(text, datetime.datetime):
        return text
    return datetime.datetime.strptime(text, DATETIME_FMT)


# -- argument types: a bad value is a usage error (status 2) -----------------------------------


def date_arg(text: str) -> datetime.datetime:
    """Argument type: ``YYYY-MM-DD``."""
    try:
        return parse_date(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def datetime_arg(text: str) -> datetime.datetime:
    """Argument type: ``YYYY-MM-DDTHH:MM:SS``."""
    try:
        return parse_datetime(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time: use YYYY-MM-DDTHH:MM:SS"
        ) from None


def _number(text: str, kind: type, lowest: float, strict: bool) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not {'an integer' if kind is int else 'a number'}"
        ) from None
    if value != value or value < lowest or (strict and value == lowest):
        bound = f"greater than {lowest:g}" if strict else f"{lowest:g} or more"
        raise argparse.ArgumentTypeError(f"{text!r} is out of range: use a value {bound}")
    return value


def positive_int(text: str) -> int:
    """Argument type: an integer above 0."""
    return int(_number(text, int, 0, True))


def nonnegative_int(text: str) -> int:
    """Argument type: an integer of 0 or more."""
    return int(_number(text, int, 0, False))


def positive_float(text: str) -> float:
    """Argument type: a number above 0."""
    return float(_number(text, float, 0.0, True))


def nonnegative_float(text: str) -> float:
    """Argument type: a number of 0 or more."""
    return float(_number(text, float, 0.0, False))


def output_path(text: str) -> str:
    """Argument type of ``-o``: a file name in a folder that exists (never created)."""
    try:
        return check_output_path(text)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{error.strerror}: {error.filename}") from None


def add_common_arguments(parser: argparse.ArgumentParser, *, silent_errors: bool = False) -> None:
    """``--debug`` (tracebacks of failures) and, when asked, ``--silent-errors``."""
    if "--debug" not in parser._option_string_actions:
        parser.add_argument(
            "--debug", action="store_true", help="show the traceback of a failure on stderr"
        )
    if silent_errors:
        parser.add_argument(
            "--silent-errors",
            action="store_true",
            help="an input that cannot be read gives empty output and status 0 (as pytokio did)",
        )


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


class InputFailed(Exception):
    """Some named inputs could not be read; what could be read was written.

    Raised by a tool's body after its output, so that the program ends with
    status 1 and this one line (the inputs' own warnings came before it).
    """


def _decode_failure(error: BaseException) -> str | None:
    """What is wrong with an input that could not be decoded; None for other failures."""
    import sqlite3

    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno})"
    if isinstance(error, UnicodeDecodeError):
        return f"not text (undecodable byte at position {error.start})"
    if isinstance(error, sqlite3.DatabaseError):
        return "not an SQLite database" if "not a database" in str(error) else str(error)
    return None


@contextlib.contextmanager
def reading(path: str, kind: str = "input") -> Iterator[None]:
    """Name ``path`` and ``kind`` (what it should be) when decoding it fails.

    Bad JSON, text or SQLite met while the block reads ``path`` becomes
    :class:`InputFailed`: ``cannot read PATH: what is wrong: check that it
    is a valid KIND``.
    """
    try:
        yield
    except Exception as error:
        leaf = _leaf(error)
        what = _decode_failure(leaf)
        if what is None or isinstance(leaf, argparse.ArgumentTypeError | InputFailed):
            raise
        if str(path) in what:
            raise InputFailed(f"{what}: check that it is a valid {kind}") from error
        raise InputFailed(f"cannot read {path}: {what}: check that it is a valid {kind}") from error


@contextlib.contextmanager
def naming(path: str) -> Iterator[None]:
    """Add ``path`` to an :class:`OSError` raised in the block that names no file (h5py's)."""
    try:
        yield
    except OSError as error:
        if error.filename is not None:
            raise
        raise type(error)(error.errno, str(error), path) from error


def keep_existing(failed: int, output_file: str | None) -> bool:
    """Whether to leave ``output_file`` alone: some input failed and the file exists."""
    return bool(failed) and output_file is not None and os.path.exists(output_file)


def partial_failure(
    failed: int,
    total: int,
    noun: str,
    kept: str | None = None,
    advice: str = "see the warnings above; fix or drop them, or use --silent-errors",
) -> None:
    """Raise :class:`InputFailed` when ``failed`` of ``total`` inputs could not be read.

    Called once the readable part was written (to stdout or a new ``-o``
    file); ``kept`` names an existing output left unchanged
    (:func:`keep_existing`); ``advice`` says what to do.
    """
    if not failed:
        return
    note = f"; {kept} was left unchanged" if kept else ""
    raise InputFailed(f"{failed} of {total} {noun} could not be read{note}: {advice}")


def _leaf(error: BaseException) -> BaseException:
    """The first exception inside (nested) exception groups."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


_HDF5_NAME = re.compile(r"name = '([^']*)'")

_OS_ADVICE = {
    FileNotFoundError: "check the path",
    PermissionError: "check its permissions",
    IsADirectoryError: "name a file, not a folder",
    NotADirectoryError: "check the path",
    FileExistsError: "remove it or choose another name",
}


def _os_text(error: OSError) -> str:
    """An OSError as ``what: path: what to do`` (h5py's internals left out)."""
    text = str(error)
    path = error.filename
    what = error.strerror
    if "Unable to" in text or "file signature" in text:  # h5py/HDF5
        found = _HDF5_NAME.search(text)
        path = path or (found.group(1) if found else None)
        if error.errno == 2 or "No such file" in text or "errno = 2," in text:
            what, advice = "no such file", "check the path"
        elif "errno = 13," in text:
            what, advice = "permission denied", "check its permissions"
        else:
            what, advice = (
                "not a readable HDF5 file",
                "check that it is an HDF5 file and not damaged",
            )
        return f"{what}: {path}: {advice}" if path else f"{what}: {advice}"
    advice = next(
        (hint for kind, hint in _OS_ADVICE.items() if isinstance(error, kind)),
        "check the path and the disk",
    )
    if what and path:
        return f"{what[:1].lower()}{what[1:]}: {path}: {advice}"
    return f"{text or 'input/output error'}: {advice}"


_CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|NotFound)\b(?::\s*|\s*(?=\)))")


def describe_error(error: BaseException) -> str:
    """One line for a failure: ``what failed: the path or value: what to do``.

    Library class names, exception groups and HDF5 internals are left out.
    """
    text = _CLASS_NAME.sub("", _describe(_leaf(error))).replace("()", "").strip()
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= 400 else text[:300] + "..." + text[-90:]


def _describe(error: BaseException) -> str:
    if isinstance(error, InputFailed):
        return str(error)
    if isinstance(error, TimeoutError):
        return f"timed out: {' '.join(str(error).split()) or 'no answer'}: raise --timeout or check the server"
    if "command not found" in str(error):
        return f"{' '.join(str(error).split())}: install it, put it on PATH, or give a saved file instead"
    if isinstance(error, ConnectionError):
        return (
            f"connection failed: {error}: check the host and port, and that the server is running"
        )
    if isinstance(error, OSError) and not _is_database_error(error):
        return _os_text(error)
    if isinstance(error, MemoryError):
        return (
            "out of memory: the input is too large or damaged: check it, or raise the memory limit"
        )
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}): check the input file"
    raw = error.args[0] if isinstance(error, KeyError) and error.args else error
    text = " ".join(str(raw).split()) or "unexpected failure"
    if isinstance(error, UnicodeDecodeError):
        return (
            f"not text (undecodable byte at position {error.start}): "
            "check that the input is the right kind of file"
        )
    if "command not found" in text:
        return f"{text}: install it, put it on PATH, or give a saved file instead"
    hint = _HINTS.get(type(error).__name__)
    if hint:
        return f"{text}: {hint}"
    if _decode_failure(error) == "not an SQLite database":
        return "not an SQLite database: check the file"
    if _is_database_error(error) or "No databases available" in text:
        return f"database unavailable: {text}: check the host, credentials and that it is running"
    return (
        f"{text}: run with --debug for details"
        if isinstance(error, Exception)
        and not isinstance(error, ValueError | LookupError | RuntimeError)
        else text
    )


#: What to do, by the name of a library error (its message names the input).
_HINTS = {
    "DarshanLogError": "check that it is a complete Darshan log",
    "ParseError": "check that the input is of the expected format",
    "ConfigError": "check the configuration or give the input file",
    "JobNotFound": "check the job id or the cache file",
}


def _is_database_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("pymysql", "aiomysql", "MySQLdb", "sqlite3")) or (
        type(error).__name__ in {"OperationalError", "InterfaceError", "DatabaseError"}
    )


def _tool_name(main: Callable[..., Any]) -> str:
    module = getattr(main, "__module__", "") or ""
    if module == "__main__":  # python -m atokio.cli.<tool>
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = getattr(spec, "name", "") or ""
    if module.startswith("atokio.cli.") and not module.endswith("__main__"):
        return module.rsplit(".", 1)[-1]
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "atokio"
    return name.removesuffix(".py")


def as_program(
    main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None
) -> int:
    """``main(argv)`` with the conventions of a program: the exit status it should end with.

    0 on success (or the status the tool returns); 1 for a failure, reported
    as one line ``<tool>: <what failed>: <path or value>: <what to do>`` on
    stderr (:func:`describe_error`; the traceback first with ``--debug`` or
    ``ATOKIO_TRACEBACK``); 130 when interrupted; a closed stdout (``| head``)
    is not an error.  ``SystemExit`` (usage errors, ``--help``) passes through.
    """
    tokens = sys.argv[1:] if argv is None else list(argv)
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
    except BaseException as error:
        if not isinstance(error, Exception | BaseExceptionGroup):
            raise
        if os.environ.get("ATOKIO_TRACEBACK") or "--debug" in tokens:
            traceback.print_exc()
        print(f"{_tool_name(main)}: {describe_error(error)}", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


# -- the Elasticsearch tools -------------------------------------------------------------------


def add_dump_arguments(parser: argparse.ArgumentParser, input_help: str) -> None:
    """What the Elasticsearch dump tools share: the window, ``--debug``, ``--timeout``, ``--input``, ``-o``."""
    parser.add_argument(
        "query_start", type=datetime_arg, help="start time of query (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument(
        "query_end", type=datetime_arg, help="end time of query, exclusive (YYYY-MM-DDTHH:MM:SS)"
    )
    parser.add_argument("--debug", action="store_true", help="progress messages on stderr")
    parser.add_argument(
        "--timeout",
        type=positive_int,
        default=30,
        help="Elasticsearch timeout in seconds (default: 30)",
    )
    parser.add_argument("--input", type=str, default=None, help=input_help)
    parser.add_argument(
        "-o", "--output", type=output_path, default=None, help="output file (default: stdout)"
    )


@contextlib.contextmanager
def text_output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or ``path`` (gzip when it ends in ``.gz``) written under a temporary name.

    The file gets its name only once complete (:func:`atokio.common.atomic_output`),
    so a run that fails midway leaves no partial output behind.
    """
    if path is None:
        yield sys.stdout
        return
    with atomic_output(path) as handle:
        yield handle


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
