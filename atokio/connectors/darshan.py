"""Connect to Darshan logs (``tokio.connectors.darshan``).

:class:`Darshan` is a dict holding a Darshan log as
``{"header": {...}, "mounts": {...}, "counters": {module: {record: {rank: {counter: value}}}}}``
(docs/formats.md#the-darshan-dict): ``header`` keys are the job-header fields (``exe``
and ``metadata`` are lists); ``counters`` has one key per module (``posix``,
``mpiio``, ``lustre``, ``stdio``, ...), under it one key per file name, plus the
pseudo-records ``_total`` (``--total``) and ``_perf`` (``--perf``); ranks are
strings (``"-1"`` for records shared by all ranks); counter names have their
module prefix removed.

Two ways to read a log give the same dict:

* ``darshan-parser`` (``--base``, ``--total``, ``--perf``, one clean command per
  mode), its stdout written to a scratch file and cut at record boundaries
  into pieces of a few MB while it is written, each piece read and parsed by
  :class:`atokio.parsers.darshan.DarshanParser` in a worker process (on a
  machine with one core, or from a script that cannot start them, in a
  thread) and the pieces' dicts merged in order
  (:mod:`atokio.collectors.darshantext`);
* the direct reader (:mod:`atokio.collectors.darshanlog`), which reads the binary
  log through libdarshan-util (the ``darshan`` package) without a subprocess.

The reader policy, the one used by every part of atokio that reads Darshan
logs (this connector, the log index, ``summarize_job`` and the tools offering
``--reader``; :data:`READER_POLICY`, :func:`resolve_reader`): ``auto`` (the
default) runs darshan-parser when it is found ($ATOKIO_DARSHAN_PARSER, the
darshan_parser config key, or PATH), else reads logs directly through
libdarshan-util (the darshan package); ``darshan-parser`` and ``direct``
choose one explicitly.  Both readers give the same result.  A script may
also name the program in :data:`DARSHAN_PARSER_BIN`, which then comes first
(:func:`darshan_parser_executable`) and is always run under ``auto``: a
missing one raises ``FileNotFoundError`` ("... command not found"), as in
pytokio, instead of falling back to the direct reader unnoticed.

A log that cannot be read, a non-zero exit of ``darshan-parser`` or output cut
short is a warning, as in the reference: the records that were read are kept
(possibly none, leaving the dict empty).  ``silent_errors=True`` logs these at
debug level instead.  Without ``silent_errors``, the methods of :class:`Darshan`
also issue them as Python warnings, as pytokio did, so that callers recording
warnings see them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TextIO

from atokio import config
from atokio.collectors.fanout import gather
from atokio.collectors.sync import run_sync
from atokio.common import atomic_output
from atokio.connectors.common import SubprocessOutputDict, gc_paused
from atokio.parsers.base import ParseError, parse_all
from atokio.parsers.darshan import (
    DarshanParser,
    build_darshan_dict,
    merge_darshan_dicts,
    parse_base_counters,
    parse_header,
    parse_mounts,
    parse_perf_counters,
    parse_total_counters,
)
from atokio.parsers.darshan_records import DarshanRecord

__all__ = [
    "DARSHAN_PARSER_BIN",
    "MODES",
    "READERS",
    "READER_POLICY",
    "Darshan",
    "aread_darshan",
    "darshan_parser_executable",
    "darshan_parser_path",
    "parse_base_counters",
    "parse_darshan_text_file",
    "parse_filename_metadata",
    "parse_header",
    "parse_mounts",
    "parse_perf_counters",
    "parse_total_counters",
    "read_darshan",
    "resolve_reader",
]

logger = logging.getLogger(__name__)

#: The darshan-parser modes the connector knows, in the order of their flags.
MODES = ("base", "total", "perf")

#: The names a ``reader=`` argument or ``--reader`` option accepts.
READERS = ("auto", "darshan-parser", "direct")

#: How ``auto`` chooses: the one sentence every ``--reader`` help repeats.
READER_POLICY = (
    "auto (the default) runs darshan-parser when it is found ($ATOKIO_DARSHAN_PARSER, "
    "the darshan_parser config key, or PATH), else reads logs directly through "
    "libdarshan-util (the darshan package)"
)

_FILENAME = re.compile(r"([^_/]+)_([^/]*?)_id(\d+)_(\d+)-(\d+)-(\d+)-(\d+)_(\d+)\.darshan")


#: The darshan-parser command, as pytokio names it.  Scripts (and pytokio's
#: tests) assign another path or a stand-in script here; the next run uses it,
#: ahead of ``$ATOKIO_DARSHAN_PARSER`` and the ``darshan_parser`` config key,
#: which are consulted only while this keeps its default value.
DARSHAN_PARSER_BIN = "darshan-parser"

_DEFAULT_PARSER_BIN = "darshan-parser"


def _deep_update(into: dict[str, Any], fresh: dict[str, Any]) -> None:
    """Merge ``fresh`` into ``into``: nested dicts are merged, other values replaced."""
    for key, value in fresh.items():
        mine = into.get(key)
        if isinstance(value, dict) and isinstance(mine, dict):
            _deep_update(mine, value)
        else:
            into[key] = value


def darshan_parser_executable() -> str:
    """The ``darshan-parser`` to run, looked up at each call.

    :data:`DARSHAN_PARSER_BIN` when a caller has assigned it, else
    ``$ATOKIO_DARSHAN_PARSER``, else the config key ``darshan_parser``, else
    ``"darshan-parser"`` (found on ``PATH``).
    """
    if DARSHAN_PARSER_BIN != _DEFAULT_PARSER_BIN:
        return DARSHAN_PARSER_BIN
    return (
        os.environ.get("ATOKIO_DARSHAN_PARSER")
        or str(config.CONFIG.get("darshan_parser") or "")
        or DARSHAN_PARSER_BIN
    )


def darshan_parser_path() -> str | None:
    """Full path of the darshan-parser :func:`darshan_parser_executable` names, or None."""
    return shutil.which(darshan_parser_executable())


def resolve_reader(reader: str | None = "auto") -> str:
    """``"darshan-parser"`` or ``"direct"`` for a requested reader (``None`` = ``"auto"``).

    Applies :data:`READER_POLICY`; an unknown name raises ``ValueError``.
    """
    reader = reader or "auto"
    if reader not in READERS:
        raise ValueError(f"unknown Darshan reader {reader!r}: use auto, darshan-parser or direct")
    if reader != "auto":
        return reader
    if DARSHAN_PARSER_BIN != _DEFAULT_PARSER_BIN:
        # an assigned command is meant to run: a missing one is an error, as in pytokio
        return "darshan-parser"
    return "darshan-parser" if darshan_parser_path() else "direct"


def parse_filename_metadata(filename: str) -> dict[str, Any]:
    """What a Darshan log's name says (docs/formats.md#log-names-and-the-dated-tree), or ``{}``.

    ``glock_vpicio_uni_id4478544_3-20-7667-18385393005962577517_1.darshan`` ->
    ``{"username": "glock", "exename": "vpicio_uni", "jobid": "4478544",
    "start_month": 3, "start_day": 20, "start_second_in_day": 7667,
    "logmod": 18385393005962577517, "shutdown_secs": 1}``.
    """
    match = _FILENAME.search(os.path.basename(filename))
    if not match:
        return {}
    user, exe, jobid, month, day, secs, logmod, shutdown = match.groups()
    return {
        "username": user,
        "exename": exe,
        "jobid": jobid,
        "start_month": int(month),
        "start_day": int(day),
        "start_second_in_day": int(secs),
        "logmod": int(logmod),
        "shutdown_secs": int(shutdown),
    }


async def _parser_dict(
    log_file: str,
    mode: str,
    *,
    modules: Iterable[str] | None,
    counters: Iterable[str] | None,
    timeout: float | None,
    silent_errors: bool,
    warn: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """The dict of one darshan-parser run, parsed on every core while its output is written
    (:func:`atokio.collectors.darshantext.aparse_command_text`).  A bad line ends the
    parsing (what came before it is kept); the command still runs to its end."""
    from atokio.collectors.darshantext import aparse_command_text

    argv = [darshan_parser_executable(), "--" + mode, "--", log_file]  # a log named -x is no option
    stream = await aparse_command_text(
        argv,
        source=f"darshan-parser --{mode} {log_file}",
        modules=modules,
        counters=counters,
        timeout=timeout,
    )
    result, error = stream.data, stream.error
    if strict and (stream.returncode or error is not None):
        from atokio.collectors.darshanlog import DarshanLogError

        last = " / ".join(stream.stderr.strip().splitlines()[-2:])
        cause = str(error) if error is not None else last
        raise DarshanLogError(
            f"{log_file}: darshan-parser --{mode} exited with status {stream.returncode}"
            + (f": {cause}" if cause else "")
        )
    report = logger.debug if silent_errors else logger.warning
    if stream.returncode:
        tail = stream.stderr.strip().splitlines()[-2:]
        report(
            "%s exited with status %s%s",
            " ".join(argv),
            stream.returncode,
            (": " + " / ".join(tail)) if tail else "",
        )
        if warn:
            warnings.warn(f"{argv} returned nonzero exit code ({stream.returncode})", stacklevel=2)
    elif stream.stderr.strip():
        logger.debug("%s: %s", " ".join(argv), stream.stderr.strip())
    if error is not None:
        report("%s", error)
    return result


def _direct_records(
    log_file: str,
    modes: Sequence[str],
    modules: Iterable[str] | None,
    counters: Iterable[str] | None,
    silent_errors: bool,
    warn: bool = False,
    strict: bool = False,
) -> list[DarshanRecord]:
    from atokio.collectors.darshanlog import read_darshan_log

    try:
        return read_darshan_log(log_file, modes=tuple(modes), modules=modules, counters=counters)
    except Exception as error:  # a bad log is a warning, as with darshan-parser
        if strict:
            raise
        (logger.debug if silent_errors else logger.warning)("%s", error)
        if warn:
            warnings.warn(str(error), stacklevel=2)
        return []


async def aread_darshan(
    log_file: str,
    modes: Sequence[str] = ("base",),
    *,
    reader: str | None = "auto",
    modules: Iterable[str] | None = None,
    counters: Iterable[str] | None = None,
    timeout: float | None = None,
    silent_errors: bool = False,
    into: dict[str, Any] | None = None,
    warn: bool = False,
    strict: bool = False,
) -> dict[str, Any]:
    """Read one Darshan log into the documented dict (async; for services).

    ``modes`` is any of ``"base"``, ``"total"``, ``"perf"``; with
    ``darshan-parser`` each mode is one command and they run concurrently.
    ``modules``/``counters`` filter the base records.  ``into`` merges into an
    existing dict.  ``warn=True`` also reports a log that cannot be read (or a
    non-zero exit of ``darshan-parser``) as a Python warning, as pytokio's
    synchronous API does; ``strict=True`` raises a
    :class:`~atokio.collectors.darshanlog.DarshanLogError` naming it instead.
    """
    import anyio

    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown darshan-parser mode(s) {bad}: use base, total or perf")
    chosen = resolve_reader(reader)
    result: dict[str, Any] = into if into is not None else {}
    if chosen == "direct":
        records = await anyio.to_thread.run_sync(
            _direct_records,
            log_file,
            list(modes),
            modules,
            counters,
            silent_errors,
            warn,
            strict,
        )
        return build_darshan_dict(records, into=result) if records else result

    def job(mode: str) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: _parser_dict(
            log_file,
            mode,
            modules=modules,
            counters=counters,
            timeout=timeout,
            silent_errors=silent_errors,
            warn=warn,
            strict=strict,
        )

    outcome = await gather({mode: job(mode) for mode in modes}, limit=len(modes) or 1)
    outcome.raise_first()
    for mode in modes:
        merge_darshan_dicts(result, outcome.results[mode])
    return result


#: The name :func:`aread_darshan` had before the naming rule of :mod:`atokio.pipelines`.
read_darshan = aread_darshan


def parse_darshan_text_file(path: str, workers: int | None = None) -> dict[str, Any]:
    """Parse a saved (uncompressed) darshan-parser output file on all cores.

    The file is cut at record boundaries into one piece per worker, the pieces
    are parsed in worker processes and their dicts merged in order, so the
    result equals a one-core parse
    (:func:`atokio.collectors.darshantext.parse_text_file`).  A gzip file or
    ``workers=1`` is parsed in this process.  A :class:`ParseError` names the
    line in the whole file.
    """
    from atokio.collectors.darshantext import parse_text_file

    return parse_text_file(path, workers)


class Darshan(SubprocessOutputDict):
    """A Darshan log as a dict (see the module docstring for the shape).

    ``Darshan(log_file)`` is empty until one of :meth:`darshan_parser_base`,
    :meth:`darshan_parser_total` or :meth:`darshan_parser_perf` runs (each
    merges its data in); ``Darshan(cache_file=...)`` loads a JSON cache (as
    written by :meth:`save_cache` or ``cache_darshan``) or saved
    ``darshan-parser`` text at once; ``from_string=`` parses either form.

    Keyword arguments beyond the reference's: ``reader`` (``"auto"``,
    ``"darshan-parser"``, ``"direct"``; see the module docstring) and
    ``timeout`` (seconds per ``darshan-parser`` run).
    """

    def __init__(
        self,
        log_file: str | None = None,
        *args: Any,
        reader: str | None = "auto",
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.log_file = log_file
        self.reader = reader
        self.timeout = timeout
        self.filename_metadata: dict[str, Any] = (
            parse_filename_metadata(log_file) if log_file else {}
        )
        super().__init__(*args, **kwargs)
        self.subprocess_cmd = [darshan_parser_executable()]
        self.load()

    def __repr__(self) -> str:
        return json.dumps(self)

    # -- loading ----------------------------------------------------------------
    def load(self, cache_file: str | None = None) -> None:
        """Load from the cache file or string given at init (a log is read on demand)."""
        cache_file = cache_file or self.cache_file
        if cache_file:
            self.load_cache(cache_file)
        elif self.from_string is not None:
            self.load_str(self.from_string)

    def load_cache(self, cache_file: str | None = None) -> None:
        """Load a JSON cache or saved ``darshan-parser`` text (plain or gzip)."""
        from atokio.collectors.files import open_binary

        path = cache_file or self.cache_file
        if path is None:
            raise ValueError("no cache file given")
        with open_binary(path) as handle:
            head = handle.read(1)
            if head.lstrip()[:1] == b"{":
                data = json.loads(head + handle.read())
                self.update(data)
                return
            parser = DarshanParser(source=str(path))
            records = parser.feed(head)
            while chunk := handle.read(1 << 20):
                records.extend(parser.feed(chunk))
            records.extend(parser.close())
        if records:
            self._merge_pass(build_darshan_dict(records, into=self._pass_target()))

    def load_str(self, input_str: str | bytes) -> None:
        """Load from a JSON cache string or from ``darshan-parser`` output text."""
        text = input_str.decode() if isinstance(input_str, bytes) else input_str
        if text.lstrip()[:1] == "{":
            self.update(json.loads(text))
            return
        records = parse_all(DarshanParser(source="<string>"), text.encode())
        if records:
            self._merge_pass(build_darshan_dict(records, into=self._pass_target()))

    def save_cache(self, output_file: str | None = None, **kwargs: Any) -> None:
        """Write self as JSON (compact to a file; ``None`` = stdout, indented and sorted)."""
        if output_file is None:
            self._save_cache(sys.stdout, indent=4, sort_keys=True, **kwargs)
            sys.stdout.write("\n")
        else:
            with atomic_output(output_file) as out:
                self._save_cache(out, **kwargs)

    def _save_cache(self, output: TextIO, **kwargs: Any) -> None:
        output.write(json.dumps(self, **kwargs))

    # -- running darshan-parser ---------------------------------------------------
    def _darshan_parser(
        self,
        modes: Sequence[str] = ("base",),
        modules: Iterable[str] | None = None,
        counters: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Read the log in the given modes and merge the result into self."""
        if not self.log_file:
            raise ValueError("Darshan object has no log_file to parse")
        # read into a plain dict: the event loop may repr() the result of its task, and
        # the repr of self is the JSON of the whole log
        with gc_paused():  # the result is many small dicts and no cycles
            data = run_sync(
                aread_darshan,
                self.log_file,
                tuple(modes),
                reader=self.reader,
                modules=modules,
                counters=counters,
                timeout=self.timeout,
                silent_errors=self.silent_errors,
                warn=not self.silent_errors,
            )
        self._merge_pass(data)
        return self

    def _parse_darshan_parser(self, output_str: str | bytes) -> dict[str, Any]:
        """Load values from darshan-parser output text into self."""
        data = output_str.encode() if isinstance(output_str, str) else output_str
        try:
            records = parse_all(DarshanParser(source=self.log_file or "<output>"), data)
        except ParseError as error:
            logger.warning("%s", error)
            return self
        if records:
            self._merge_pass(build_darshan_dict(records, into=self._pass_target()))
        return self

    def _pass_target(self) -> dict[str, Any]:
        """Where a new pass is read into: self while empty, else a fresh dict merged afterwards."""
        return self if not self else {}

    def _merge_pass(self, fresh: dict[str, Any]) -> None:
        """Merge a later pass into self: its values replace those of earlier passes.

        Running the same mode twice (``darshan_parser_base()`` again, or
        ``load()`` of a cache already loaded) gives the same dict, as in
        pytokio, instead of a duplicate-counter error; duplicates within one
        output still raise.
        """
        if fresh is self:
            return
        _deep_update(self, fresh)

    def darshan_parser_base(
        self, modules: Iterable[str] | None = None, counters: Iterable[str] | None = None
    ) -> dict[str, Any]:
        """Read per-record counters (``darshan-parser --base``) into self; returns self.

        ``modules``/``counters`` keep only those module keys / counter names.
        """
        return self._darshan_parser(("base",), modules=modules, counters=counters)

    def darshan_parser_total(self) -> dict[str, Any]:
        """Read per-module totals (``darshan-parser --total``) into self; returns self."""
        return self._darshan_parser(("total",))

    def darshan_parser_perf(self) -> dict[str, Any]:
        """Read per-module performance estimates (``darshan-parser --perf``) into self."""
        return self._darshan_parser(("perf",))
